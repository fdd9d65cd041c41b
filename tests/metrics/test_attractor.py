"""Attractor metrics: zero for identical data, closed forms for known shifts."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.metrics import (
    lyapunov_exponent_error,
    power_spectrum_distance,
    state_space_divergence,
)


def _tone(k, n, phase=0.0):
    t = jnp.arange(n, dtype=jnp.float32)
    return jnp.sin(2 * math.pi * k * t / n + phase)


def test_dstsp_identical_is_zero_and_grows_with_shift(getkey):
    x = jax.random.normal(getkey(), (5000, 3))
    assert abs(float(state_space_divergence(x, x))) < 1e-6
    near = float(state_space_divergence(x, x + 0.05))
    far = float(state_space_divergence(x, x + 1.0))
    assert 0 < near < far


def test_dstsp_binned_closed_form():
    # 1-D, 2 bins: true all in the left bin, generated split evenly between the two bins.
    true = jnp.concatenate([jnp.zeros(99), jnp.ones(1)])[:, None]
    # the box is [0 - 0.1 sd, 1 + 0.1 sd]; the left half holds 0, the right half holds 1
    gen = jnp.concatenate([jnp.zeros(50), jnp.ones(50)])[:, None]
    eps = 1e-5
    p = (np.array([0.99, 0.01]) + eps) / (1 + 2 * eps)
    q = (np.array([0.5, 0.5]) + eps) / (1 + 2 * eps)
    expected = np.sum(p * np.log(p / q))
    got = state_space_divergence(true, gen, n_bins=2)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_dstsp_gmm_identical_zero_and_closed_form(getkey):
    x = jax.random.normal(getkey(), (300, 6))
    assert abs(float(state_space_divergence(x, x))) < 1e-6
    # a single point against a single point shifted by d: KL of two unit Gaussians = |d|²/2
    a = jnp.zeros((1, 6))
    b = jnp.full((1, 6), 0.5)
    got = state_space_divergence(a, b, method="gmm", n_samples=20000)
    np.testing.assert_allclose(got, 6 * 0.25 / 2, rtol=3e-2)


def test_power_spectrum_identical_is_zero():
    x = jnp.stack([_tone(30, 1024), _tone(7, 1024) + 0.1 * _tone(90, 1024)], axis=1)
    assert float(power_spectrum_distance(x, x)) < 1e-6
    # z-scoring makes the distance blind to offset and scale
    assert float(power_spectrum_distance(x, 3 * x + 5)) < 1e-5


def test_power_spectrum_known_shift():
    n, sigma = 4096, 20.0
    for delta in (10, 30, 60):
        true = _tone(500, n)[:, None]
        gen = _tone(500 + delta, n, phase=0.3)[:, None]
        expected = math.sqrt(1 - math.exp(-(delta**2) / (8 * sigma**2)))
        got = float(power_spectrum_distance(true, gen, smoothing=sigma, truncate=8))
        assert abs(got - expected) < 1e-3, (delta, got, expected)
    # without smoothing, disjoint tones are at the maximal distance 1
    got = power_spectrum_distance(_tone(100, n)[:, None], _tone(200, n)[:, None], smoothing=0)
    np.testing.assert_allclose(got, 1.0, atol=1e-5)


def test_lyapunov_exponent_error():
    np.testing.assert_allclose(lyapunov_exponent_error(0.906, 0.8154), 0.1, rtol=1e-4)
    np.testing.assert_allclose(
        lyapunov_exponent_error(
            jnp.array([0.0, 0.906, -14.57]), jnp.array([0.906, 0.0, -14.57]), n=3
        ),
        0.0,
        atol=1e-7,
    )
    with pytest.raises(ValueError, match="at least n"):
        lyapunov_exponent_error(jnp.array([1.0]), jnp.array([1.0]), n=2)


def test_attractor_bad_input():
    x = jnp.ones((100, 3))
    with pytest.raises(ValueError, match="same number of dimensions"):
        state_space_divergence(x, jnp.ones((100, 2)))
    with pytest.raises(ValueError, match="method"):
        state_space_divergence(x, x, method="kde")
    with pytest.raises(ValueError, match="same shape"):
        power_spectrum_distance(x, jnp.ones((50, 3)))
    with pytest.raises(ValueError, match="at least 4"):
        power_spectrum_distance(jnp.ones((3, 1)), jnp.ones((3, 1)))


def test_correlation_dimension_error(getkey):
    from dynlearn.metrics import correlation_dimension_error

    square = jax.random.uniform(getkey(), (1500, 2))
    t = jax.random.uniform(getkey(), (1500, 1))
    line = jnp.concatenate([t, 0.5 * t], axis=1)
    assert float(correlation_dimension_error(square, square)) == 0.0
    # a line (D2 = 1) against a filled square (D2 = 2): relative error about 1/2
    err = float(correlation_dimension_error(square, line))
    assert 0.35 < err < 0.65, err
