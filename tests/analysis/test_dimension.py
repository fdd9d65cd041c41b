"""Correlation dimension (Grassberger–Procaccia) on sets of known dimension."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.analysis import correlation_dimension, correlation_sum


def _embedded_gaussian(key, n, intrinsic, ambient=3):
    # A Gaussian cloud on a random `intrinsic`-dimensional plane of R^ambient.
    k1, k2 = jax.random.split(key)
    z = jax.random.normal(k1, (n, intrinsic), dtype=jnp.float64)
    frame, _ = jnp.linalg.qr(jax.random.normal(k2, (ambient, intrinsic), dtype=jnp.float64))
    return z @ frame.T


@pytest.mark.parametrize("intrinsic", [1, 2, 3])
def test_gaussian_on_a_subspace(x64, getkey, intrinsic):
    points = _embedded_gaussian(getkey(), 2000, intrinsic)
    np.testing.assert_allclose(correlation_dimension(points), intrinsic, atol=0.1)


def test_henon_attractor(x64):
    def step(x, _):
        nxt = jnp.stack([1.0 - 1.4 * x[0] ** 2 + x[1], 0.3 * x[0]])
        return nxt, nxt

    _, orbit = jax.lax.scan(step, jnp.array([0.1, 0.1]), None, length=20_000)
    # Grassberger & Procaccia (1983) report D2 = 1.21 +- 0.01 for the Henon attractor.
    dim = correlation_dimension(orbit[100:], max_points=3000)
    np.testing.assert_allclose(dim, 1.21, atol=0.06)


def test_theiler_window_removes_temporal_neighbours(x64, getkey):
    # Each sample is followed by a near copy of itself, as a densely sampled flow would give.
    # Those pairs fake a zero-dimensional set at small radii unless the Theiler window drops them.
    cloud = jax.random.normal(getkey(), (1000, 3), dtype=jnp.float64)
    jitter = 1e-6 * jax.random.normal(getkey(), (1000, 3), dtype=jnp.float64)
    points = jnp.stack([cloud, cloud + jitter], axis=1).reshape(2000, 3)
    assert float(correlation_dimension(points, max_points=None)) < 2.0
    np.testing.assert_allclose(
        correlation_dimension(points, max_points=None, theiler=1), 3.0, atol=0.25
    )


def test_lorenz_attractor(x64):
    def lorenz(y):
        return jnp.stack(
            [10 * (y[1] - y[0]), y[0] * (28 - y[2]) - y[1], y[0] * y[1] - 8 / 3 * y[2]]
        )

    def rk4(y, _):
        dt = 0.01
        k1 = lorenz(y)
        k2 = lorenz(y + dt / 2 * k1)
        k3 = lorenz(y + dt / 2 * k2)
        k4 = lorenz(y + dt * k3)
        y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return y, y

    _, orbit = jax.lax.scan(rk4, jnp.array([1.0, 1.0, 1.0]), None, length=51_000)
    # Grassberger & Procaccia (1983): D2 = 2.05 +- 0.01 for Lorenz-63.
    dim = correlation_dimension(orbit[1000::5], theiler=20, max_points=3000)
    np.testing.assert_allclose(dim, 2.05, atol=0.1)


def test_correlation_sum_of_a_segment(x64, getkey):
    # Independent uniform points on [0, 1]: C(r) = 2r - r^2.
    points = jax.random.uniform(getkey(), (2000, 1), dtype=jnp.float64)
    radii = jnp.array([0.05, 0.1, 0.5])
    c = correlation_sum(points, radii, max_points=None)
    np.testing.assert_allclose(c, 2 * radii - radii**2, rtol=0.03)
    dim, r, cs = correlation_dimension(points, max_points=None, return_curve=True)
    assert r.shape == cs.shape == (16,)
    assert bool(jnp.all(jnp.diff(r) >= 0)) and bool(jnp.all(jnp.diff(cs) > 0))
    np.testing.assert_allclose(dim, 1.0, atol=0.05)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        correlation_dimension(jnp.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="c_range"):
        correlation_dimension(jnp.zeros((10, 2)), c_range=(0.1, 0.01))
    with pytest.raises(ValueError, match="theiler"):
        correlation_dimension(jnp.zeros((10, 2)), theiler=-1)
    with pytest.raises(ValueError, match="too few pairs"):
        correlation_dimension(jnp.ones((20, 2)))
    with pytest.raises(eqx.EquinoxRuntimeError, match="no scaling range"):
        correlation_dimension(jnp.ones((200, 2)))  # a single repeated point
    with pytest.raises(ValueError, match="radii"):
        correlation_sum(jnp.zeros((10, 2)), jnp.ones((2, 2)))
