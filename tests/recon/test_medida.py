"""MEDIDA: the missing term of an imperfect Kuramoto–Sivashinsky model is found by regression."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.recon import RVM, STLSQ, discover_model_error, spectral_derivative_library

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


def _ks_truth_and_model(dt, sub, n_saved):
    # truth: u_t = -u u_x - u_xx - u_xxxx; the model has only half of the -u_xx term
    k = 2 * jnp.pi * jnp.fft.rfftfreq(N, d=L / N)

    def nonlinear(v):
        u = jnp.fft.irfft(v, n=N)
        return jax.lax.complex(jnp.zeros_like(k), -0.5 * k) * jnp.fft.rfft(u * u)

    x = periodic_grid(N, L)
    # three modes: on L = 22 this leaves the near-steady cellular state that cos(x)(1 + sin(x))
    # settles into, so the states vary in time and the library columns are not collinear
    w = 2 * jnp.pi * x / L
    u0 = 0.6 * jnp.cos(w) + 0.4 * jnp.sin(2 * w + 1) + 0.3 * jnp.cos(3 * w + 2)
    n_steps = 1000 + n_saved * sub  # 20 time units of transient, then the saved states
    v = etdrk4(k**2 - k**4, nonlinear, jnp.fft.rfft(u0), dt, n_steps, save_every=sub)
    truth = jnp.fft.irfft(v, n=N)[-n_saved:]

    def model_step(u):
        w = etdrk4(0.5 * k**2 - k**4, nonlinear, jnp.fft.rfft(u), dt, sub, save_every=sub)[-1]
        return jnp.fft.irfft(w, n=N)

    return truth, model_step


@pytest.mark.parametrize(
    "optimizer, propagate", [(RVM(), True), (STLSQ(0.1), False)], ids=["rvm", "stlsq"]
)
def test_missing_diffusion_term_is_discovered(x64, optimizer, propagate):
    # MEDIDA's protocol: the model error over one solver step (dt = 0.02)
    truth, model_step = _ks_truth_and_model(0.02, 1, 300)
    assert float(jnp.mean(jnp.std(truth, axis=0))) > 0.2  # the field does change in time
    feats, names = spectral_derivative_library(L)
    result = discover_model_error(
        truth,
        model_step,
        0.02,
        feats,
        names=names,
        optimizer=optimizer,
        propagate_library=propagate,
    )
    coef = np.asarray(result.coefficients)
    assert np.count_nonzero(coef) == 1 and coef[2] != 0, result.terms()
    assert -0.51 < coef[2] < -0.49, result.terms()
    assert result.terms().endswith("u_xx")


def test_propagated_library_removes_the_interval_bias(x64):
    # observed every 0.1: the plain one-interval regression with the RVM picks up spurious small
    # terms (the missing term's effect is damped by 5 stiff steps); the trapezoid rule with the
    # model's Jacobian recovers the single term
    truth, model_step = _ks_truth_and_model(0.02, 5, 200)
    feats, names = spectral_derivative_library(L)
    plain = discover_model_error(truth, model_step, 0.1, feats, names=names)
    assert np.count_nonzero(np.asarray(plain.coefficients)) > 1, plain.terms()
    fixed = discover_model_error(truth, model_step, 0.1, feats, names=names, propagate_library=True)
    coef = np.asarray(fixed.coefficients)
    assert np.count_nonzero(coef) == 1 and -0.51 < coef[2] < -0.49, fixed.terms()


def test_bad_input():
    feats, names = spectral_derivative_library(L)
    with pytest.raises(ValueError, match="time >= 2"):
        discover_model_error(jnp.ones((1, N)), lambda u: u, 0.1, feats)
    with pytest.raises(ValueError, match="features"):
        discover_model_error(jnp.ones((5, N)), lambda u: u, 0.1, lambda u: jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="names"):
        discover_model_error(jnp.ones((5, N)), lambda u: u, 0.1, feats, names=["u"])
