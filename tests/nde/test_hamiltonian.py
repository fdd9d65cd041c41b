"""Symplectic integration: order 2, bounded energy error vs RK4 drift, exact quadratic energy."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynlearn.nde import (
    FixedGrid,
    HamiltonianNetwork,
    HamiltonianODE,
    NeuralODE,
    SeparableHamiltonian,
    symplectic_gradient,
)

PENDULUM = SeparableHamiltonian(lambda p: 0.5 * jnp.sum(p**2), lambda q: -jnp.sum(jnp.cos(q)))


def test_leapfrog_order_and_bounded_energy(x64):
    y0 = jnp.array([2.0, 0.0])  # large swing: strongly nonlinear
    ts = jnp.linspace(0.0, 4.0, 2)
    exact = NeuralODE(
        lambda t, y, a: symplectic_gradient(PENDULUM, y),
        stepsize_controller=dfx.PIDController(rtol=1e-12, atol=1e-12),
    )(ts, y0)[-1]
    errs = [
        float(jnp.max(jnp.abs(HamiltonianODE(PENDULUM, steps_per_interval=k)(ts, y0)[-1] - exact)))
        for k in (100, 200)
    ]
    assert 3.6 < errs[0] / errs[1] < 4.4
    # long run, coarse step: leapfrog energy error stays bounded, RK4's drifts away
    ts = jnp.linspace(0.0, 2000.0, 2001)
    leap = HamiltonianODE(PENDULUM, steps_per_interval=4)
    e_leap = leap.energy(leap(ts, y0)) - PENDULUM(y0[:1], y0[1:])
    rk4 = NeuralODE(lambda t, y, a: symplectic_gradient(PENDULUM, y), solver=FixedGrid("rk4", 2))
    e_rk4 = leap.energy(rk4(ts, y0)) - PENDULUM(y0[:1], y0[1:])
    half = len(ts) // 2
    assert float(jnp.max(jnp.abs(e_leap[half:]))) < 1.5 * float(jnp.max(jnp.abs(e_leap[:half])))
    assert float(jnp.max(jnp.abs(e_leap))) < 0.05  # O(dt^2) with dt = 0.25
    assert abs(float(e_rk4[-1])) > 10 * abs(float(e_rk4[half // 10]))  # secular drift


def test_implicit_midpoint_conserves_quadratic_energy(x64):
    h = lambda q, p: 0.5 * jnp.sum(p**2) + 0.5 * jnp.sum((2.0 * q) ** 2) + 0.1 * jnp.sum(q * p)  # noqa: E731
    model = HamiltonianODE(h, steps_per_interval=2, iterations=40)
    ys = model(jnp.linspace(0.0, 100.0, 201), jnp.array([1.0, -0.5, 0.3, 0.2]))
    energy = model.energy(ys)
    np.testing.assert_allclose(energy, energy[0], rtol=1e-10)


def test_network_vector_field(getkey):
    net = HamiltonianNetwork(2, width=8, depth=1, key=getkey())
    y = jnp.array([0.1, -0.2, 0.3, 0.4])
    dy = net(0.0, y)
    grad = jax.grad(lambda yy: net.hamiltonian(yy[:2], yy[2:]))(y)
    np.testing.assert_allclose(dy, jnp.concatenate([grad[2:], -grad[:2]]), rtol=1e-6)
    assert abs(float(grad @ dy)) < 1e-5  # H is conserved by its own flow
    sep = HamiltonianNetwork(1, width=8, depth=1, key=getkey(), separable=True)
    ys = eqx.filter_jit(lambda m, t, y: HamiltonianODE(m.hamiltonian)(t, y))(
        sep, jnp.linspace(0.0, 1.0, 5), jnp.array([0.5, 0.0])
    )
    assert ys.shape == (5, 2) and bool(jnp.all(jnp.isfinite(ys)))
