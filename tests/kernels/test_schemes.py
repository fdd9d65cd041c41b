"""Fixed-step scheme objects in `odeint_fixed`: a user's scheme, leapfrog and the implicit
midpoint rule, checked against closed forms and convergence orders; values and derivatives."""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn import kernels
from dynlearn.kernels import AbstractFixedStepScheme, ImplicitMidpoint, Leapfrog, odeint_fixed
from dynlearn.kernels._butcher import HEUN

A = np.array([[0.0, 1.0], [-1.0, 0.0]])  # rotation: y(t) = expm(A t) y0


class UserHeun(AbstractFixedStepScheme):
    """A user's scheme: the explicit trapezoid rule (Heun), written by hand."""

    order: ClassVar[int] = 2
    evaluations: ClassVar[int] = 2

    def step(self, vector_field, t, y, args, dt):
        k1 = vector_field(t, y, args)
        k2 = vector_field(t + dt, y + dt * k1, args)
        return y + dt / 2 * (k1 + k2)


def _linear(t, y, args):
    return jnp.asarray(A, y.dtype) @ y


def _exact(ts, y0):
    return jax.vmap(lambda t: jax.scipy.linalg.expm(jnp.asarray(A, y0.dtype) * t) @ y0)(ts)


def test_user_scheme_order_and_tableau_agreement(x64):
    ts = jnp.linspace(0.0, 2.0, 3)
    y0 = jnp.array([1.0, 0.5])
    exact = _exact(ts, y0)
    errs = []
    for k in (16, 32):
        ys = odeint_fixed(_linear, ts, y0, method=UserHeun(), steps_per_interval=k)
        assert ys.shape == (3, 2)
        np.testing.assert_array_equal(ys[0], y0)
        errs.append(float(jnp.max(jnp.abs(ys - exact))))
        # the same method as a Butcher tableau, in the fused kernel
        ref = odeint_fixed(_linear, ts, y0, method="heun", steps_per_interval=k)
        np.testing.assert_allclose(ys, ref, rtol=1e-13, atol=1e-14)
    assert 3.6 < errs[0] / errs[1] < 4.4  # second order


def test_user_scheme_time_dependent_field(x64):
    """dy/dt = cos(t): the scheme sees each step's start time (Heun is exact for... order 2)."""
    ts = jnp.array([0.3, 1.0, 2.5])
    y0 = jnp.array([0.0])
    errs = []
    for k in (20, 40):
        ys = odeint_fixed(lambda t, y, a: jnp.cos(t)[None], ts, y0, method=UserHeun(),
                          steps_per_interval=k)
        errs.append(float(jnp.max(jnp.abs(ys[:, 0] - (jnp.sin(ts) - jnp.sin(ts[0]))))))
    assert 3.6 < errs[0] / errs[1] < 4.4


def test_tableau_step_is_one_rk_step(x64):
    y0 = jnp.array([1.0, 0.5])
    one = HEUN.step(_linear, 0.0, y0, None, 0.1)
    by_hand = UserHeun().step(_linear, 0.0, y0, None, 0.1)
    np.testing.assert_allclose(one, by_hand, rtol=1e-14)


def test_leapfrog_in_odeint_fixed(x64):
    """Harmonic oscillator H = p^2/2 + q^2/2 on the pair state (q, p): order 2 against
    (cos t, -sin t) and a bounded energy error over a long run."""

    def field(t, y, args):
        q, p = y
        return p, -q

    y0 = (jnp.array([1.0]), jnp.array([0.0]))
    ts = jnp.linspace(0.0, 3.0, 4)
    errs = []
    for k in (50, 100):
        q, p = odeint_fixed(field, ts, y0, method=Leapfrog(), steps_per_interval=k)
        assert q.shape == (4, 1) and p.shape == (4, 1)
        errs.append(float(jnp.max(jnp.abs(q[:, 0] - jnp.cos(ts)) + jnp.abs(p[:, 0] + jnp.sin(ts)))))
    assert 3.6 < errs[0] / errs[1] < 4.4
    ts = jnp.linspace(0.0, 1000.0, 1001)
    q, p = odeint_fixed(field, ts, y0, method=Leapfrog(), steps_per_interval=2)
    energy = 0.5 * (q[:, 0] ** 2 + p[:, 0] ** 2)
    assert float(jnp.max(jnp.abs(energy - 0.5))) < 0.5 * 0.5**2  # O(dt^2), no drift


def test_leapfrog_needs_a_pair():
    with pytest.raises(ValueError, match=r"pair \(q, p\)"):
        odeint_fixed(_linear, jnp.linspace(0.0, 1.0, 3), jnp.array([1.0, 0.0]), method=Leapfrog())


def test_implicit_midpoint_is_the_cayley_map(x64):
    """On a linear field the implicit midpoint step is the Cayley map
    (I - h/2 A)^-1 (I + h/2 A): values and derivatives (forward and reverse) against it."""
    ts = jnp.array([0.0, 0.4, 1.0])
    k = 2
    scheme = ImplicitMidpoint(iterations=60)

    def solve(y0):
        return odeint_fixed(_linear, ts, y0, method=scheme, steps_per_interval=k)

    def cayley(h):
        eye, a = jnp.eye(2), jnp.asarray(A)
        return jnp.linalg.solve(eye - h / 2 * a, eye + h / 2 * a)

    y0 = jnp.array([1.0, 0.5])
    m1 = jnp.linalg.matrix_power(cayley(0.4 / k), k)
    m2 = jnp.linalg.matrix_power(cayley(0.6 / k), k) @ m1
    np.testing.assert_allclose(solve(y0), jnp.stack([y0, m1 @ y0, m2 @ y0]), rtol=1e-12)
    # a quadratic invariant (|y|^2 for a rotation) is conserved exactly
    np.testing.assert_allclose(jnp.sum(solve(y0) ** 2, axis=1), jnp.sum(y0**2), rtol=1e-12)
    np.testing.assert_allclose(jax.jacrev(lambda y: solve(y)[-1])(y0), m2, rtol=1e-10)
    np.testing.assert_allclose(jax.jacfwd(lambda y: solve(y)[-1])(y0), m2, rtol=1e-10)


def test_scheme_under_jit_and_vmap(x64):
    ts = jnp.linspace(0.0, 1.0, 5)
    y0s = jnp.array([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    f = jax.jit(jax.vmap(lambda y: odeint_fixed(_linear, ts, y, method=UserHeun(),
                                                steps_per_interval=4)))
    out = f(y0s)
    for i in range(3):
        np.testing.assert_allclose(
            out[i], odeint_fixed(_linear, ts, y0s[i], method="heun", steps_per_interval=4),
            rtol=1e-13,
        )


def test_scheme_throw_names_the_time():
    ts = jnp.linspace(0.0, 3.0, 4)
    with pytest.raises(Exception, match="non-finite at t=2"):
        odeint_fixed(lambda t, y, a: jnp.where(t > 1.5, jnp.inf, 0.0) * y, ts,
                     jnp.array([1.0]), method=UserHeun())


def test_bad_method_and_scheme_arguments():
    # a wrong type is refused by name (or by jaxtyping's checker where the tests enable it)
    with pytest.raises((ValueError, TypeError), match="AbstractFixedStepScheme"):
        odeint_fixed(_linear, jnp.linspace(0.0, 1.0, 3), jnp.array([1.0, 0.0]), method=3)
    with pytest.raises(ValueError, match="iterations"):
        ImplicitMidpoint(iterations=0)
    with pytest.raises(TypeError):
        kernels.AbstractFixedStepScheme()
