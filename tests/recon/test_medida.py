"""MEDIDA: the missing term of an imperfect Kuramoto–Sivashinsky model is found by regression."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.recon import STLSQ, discover_model_error, spectral_derivative_library

try:
    from dynlearn.systems import etdrk4, periodic_grid
except ImportError:  # until dynlearn.systems re-exports its PDE solvers
    from dynlearn.systems._pde import etdrk4, periodic_grid

L, N = 22.0, 64


def test_spectral_library_derivatives(x64):
    x = periodic_grid(N, L)
    u = jnp.sin(2 * jnp.pi * x / L * 3)
    feats, names = spectral_derivative_library(L, max_order=4)
    assert names[:5] == ("u", "u_x", "u_xx", "u_xxx", "u_xxxx") and names[5] == "u^2"
    theta = feats(u)
    w = 2 * np.pi * 3 / L
    np.testing.assert_allclose(theta[:, 1], w * jnp.cos(w * x), atol=1e-10)
    np.testing.assert_allclose(theta[:, 4], w**4 * u, atol=1e-10)
    np.testing.assert_allclose(theta[:, 6], u * w * jnp.cos(w * x), atol=1e-10)


def test_missing_diffusion_term_is_discovered(x64):
    # truth: u_t = -u u_x - u_xx - u_xxxx; the model has only half of the -u_xx term
    dt = 0.02
    k = 2 * jnp.pi * jnp.fft.rfftfreq(N, d=L / N)

    def nonlinear(v):
        u = jnp.fft.irfft(v, n=N)
        return jax.lax.complex(jnp.zeros_like(k), -0.5 * k) * jnp.fft.rfft(u * u)

    x = periodic_grid(N, L)
    u0 = jnp.cos(2 * jnp.pi * x / L) * (1 + jnp.sin(2 * jnp.pi * x / L))
    v = etdrk4(k**2 - k**4, nonlinear, jnp.fft.rfft(u0), dt, 3000, save_every=5)
    truth = jnp.fft.irfft(v, n=N)[200:]  # on the attractor, every 0.1 time units

    def model_step(u):
        w = etdrk4(0.5 * k**2 - k**4, nonlinear, jnp.fft.rfft(u), dt, 5, save_every=5)[-1]
        return jnp.fft.irfft(w, n=N)

    feats, names = spectral_derivative_library(L)
    result = discover_model_error(
        truth, model_step, 5 * dt, feats, names=names, optimizer=STLSQ(0.1)
    )
    coef = np.asarray(result.coefficients)
    assert np.count_nonzero(coef) == 1 and coef[2] != 0, result.terms()
    # one-step differences over 0.1 time units underestimate the term slightly (stiff decay)
    assert -0.55 < coef[2] < -0.4, result.terms()
    assert result.terms().endswith("u_xx")


def test_bad_input():
    feats, names = spectral_derivative_library(L)
    with pytest.raises(ValueError, match="time >= 2"):
        discover_model_error(jnp.ones((1, N)), lambda u: u, 0.1, feats)
    with pytest.raises(ValueError, match="features"):
        discover_model_error(jnp.ones((5, N)), lambda u: u, 0.1, lambda u: jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="names"):
        discover_model_error(jnp.ones((5, N)), lambda u: u, 0.1, feats, names=["u"])
