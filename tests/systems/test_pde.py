"""ETDRK4 pseudo-spectral reference solvers: order-4 convergence, invariants, bad input."""

import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.systems._pde import (
    allen_cahn,
    burgers,
    etdrk4,
    etdrk4_coefficients,
    kuramoto_sivashinsky,
    periodic_grid,
)


def _order(solve, t1, steps):
    fine = solve(t1 / 1024, 1024)
    errs = [float(jnp.max(jnp.abs(solve(t1 / m, m) - fine))) for m in steps]
    slope = np.polyfit(np.log(t1 / np.asarray(steps)), np.log(errs), 1)[0]
    return errs, slope


def test_kuramoto_sivashinsky_order4(x64):
    length = 32 * np.pi
    x = periodic_grid(128, length)
    u0 = jnp.cos(x / 16) * (1 + jnp.sin(x / 16))

    def solve(dt, m):
        return kuramoto_sivashinsky(u0, length=length, dt=dt, n_steps=m, save_every=m)[1][-1]

    errs, slope = _order(solve, 2.0, [8, 16, 32, 64])
    assert 3.7 < slope < 4.4, (errs, slope)


def test_allen_cahn_order4(x64):
    x = periodic_grid(256, 2.0, start=-1.0)
    u0 = x**2 * jnp.cos(jnp.pi * x)

    def solve(dt, m):
        return allen_cahn(u0, dt=dt, n_steps=m, save_every=m)[1][-1]

    errs, slope = _order(solve, 1.0, [32, 64, 128, 256])
    assert 3.7 < slope < 4.4, (errs, slope)


def test_burgers_order4(x64):
    x = periodic_grid(256, 2.0, start=-1.0)
    u0 = -jnp.sin(jnp.pi * x)

    def solve(dt, m):
        return burgers(u0, dt=dt, n_steps=m, save_every=m, viscosity=0.05)[1][-1]

    errs, slope = _order(solve, 1.0, [16, 32, 64, 128])
    assert 3.7 < slope < 4.4, (errs, slope)


def test_linear_problem_is_exact(x64):
    # N = 0: ETDRK4 reduces to exp(dt L) exactly, for real and complex symbols.
    lin = jnp.array([-3.0 + 2.0j, 0.0 + 0.0j, 1e-9 + 0.5j, -50.0 + 0.0j])
    v0 = jnp.ones(4, dtype=jnp.complex128)
    v = etdrk4(lin, lambda v: jnp.zeros_like(v), v0, 0.1, 10, save_every=5)
    assert v.shape == (3, 4)
    np.testing.assert_allclose(v[-1], jnp.exp(lin), rtol=1e-12)


def test_coefficients_at_zero_symbol(x64):
    # phi-function limits at L = 0: Q = dt/2, f1 = f2 = f3 = dt/6 (RK4 weights 1, 2, 2, 1 / 6).
    _, _, q, f1, f2, f3 = etdrk4_coefficients(jnp.zeros(1), 0.2)
    np.testing.assert_allclose(
        jnp.stack([q, f1, f2, f3])[:, 0], [0.1, 0.2 / 6, 0.2 / 6, 0.2 / 6], rtol=1e-12
    )


def test_burgers_conserves_mean_and_outputs_shapes():
    x = periodic_grid(64, 2.0, start=-1.0)
    u0 = 0.3 - jnp.sin(jnp.pi * x)
    t, u = burgers(u0, dt=1e-2, n_steps=100, save_every=20, viscosity=0.05)
    assert t.shape == (6,) and u.shape == (6, 64)
    assert float(t[-1]) == pytest.approx(1.0)
    np.testing.assert_allclose(jnp.mean(u, axis=1), 0.3, atol=1e-5)


def test_bad_input():
    x = periodic_grid(32, 2.0)
    with pytest.raises(ValueError, match="multiple of save_every"):
        allen_cahn(x, dt=0.1, n_steps=10, save_every=3)
    with pytest.raises(ValueError, match="non-finite"):
        allen_cahn(x.at[3].set(jnp.nan), dt=0.1, n_steps=10)
    with pytest.raises(ValueError, match="1-D grid"):
        kuramoto_sivashinsky(jnp.ones((4, 4)), length=1.0, dt=0.1, n_steps=2)
    with pytest.raises(ValueError, match="dt must be positive"):
        burgers(x, dt=-0.1, n_steps=2)
