import jax.numpy as jnp
import numpy as np
import pytest

import dynlearn.koopman as dk


def test_rotation_spectral_measure_concentrates_at_rotation_angle(x64):
    # Circle rotation by omega, g = cos(theta): <K^n g, g> = cos(n omega) / 2, so nu_g puts mass
    # 1/4 at +-omega.
    omega = 2 * np.pi * (np.sqrt(5) - 1) / 2 * 0.3
    theta = np.mod(0.1 + omega * np.arange(20000), 2 * np.pi)
    c = dk.autocorrelations(jnp.cos(jnp.asarray(theta)), 200)
    np.testing.assert_allclose(c, 0.5 * np.cos(omega * np.arange(201)), atol=2e-3)
    angles = jnp.linspace(-np.pi, np.pi, 4001)
    for filter_fn in (dk.cosine_filter, dk.fejer_filter):
        density = np.asarray(dk.spectral_measure(c, angles, filter_fn=filter_fn))
        mass = np.trapezoid(density, np.asarray(angles))
        np.testing.assert_allclose(mass, float(c[0]), rtol=1e-6)
        peak = float(np.abs(np.asarray(angles)[np.argmax(density)]))
        assert abs(peak - omega) < 2 * np.pi / 200
        near = np.abs(np.abs(np.asarray(angles)) - omega) < 0.1
        assert np.trapezoid(np.where(near, density, 0.0), np.asarray(angles)) > 0.45


def test_spectral_measure_bad_input():
    with pytest.raises(ValueError, match="max_lag"):
        dk.autocorrelations(jnp.ones(5), 5)
    with pytest.raises(ValueError, match="correlations"):
        dk.spectral_measure(jnp.ones(1), jnp.zeros(3))
