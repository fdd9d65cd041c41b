"""Hamiltonian networks integrated with symplectic methods.

Follows Greydanus, Dzamba, Yosinski (2019), "Hamiltonian Neural Networks": a network learns a
scalar `H(q, p)` and the vector field is its symplectic gradient `(∂H/∂p, -∂H/∂q)`, so a learned
system conserves a learned energy. Integration uses symplectic methods (Hairer, Lubich, Wanner,
"Geometric Numerical Integration"): Störmer–Verlet (leapfrog) for separable `H = T(p) + V(q)` and
the implicit midpoint rule for general `H`, whose energy error stays bounded over long times
instead of drifting like that of non-symplectic Runge–Kutta methods. The schemes are objects
(`AbstractSymplecticScheme`), so a user's scheme, e.g. a higher-order composition of leapfrog
steps, plugs into `HamiltonianODE` like the built-in ones.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key


def symplectic_gradient(hamiltonian: Callable, y: Float[Array, " state"]) -> Float[Array, " state"]:
    """`J ∇H(y) = (∂H/∂p, -∂H/∂q)` for `y = (q, p)` split in halves.

    **Arguments:** `hamiltonian(q, p) -> scalar`; `y` of even size `2n`.

    **Returns:** shape `(2n,)`.
    """
    n = y.shape[0] // 2
    dq, dp = jax.grad(hamiltonian, argnums=(0, 1))(y[:n], y[n:])
    return jnp.concatenate([dp, -dq])


class SeparableHamiltonian(eqx.Module):
    """`H(q, p) = T(p) + V(q)` from two scalar functions (networks or closed forms).

    **Arguments:** `kinetic(p) -> scalar`, `potential(q) -> scalar`.
    """

    kinetic: Callable
    potential: Callable

    def __call__(self, q, p):
        return self.kinetic(p) + self.potential(q)


class _Scalar(eqx.Module):
    mlp: eqx.nn.MLP

    def __call__(self, *xs):
        return self.mlp(jnp.concatenate(xs))[0]


class HamiltonianNetwork(eqx.Module):
    """A learned Hamiltonian and its symplectic-gradient vector field.

    **Arguments:**

    - `n_dof`: degrees of freedom `n` (the state `(q, p)` has size `2n`).
    - `width`, `depth`: of the MLP(s) (softplus activations, so `H` is smooth).
    - `key`: PRNG key.
    - `separable`: learn `H = T(p) + V(q)` with two MLPs, which allows the explicit leapfrog.

    `model.hamiltonian(q, p)` is `H`; `model(t, y, args)` is the vector field, usable in
    `NeuralODE`; `HamiltonianODE(model.hamiltonian, ...)` integrates it symplectically.
    """

    hamiltonian: Callable
    n_dof: int = eqx.field(static=True)

    def __init__(
        self, n_dof: int, *, width: int = 64, depth: int = 2, key: Key, separable: bool = False
    ):
        if isinstance(n_dof, bool) or not isinstance(n_dof, int) or n_dof < 1:
            raise ValueError(
                f"HamiltonianNetwork: n_dof (degrees of freedom) must be an int >= 1, got {n_dof!r}"
            )
        k1, k2 = jax.random.split(key)
        mlp = lambda i, k: eqx.nn.MLP(i, 1, width, depth, activation=jax.nn.softplus, key=k)  # noqa: E731
        if separable:
            self.hamiltonian = SeparableHamiltonian(
                _Scalar(mlp(n_dof, k1)), _Scalar(mlp(n_dof, k2))
            )
        else:
            self.hamiltonian = _Scalar(mlp(2 * n_dof, k1))
        self.n_dof = n_dof

    def __call__(self, t, y: Float[Array, " state"], args=None) -> Float[Array, " state"]:
        return symplectic_gradient(self.hamiltonian, y)


class AbstractSymplecticScheme(eqx.Module):
    """One step of a symplectic integrator for `dq/dt = ∂H/∂p`, `dp/dt = -∂H/∂q`.

    Subclasses set the class variables `order` (classical order) and `separable_only` (the step
    needs a [`dynlearn.nde.SeparableHamiltonian`][], as explicit partitioned methods do) and
    implement `step`. [`dynlearn.nde.HamiltonianODE`][] takes any of them.
    """

    order: eqx.AbstractClassVar[int]
    separable_only: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def step(
        self, hamiltonian: Callable, q: Float[Array, " n"], p: Float[Array, " n"], dt
    ) -> tuple[Float[Array, " n"], Float[Array, " n"]]:
        """Advance `(q, p)` by one step of size `dt`.

        **Arguments:**

        - `hamiltonian`: `H(q, p) -> scalar` (a `SeparableHamiltonian` when `separable_only`).
        - `q`, `p`: positions and momenta, shape `(n,)` each.
        - `dt`: the step size (a scalar).

        **Returns:**

        The new `(q, p)`.
        """


class Leapfrog(AbstractSymplecticScheme):
    """Störmer–Verlet (leapfrog), kick-drift-kick: explicit, order 2, for `H = T(p) + V(q)`.

    **Arguments:** none.
    """

    order: ClassVar[int] = 2
    separable_only: ClassVar[bool] = True

    def step(self, hamiltonian: Callable, q, p, dt):
        """One leapfrog step (see [`dynlearn.nde.AbstractSymplecticScheme.step`][]).

        **Arguments:** `hamiltonian` (a `SeparableHamiltonian`), `q`, `p`, `dt`.

        **Returns:** the new `(q, p)`.
        """
        dv = jax.grad(hamiltonian.potential)
        p = p - dt / 2 * dv(q)
        q = q + dt * jax.grad(hamiltonian.kinetic)(p)
        p = p - dt / 2 * dv(q)
        return q, p


class ImplicitMidpoint(AbstractSymplecticScheme):
    """The implicit midpoint rule `y1 = y + dt J∇H((y + y1)/2)`: order 2, any `H`; conserves
    quadratic Hamiltonians exactly (up to the fixed-point tolerance).

    **Arguments:**

    - `iterations`: fixed-point iterations per step, starting from an explicit Euler guess.
    """

    iterations: int = eqx.field(static=True, default=8)
    order: ClassVar[int] = 2
    separable_only: ClassVar[bool] = False

    def __check_init__(self):
        if self.iterations < 1:
            raise ValueError(f"ImplicitMidpoint: iterations must be >= 1, got {self.iterations}")

    def step(self, hamiltonian: Callable, q, p, dt):
        """One implicit midpoint step (see [`dynlearn.nde.AbstractSymplecticScheme.step`][]).

        **Arguments:** `hamiltonian`, `q`, `p`, `dt`.

        **Returns:** the new `(q, p)`.
        """
        n = q.shape[0]
        y = jnp.concatenate([q, p])
        f = lambda z: symplectic_gradient(hamiltonian, z)  # noqa: E731
        y1 = y + dt * f(y)

        def body(_, y1):
            return y + dt * f((y + y1) / 2)

        y1 = jax.lax.fori_loop(0, self.iterations, body, y1)
        return y1[:n], y1[n:]


_SCHEMES = {"leapfrog": Leapfrog, "implicit_midpoint": ImplicitMidpoint}


class HamiltonianODE(eqx.Module):
    """Symplectic integration of `dy/dt = J ∇H(y)` on a fixed grid.

    **Arguments:**

    - `hamiltonian`: `H(q, p) -> scalar`.
    - `scheme`: an [`dynlearn.nde.AbstractSymplecticScheme`][] (a built-in one or a user's), or
      a name as a shortcut: `"leapfrog"` ([`dynlearn.nde.Leapfrog`][]) or `"implicit_midpoint"`
      ([`dynlearn.nde.ImplicitMidpoint`][] with its default iterations). Default: leapfrog for a
      `SeparableHamiltonian`, the implicit midpoint rule otherwise.
    - `steps_per_interval`: steps between consecutive output times.

    `model(ts, y0)` returns the trajectory `(time, 2n)`, with `y0` as its first row; with a
    symplectic scheme the energy error stays bounded over long times.
    """

    hamiltonian: Callable
    scheme: AbstractSymplecticScheme
    steps_per_interval: int = eqx.field(static=True)

    def __init__(
        self,
        hamiltonian: Callable,
        *,
        scheme: AbstractSymplecticScheme | str | None = None,
        steps_per_interval: int = 1,
    ):
        if steps_per_interval < 1:
            raise ValueError(
                f"HamiltonianODE: steps_per_interval must be >= 1, got {steps_per_interval}"
            )
        separable = isinstance(hamiltonian, SeparableHamiltonian)
        if scheme is None:
            scheme = Leapfrog() if separable else ImplicitMidpoint()
        elif isinstance(scheme, str):
            if scheme not in _SCHEMES:
                raise ValueError(
                    f"HamiltonianODE: scheme must be a symplectic scheme object or one of "
                    f"{sorted(_SCHEMES)}, got {scheme!r}"
                )
            scheme = _SCHEMES[scheme]()
        elif not isinstance(scheme, AbstractSymplecticScheme):
            raise TypeError(
                "HamiltonianODE: scheme must be a dynlearn.nde.AbstractSymplecticScheme or a "
                f"name, got {type(scheme).__name__}"
            )
        if scheme.separable_only and not separable:
            raise ValueError(
                f"HamiltonianODE: {type(scheme).__name__} needs H = T(p) + V(q) given as a "
                "SeparableHamiltonian; use ImplicitMidpoint() for a general H"
            )
        self.hamiltonian = hamiltonian
        self.scheme = scheme
        self.steps_per_interval = steps_per_interval

    def __call__(self, ts: Array, y0: Float[Array, " state"]) -> Float[Array, "time state"]:
        """Integrate from `y0` at `ts[0]` and save at `ts`.

        **Arguments:**

        - `ts`: output times, shape `(time,)` (need not be evenly spaced).
        - `y0`: the initial state `(q, p)`, shape `(2n,)`.

        **Returns:**

        The states at `ts`, shape `(time, 2n)`; the first row is `y0`.
        """
        ts = jnp.asarray(ts)
        if ts.ndim != 1 or y0.ndim != 1 or y0.shape[0] % 2:
            raise ValueError(
                f"HamiltonianODE: need ts (time,) and y0 (2n,), got {ts.shape} and {y0.shape}"
            )
        n = y0.shape[0] // 2

        def step(y, dt):
            q, p = self.scheme.step(self.hamiltonian, y[:n], y[n:], dt)
            return jnp.concatenate([q, p])

        def interval(y, dt):
            sub = dt / self.steps_per_interval
            y, _ = jax.lax.scan(
                lambda yy, _: (step(yy, sub), None), y, None, length=self.steps_per_interval
            )
            return y, y

        _, ys = jax.lax.scan(interval, y0, jnp.diff(ts))
        return jnp.concatenate([y0[None], ys], axis=0)

    def energy(self, ys: Float[Array, "time state"]) -> Float[Array, " time"]:
        """`H` along a trajectory.

        **Arguments:**

        - `ys`: states `(q, p)`, shape `(time, 2n)`.

        **Returns:**

        `H` at each row, shape `(time,)`.
        """
        n = ys.shape[1] // 2
        return jax.vmap(self.hamiltonian)(ys[:, :n], ys[:, n:])
