"""Symplectic integration: order 2, bounded energy error vs RK4 drift, exact quadratic energy;
schemes are the kernels' fixed-step scheme objects (names as shortcuts), shared with
`odeint_fixed` and `FixedGrid`, and a user's scheme works end to end."""

from typing import ClassVar

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import kernels
from dynlearn.nde import (
    AbstractSymplecticScheme,
    FixedGrid,
    HamiltonianNetwork,
    HamiltonianODE,
    ImplicitMidpoint,
    Leapfrog,
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
    model = HamiltonianODE(h, steps_per_interval=2, scheme=ImplicitMidpoint(iterations=40))
    ys = model(jnp.linspace(0.0, 100.0, 201), jnp.array([1.0, -0.5, 0.3, 0.2]))
    energy = model.energy(ys)
    np.testing.assert_allclose(energy, energy[0], rtol=1e-10)


def test_network_vector_field(getkey):
    net = HamiltonianNetwork(2, width=8, depth=1, key=getkey())
    assert net.n_dof == 2
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


class Yoshida4(AbstractSymplecticScheme):
    """A user's scheme: Yoshida's (1990) fourth-order triple jump, three leapfrog steps of sizes
    w1 dt, w0 dt, w1 dt with w1 = 1 / (2 - 2^(1/3)), w0 = 1 - 2 w1."""

    order: ClassVar[int] = 4
    separable_only: ClassVar[bool] = True

    def step(self, vector_field, t, y, args, dt):
        w1 = 1 / (2 - 2 ** (1 / 3))
        for w in (w1, 1 - 2 * w1, w1):
            y = Leapfrog().step(vector_field, t, y, args, w * dt)
            t = t + w * dt
        return y


def _pendulum_reference(ts, y0):
    return NeuralODE(
        lambda t, y, a: symplectic_gradient(PENDULUM, y),
        stepsize_controller=dfx.PIDController(rtol=1e-13, atol=1e-13),
    )(ts, y0)


def test_user_scheme_order_and_energy(x64):
    y0 = jnp.array([2.0, 0.0])
    ts = jnp.linspace(0.0, 4.0, 2)
    exact = _pendulum_reference(ts, y0)[-1]
    errs = [
        float(
            jnp.max(
                jnp.abs(
                    HamiltonianODE(PENDULUM, scheme=Yoshida4(), steps_per_interval=k)(ts, y0)[-1]
                    - exact
                )
            )
        )
        for k in (20, 40)
    ]
    assert 13 < errs[0] / errs[1] < 19  # fourth order (leapfrog would give 4)
    ts = jnp.linspace(0.0, 500.0, 501)
    model = HamiltonianODE(PENDULUM, scheme=Yoshida4(), steps_per_interval=4)
    e = model.energy(model(ts, y0)) - PENDULUM(y0[:1], y0[1:])
    half = len(ts) // 2
    assert float(jnp.max(jnp.abs(e[half:]))) < 1.5 * float(jnp.max(jnp.abs(e[:half])))


def test_scheme_names_are_shortcuts(x64):
    y0 = jnp.array([1.0, 0.5])
    ts = jnp.linspace(0.0, 3.0, 7)
    by_name = HamiltonianODE(PENDULUM, scheme="leapfrog", steps_per_interval=3)(ts, y0)
    by_object = HamiltonianODE(PENDULUM, scheme=Leapfrog(), steps_per_interval=3)(ts, y0)
    default = HamiltonianODE(PENDULUM, steps_per_interval=3)(ts, y0)
    np.testing.assert_array_equal(by_name, by_object)
    np.testing.assert_array_equal(default, by_object)
    general = lambda q, p: PENDULUM(q, p)  # noqa: E731  (not a SeparableHamiltonian)
    assert isinstance(HamiltonianODE(general).scheme, ImplicitMidpoint)
    midpoint = HamiltonianODE(general, scheme="implicit_midpoint", steps_per_interval=3)(ts, y0)
    assert not np.allclose(midpoint, by_object, rtol=0, atol=1e-12)  # a different scheme
    np.testing.assert_allclose(midpoint, by_object, atol=5e-2)  # of the same order


def test_scheme_errors():
    general = lambda q, p: PENDULUM(q, p)  # noqa: E731
    with pytest.raises(ValueError, match="SeparableHamiltonian"):
        HamiltonianODE(general, scheme=Leapfrog())
    with pytest.raises(ValueError, match="implicit_midpoint"):
        HamiltonianODE(PENDULUM, scheme="rk4")
    with pytest.raises(ValueError, match="iterations"):
        ImplicitMidpoint(0)
    with pytest.raises(TypeError):
        AbstractSymplecticScheme()


@pytest.mark.parametrize("bad", [0, -1, True])
def test_network_rejects_bad_n_dof(getkey, bad):
    with pytest.raises(ValueError, match="n_dof"):
        HamiltonianNetwork(bad, width=8, depth=1, key=getkey())


def test_schemes_are_the_kernels_objects():
    assert Leapfrog is kernels.Leapfrog and ImplicitMidpoint is kernels.ImplicitMidpoint
    assert issubclass(AbstractSymplecticScheme, kernels.AbstractFixedStepScheme)


def test_leapfrog_matches_a_plain_loop(x64):
    """HamiltonianODE through odeint_fixed against kick-drift-kick written out in NumPy."""
    y0 = np.array([1.3, -0.4])
    ts = np.array([0.0, 0.5, 1.2, 2.0])
    k = 3
    q, p, ref = y0[:1].copy(), y0[1:].copy(), [y0]
    for i in range(len(ts) - 1):
        h = (ts[i + 1] - ts[i]) / k
        for _ in range(k):
            p = p - h / 2 * np.sin(q)
            q = q + h * p
            p = p - h / 2 * np.sin(q)
        ref.append(np.concatenate([q, p]))
    out = HamiltonianODE(PENDULUM, steps_per_interval=k)(jnp.asarray(ts), jnp.asarray(y0))
    np.testing.assert_allclose(out, np.stack(ref), rtol=1e-13, atol=1e-14)


def test_butcher_tableau_as_scheme(x64):
    """A Runge-Kutta tableau runs in HamiltonianODE too (not symplectic: RK4's energy drifts)."""
    from dynlearn.kernels._butcher import RK4

    y0 = jnp.array([2.0, 0.0])
    ts = jnp.linspace(0.0, 4.0, 2)
    rk = HamiltonianODE(PENDULUM, scheme=RK4, steps_per_interval=50)(ts, y0)
    np.testing.assert_allclose(rk[-1], _pendulum_reference(ts, y0)[-1], atol=1e-6)
