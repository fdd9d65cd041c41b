"""Every sequence block: step mode == full call, the dynamical-systems view (recurrence and
materialized operator) reproduces the output, batching with vmap, bad input rejected."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.ssm as ssm

L, D = 10, 4

BLOCKS = {
    "s4": (lambda k: ssm.S4(D, 6, key=k), lambda b: b.init_state()),
    "s4d": (lambda k: ssm.S4D(D, 6, key=k), lambda b: b.init_state()),
    "s5": (lambda k: ssm.S5(D, 6, key=k), lambda b: b.init_state()),
    "mamba": (lambda k: ssm.Mamba(D, 4, key=k), lambda b: b.init_state()),
    "softmax_attention": (lambda k: ssm.SoftmaxAttention(D, 2, key=k), lambda b: b.init_state(L)),
    "linear_attention": (lambda k: ssm.LinearAttention(D, 2, key=k), lambda b: b.init_state()),
    "rglru": (lambda k: ssm.RGLRU(D, key=k), lambda b: b.init_state()),
}


@eqx.filter_jit
def _run_all(block, state0, xs, batch):
    full = block(xs)
    _, stepped = jax.lax.scan(lambda s, x: block.step(s, x), state0, xs)
    system, u = block.dynamical_system(xs)
    via_system = system(u)
    via_operator = jnp.einsum("ijod,jd->io", system.materialize(), u)
    batched = jax.vmap(block)(batch)
    changed_last = block(xs.at[-1].add(1.0))
    return full, stepped, via_system, via_operator, batched, changed_last


@functools.cache
def _results(name):
    make, init = BLOCKS[name]
    key_block, key_x, key_b = jax.random.split(jax.random.key(1), 3)
    block = make(key_block)
    xs = jax.random.normal(key_x, (L, D))
    batch = jax.random.normal(key_b, (3, L, D))
    return block, batch, _run_all(block, init(block), xs, batch)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_step_and_dynamical_system_agree_with_call(name):
    _, _, (full, stepped, via_system, via_operator, _, _) = _results(name)
    assert full.shape == (L, D)
    tol = 1e-5 * max(1.0, float(jnp.max(jnp.abs(full))))
    np.testing.assert_allclose(stepped, full, atol=tol)
    np.testing.assert_allclose(via_system, full, atol=tol)
    np.testing.assert_allclose(via_operator, full, atol=tol)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_causal_and_batched(name):
    block, batch, (full, _, _, _, batched, changed_last) = _results(name)
    np.testing.assert_allclose(batched[1], eqx.filter_jit(block)(batch[1]), atol=1e-5)
    # changing the last token leaves every earlier output unchanged
    np.testing.assert_allclose(changed_last[:-1], full[:-1], atol=1e-6)
    assert not np.allclose(changed_last[-1], full[-1])


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_bad_input_names_shapes(name, getkey):
    make, init = BLOCKS[name]
    block = make(getkey())
    with pytest.raises(ValueError, match=rf"\(L, {D}\).*\({L}, {D + 1}\)"):
        block(jnp.zeros((L, D + 1)))
    with pytest.raises(ValueError, match=rf"\(2, {L}, {D}\)"):
        block(jnp.zeros((2, L, D)))
    with pytest.raises(ValueError, match=rf"\({D},\).*\({D + 1},\)"):
        block.step(init(block), jnp.zeros(D + 1))


def test_linear_system_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="inconsistent shapes"):
        ssm.LinearSystem(
            jnp.ones((5, 3)), jnp.ones((5, 4, 2)), jnp.ones((5, 2, 4)), jnp.ones((5, 2, 2))
        )
    system = ssm.LinearSystem(
        jnp.ones((5, 3)), jnp.ones((5, 3, 2)), jnp.ones((5, 2, 3)), jnp.ones((5, 2, 2))
    )
    with pytest.raises(ValueError, match=r"\(5, 2\).*\(5, 3\)"):
        system(jnp.ones((5, 3)))


def test_attention_dsf_state_grows_with_length(getkey):
    """Softmax attention needs L * d states; linear attention and SSMs a fixed number."""
    attn = ssm.SoftmaxAttention(D, 1, key=getkey())
    lin = ssm.LinearAttention(D, 1, key=getkey())
    for length in (6, 12):
        xs = jax.ShapeDtypeStruct((length, D), jnp.float32)
        assert eqx.filter_eval_shape(attn.dynamical_system, xs)[0].B.shape[1] == length * D
        assert eqx.filter_eval_shape(lin.dynamical_system, xs)[0].B.shape[1] == D * D
