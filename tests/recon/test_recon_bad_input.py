"""Bad input to reconstruction: the error type, and a message that names the argument (and the
value where it is printable); no silent wrong result (a NaN sample is not an all-zero SINDy
model, complex data is not its real part, an unfitted reservoir does not forecast zeros, a
negative variance or ridge is not accepted)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dynlearn
from dynlearn import recon

# The test suite runs dynlearn under jaxtyping's import hook with beartype, which rejects an
# argument of the wrong type before the function body runs; users do not run that hook, so
# these tests call the undecorated functions and check dynlearn's own messages.
_raw = lambda f: getattr(f, "__wrapped__", f)  # noqa: E731
fit_sindy = _raw(recon.fit_sindy)
fit_readout = _raw(recon.fit_readout)
ridge_regression = _raw(recon.ridge_regression)
ensemble_kalman_filter = _raw(recon.ensemble_kalman_filter)
enkf_analysis = _raw(recon.enkf_analysis)
gtf_loss = _raw(recon.gtf_loss)
estimate_forcing_alpha = _raw(recon.estimate_forcing_alpha)
trajectory_windows = _raw(recon.trajectory_windows)
fit_gtf = _raw(recon.fit_gtf)
discover_model_error = _raw(recon.discover_model_error)
spectral_derivative_library = _raw(recon.spectral_derivative_library)

KEY = jax.random.key(0)
X = jax.random.normal(KEY, (120, 3))
XC = X.astype(jnp.complex64)
XN = X.at[5, 1].set(jnp.nan)
ENS = jax.random.normal(jax.random.key(1), (10, 3))
OBS = jnp.ones((5, 3))
H = jnp.eye(3)
PLRNN = recon.ShallowPLRNN(3, 5, 8, key=KEY)
SEQS = jnp.ones((4, 10, 3))
FEATURES, _ = spectral_derivative_library(2 * np.pi, max_order=2)
U = jnp.sin(jnp.linspace(0, 6, 16))[None, :] * jnp.ones((5, 1))


def lin(x):
    return 0.9 * x


def enkf(**kwargs):
    call = dict(step=lin, initial_ensemble=ENS, observations=OBS, observe=H, obs_cov=1.0, key=KEY)
    call.update(kwargs)
    return ensemble_kalman_filter(
        call.pop("step"), call.pop("initial_ensemble"), call.pop("observations"), **call
    )


def gtf(**kwargs):
    call = dict(steps=1, batch_size=4, sequence_length=10, key=KEY, alpha=0.1)
    call.update(kwargs)
    model = call.pop("model", PLRNN)
    data = call.pop("trajectories", X)
    return fit_gtf(model, data, optax.adam(1e-3), **call)


@pytest.mark.parametrize(
    "call, error, names",
    [
        # SINDy and its parts
        (
            lambda: fit_sindy(XN, dt=0.01),
            ValueError,
            "fit_sindy: x contains 1 NaN or inf value(s) (first at index (5, 1))",
        ),
        (
            lambda: fit_sindy(X, x_dot=X.at[0, 2].set(jnp.inf)),
            ValueError,
            "x_dot contains 1 NaN or inf value(s) (first at index (0, 2))",
        ),
        (lambda: fit_sindy(XC, dt=0.01), TypeError, "fit_sindy: x must be real floating point"),
        (lambda: fit_sindy(X, x_dot=XC), TypeError, "x_dot must be real floating point"),
        (lambda: fit_sindy(None, dt=0.01), TypeError, "x must be an array, got None"),
        (lambda: fit_sindy(X[:, 0], dt=0.01), ValueError, "x must have 2 dimension(s) (time, dim)"),
        (lambda: fit_sindy(X, dt=0.0), ValueError, "dt must be finite and positive, got dt=0.0"),
        (lambda: fit_sindy(X, dt=float("nan")), ValueError, "got dt=nan"),
        (lambda: fit_sindy(X[:5], dt=0.1), ValueError, "x has 5 samples for 10 library features"),
        (
            lambda: fit_sindy(X, dt=0.1, library="poly"),
            TypeError,
            "library must be a dynlearn.recon.AbstractLibrary",
        ),
        (
            lambda: fit_sindy(X, dt=0.1, optimizer="stlsq"),
            TypeError,
            "optimizer must be a dynlearn.recon.AbstractSparseOptimizer",
        ),
        (
            lambda: fit_sindy(X, dt=0.1, derivative="fd"),
            TypeError,
            "derivative must be a dynlearn.recon.AbstractDerivative",
        ),
        (
            lambda: fit_sindy(X, dt=0.1, ensemble=recon.Ensemble(3)),
            ValueError,
            "needs key= (a PRNG key), got key=None",
        ),
        (lambda: fit_sindy(jnp.ones((0, 3)), dt=0.1), ValueError, "x needs at least 3 time points"),
        (
            lambda: recon.FiniteDifference()(X, 0.0),
            ValueError,
            "FiniteDifference: dt must be finite and positive, got dt=0.0",
        ),
        (lambda: recon.SmoothedFiniteDifference(8), ValueError, "window_length must be odd"),
        (
            lambda: recon.PolynomialLibrary(0),
            ValueError,
            "degree must be a positive int, got degree=0",
        ),
        (
            lambda: recon.FourierLibrary(0),
            ValueError,
            "n_frequencies must be a positive int, got n_frequencies=0",
        ),
        (lambda: recon.ConcatLibrary([]), ValueError, "libraries must hold at least one library"),
        (
            lambda: recon.STLSQ(-1.0),
            ValueError,
            "threshold must be finite and non-negative, got threshold=-1.0",
        ),
        (lambda: recon.STLSQ(float("nan")), ValueError, "threshold=nan"),
        (
            lambda: recon.STLSQ(max_iter=0),
            ValueError,
            "max_iter must be a positive int, got max_iter=0",
        ),
        (
            lambda: recon.SR3(regularizer="l2"),
            ValueError,
            "regularizer must be one of ['l0', 'l1'], got regularizer='l2'",
        ),
        (lambda: recon.SR3(nu=0.0), ValueError, "nu must be finite and positive, got nu=0.0"),
        (lambda: recon.Ensemble(0), ValueError, "n_models must be a positive int, got n_models=0"),
        (
            lambda: recon.Ensemble(fraction=0.0),
            ValueError,
            "fraction must lie in (0, 1], got fraction=0.0",
        ),
        (
            lambda: recon.Ensemble(aggregate="max"),
            ValueError,
            "aggregate must be one of ['mean', 'median'], got aggregate='max'",
        ),
        (
            lambda: recon.RVM(0.0),
            ValueError,
            "max_precision must be finite and positive, got max_precision=0.0",
        ),
        (
            lambda: recon.RVM(precision_prior=(-1.0, 1.0)),
            ValueError,
            "precision_prior and noise_prior must be pairs of non-negative",
        ),
        # reservoirs
        (
            lambda: recon.EchoStateNetwork(3, 10, spectral_radius=-1.0, key=KEY),
            ValueError,
            "spectral_radius must be finite and non-negative, got spectral_radius=-1.0",
        ),
        (
            lambda: recon.EchoStateNetwork(3, 0, key=KEY),
            ValueError,
            "reservoir_size must be a positive int, got reservoir_size=0",
        ),
        (lambda: recon.EchoStateNetwork(3, -1, key=KEY), ValueError, "reservoir_size=-1"),
        (
            lambda: recon.EchoStateNetwork(3, 10, leak_rate=0.0, key=KEY),
            ValueError,
            "leak_rate must lie in (0, 1], got leak_rate=0.0",
        ),
        (lambda: recon.EchoStateNetwork(3, 10, density=1.5, key=KEY), ValueError, "density=1.5"),
        (
            lambda: recon.EchoStateNetwork(3, 10, topology="ring", key=KEY),
            ValueError,
            "topology must be one of ['circulant', 'random'], got topology='ring'",
        ),
        (
            lambda: recon.EchoStateNetwork(3, 10, input_scaling=-1.0, key=KEY),
            ValueError,
            "input_scaling=-1.0",
        ),
        (
            lambda: recon.EchoStateNetwork(3, 20, key=KEY).forecast(X[:50], 5),
            ValueError,
            "EchoStateNetwork: the readout w_out is all zero: the model was never fitted; call",
        ),
        (
            lambda: recon.NVAR(3).forecast(X[:50], 5),
            ValueError,
            "NVAR: the readout w_out is all zero",
        ),
        (
            lambda: dynlearn.forecast(recon.NVAR(3), X[:50], 5),
            Exception,
            "call model = dynlearn.recon.fit_readout(model, trajectory) first",
        ),
        (
            lambda: fit_readout(recon.NVAR(3), X).forecast(X[:50], -1),
            ValueError,
            "n_steps must be a positive int, got n_steps=-1",
        ),
        (
            lambda: fit_readout(recon.NVAR(3), X).forecast(X[:50, :2], 5),
            ValueError,
            "context must have shape (time >= 2, 3)",
        ),
        (
            lambda: recon.NVAR(3, delays=0),
            ValueError,
            "delays must be a positive int, got delays=0",
        ),
        (lambda: recon.NVAR(0), ValueError, "data_size must be a positive int, got data_size=0"),
        (
            lambda: fit_readout(recon.NVAR(3), X, ridge=-1.0),
            ValueError,
            "ridge must be finite and non-negative, got ridge=-1.0",
        ),
        (lambda: fit_readout(recon.NVAR(3), X, ridge=float("nan")), ValueError, "ridge=nan"),
        (
            lambda: fit_readout(recon.NVAR(3), X, washout=-1),
            ValueError,
            "washout must be a non-negative int, got washout=-1",
        ),
        (
            lambda: fit_readout(recon.NVAR(3), XN),
            ValueError,
            "trajectory contains 1 NaN or inf value(s) (first at index (5, 1))",
        ),
        (
            lambda: fit_readout(recon.NVAR(3), XC),
            TypeError,
            "trajectory must be real floating point",
        ),
        (
            lambda: fit_readout(recon.NVAR(3), None),
            TypeError,
            "trajectory must be an array, got None",
        ),
        (
            lambda: fit_readout("esn", X),
            TypeError,
            "model must be an EchoStateNetwork or an NVAR, got str",
        ),
        (
            lambda: ridge_regression(X, X, -1.0),
            ValueError,
            "ridge_regression: ridge must be finite and non-negative, got ridge=-1.0",
        ),
        (
            lambda: ridge_regression(X, X[:10], 0.1),
            ValueError,
            "features and targets must have the same number of samples",
        ),
        (
            lambda: ridge_regression(X[:, 0], X, 0.1),
            ValueError,
            "features must have 2 dimension(s)",
        ),
        (lambda: ridge_regression(XN, X, 0.1), ValueError, "features contains 1 NaN"),
        # ensemble Kalman filter
        (
            lambda: enkf(obs_cov=-1.0),
            ValueError,
            "obs_cov variances must be positive, got obs_cov=-1.0",
        ),
        (
            lambda: enkf(obs_cov=0.0),
            ValueError,
            "obs_cov variances must be positive, got obs_cov=0.0",
        ),
        (
            lambda: enkf(obs_cov=jnp.array([1.0, -1.0, 1.0])),
            ValueError,
            "obs_cov variances must be positive",
        ),
        (
            lambda: enkf(obs_cov=jnp.array([[1.0, 2.0, 0], [0, 1.0, 0], [0, 0, 1.0]])),
            ValueError,
            "obs_cov must be a symmetric matrix",
        ),
        (
            lambda: enkf(obs_cov=jnp.array([[1.0, 2.0, 0], [2.0, 1.0, 0], [0, 0, 1.0]])),
            ValueError,
            "obs_cov must be positive definite, got smallest eigenvalue -1",
        ),
        (
            lambda: enkf(obs_cov=jnp.ones(2)),
            ValueError,
            "obs_cov must be a scalar, (3,) or (3, 3), got shape (2,)",
        ),
        (lambda: enkf(obs_cov=float("nan")), ValueError, "obs_cov contains 1 NaN"),
        (
            lambda: enkf(process_cov=-1.0),
            ValueError,
            "process_cov variances must be non-negative, got process_cov=-1.0",
        ),
        (
            lambda: enkf(inflation=0.0),
            ValueError,
            "inflation must be finite and positive, got inflation=0.0",
        ),
        (lambda: enkf(inflation=float("nan")), ValueError, "inflation=nan"),
        (
            lambda: enkf(initial_ensemble=ENS[:1]),
            ValueError,
            "initial_ensemble must have shape (members >= 2, state)",
        ),
        (
            lambda: enkf(initial_ensemble=ENS.at[0, 0].set(jnp.nan)),
            ValueError,
            "initial_ensemble contains 1 NaN",
        ),
        (
            lambda: enkf(observations=OBS.at[2, 1].set(jnp.nan)),
            ValueError,
            "observations contains 1 NaN or inf value(s) (first at index (2, 1))",
        ),
        (
            lambda: enkf(observations=OBS.astype(jnp.complex64)),
            TypeError,
            "observations must be real floating point",
        ),
        (
            lambda: enkf(initial_ensemble=ENS.astype(jnp.complex64)),
            TypeError,
            "initial_ensemble must be real floating point",
        ),
        (lambda: enkf(observations=None), TypeError, "observations must be an array, got None"),
        (
            lambda: enkf(observe=jnp.eye(2)),
            ValueError,
            "observe, an observation matrix, must have shape (3, 3)",
        ),
        (
            lambda: enkf(step=lambda x: x[:2]),
            ValueError,
            "step(x) must return a state of shape (3,)",
        ),
        (lambda: enkf(step=3), TypeError, "step must be callable, got step=3"),
        (
            lambda: enkf(key=None),
            TypeError,
            "key must be a PRNG key (jax.random.key(seed)), got key=None",
        ),
        (
            lambda: enkf_analysis(ENS, jnp.ones(3), lin, -jnp.eye(3), key=KEY),
            ValueError,
            "enkf_analysis: obs_cov must be positive definite",
        ),
        (
            lambda: enkf_analysis(ENS, jnp.ones(2), lin, jnp.eye(3), key=KEY),
            ValueError,
            "observation must have shape (3,)",
        ),
        (
            lambda: enkf_analysis(ENS[:1], jnp.ones(3), lin, jnp.eye(3), key=KEY),
            ValueError,
            "ensemble must have shape (members >= 2, state)",
        ),
        (
            lambda: enkf_analysis(ENS, jnp.ones(3), "h", jnp.eye(3), key=KEY),
            TypeError,
            "observe must be callable",
        ),
        # PLRNN and generalized teacher forcing
        (lambda: recon.ShallowPLRNN(3, 2, 4, key=KEY), ValueError, "latent_size=2"),
        (
            lambda: recon.ShallowPLRNN(3, 4, 0, key=KEY),
            ValueError,
            "hidden_size must be a positive int, got hidden_size=0",
        ),
        (
            lambda: PLRNN(jnp.ones(3), -1),
            ValueError,
            "n_steps must be a positive int, got n_steps=-1",
        ),
        (lambda: PLRNN(jnp.ones(2), 3), ValueError, "x0 must have shape (3,)"),
        (
            lambda: PLRNN.init_state(jnp.ones((3, 2))),
            ValueError,
            "context must have shape (time >= 1, 3)",
        ),
        (
            lambda: gtf_loss(PLRNN, jnp.ones((4, 10, 2))),
            ValueError,
            "sequences must have shape (batch, time, 3)",
        ),
        (
            lambda: gtf_loss(PLRNN, SEQS, interval=0),
            ValueError,
            "interval must be a positive int, got interval=0",
        ),
        (
            lambda: gtf_loss(PLRNN, SEQS, alpha=2.0),
            ValueError,
            "alpha must lie in [0, 1], got alpha=2.0",
        ),
        (
            lambda: gtf_loss(PLRNN, SEQS.at[0, 3, 1].set(jnp.nan)),
            ValueError,
            "sequences contains 1 NaN or inf value(s) (first at index (0, 3, 1))",
        ),
        (lambda: gtf_loss("plrnn", SEQS), TypeError, "model must be a ShallowPLRNN, got str"),
        (
            lambda: estimate_forcing_alpha(PLRNN, jnp.ones((10, 3))),
            ValueError,
            "sequences must have shape (batch, time, 3)",
        ),
        (
            lambda: estimate_forcing_alpha(PLRNN, SEQS, alpha=-1.0),
            ValueError,
            "alpha must lie in [0, 1], got alpha=-1.0",
        ),
        (lambda: trajectory_windows(X, 1), ValueError, "length must be an int >= 2, got length=1"),
        (
            lambda: trajectory_windows(X, 5, stride=0),
            ValueError,
            "stride must be a positive int, got stride=0",
        ),
        (lambda: trajectory_windows(X, 2.5), TypeError, "length must be an int, got length=2.5"),
        (lambda: trajectory_windows(None, 5), TypeError, "trajectory must be an array, got None"),
        (lambda: trajectory_windows(X, 500), ValueError, "shorter than the window length 500"),
        (lambda: gtf(steps=0), ValueError, "steps must be a positive int, got steps=0"),
        (
            lambda: gtf(alpha="adaptve"),
            ValueError,
            "alpha must be one of ['adaptive'], got alpha='adaptve'. Did you mean 'adaptive'?",
        ),
        (lambda: gtf(alpha=2.0), ValueError, "alpha must lie in [0, 1], got alpha=2.0"),
        (
            lambda: gtf(sequence_length=1),
            ValueError,
            "sequence_length must be an int >= 2, got sequence_length=1",
        ),
        (
            lambda: gtf(alpha_decay=2.0),
            ValueError,
            "alpha_decay must lie in [0, 1], got alpha_decay=2.0",
        ),
        (lambda: gtf(alpha_every=0), ValueError, "alpha_every must be a positive int"),
        (
            lambda: gtf(trajectories=XN),
            ValueError,
            "trajectories (trajectory 0) contains 1 NaN or inf value(s) (first at index (5, 1))",
        ),
        (lambda: gtf(trajectories=XC), TypeError, "trajectories must be real floating point"),
        (
            lambda: gtf(trajectories=[X, XC]),
            TypeError,
            "trajectories[1] must be real floating point",
        ),
        (lambda: gtf(trajectories=None), TypeError, "trajectories must be an array, got None"),
        (lambda: gtf(model="plrnn"), TypeError, "model must be a ShallowPLRNN, got str"),
        # model-error discovery
        (
            lambda: spectral_derivative_library(1.0, max_order=0),
            ValueError,
            "max_order must be a positive int, got max_order=0",
        ),
        (
            lambda: spectral_derivative_library(0.0),
            ValueError,
            "length must be finite and positive, got length=0.0",
        ),
        (lambda: spectral_derivative_library(-1.0), ValueError, "got length=-1.0"),
        (
            lambda: discover_model_error(U, lin, 0.0, FEATURES),
            ValueError,
            "dt must be finite and positive, got dt=0.0",
        ),
        (
            lambda: discover_model_error(U, lin, None, FEATURES),
            TypeError,
            "dt must be a real number, got dt=None",
        ),
        (
            lambda: discover_model_error(U[0], lin, 0.1, FEATURES),
            ValueError,
            "states must have shape (time >= 2, points)",
        ),
        (
            lambda: discover_model_error(U.at[1, 1].set(jnp.nan), lin, 0.1, FEATURES),
            ValueError,
            "states contains 1 NaN or inf value(s) (first at index (1, 1))",
        ),
        (
            lambda: discover_model_error(U.astype(jnp.complex64), lin, 0.1, FEATURES),
            TypeError,
            "states must be real floating point",
        ),
        (
            lambda: discover_model_error(U, lin, 0.1, FEATURES, names=["a"]),
            ValueError,
            "1 names for 6 library terms",
        ),
        (
            lambda: discover_model_error(U, lin, 0.1, lambda u: u),
            ValueError,
            "features(u) must return (points=16, terms)",
        ),
        (
            lambda: discover_model_error(U, lambda u: u[:3], 0.1, FEATURES),
            ValueError,
            "model_step(u) must return a state of shape (16,)",
        ),
        (
            lambda: discover_model_error(U, 3, 0.1, FEATURES),
            TypeError,
            "model_step must be callable, got model_step=3",
        ),
        (
            lambda: discover_model_error(U, lin, 0.1, FEATURES, optimizer="rvm"),
            TypeError,
            "optimizer must be a dynlearn.recon.AbstractSparseOptimizer",
        ),
    ],
)
def test_bad_input_names_the_argument(call, error, names):
    with pytest.raises(error) as info:
        call()
    assert names in str(info.value)


# Wrong Python types to constructors and methods: users get dynlearn's message; under the test
# suite's beartype hook the hook answers first. Either way the message names the argument.
@pytest.mark.parametrize(
    "call, names",
    [
        (lambda: recon.SmoothedFiniteDifference(9.0), "window_length"),
        (lambda: recon.PolynomialLibrary(1.5), "degree"),
        (lambda: recon.CustomLibrary(["x"], ["x"]), "functions"),
        (lambda: recon.ConcatLibrary([recon.PolynomialLibrary(2), "sin"]), "libraries"),
        (lambda: recon.EchoStateNetwork(3, 10, key=None), "key"),
        (lambda: recon.ShallowPLRNN(3, 4.0, 4, key=KEY), "latent_size"),
        (lambda: fit_readout(recon.NVAR(3), X).forecast(None, 5), "context"),
    ],
)
def test_wrong_types_name_the_argument(call, names):
    with pytest.raises(TypeError) as info:
        call()
    assert names in str(info.value)


def test_sindy_model_methods_name_the_argument():
    model = fit_sindy(X, dt=0.1)
    simulate = _raw(recon.SINDy.simulate)
    equations = _raw(recon.SINDy.equations)
    ts = jnp.linspace(0, 1, 5)
    with pytest.raises(ValueError, match=r"y0 must have shape \(3,\)"):
        simulate(model, ts, jnp.ones(2))
    with pytest.raises(ValueError, match="steps_per_interval must be a positive int"):
        simulate(model, ts, jnp.ones(3), steps_per_interval=0)
    with pytest.raises(ValueError, match="ts must have 1 dimension"):
        simulate(model, jnp.ones((5, 2)), jnp.ones(3))
    with pytest.raises(ValueError, match="ts must be strictly increasing"):
        simulate(model, ts[::-1], jnp.ones(3))
    with pytest.raises(
        ValueError, match=r"y0 contains 1 NaN or inf value\(s\) \(first at index \(0,\)\)"
    ):
        simulate(model, ts, jnp.array([jnp.nan, 1.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"names must have one name per state variable \(3\), got 1"
    ):
        equations(model, ["a"])


@settings(max_examples=10, deadline=None)
@given(
    row=st.integers(0, 119), col=st.integers(0, 2), bad=st.sampled_from([np.nan, np.inf, -np.inf])
)
def test_fit_sindy_names_the_first_non_finite_sample(row, col, bad):
    x = np.asarray(X).copy()
    x[row, col] = bad
    with pytest.raises(
        ValueError, match=rf"x contains 1 NaN or inf value\(s\) \(first at index \({row}, {col}\)\)"
    ):
        fit_sindy(x, dt=0.1)


@settings(max_examples=10, deadline=None)
@given(variance=st.floats(min_value=-1e30, max_value=0.0))
def test_enkf_refuses_every_non_positive_observation_variance(variance):
    with pytest.raises(ValueError, match="obs_cov variances must be positive"):
        enkf(obs_cov=variance)


def test_semidefinite_process_noise_is_accepted_and_exact_where_zero():
    # a zero process variance in one component is legitimate (no model noise there): with an
    # identity step, no observation of that component and no initial spread in it, it stays
    # exactly where it started; the other components get noise
    ens = jnp.concatenate([jax.random.normal(KEY, (20, 2)), jnp.full((20, 1), 3.0)], axis=1)
    out = enkf(
        step=lambda x: x,
        initial_ensemble=ens,
        observations=jnp.zeros((4, 2)),
        observe=jnp.eye(3)[:2],
        obs_cov=1.0,
        process_cov=jnp.array([0.1, 0.1, 0.0]),
        return_ensembles=True,
    )
    np.testing.assert_array_equal(out.ensembles[..., 2], 3.0)
    assert float(jnp.std(out.ensembles[-1, :, 0])) > 0


def test_fitted_reservoirs_still_forecast_like_their_closed_loop():
    # the fitted check does not change a fitted model's forecast: compare with a plain loop
    nvar = fit_readout(recon.NVAR(3, delays=2), X, ridge=1e-3)
    got = nvar.forecast(X[:20], 4)
    hist, want = X[18:20], []
    for _ in range(4):
        nxt = hist[-1] + nvar.w_out @ nvar.features(hist)
        hist = jnp.stack([hist[-1], nxt])
        want.append(nxt)
    np.testing.assert_allclose(got, jnp.stack(want), rtol=1e-5, atol=1e-5)
