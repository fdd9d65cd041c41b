"""Bad input to the analysis tools: the error type, and a message that names the argument (and
the value where it is printable); no silent fallback (complex input is not its real part, a
non-positive `dt` does not give NaN or negative frequencies, NaN data is refused)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynlearn import analysis, systems

# The test suite runs dynlearn under jaxtyping's import hook with beartype, which rejects an
# argument of the wrong type before the function body runs; users do not run that hook, so
# these tests call the undecorated functions and check dynlearn's own messages.
(
    power_spectrum,
    correlation_sum,
    correlation_dimension,
    lyapunov_spectrum,
    max_lyapunov,
    lyapunov_time,
    kaplan_yorke_dimension,
) = (
    getattr(f, "__wrapped__", f)
    for f in (
        analysis.power_spectrum,
        analysis.correlation_sum,
        analysis.correlation_dimension,
        analysis.lyapunov_spectrum,
        analysis.max_lyapunov,
        analysis.lyapunov_time,
        analysis.kaplan_yorke_dimension,
    )
)

SIGNAL = jnp.sin(0.3 * jnp.arange(128.0))
X = jax.random.normal(jax.random.key(0), (200, 3))
XC = X.astype(jnp.complex64) * (1 + 1j)
LORENZ = systems.get("Lorenz")
R = jnp.array([0.5, 1.0])


@pytest.mark.parametrize(
    "call, error, names",
    [
        (
            lambda: power_spectrum(SIGNAL, dt=0.0),
            ValueError,
            "dt must be finite and positive, got dt=0.0",
        ),
        (lambda: power_spectrum(SIGNAL, dt=-1.0), ValueError, "got dt=-1.0"),
        (lambda: power_spectrum(SIGNAL, dt=float("nan")), ValueError, "got dt=nan"),
        (
            lambda: power_spectrum(SIGNAL.astype(jnp.complex64), dt=1.0),
            TypeError,
            "power_spectrum: x must be real floating point",
        ),
        (lambda: power_spectrum(None), TypeError, "x must be an array, got None"),
        (
            lambda: power_spectrum(jnp.ones((4, 4, 4))),
            ValueError,
            "x must have shape (time,) or (time, features)",
        ),
        (lambda: power_spectrum(jnp.ones(1)), ValueError, "time >= 2"),
        (
            lambda: power_spectrum(SIGNAL.at[3].set(jnp.nan)),
            ValueError,
            "x contains 1 NaN or inf value(s) (first at index (3,))",
        ),
        (
            lambda: power_spectrum(SIGNAL, segment_length=1),
            ValueError,
            "segment_length must be an integer in 2..128",
        ),
        (lambda: power_spectrum(SIGNAL, segment_length=2.5), ValueError, "got 2.5"),
        (
            lambda: power_spectrum(SIGNAL, overlap=1.0),
            ValueError,
            "overlap must lie in [0, 1), got 1.0",
        ),
        (
            lambda: power_spectrum(SIGNAL, window="hamming"),
            ValueError,
            "window must be one of ['boxcar', 'hann'], got window='hamming'",
        ),
        (
            lambda: power_spectrum(SIGNAL, window=jnp.ones(3)),
            ValueError,
            "a window array must have shape (128,)",
        ),
        (
            lambda: power_spectrum(SIGNAL, window=jnp.ones(128, jnp.complex64)),
            TypeError,
            "window must be real floating point",
        ),
        (lambda: correlation_sum(None, R), TypeError, "points must be an array, got None"),
        (
            lambda: correlation_sum(XC, R),
            TypeError,
            "correlation_sum: points must be real floating point",
        ),
        (
            lambda: correlation_sum(X.at[7, 2].set(jnp.inf), R),
            ValueError,
            "points contains 1 NaN or inf value(s) (first at index (7, 2))",
        ),
        (
            lambda: correlation_sum(X[:2], R),
            ValueError,
            "points must have shape (n_points, dimension) with n_points >= 3",
        ),
        (lambda: correlation_sum(X, jnp.ones((2, 2))), ValueError, "radii must be 1-D"),
        (
            lambda: correlation_sum(X, jnp.array([-1.0, 1.0])),
            ValueError,
            "radii must be finite and non-negative",
        ),
        (
            lambda: correlation_sum(X, jnp.array([jnp.nan])),
            ValueError,
            "radii must be finite and non-negative",
        ),
        (
            lambda: correlation_sum(X, R, theiler=-1),
            ValueError,
            "theiler must be an integer in 0..198",
        ),
        (
            lambda: correlation_sum(X, R, max_points=0),
            ValueError,
            "max_points must be an int >= 3, got max_points=0",
        ),
        (
            lambda: correlation_dimension(X, c_range=(0.1, 0.01)),
            ValueError,
            "c_range must satisfy 0 < low < high <= 1",
        ),
        (
            lambda: correlation_dimension(X, c_range=None),
            TypeError,
            "c_range must be a pair of numbers",
        ),
        (
            lambda: correlation_dimension(X, n_radii=1),
            ValueError,
            "n_radii must be an integer >= 2, got 1",
        ),
        (
            lambda: correlation_dimension(X, max_points=2),
            ValueError,
            "max_points must be an int >= 3, got max_points=2",
        ),
        (
            lambda: correlation_dimension(X, max_points=2.5),
            TypeError,
            "max_points must be an int, got max_points=2.5",
        ),
        (
            lambda: correlation_dimension(X.at[0, 0].set(jnp.nan)),
            ValueError,
            "points contains 1 NaN",
        ),
        (lambda: correlation_dimension(XC), TypeError, "points must be real floating point"),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=0, dt=0.01),
            ValueError,
            "n_steps must be an integer > 0, got 0",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=-5, dt=0.01),
            ValueError,
            "n_steps must be an integer > 0, got -5",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=10.0, dt=0.01),
            ValueError,
            "n_steps must be an integer > 0, got 10.0",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=0.0),
            ValueError,
            "dt must be positive, got 0.0",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=float("nan")),
            ValueError,
            "dt must be positive, got nan",
        ),
        (
            lambda: lyapunov_spectrum(
                lambda t, y, a: LORENZ.vector_field(t, y, a), jnp.ones(3), n_steps=10
            ),
            ValueError,
            "dt (the RK4 step) is required",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=0.01, k=0),
            ValueError,
            "k must be an integer in 1..3",
        ),
        (lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=0.01, k=4), ValueError, "got 4"),
        (lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=0.01, kind="ode"), ValueError, "kind"),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=0.01, transient=-1),
            ValueError,
            "transient must be an integer >= 0, got -1",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=0.01, qr_every=0),
            ValueError,
            "qr_every must be an integer > 0",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=0.01, qr_every=3),
            ValueError,
            "n_steps=10 must be a multiple of qr_every=3",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, jnp.array([jnp.nan, 1.0, 1.0]), n_steps=10, dt=0.01),
            ValueError,
            "y0 contains 1 NaN or inf value(s) (first at index (0,))",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, jnp.ones(2), n_steps=10, dt=0.01),
            ValueError,
            "calling the vector field on y0 (shape (2,)) failed",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, jnp.ones(0), n_steps=10, dt=0.01),
            ValueError,
            "y0 is an empty state",
        ),
        (
            lambda: lyapunov_spectrum(None, jnp.ones(3), n_steps=10, dt=0.01),
            TypeError,
            "system must be a flow or a map",
        ),
        (
            lambda: lyapunov_spectrum(lambda x: 0.5 * x, jnp.ones(2), n_steps=10, dt=0.1),
            ValueError,
            "dt=0.1 given for a map",
        ),
        (
            lambda: lyapunov_spectrum(LORENZ, n_steps=10, dt=0.01, inputs=jnp.ones(10)),
            ValueError,
            "inputs drive maps only",
        ),
        (
            lambda: max_lyapunov(LORENZ, n_steps=10, dt=0.01, k=2),
            ValueError,
            "k is fixed to 1, got k=2",
        ),
        (lambda: lyapunov_time([]), ValueError, "lyapunov_time: exponents is an empty spectrum"),
        (lambda: lyapunov_time(None), TypeError, "exponents must be an array, got None"),
        (
            lambda: lyapunov_time(jnp.array([1 + 1j])),
            TypeError,
            "exponents must be real floating point",
        ),
        (lambda: lyapunov_time(jnp.array([jnp.nan, 1.0])), ValueError, "exponents contains NaN"),
        (
            lambda: kaplan_yorke_dimension([]),
            ValueError,
            "exponents must be a non-empty 1-D spectrum, got shape (0,)",
        ),
        (lambda: kaplan_yorke_dimension(jnp.ones((2, 2))), ValueError, "got shape (2, 2)"),
        (lambda: kaplan_yorke_dimension(None), TypeError, "exponents must be an array, got None"),
        (
            lambda: kaplan_yorke_dimension(jnp.array([1 + 1j, -2.0])),
            TypeError,
            "exponents must be real floating point",
        ),
        (
            lambda: kaplan_yorke_dimension(jnp.array([jnp.nan, -2.0])),
            ValueError,
            "exponents contains NaN",
        ),
    ],
)
def test_bad_input_names_the_argument(call, error, names):
    with pytest.raises(error) as info:
        call()
    assert names in str(info.value)


@settings(max_examples=15, deadline=None)
@given(dt=st.one_of(st.floats(max_value=0.0), st.just(float("inf"))))
def test_power_spectrum_refuses_every_non_positive_dt(dt):
    with pytest.raises(ValueError, match="power_spectrum: dt must be finite and positive"):
        power_spectrum(SIGNAL, dt=dt)


def test_power_spectrum_integer_signal_is_its_float_spectrum():
    # integer input is cast (not refused): the same spectrum as the float signal
    ints = jnp.arange(64) % 5
    f_int, p_int = power_spectrum(ints, dt=0.5)
    f_flt, p_flt = power_spectrum(ints.astype(jnp.float32), dt=0.5)
    np.testing.assert_array_equal(f_int, f_flt)
    np.testing.assert_allclose(p_int, p_flt, rtol=1e-6)
    # frequencies are k / (n dt), the closed form
    np.testing.assert_allclose(f_int, np.arange(33) / (64 * 0.5), rtol=1e-6)


def test_lyapunov_time_traced_nan_is_caught_at_run_time():
    f = jax.jit(lyapunov_time)
    np.testing.assert_allclose(f(jnp.array([0.5, -1.0])), 2.0, rtol=1e-6)
    with pytest.raises(Exception, match="lyapunov_time: exponents contains NaN"):
        jax.block_until_ready(f(jnp.array([jnp.nan, -1.0])))
