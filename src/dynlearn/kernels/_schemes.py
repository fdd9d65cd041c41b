"""Fixed-step schemes as objects: one step of `dy/dt = vector_field(t, y, args)`.

`odeint_fixed`, `nde.FixedGrid` and `nde.HamiltonianODE` take any of them. A Butcher tableau
(`ButcherTableau`) runs in the fused Runge-Kutta kernel with its hand-written adjoint; any other
scheme, built-in or a user's, runs its `step` in a `lax.scan`, differentiated by JAX.

The symplectic schemes follow Hairer, Lubich & Wanner, "Geometric Numerical Integration" (2006):
Stormer-Verlet (leapfrog, Section I.3) for a partitioned field `dq/dt = a(t, p)`,
`dp/dt = b(t, q)` (a separable Hamiltonian `H = T(p) + V(q)`), and the implicit midpoint rule
(Section I.1), symplectic for any Hamiltonian field, solved here by fixed-point iteration.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import PyTree

tree_map = jax.tree_util.tree_map


def _axpy(y, dt, k):
    """`y + dt * k`, leaf by leaf, in each leaf's dtype."""
    return tree_map(lambda y_leaf, k_leaf: y_leaf + jnp.asarray(dt, y_leaf.dtype) * k_leaf, y, k)


class AbstractFixedStepScheme(eqx.Module):
    """One step of a fixed-step method for `dy/dt = vector_field(t, y, args)`.

    Subclass it for your own scheme: set the class variable `order` (the classical order),
    optionally `evaluations` (vector-field evaluations per step, for `NeuralODE`'s statistics;
    `None` if unknown), and implement `step`. An instance is accepted by
    [`dynlearn.kernels.odeint_fixed`][] (`method=`), [`dynlearn.nde.FixedGrid`][] and
    [`dynlearn.nde.HamiltonianODE`][] (`scheme=`, for a symplectic one).
    """

    order: eqx.AbstractClassVar[int]
    evaluations: ClassVar[int | None] = None

    @abc.abstractmethod
    def step(self, vector_field: Callable, t, y: PyTree, args: PyTree, dt) -> PyTree:
        """Advance `y` from time `t` by one step of size `dt`.

        **Arguments:**

        - `vector_field`: `(t, y, args) -> dy/dt`, a PyTree like `y`.
        - `t`: the time at the start of the step (a scalar).
        - `y`: the state, a PyTree of arrays.
        - `args`: passed unchanged to `vector_field`.
        - `dt`: the step size (a scalar).

        **Returns:**

        The state at `t + dt`, a PyTree like `y`.
        """


class AbstractSymplecticScheme(AbstractFixedStepScheme):
    """A fixed-step scheme that is symplectic for a Hamiltonian field `(q, p)`.

    Subclasses also set `separable_only`: `True` when the step needs a separable (partitioned)
    field, with the state a pair `y = (q, p)`, `dq/dt` a function of `(t, p)` only and `dp/dt`
    of `(t, q)` only, as for `H = T(p) + V(q)` (explicit partitioned methods such as
    [`dynlearn.kernels.Leapfrog`][]).
    """

    separable_only: eqx.AbstractClassVar[bool]


def _pair(y, name):
    if not isinstance(y, tuple | list) or len(y) != 2:
        raise ValueError(
            f"{name}: the state must be a pair (q, p) of a partitioned field, got "
            f"{type(y).__name__}{'' if not isinstance(y, tuple | list) else f' of {len(y)}'}"
        )
    return y


class Leapfrog(AbstractSymplecticScheme):
    """Stormer-Verlet (leapfrog), kick-drift-kick: explicit, order 2, symplectic for a
    separable field.

    The state is a pair `y = (q, p)` and `vector_field(t, (q, p), args)` returns
    `(dq/dt, dp/dt)` with `dq/dt` depending on `p` only and `dp/dt` on `q` only (for a
    Hamiltonian `T(p) + V(q)`: `(∇T(p), -∇V(q))`). Each half of the field is read from its
    own evaluation; under `jit` the unused half is not computed.

    **Arguments:** none.
    """

    order: ClassVar[int] = 2
    separable_only: ClassVar[bool] = True
    evaluations: ClassVar[int | None] = 3

    def step(self, vector_field: Callable, t, y, args, dt):
        """One leapfrog step (see [`dynlearn.kernels.AbstractFixedStepScheme.step`][]).

        **Arguments:** `vector_field`, `t`, `y = (q, p)`, `args`, `dt`.

        **Returns:** the new `(q, p)`, of the type of `y`.
        """
        q, p = _pair(y, "Leapfrog")
        half = dt / 2
        p = _axpy(p, half, vector_field(t, (q, p), args)[1])
        q = _axpy(q, dt, vector_field(t + half, (q, p), args)[0])
        p = _axpy(p, half, vector_field(t + dt, (q, p), args)[1])
        return type(y)((q, p))


class ImplicitMidpoint(AbstractSymplecticScheme):
    """The implicit midpoint rule `y1 = y + dt f(t + dt/2, (y + y1)/2)`: order 2, symplectic
    for any Hamiltonian field; conserves quadratic invariants exactly (up to the fixed-point
    tolerance). Works for any vector field and any PyTree state.

    **Arguments:**

    - `iterations`: fixed-point iterations per step, starting from an explicit Euler guess.
    """

    iterations: int = eqx.field(static=True, default=8)
    order: ClassVar[int] = 2
    separable_only: ClassVar[bool] = False

    def __check_init__(self):
        if (
            isinstance(self.iterations, bool)
            or not isinstance(self.iterations, int)
            or self.iterations < 1
        ):
            raise ValueError(
                f"ImplicitMidpoint: iterations must be an int >= 1, got {self.iterations!r}"
            )

    @property
    def evaluations(self) -> int:  # type: ignore[override]
        """Vector-field evaluations per step: the Euler guess and one per iteration."""
        return 1 + self.iterations

    def step(self, vector_field: Callable, t, y, args, dt):
        """One implicit midpoint step (see [`dynlearn.kernels.AbstractFixedStepScheme.step`][]).

        **Arguments:** `vector_field`, `t`, `y`, `args`, `dt`.

        **Returns:** the new state.
        """
        y1 = _axpy(y, dt, vector_field(t, y, args))
        t_mid = t + dt / 2

        def body(_, y1):
            mid = tree_map(lambda a, b: (a + b) / 2, y, y1)
            return _axpy(y, dt, vector_field(t_mid, mid, args))

        return jax.lax.fori_loop(0, self.iterations, body, y1)


def scheme_solve(scheme: AbstractFixedStepScheme, vector_field, ts, y0, args, per_interval: int):
    """The states at `ts` from `y0` at `ts[0]`, `per_interval` steps of `scheme` per interval,
    in one nested `lax.scan` (reverse-mode derivatives by JAX, memory linear in the steps)."""
    fractions = jnp.arange(per_interval, dtype=ts.dtype) / per_interval

    def field(t, y, args):
        # the state keeps its dtypes (a float32 state under float64 times stays float32)
        return tree_map(lambda o, y_leaf: o.astype(y_leaf.dtype), vector_field(t, y, args), y)

    def interval(y, bounds):
        t0, t1 = bounds
        dt = (t1 - t0) / per_interval

        def one(y, fraction):
            return scheme.step(field, t0 + fraction * (t1 - t0), y, args, dt), None

        y = jax.lax.scan(one, y, fractions)[0]
        return y, y

    _, ys = jax.lax.scan(interval, y0, (ts[:-1], ts[1:]))
    return tree_map(lambda a, b: jnp.concatenate([a[None], b]), y0, ys)
