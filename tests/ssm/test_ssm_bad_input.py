"""Bad input to dynlearn.ssm: the error type and a message naming the argument (and value);
non-finite input stays causal in every mode (a NaN at time t leaves earlier outputs alone)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import ssm

# The suite runs dynlearn under jaxtyping's import hook with beartype, which rejects some wrong
# types before the body runs; call the undecorated functions to check dynlearn's own messages.
discretize, hippo, hippo_project, s4d_init = (
    getattr(f, "__wrapped__", f)
    for f in (ssm.discretize, ssm.hippo, ssm.hippo_project, ssm.s4d_init)
)
KEY = jax.random.key(0)
BLOCKS = {
    "S4D": lambda: ssm.S4D(4, 8, key=KEY),
    "S4": lambda: ssm.S4(4, 8, key=KEY),
    "S5": lambda: ssm.S5(4, 8, key=KEY),
    "Mamba": lambda: ssm.Mamba(4, 8, key=KEY),
    "SoftmaxAttention": lambda: ssm.SoftmaxAttention(4, 2, max_len=32, key=KEY),
    "LinearAttention": lambda: ssm.LinearAttention(4, 2, key=KEY),
    "RGLRU": lambda: ssm.RGLRU(4, key=KEY),
}


def _call(block, xs):
    return getattr(type(block).__call__, "__wrapped__", type(block).__call__)(block, xs)


def _step(block, state, x):
    return getattr(type(block).step, "__wrapped__", type(block).step)(block, state, x)


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize(
    "xs, error, message",
    [
        (None, TypeError, "xs must be an array, got None"),
        (jnp.ones(4), ValueError, "xs must have shape (L, 4)"),
        (jnp.ones((16, 3)), ValueError, "got shape (16, 3)"),
        (jnp.ones((2, 16, 4)), ValueError, "use jax.vmap"),
        (jnp.ones((0, 4)), ValueError, "xs must have at least one time step"),
        (jnp.ones((16, 4), jnp.int32), TypeError, "floating point dtype, got dtype int32"),
        (jnp.ones((16, 4), jnp.complex64), TypeError, "xs must be real floating point"),
    ],
)
def test_block_input_is_named(name, xs, error, message):
    block = BLOCKS[name]()
    with pytest.raises(error) as info:
        _call(block, xs)
    assert message in str(info.value) and name in str(info.value)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_step_with_a_wrong_state_or_token_is_named(name):
    block = BLOCKS[name]()
    state = block.init_state()
    with pytest.raises(ValueError, match=r"step: x must be one token of shape \(4,\), got"):
        _step(block, state, jnp.ones(3))
    bad = jax.tree_util.tree_map(lambda a: a[..., :1] if a.ndim else a, state)
    with pytest.raises(ValueError, match="step: state must have"):
        _step(block, bad, jnp.ones(4))


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_nan_at_one_time_leaves_earlier_outputs_alone(name):
    # Reference: the token-by-token recurrence, which is causal by construction.
    block = BLOCKS[name]()
    xs = jax.random.normal(jax.random.key(1), (12, 4)).at[5, 1].set(jnp.nan)
    ys = np.asarray(block(xs))
    _, ys_step = jax.lax.scan(lambda s, x: block.step(s, x), block.init_state(), xs)
    ys_step = np.asarray(ys_step)
    assert np.all(np.isfinite(ys[:5]))
    np.testing.assert_allclose(ys[:5], ys_step[:5], rtol=1e-4, atol=1e-5)
    # from the NaN on, each mode is non-finite exactly where the recurrence is
    np.testing.assert_array_equal(~np.isfinite(ys[5:]), ~np.isfinite(ys_step[5:]))


def test_s4d_convolution_with_nan_matches_the_recurrent_mode_per_channel():
    block = ssm.S4D(3, 8, key=KEY)
    xs = jax.random.normal(jax.random.key(2), (20, 3)).at[10, 1].set(jnp.nan)
    ys, yr = np.asarray(block(xs)), np.asarray(block.recurrent(xs))
    assert np.isnan(ys[:, 1]).sum() == 10 and not np.isnan(ys[:, [0, 2]]).any()
    np.testing.assert_array_equal(np.isnan(ys), np.isnan(yr))
    np.testing.assert_allclose(ys[~np.isnan(ys)], yr[~np.isnan(yr)], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: ssm.S4D(4, 0, key=KEY), ValueError, "must be a positive int, got state_size=0"),
        (lambda: ssm.S4D(4, -2, key=KEY), ValueError, "state_size=-2"),
        (lambda: ssm.S4(0, 8, key=KEY), ValueError, "positive int, got d_model=0"),
        (lambda: ssm.S5(4, 0, key=KEY), ValueError, "got state_size=0"),
        (lambda: ssm.Mamba(4, 8, d_conv=0, key=KEY), ValueError, "d_conv=0"),
        (lambda: ssm.Mamba(4, 8, dt_min=-1.0, key=KEY), ValueError, "dt_min=-1.0"),
        (lambda: ssm.S4D(4, 8, dt_min=1.0, dt_max=0.1, key=KEY), ValueError, "dt_min <= dt_max"),
        (lambda: ssm.S4D(4, 8, init="lni", key=KEY), ValueError, "init must be one of"),
        (lambda: ssm.S4D(4, 8, discretization="tustin", key=KEY), ValueError, "discretization"),
        (lambda: ssm.SoftmaxAttention(4, 0, key=KEY), ValueError, "num_heads=0"),
        (lambda: ssm.LinearAttention(4, 1, eps=-1.0, key=KEY), ValueError, "eps=-1.0"),
        (lambda: ssm.RGLRU(4, a_min=0.99, a_max=0.9, key=KEY), ValueError, "a_min=0.99"),
        (lambda: ssm.S4D(4, 8, key=KEY).kernel(0), ValueError, "L must be a positive int, got L=0"),
        (lambda: s4d_init("lin", 0), ValueError, "state_size=0"),
        (lambda: hippo("legs", -3), ValueError, "state_size=-3"),
        (lambda: hippo("legx", 4), ValueError, "kind must be one of"),
        (lambda: hippo("fout", 3), ValueError, "state_size=3"),
        (lambda: hippo_project(jnp.ones(10), "legt", 4, dt=-0.1), ValueError, "dt=-0.1"),
        (lambda: hippo_project(jnp.ones(10), "legt", 4, method="rk4"), ValueError, "method"),
        (lambda: hippo_project(None, "legs", 4), TypeError, "signal must be an array"),
        (lambda: ssm.make_mixer("mambo", 4, key=KEY), ValueError, "Did you mean 'mamba'?"),
        (lambda: ssm.SequenceModel("s4d", 4, 0, 2, d_in=3, key=KEY), ValueError, "n_layers=0"),
        (
            lambda: ssm.SequenceModel("s4d", 4, 1, 2, d_in=3, vocab_size=5, key=KEY),
            ValueError,
            "vocab_size=5",
        ),
    ],
)
def test_constructor_and_function_errors_name_the_argument(build, error, message):
    with pytest.raises(error) as info:
        build()
    assert message in str(info.value)


@pytest.mark.parametrize(
    "dt, shown",
    [
        (-0.1, "dt=-0.1"),
        (0.0, "dt=0.0"),
        (float("nan"), "dt=nan"),
        (jnp.array([0.1, -0.2]), "dt=-0.2"),
    ],
)
def test_discretize_refuses_non_positive_steps(dt, shown):
    # with dt = -0.1 and A = -1, zoh gives |A_bar| = e^0.1 > 1: an unstable system, silently
    with pytest.raises(ValueError) as info:
        discretize(-jnp.ones(2), jnp.ones(2), dt)
    assert "dt must be finite and positive" in str(info.value) and shown in str(info.value)


def test_discretize_still_accepts_a_traced_step():
    # inside S4D the step is a traced parameter; only concrete steps are checked
    A_bar, _ = jax.jit(lambda h: discretize(-jnp.ones(2), jnp.ones(2), h))(jnp.asarray(0.1))
    np.testing.assert_allclose(A_bar, np.exp(-0.1) * np.ones(2), rtol=1e-6)


def test_sequence_model_tokens_out_of_range():
    model = ssm.SequenceModel("mamba", 4, 1, 2, vocab_size=5, key=KEY)
    with pytest.raises(ValueError, match=r"tokens in \[0, 5\).*from 0 to 7"):
        model(jnp.array([0, 1, 7]))
    with pytest.raises(ValueError, match="from -1 to 2"):
        model(jnp.array([0, -1, 2]))
    # traced tokens cannot be checked eagerly: out-of-range ones embed as NaN, never clamped
    ys = eqx.filter_jit(lambda m, t: m(t))(model, jnp.array([0, 1, 7]))
    assert np.all(np.isfinite(np.asarray(ys[:2]))) and not np.any(np.isfinite(np.asarray(ys[2])))
    ok = eqx.filter_jit(lambda m, t: m(t))(model, jnp.array([0, 1, 4]))
    np.testing.assert_allclose(ok, model(jnp.array([0, 1, 4])), rtol=1e-5, atol=1e-6)


def test_sequence_model_step_and_depth():
    model = ssm.SequenceModel("s4d", 4, 2, 2, d_in=3, key=KEY)
    with pytest.raises(ValueError, match=r"x must be one token of shape \(3,\), got shape \(4,\)"):
        model.step(model.init_state(), jnp.ones(4))
    with pytest.raises(ValueError, match="depth must be at most n_layers=2, got depth=5"):
        model(jnp.ones((6, 3)), depth=5)
    with pytest.raises(ValueError, match="depth must be a positive int, got depth=-1"):
        model(jnp.ones((6, 3)), depth=-1)


def test_analysis_helpers_name_their_arguments():
    block = ssm.S4D(4, 8, key=KEY)
    system, u = block.dynamical_system(jnp.ones((6, 4)))
    with pytest.raises(ValueError, match=r"us must have shape \(6, 4\), got shape \(3, 3\)"):
        system(jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="h0 must have shape"):
        system(u, jnp.ones(2))
    with pytest.raises(ValueError, match="k must be a positive int, got k=0"):
        ssm.lyapunov_exponents(system, 0)
    with pytest.raises(TypeError, match="system must be a dynlearn.ssm.LinearSystem"):
        getattr(ssm.lyapunov_exponents, "__wrapped__", ssm.lyapunov_exponents)(None, 1)
    with pytest.raises(TypeError, match="S_B must be real floating point"):
        ssm.token_dynamics_criterion(jnp.ones((2, 3), jnp.complex64), jnp.ones((2, 3)))
