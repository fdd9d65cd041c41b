"""FixedGrid takes a Butcher tableau or any fixed-step scheme object (a user's, the implicit
midpoint rule) as well as a method name."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.kernels import AbstractFixedStepScheme, ButcherTableau, ImplicitMidpoint
from dynlearn.nde import FixedGrid, NeuralODE

# Kutta's 3/8 rule: fourth order, not one of the built-in tableaux.
THREE_EIGHTHS = ButcherTableau(
    "3/8",
    c=(0.0, 1 / 3, 2 / 3, 1.0),
    a=((1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
    b=(1 / 8, 3 / 8, 3 / 8, 1 / 8),
    order=4,
)
# Ralston's second-order method.
RALSTON = ButcherTableau("ralston", c=(0.0, 2 / 3), a=((2 / 3,),), b=(0.25, 0.75), order=2)


class Linear(eqx.Module):
    a: jax.Array

    def __call__(self, t, y, args):
        return self.a @ y


def _rotation_problem():
    a = jnp.array([[0.0, 1.0], [-1.0, 0.0]])
    ts = jnp.linspace(0.0, 2.0, 5)
    y0 = jnp.array([1.0, 0.0])
    exact = jax.vmap(lambda t: jax.scipy.linalg.expm(a * t) @ y0)(ts)
    return a, ts, y0, exact


def _plain_rk_loop(tableau, a, ts, y0, k):
    """An independent reference: the tableau's stages written out in Python, k steps per
    interval."""
    ys = [np.asarray(y0)]
    y = np.asarray(y0)
    A = np.asarray(a)
    for i in range(len(ts) - 1):
        h = (float(ts[i + 1]) - float(ts[i])) / k
        for _ in range(k):
            stages = []
            for s in range(tableau.stages):
                arg = y.copy()
                for j, coef in enumerate(tableau.a[s - 1] if s else ()):
                    arg = arg + h * coef * stages[j]
                stages.append(A @ arg)
            y = y + h * sum(b * ks for b, ks in zip(tableau.b, stages, strict=True))
        ys.append(y)
    return np.stack(ys)


@pytest.mark.parametrize("tableau", [THREE_EIGHTHS, RALSTON])
def test_user_tableau_matches_plain_loop(x64, tableau):
    a, ts, y0, _ = _rotation_problem()
    sol = NeuralODE(Linear(a), solver=FixedGrid(tableau, 3)).solve(ts, y0)
    np.testing.assert_allclose(sol.ys, _plain_rk_loop(tableau, a, ts, y0, 3), rtol=1e-12)
    assert int(sol.stats["nfe"]) == tableau.evaluations * 3 * 4


def test_user_tableau_convergence_order(x64):
    a, ts, y0, exact = _rotation_problem()
    errs = []
    for k in (4, 8):
        ys = NeuralODE(Linear(a), solver=FixedGrid(THREE_EIGHTHS, k))(ts, y0)
        errs.append(float(jnp.max(jnp.abs(ys - exact))))
    assert 14 < errs[0] / errs[1] < 18  # fourth order


def test_name_is_a_shortcut_for_the_tableau(x64):
    rk4 = ButcherTableau(
        "my-rk4",
        c=(0.0, 0.5, 0.5, 1.0),
        a=((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
        order=4,
    )
    a, ts, y0, _ = _rotation_problem()
    by_name = NeuralODE(Linear(a), solver=FixedGrid("rk4", 2)).solve(ts, y0)
    by_object = NeuralODE(Linear(a), solver=FixedGrid(rk4, 2)).solve(ts, y0)
    np.testing.assert_allclose(by_object.ys, by_name.ys, rtol=1e-14)
    assert FixedGrid(rk4).stages == FixedGrid("rk4").stages == 4


def test_bad_method_raises():
    with pytest.raises(ValueError, match="method.*rk4"):
        FixedGrid("rk5")


class UserHeun(AbstractFixedStepScheme):
    """A user's scheme written by hand: the explicit trapezoid rule (second order)."""

    order: ClassVar[int] = 2
    evaluations: ClassVar[int] = 2

    def step(self, vector_field, t, y, args, dt):
        k1 = vector_field(t, y, args)
        return y + dt / 2 * (k1 + vector_field(t + dt, y + dt * k1, args))


class NoCount(UserHeun):
    evaluations: ClassVar[None] = None


def test_user_scheme_in_fixed_grid(x64):
    a, ts, y0, exact = _rotation_problem()
    heun = ButcherTableau("heun", c=(0.0, 1.0), a=((1.0,),), b=(0.5, 0.5), order=2)
    errs = []
    for k in (8, 16):
        sol = NeuralODE(Linear(a), solver=FixedGrid(UserHeun(), k)).solve(ts, y0)
        np.testing.assert_allclose(sol.ys, _plain_rk_loop(heun, a, ts, y0, k), rtol=1e-12)
        assert int(sol.stats["nfe"]) == 2 * k * 4
        errs.append(float(jnp.max(jnp.abs(sol.ys - exact))))
    assert 3.6 < errs[0] / errs[1] < 4.4  # second order
    unknown = NeuralODE(Linear(a), solver=FixedGrid(NoCount(), 2)).solve(ts, y0)
    assert int(unknown.stats["nfe"]) == -1
    # gradients flow through the scheme's scan: d y(T) / d a against finite differences
    loss = lambda m: jnp.sum(NeuralODE(m, solver=FixedGrid(UserHeun(), 4))(ts, y0)[-1] ** 2)  # noqa: E731
    g = jax.grad(lambda aa: loss(Linear(aa)))(a)
    e = jnp.zeros_like(a).at[0, 1].set(1e-6)
    fd = (loss(Linear(a + e)) - loss(Linear(a - e))) / 2e-6
    np.testing.assert_allclose(g[0, 1], fd, rtol=1e-6)


def test_implicit_midpoint_in_fixed_grid_conserves_the_norm(x64):
    a, ts, y0, _ = _rotation_problem()
    ys = NeuralODE(Linear(a), solver=FixedGrid(ImplicitMidpoint(iterations=60), 2))(ts, y0)
    np.testing.assert_allclose(jnp.sum(ys**2, axis=1), jnp.sum(y0**2), rtol=1e-12)
