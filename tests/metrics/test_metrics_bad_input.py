"""Bad input to the metrics: the error type, and a message that names the argument (and the
value where it is printable); no silent fallback (a constant series or a zero scale is not
scale 1, complex input is not its real part)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlearn import metrics

# The test suite runs dynlearn under jaxtyping's import hook with beartype, which rejects an
# argument of the wrong type before the function body runs; users do not run that hook, so
# these tests call the undecorated functions and check dynlearn's own messages.
(
    smape,
    nrmse,
    valid_prediction_time,
    n_step_prediction_error,
    state_space_divergence,
    power_spectrum_distance,
    noise_floor,
    lyapunov_exponent_error,
    correlation_dimension_error,
) = (
    getattr(f, "__wrapped__", f)
    for f in (
        metrics.smape,
        metrics.nrmse,
        metrics.valid_prediction_time,
        metrics.n_step_prediction_error,
        metrics.state_space_divergence,
        metrics.power_spectrum_distance,
        metrics.noise_floor,
        metrics.lyapunov_exponent_error,
        metrics.correlation_dimension_error,
    )
)

X = jax.random.normal(jax.random.key(0), (64, 3))
XC = X.astype(jnp.complex64) * (1 + 1j)
CONST = jnp.ones((10, 2))


@pytest.mark.parametrize(
    "call, error, names",
    [
        (lambda: smape(XC, XC), TypeError, "smape: true must be real floating point"),
        (lambda: smape(X, XC), TypeError, "smape: pred must be real floating point"),
        (lambda: smape(None, X), TypeError, "smape: true must be an array, got None"),
        (lambda: smape(X, None), TypeError, "smape: pred must be an array, got None"),
        (lambda: smape("abc", X), TypeError, "smape: true must be an array of numbers"),
        (lambda: smape(X, X[:, :2]), ValueError, "true and pred must have the same number"),
        (lambda: smape(jnp.ones((0, 3)), jnp.ones((0, 3))), ValueError, "true has 0 time"),
        (lambda: nrmse(XC, XC), TypeError, "nrmse: true must be real floating point"),
        (
            lambda: nrmse(X, X, scale=0.0),
            ValueError,
            "scale must be finite and positive, got scale=0.0",
        ),
        (
            lambda: nrmse(X, X, scale=-1.0),
            ValueError,
            "scale must be finite and positive, got scale=-1.0",
        ),
        (lambda: nrmse(X, X, scale=float("nan")), ValueError, "scale=nan"),
        (
            lambda: nrmse(X, X, scale=jnp.array([1.0, 0.0, 1.0])),
            ValueError,
            "scale must be finite and positive in every",
        ),
        (
            lambda: nrmse(X, X, scale=jnp.ones(2)),
            ValueError,
            "scale must be a scalar or have shape (3,)",
        ),
        (lambda: nrmse(CONST, CONST + 1), ValueError, "nrmse: true is constant"),
        (
            lambda: valid_prediction_time(X, X, dt=0.0),
            ValueError,
            "dt must be finite and positive, got dt=0.0",
        ),
        (
            lambda: valid_prediction_time(X, X, dt=None),
            TypeError,
            "dt must be a real number, got dt=None",
        ),
        (lambda: valid_prediction_time(X, X, dt=float("nan")), ValueError, "got dt=nan"),
        (
            lambda: valid_prediction_time(X, X, dt=0.1, metric="mse"),
            ValueError,
            "metric must be one of ['nrmse', 'smape', 'smape_pointwise'], got metric='mse'",
        ),
        (
            lambda: valid_prediction_time(X, X, dt=0.1, threshold=-1.0),
            ValueError,
            "threshold must be finite and non-negative, got threshold=-1.0",
        ),
        (
            lambda: valid_prediction_time(X, X, dt=0.1, threshold=float("nan")),
            ValueError,
            "threshold=nan",
        ),
        (
            lambda: valid_prediction_time(X, X, dt=0.1, max_lyapunov=-1.0),
            ValueError,
            "max_lyapunov must be finite and positive, got max_lyapunov=-1.0",
        ),
        (
            lambda: valid_prediction_time(X, X, dt=0.1, lyapunov_time=0.0),
            ValueError,
            "lyapunov_time=0.0",
        ),
        (
            lambda: valid_prediction_time(XC, XC, dt=0.1),
            TypeError,
            "true must be real floating point",
        ),
        (
            lambda: valid_prediction_time(X, X, dt=0.1, metric="nrmse", scale=0.0),
            ValueError,
            "scale=0.0",
        ),
        (
            lambda: valid_prediction_time(CONST, CONST, dt=0.1, metric="nrmse"),
            ValueError,
            "true is constant",
        ),
        (
            lambda: n_step_prediction_error(lambda z: z, X, 0),
            ValueError,
            "n_steps must be a positive int, got n_steps=0",
        ),
        (
            lambda: n_step_prediction_error(lambda z: z, X, 2.5),
            TypeError,
            "n_steps must be an int, got n_steps=2.5",
        ),
        (
            lambda: n_step_prediction_error(lambda z: z, None, 2),
            TypeError,
            "trajectory must be an array, got None",
        ),
        (
            lambda: n_step_prediction_error(lambda z: z, X[:, 0], 2),
            ValueError,
            "trajectory must have 2 dimension(s)",
        ),
        (
            lambda: n_step_prediction_error(lambda z: z, XC, 2),
            TypeError,
            "trajectory must be real floating point",
        ),
        (lambda: n_step_prediction_error(3, X, 2), TypeError, "step must be callable, got step=3"),
        (
            lambda: n_step_prediction_error(lambda z: z[:2], X, 2),
            ValueError,
            "step must map a state to a state of the same shape",
        ),
        (
            lambda: n_step_prediction_error(lambda z: z, X, 2, observe=lambda z: z[:2]),
            ValueError,
            "observe(state) must have shape (3,)",
        ),
        (
            lambda: n_step_prediction_error(lambda z: z, X, 2, encode="x"),
            TypeError,
            "encode must be callable",
        ),
        (
            lambda: state_space_divergence(X, X, method="kde"),
            ValueError,
            "method must be one of ['auto', 'bins', 'gmm'], got method='kde'",
        ),
        (lambda: state_space_divergence(X, X, box="cube"), ValueError, "box must be one of"),
        (
            lambda: state_space_divergence(X, X, method="gmm", gmm="sk"),
            ValueError,
            "gmm must be one of ['dysts', 'gtf'], got gmm='sk'",
        ),
        (
            lambda: state_space_divergence(X, X, n_bins=0),
            ValueError,
            "n_bins must be a positive int, got n_bins=0",
        ),
        (
            lambda: state_space_divergence(X, X, n_bins=2.5),
            TypeError,
            "n_bins must be an int, got n_bins=2.5",
        ),
        (
            lambda: state_space_divergence(X, X, smoothing=-1.0),
            ValueError,
            "smoothing must be finite and non-negative, got smoothing=-1.0",
        ),
        (
            lambda: state_space_divergence(X, X, method="gmm", variance=0.0),
            ValueError,
            "variance=0.0",
        ),
        (
            lambda: state_space_divergence(X, X, method="gmm", n_samples=0),
            ValueError,
            "n_samples=0",
        ),
        (
            lambda: state_space_divergence(X, X, method="gmm", max_points=-1),
            ValueError,
            "max_points=-1",
        ),
        (
            lambda: state_space_divergence(X, X[:, :2]),
            ValueError,
            "true and generated must have the same number",
        ),
        (lambda: state_space_divergence(XC, XC), TypeError, "true must be real floating point"),
        (
            lambda: state_space_divergence(X, None),
            TypeError,
            "generated must be an array, got None",
        ),
        (
            lambda: state_space_divergence(X.at[5, 1].set(jnp.nan), X),
            ValueError,
            "true contains 1 NaN or inf value(s) (first at index (5, 1))",
        ),
        (lambda: power_spectrum_distance(X, X, smoothing=-1.0), ValueError, "smoothing=-1.0"),
        (
            lambda: power_spectrum_distance(X, X, smoothing=float("nan")),
            ValueError,
            "smoothing=nan",
        ),
        (
            lambda: power_spectrum_distance(X, X, truncate=-1.0),
            ValueError,
            "truncate must be finite and positive, got truncate=-1.0",
        ),
        (
            lambda: power_spectrum_distance(X[:3], X[:3]),
            ValueError,
            "true has 3 time points, need at least 4",
        ),
        (lambda: power_spectrum_distance(XC, XC), TypeError, "true must be real floating point"),
        (
            lambda: noise_floor("stsp", X, X),
            TypeError,
            "metric must be callable, got metric='stsp'",
        ),
        (
            lambda: noise_floor(power_spectrum_distance, X, X[:50]),
            ValueError,
            "independent_true.shape=(50, 3)",
        ),
        (
            lambda: lyapunov_exponent_error([1.0], [1.0], n_exponents=0),
            ValueError,
            "n_exponents must be a positive int, got n_exponents=0",
        ),
        (
            lambda: lyapunov_exponent_error([1.0], [1.0, 0.0], n_exponents=2),
            ValueError,
            "true_exponents has 1 exponent(s)",
        ),
        (
            lambda: lyapunov_exponent_error([], [1.0]),
            ValueError,
            "true_exponents has 0 exponent(s)",
        ),
        (lambda: lyapunov_exponent_error([0.0], [1.0]), ValueError, "true_exponents are all 0"),
        (
            lambda: lyapunov_exponent_error([1.0], None),
            TypeError,
            "estimated_exponents must be an array, got None",
        ),
        (
            lambda: lyapunov_exponent_error([1.0 + 1j], [1.0]),
            TypeError,
            "true_exponents must be real floating point",
        ),
        (
            lambda: correlation_dimension_error(X[:5], X),
            ValueError,
            "true has 5 time points, need at least 10",
        ),
        (
            lambda: correlation_dimension_error(XC, XC),
            TypeError,
            "true must be real floating point",
        ),
    ],
)
def test_bad_input_names_the_argument(call, error, names):
    with pytest.raises(error) as info:
        call()
    assert names in str(info.value)


@settings(max_examples=20, deadline=None)
@given(scale=st.one_of(st.floats(max_value=0.0), st.just(float("inf")), st.just(float("nan"))))
def test_nrmse_refuses_every_non_positive_or_non_finite_scale(scale):
    with pytest.raises(ValueError, match="nrmse: scale must be finite and positive"):
        nrmse(X, X + 1, scale=scale)


def test_nrmse_with_scale_matches_a_plain_loop():
    # the checked path still computes the textbook value (independent NumPy reference)
    true, pred = np.asarray(X), np.asarray(X[::-1])
    scale = np.array([0.5, 2.0, 3.0])
    want = np.sqrt(np.mean(((true - pred) / scale) ** 2))
    np.testing.assert_allclose(nrmse(true, pred, scale=scale), want, rtol=1e-5)
    # a constant dimension is fine once a scale is given
    const = np.concatenate([true[:, :2], np.ones((64, 1))], axis=1)
    want = np.sqrt(np.mean(((const - pred) / scale) ** 2))
    np.testing.assert_allclose(nrmse(const, pred, scale=scale), want, rtol=1e-5)


def test_traced_constant_series_is_caught_at_run_time():
    # under jit the standard deviation is not known at call time: equinox.error_if guards it
    f = jax.jit(lambda a, b: nrmse(a, b))
    assert np.isfinite(float(f(X, X + 0.1)))
    with pytest.raises(Exception, match="nrmse: true is constant"):
        jax.block_until_ready(f(CONST, CONST + 1))
