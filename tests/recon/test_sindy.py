"""SINDy: recovers Lorenz from exact derivatives, agrees with pysindy, libraries and optimizers."""

import functools

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.recon import (
    SR3,
    STLSQ,
    ConcatLibrary,
    CustomLibrary,
    Ensemble,
    FiniteDifference,
    FourierLibrary,
    PolynomialLibrary,
    SmoothedFiniteDifference,
    fit_sindy,
)


def lorenz(t, y, args):
    x, yy, z = y
    return jnp.stack([10 * (yy - x), x * (28 - z) - yy, x * yy - 8 / 3 * z])


# rows x', y', z'; columns 1, x, y, z, x², xy, xz, y², yz, z²
LORENZ_COEF = np.zeros((3, 10))
LORENZ_COEF[0, 1], LORENZ_COEF[0, 2] = -10, 10
LORENZ_COEF[1, 1], LORENZ_COEF[1, 2], LORENZ_COEF[1, 6] = 28, -1, -1
LORENZ_COEF[2, 3], LORENZ_COEF[2, 5] = -8 / 3, 1


@functools.lru_cache
def _lorenz_numpy(n, dt):
    ts = jnp.arange(n, dtype=jnp.float64) * dt
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(lorenz),
        diffrax.Tsit5(),
        0.0,
        ts[-1],
        dt,
        jnp.array([-8.0, 7.0, 27.0]),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-10),
        max_steps=100_000,
    )
    x = sol.ys
    return np.asarray(ts), np.asarray(x), np.asarray(jax.vmap(lambda y: lorenz(0.0, y, None))(x))


def lorenz_data(n=2000, dt=0.002):
    """Lorenz-63 states and exact derivatives (float64; solved once per size)."""
    return tuple(jnp.asarray(a) for a in _lorenz_numpy(n, dt))


def test_recovers_lorenz_from_exact_derivatives_and_matches_pysindy(x64):
    import pysindy as ps

    ts, x, xd = lorenz_data()
    model = fit_sindy(x, x_dot=xd, library=PolynomialLibrary(2), optimizer=STLSQ(0.1))
    np.testing.assert_allclose(model.coefficients, LORENZ_COEF, atol=1e-8)
    assert model.equations(["x", "y", "z"])[0] == "-10 x + 10 y"

    peer = ps.SINDy(optimizer=ps.STLSQ(threshold=0.1), feature_library=ps.PolynomialLibrary(2))
    peer.fit(np.asarray(x), t=0.002, x_dot=np.asarray(xd))
    np.testing.assert_allclose(model.coefficients, peer.coefficients(), atol=1e-8)
    assert model.library.feature_names(["x0", "x1", "x2"])[4:7] == ["x0^2", "x0 x1", "x0 x2"]


def test_stlsq_matches_pysindy_with_ridge_and_no_unbias(x64):
    import pysindy as ps

    _, x, xd = lorenz_data(500)
    noise = 0.5 * jax.random.normal(jax.random.key(3), xd.shape, dtype=jnp.float64)
    ours = fit_sindy(x, x_dot=xd + noise, optimizer=STLSQ(0.5, alpha=5.0, unbias=False))
    peer = ps.SINDy(
        optimizer=ps.STLSQ(threshold=0.5, alpha=5.0, unbias=False),
        feature_library=ps.PolynomialLibrary(2),
    )
    peer.fit(np.asarray(x), t=0.002, x_dot=np.asarray(xd + noise))
    np.testing.assert_allclose(ours.coefficients, peer.coefficients(), rtol=1e-7, atol=1e-9)


def test_estimated_derivatives_sr3_and_ensemble(x64):
    ts, x, xd = lorenz_data()
    for deriv in (FiniteDifference(), SmoothedFiniteDifference(9, 3)):
        model = fit_sindy(x, dt=0.002, derivative=deriv)
        np.testing.assert_allclose(model.coefficients, LORENZ_COEF, atol=2e-2)
    sr3 = fit_sindy(x, x_dot=xd, optimizer=SR3(0.1, nu=1.0))
    np.testing.assert_allclose(sr3.coefficients, LORENZ_COEF, atol=1e-6)
    l1 = fit_sindy(x, x_dot=xd, optimizer=SR3(0.01, nu=1.0, regularizer="l1"))
    assert np.array_equal(np.asarray(l1.coefficients) != 0, LORENZ_COEF != 0)
    noisy = xd + 0.2 * jax.random.normal(jax.random.key(1), xd.shape, dtype=jnp.float64)
    ens = fit_sindy(x, x_dot=noisy, ensemble=Ensemble(10, 0.5), key=jax.random.key(0))
    assert ens.coefficient_samples.shape == (10, 3, 10)
    np.testing.assert_allclose(ens.coefficients, LORENZ_COEF, atol=2e-2)
    probs = ens.inclusion_probability()
    assert np.all(np.asarray(probs)[LORENZ_COEF != 0] == 1.0)


def test_simulation_tracks_truth(x64):
    ts, x, xd = lorenz_data()
    model = fit_sindy(x, x_dot=xd)
    sim = model.simulate(ts[:500], x[0])
    assert sim.shape == (500, 3)
    np.testing.assert_allclose(sim, x[:500], atol=1e-4)


def test_derivative_orders(x64):
    t = jnp.linspace(0, 2, 201)
    x = jnp.stack([jnp.sin(3 * t), t**2], axis=1)
    exact = jnp.stack([3 * jnp.cos(3 * t), 2 * t], axis=1)
    fd = FiniteDifference()(x, 0.01)
    np.testing.assert_allclose(fd[:, 1], exact[:, 1], atol=1e-10)  # exact for quadratics
    assert float(jnp.max(jnp.abs(fd - exact))) < 2e-3
    smooth = SmoothedFiniteDifference(7, 3)
    np.testing.assert_allclose(smooth.smooth(x)[:, 1], x[:, 1], atol=1e-10)  # keeps cubics


def test_fourier_and_custom_libraries(x64):
    # dx/dt = sin(y) - 0.5 cos(x), dy/dt = 2 x y: a Fourier + custom library reproduces it
    key = jax.random.key(0)
    x = jax.random.uniform(key, (300, 2), minval=-2, maxval=2, dtype=jnp.float64)
    xd = jnp.stack([jnp.sin(x[:, 1]) - 0.5 * jnp.cos(x[:, 0]), 2 * x[:, 0] * x[:, 1]], axis=1)
    library = ConcatLibrary([FourierLibrary(2), CustomLibrary([lambda s: s[0] * s[1]], ["x0 x1"])])
    assert library.feature_names(["x0", "x1"])[:4] == ["sin(x0)", "cos(x0)", "sin(x1)", "cos(x1)"]
    model = fit_sindy(x, x_dot=xd, library=library, optimizer=STLSQ(0.1))
    expected = np.zeros((2, 9))
    expected[0, 2], expected[0, 1], expected[1, 8] = 1.0, -0.5, 2.0
    np.testing.assert_allclose(model.coefficients, expected, atol=1e-8)


def test_bad_input():
    x = jnp.ones((100, 3))
    with pytest.raises(ValueError, match="dt"):
        fit_sindy(x)
    with pytest.raises(ValueError, match="shape"):
        fit_sindy(jnp.ones(100), dt=0.1)
    with pytest.raises(ValueError, match="x_dot must have the shape"):
        fit_sindy(x, x_dot=jnp.ones((100, 2)))
    with pytest.raises(ValueError, match="samples for"):
        fit_sindy(jnp.ones((5, 3)), x_dot=jnp.ones((5, 3)))
    with pytest.raises(ValueError, match="key"):
        fit_sindy(x, x_dot=x, ensemble=Ensemble())
    with pytest.raises(ValueError, match="shorter than window_length"):
        SmoothedFiniteDifference(9, 3)(jnp.ones((5, 1)), 0.1)
    with pytest.raises(ValueError, match="degree"):
        PolynomialLibrary(0)
    with pytest.raises(ValueError, match="odd"):
        SmoothedFiniteDifference(8, 3)
