"""The residual sequence model: every mixer kind runs, step-by-step inference equals the parallel
call, the blocks stay reachable for analysis, intermediates agree with the call, bad input is
rejected."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.ssm as ssm
from dynlearn.ssm._model import MIXERS

SSM_MIXERS = ("mamba", "s4d", "s4", "s5")


def _model(mixer, key, *, tokens, n_layers=2, mlp=True):
    inputs = {"vocab_size": 7} if tokens else {"d_in": 3}
    return ssm.SequenceModel(
        mixer,
        8,
        n_layers,
        5,
        mlp=mlp,
        state_size=6 if mixer in SSM_MIXERS else None,
        num_heads=2,
        key=key,
        **inputs,
    )


@eqx.filter_jit
def _call_and_step(model, xs):
    full = model(xs)
    _, stepped = jax.lax.scan(lambda s, x: model.step(s, x), model.init_state(), xs)
    return full, stepped


def _plain_step_loop(model, xs):
    """Step through `xs` in a Python loop (no scan), one token at a time."""
    state, ys = model.init_state(), []
    for x in xs:
        state, y = model.step(state, x)
        ys.append(y)
    return jnp.stack(ys)


@pytest.mark.parametrize("mixer", MIXERS)
def test_step_equals_call_float64(mixer, x64, getkey):
    model = _model(mixer, getkey(), tokens=True)
    xs = jax.random.randint(getkey(), (12,), 0, 7)
    full, stepped = _call_and_step(model, xs)
    assert full.dtype == jnp.float64 and stepped.shape == full.shape == (12, 5)
    np.testing.assert_allclose(stepped, full, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mixer", MIXERS)
def test_step_equals_call_float32_real_inputs(mixer, getkey):
    model = _model(mixer, getkey(), tokens=False)
    xs = jax.random.normal(getkey(), (12, 3))
    full, stepped = _call_and_step(model, xs)
    scale = float(jnp.max(jnp.abs(full)))
    np.testing.assert_allclose(stepped, full, atol=2e-5 * scale)


def test_step_python_loop_equals_call(getkey):
    """Unjitted stepping, token by token, against the parallel call (S4D: FFT convolution)."""
    model = _model("s4d", getkey(), tokens=False, n_layers=1)
    xs = jax.random.normal(getkey(), (6, 3))
    np.testing.assert_allclose(_plain_step_loop(model, xs), model(xs), atol=2e-5)


def test_step_detects_a_change_in_the_past(getkey):
    """The state carries the past: changing an early token changes later outputs."""
    model = _model("mamba", getkey(), tokens=False, n_layers=1)
    xs = jax.random.normal(getkey(), (8, 3))
    _, a = _call_and_step(model, xs)
    _, b = _call_and_step(model, xs.at[0].add(1.0))
    assert not np.allclose(a[-1], b[-1])
    np.testing.assert_allclose(a[-1], model(xs)[-1], atol=2e-5)


def test_state_layout(getkey):
    model = _model("s4d", getkey(), tokens=True, n_layers=3)
    state = model.init_state()
    assert isinstance(state, tuple) and len(state) == 3
    for block, s in zip(model.mixers, state, strict=True):
        assert s.shape == block.init_state().shape and jnp.iscomplexobj(s)
    with pytest.raises(ValueError, match="2 layer states.*3 layers"):
        model.step(state[:2], jnp.asarray(1))


@pytest.mark.parametrize("mixer", ["s4d", "s4", "s5"])
def test_lti_blocks_are_reachable(mixer, x64, getkey):
    """S4, S4D and S5 are the stack's mixers themselves (the channel mix is a separate part), so
    their step and dynamical system are reachable for analysis."""
    model = _model(mixer, getkey(), tokens=True)
    block_type = {"s4d": ssm.S4D, "s4": ssm.S4, "s5": ssm.S5}[mixer]
    assert all(isinstance(b, block_type) for b in model.mixers)
    assert all(c is not None for c in model.channel_mixes)
    inputs, _ = model.intermediates(jnp.arange(12) % 7)
    for i, block in enumerate(model.mixers):
        exps = ssm.hidden_state_lyapunov(block, inputs[i], k=1)
        A_bar = block.discrete()[0]
        if mixer == "s4":  # dense A_bar: the spectral radius, reached by QR only slowly
            radius = jnp.max(jnp.abs(jnp.linalg.eigvals(A_bar)))
            assert float(exps[0]) < 0 and float(jnp.log(radius)) < 0
        else:  # diagonal: exactly the largest log |A_bar|
            np.testing.assert_allclose(exps[0], jnp.max(jnp.log(jnp.abs(A_bar))), rtol=1e-12)


def test_every_builtin_mixer_is_a_block(getkey):
    for mixer in MIXERS:
        model = _model(mixer, getkey(), tokens=True, n_layers=1)
        assert isinstance(model.mixers[0], ssm.AbstractSequenceBlock)
        assert callable(model.mixers[0].dynamical_system)


def test_attention_cache_overflow_raises(getkey):
    block = ssm.SoftmaxAttention(4, max_len=3, key=getkey())
    model = ssm.SequenceModel([block], 4, 1, 2, d_in=3, key=getkey())
    xs = jax.random.normal(getkey(), (4, 3))
    np.testing.assert_allclose(
        _call_and_step(model, xs[:3])[1], model(xs[:3]), atol=2e-5
    )  # three tokens fit
    with pytest.raises(Exception, match="max_len"):
        jax.block_until_ready(_call_and_step(model, xs)[1])


def test_make_mixer_takes_blocks_and_factories(getkey):
    block = ssm.RGLRU(8, key=getkey())
    assert ssm.make_mixer(block, 8, key=getkey()) is block
    made = ssm.make_mixer(lambda d, *, key: ssm.S5(d, 4, key=key), 8, key=getkey())
    assert isinstance(made, ssm.S5) and made.state_size == 4
    with pytest.raises(ValueError, match="d_model=8, expected 6"):
        ssm.make_mixer(block, 6, key=getkey())
    with pytest.raises(TypeError, match="AbstractSequenceBlock"):
        ssm.make_mixer(lambda d, *, key: eqx.nn.Linear(d, d, key=key), 8, key=getkey())


def test_blocks_per_layer(getkey):
    blocks = [ssm.S4D(8, 4, key=getkey()), ssm.Mamba(8, 4, key=getkey())]
    model = ssm.SequenceModel(blocks, 8, 2, 3, d_in=2, key=getkey())
    assert model.mixers == tuple(blocks) and model.channel_mixes == (None, None)
    xs = jax.random.normal(getkey(), (9, 2))
    full, stepped = _call_and_step(model, xs)
    np.testing.assert_allclose(stepped, full, atol=2e-5 * float(jnp.max(jnp.abs(full))))
    with pytest.raises(ValueError, match="2 block"):
        ssm.SequenceModel(blocks, 8, 3, 3, d_in=2, key=getkey())
    with pytest.raises(ValueError, match="1 block"):
        ssm.SequenceModel(blocks[0], 8, 2, 3, d_in=2, key=getkey())


def test_intermediates_and_depth(getkey):
    model = ssm.SequenceModel("mamba", 8, 3, 5, vocab_size=6, key=getkey())
    tokens = jnp.arange(10) % 6
    inputs, outputs = model.intermediates(tokens)
    assert inputs.shape == (3, 10, 8) and outputs.shape == (3, 10, 5)
    np.testing.assert_allclose(outputs[-1], model(tokens), atol=1e-6)
    np.testing.assert_allclose(outputs[0], model(tokens, depth=1), atol=1e-6)


@pytest.mark.parametrize("mixer", ["s4", "s5", "linear_attention", "rglru"])
def test_real_inputs(mixer, getkey):
    model = ssm.SequenceModel(mixer, 8, 1, 2, d_in=3, key=getkey())
    ys = eqx.filter_jit(model)(jax.random.normal(getkey(), (12, 3)))
    assert ys.shape == (12, 2) and bool(jnp.all(jnp.isfinite(ys)))


def test_bad_input(getkey):
    model = ssm.SequenceModel("s4d", 8, 1, 2, d_in=3, key=getkey())
    with pytest.raises(ValueError, match=r"\(L, 3\).*\(12, 4\)"):
        model(jnp.zeros((12, 4)))
    with pytest.raises(ValueError, match="exactly one"):
        ssm.SequenceModel("s4d", 8, 1, 2, key=getkey())
    with pytest.raises(ValueError, match="mixer must be one of"):
        ssm.SequenceModel("lstm", 8, 1, 2, d_in=3, key=getkey())
