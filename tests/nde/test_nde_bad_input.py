"""Bad input to dynlearn.nde: the error type and a message naming the argument (and value)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import nde

# The suite runs dynlearn under jaxtyping's import hook with beartype, which rejects some wrong
# types (None for an array) before the body runs; call the undecorated functions where that
# matters. None for arrays is covered by the throwaway sweep of issue #21, outside the hook.
ma_fbm_gammas, ma_fbm_weights, flow_matching_loss, step_error = (
    getattr(f, "__wrapped__", f)
    for f in (nde.ma_fbm_gammas, nde.ma_fbm_weights, nde.flow_matching_loss, nde.step_error)
)
KEY = jax.random.key(0)
MLP = eqx.nn.MLP(3, 3, 8, 1, key=KEY)
FIELD = lambda t, y, args: MLP(y)  # noqa: E731
TS = jnp.linspace(0.0, 1.0, 5)
Y0 = jnp.ones(3)


@pytest.mark.parametrize("solver", [None, nde.FixedGrid("rk4")], ids=["tsit5", "fixed"])
@pytest.mark.parametrize(
    "ts, y0, error, message",
    [
        # a state the field cannot take: named here, not as a dot_general error in the solver
        (TS, jnp.ones(2), ValueError, "fails on y0 of shape (2,); is y0 the size"),
        (TS, jnp.ones((2, 3)), ValueError, "y0 must be one state of shape (state,), got shape"),
        (TS, jnp.ones(3, jnp.complex64), TypeError, "y0 must be real floating point"),
        (TS[::-1], Y0, ValueError, "ts must be strictly increasing, got ts[0]=1.0"),
        (TS.at[2].set(jnp.nan), Y0, ValueError, "ts must be finite"),
        (TS[:1], Y0, ValueError, "ts must be 1-D with at least 2 times, got shape (1,)"),
    ],
)
def test_neural_ode_inputs_are_named(solver, ts, y0, error, message):
    model = nde.NeuralODE(FIELD, solver=solver)
    with pytest.raises(error) as info:
        model(ts, y0)
    assert message in str(info.value)


def test_neural_ode_field_output_of_the_wrong_shape_is_named():
    model = nde.NeuralODE(lambda t, y, args: jnp.ones(2))
    with pytest.raises(ValueError, match=r"must return shape \(3,\) for y0 of shape \(3,\)"):
        model(TS, Y0)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: nde.NeuralODE(FIELD, max_steps=0), ValueError, "max_steps=0"),
        (lambda: nde.NeuralODE(FIELD, augment_dim=-1), ValueError, "augment_dim=-1"),
        (lambda: nde.NeuralODE(FIELD, dt0=-0.1), ValueError, "dt0=-0.1"),
        (lambda: nde.FixedGrid("rk5"), ValueError, "Did you mean 'rk4'?"),
        (lambda: nde.FixedGrid("rk4", 0), ValueError, "steps_per_interval=0"),
        (lambda: nde.NeuralODE(FIELD).rollout(Y0, -1, dt=0.1), ValueError, "n_steps=-1"),
        (lambda: nde.NeuralODE(FIELD).rollout(Y0, 3, dt=-0.1), ValueError, "dt=-0.1"),
        (lambda: nde.NeuralSDE(FIELD, FIELD, noise="diag"), ValueError, "Did you mean 'diagonal'"),
        (lambda: nde.NeuralSDE(FIELD, FIELD, dt0=0.0), ValueError, "dt0=0.0"),
        (lambda: nde.NeuralSDE(FIELD, FIELD, noise="general"), ValueError, "noise_size=None"),
        (lambda: nde.NeuralSDE(FIELD, FIELD, brownian_tol=-1.0), ValueError, "brownian_tol=-1.0"),
        (lambda: nde.NeuralSDE(FIELD, FIELD)(TS, jnp.ones(2), key=KEY), ValueError, "drift"),
        (lambda: nde.NeuralCDE(0, 4, 1, key=KEY), ValueError, "data_size=0"),
        (lambda: nde.NeuralCDE(2, 4, 1, width=0, key=KEY), ValueError, "width=0"),
        (lambda: nde.LatentSDE(2, 3, 4, obs_std=-1.0, key=KEY), ValueError, "obs_std=-1.0"),
        (lambda: nde.LatentSDE(2, 3, 4, max_steps=0, key=KEY), ValueError, "max_steps=0"),
        (lambda: nde.SetEncoder(0, 4, key=KEY), ValueError, "data_size=0"),
        (lambda: nde.MetaFlowMatching(2, 0, key=KEY), ValueError, "embed_size=0"),
        (lambda: ma_fbm_gammas(2.5), TypeError, "n_processes must be an int, got n_processes=2.5"),
        (lambda: ma_fbm_gammas(3, 1.0), ValueError, "ratio must be > 1, got ratio=1.0"),
        (lambda: ma_fbm_weights(1.5, nde.ma_fbm_gammas(3)), ValueError, "hurst=1.5"),
        (lambda: ma_fbm_weights(0.3, -nde.ma_fbm_gammas(3)), ValueError, "gammas"),
        (lambda: ma_fbm_weights(0.3, nde.ma_fbm_gammas(3), -1.0), ValueError, "horizon=-1.0"),
        (lambda: nde.MarkovFBM(0.3, horizon=-1.0), ValueError, "horizon=-1.0"),
        (lambda: nde.riemann_liouville_variance(2.0, 1.0), ValueError, "hurst=2.0"),
        (
            lambda: nde.MarkovFBM(0.3, n_processes=3).sample(jnp.array([0.5, 0.2]), key=KEY),
            ValueError,
            "ts must be finite, non-negative and increasing",
        ),
    ],
)
def test_constructor_and_function_errors_name_the_argument(build, error, message):
    with pytest.raises(error) as info:
        build()
    assert message in str(info.value)


def test_neural_cde_all_nan_input_is_refused_not_read_as_zeros():
    # NaN marks a missing value; a series with no observation at all used to give the same
    # output as an all-zero series
    model = nde.NeuralCDE(2, 4, 1, width=8, depth=1, key=KEY)
    nans = jnp.full((5, 2), jnp.nan)
    with pytest.raises(ValueError, match="xs has no observed value"):
        model(TS, nans)
    with pytest.raises(Exception, match="no observed value"):
        eqx.filter_jit(lambda m, x: m(TS, x))(model, nans)
    with pytest.raises(ValueError, match=r"xs contains inf \(first at index \(1, 1\)\)"):
        model(TS, jnp.ones((5, 2)).at[1, 1].set(jnp.inf))
    with pytest.raises(ValueError, match=r"\(time, 2\) with time matching len\(ts\)"):
        model(TS, jnp.ones((4, 2)))
    # one observed value is enough: a finite output, and it differs from the all-zero series
    partial = nans.at[2, 0].set(3.0)
    out = model(TS, partial)
    assert bool(jnp.all(jnp.isfinite(out)))
    assert not np.allclose(out, model(TS, jnp.zeros((5, 2))))


def test_latent_sde_and_losses_name_their_inputs():
    model = nde.LatentSDE(2, 3, 4, width=8, depth=1, key=KEY)
    xs = jnp.ones((5, 2))
    with pytest.raises(ValueError, match=r"xs \(time, 2\) with matching time"):
        model.elbo(TS, jnp.ones((5, 3)), key=KEY)
    with pytest.raises(ValueError, match="xs contains inf"):
        model.elbo(TS, xs.at[0, 0].set(jnp.inf), key=KEY)
    with pytest.raises(ValueError, match="batch must be a dict with keys 'ts'"):
        nde.latent_sde_loss(model, {"x": xs}, key=KEY)
    cnf = nde.CNF(lambda t, y, a: -y, 2)
    with pytest.raises(ValueError, match=r"batch must have shape \(\*, 2\)"):
        flow_matching_loss(cnf, jnp.ones((4, 3)), key=KEY)
    with pytest.raises(ValueError, match=r"batch contains 1 NaN or inf value\(s\)"):
        flow_matching_loss(cnf, jnp.ones((4, 2)).at[0, 0].set(jnp.nan), key=KEY)
    with pytest.raises(ValueError, match="sigma_min=-1.0"):
        flow_matching_loss(cnf, jnp.ones((4, 2)), key=KEY, sigma_min=-1.0)
    with pytest.raises(ValueError, match="dt must be finite and positive, got dt=-0.1"):
        step_error(nde.NeuralODE(FIELD), 0.0, Y0, -0.1)
    with pytest.raises(ValueError, match="fails on y0 of shape"):
        nde.local_regularization(nde.NeuralODE(FIELD), TS, jnp.ones(2), key=KEY)


def test_valid_inputs_still_solve_as_before():
    # dy/dt = -y: the checks must not change a correct solve
    model = nde.NeuralODE(lambda t, y, a: -y, solver=nde.FixedGrid("rk4", 4))
    ys = model(TS, Y0)
    np.testing.assert_allclose(ys[-1], np.exp(-1.0) * np.ones(3), rtol=1e-5)
