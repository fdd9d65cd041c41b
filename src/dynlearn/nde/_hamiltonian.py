"""Hamiltonian networks integrated with symplectic methods.

Follows Greydanus, Dzamba, Yosinski (2019), "Hamiltonian Neural Networks": a network learns a
scalar `H(q, p)` and the vector field is its symplectic gradient `(∂H/∂p, -∂H/∂q)`, so a learned
system conserves a learned energy. Integration uses symplectic methods (Hairer, Lubich, Wanner,
"Geometric Numerical Integration"): Störmer–Verlet (leapfrog) for separable `H = T(p) + V(q)` and
the implicit midpoint rule for general `H`, whose energy error stays bounded over long times
instead of drifting like that of non-symplectic Runge–Kutta methods. The schemes are the
kernels' fixed-step scheme objects (`kernels.AbstractSymplecticScheme`, `kernels.Leapfrog`,
`kernels.ImplicitMidpoint`, re-exported here), and `HamiltonianODE` integrates through
`kernels.odeint_fixed`, the driver that `NeuralODE`'s `FixedGrid` uses; so a user's scheme, e.g. a
higher-order composition of leapfrog steps, plugs into both like the built-in ones.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key
from ..kernels import ButcherTableau, odeint_fixed
from ..kernels._schemes import (
    AbstractFixedStepScheme,
    AbstractSymplecticScheme,
    ImplicitMidpoint,
    Leapfrog,
)

__all__ = [
    "AbstractSymplecticScheme",
    "HamiltonianNetwork",
    "HamiltonianODE",
    "ImplicitMidpoint",
    "Leapfrog",
    "SeparableHamiltonian",
    "symplectic_gradient",
]


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


_SCHEMES = {"leapfrog": Leapfrog, "implicit_midpoint": ImplicitMidpoint}


class _HamiltonianField(eqx.Module):
    """`(t, (q, p), args) -> (∂H/∂p, -∂H/∂q)`: the Hamiltonian vector field on a pair state.
    For a `SeparableHamiltonian` each half is the gradient of its own term, so a scheme that
    reads one half (leapfrog) computes only that gradient under `jit`."""

    hamiltonian: Callable

    def __call__(self, t, y, args):
        q, p = y
        h = self.hamiltonian
        if isinstance(h, SeparableHamiltonian):
            return jax.grad(h.kinetic)(p), -jax.grad(h.potential)(q)
        dq, dp = jax.grad(h, argnums=(0, 1))(q, p)
        return dp, -dq


class HamiltonianODE(eqx.Module):
    """Symplectic integration of `dy/dt = J ∇H(y)` on a fixed grid.

    **Arguments:**

    - `hamiltonian`: `H(q, p) -> scalar`.
    - `scheme`: a fixed-step scheme object: a symplectic one
      ([`dynlearn.kernels.AbstractSymplecticScheme`][], built in or a user's), or any other
      [`dynlearn.kernels.AbstractFixedStepScheme`][] or [`dynlearn.kernels.ButcherTableau`][]
      (not symplectic: its energy error drifts); or a name as a shortcut: `"leapfrog"`
      ([`dynlearn.kernels.Leapfrog`][]) or `"implicit_midpoint"`
      ([`dynlearn.kernels.ImplicitMidpoint`][] with its default iterations). Default: leapfrog
      for a `SeparableHamiltonian`, the implicit midpoint rule otherwise.
    - `steps_per_interval`: steps between consecutive output times.

    `model(ts, y0)` integrates with [`dynlearn.kernels.odeint_fixed`][] (the scheme sees the
    state as the pair `(q, p)` and the field `(∂H/∂p, -∂H/∂q)`) and returns the trajectory
    `(time, 2n)`, with `y0` as its first row; with a symplectic scheme the energy error stays
    bounded over long times.
    """

    hamiltonian: Callable
    scheme: AbstractFixedStepScheme | ButcherTableau
    steps_per_interval: int = eqx.field(static=True)

    def __init__(
        self,
        hamiltonian: Callable,
        *,
        scheme: AbstractFixedStepScheme | ButcherTableau | str | None = None,
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
        elif not isinstance(scheme, AbstractFixedStepScheme | ButcherTableau):
            raise TypeError(
                "HamiltonianODE: scheme must be a dynlearn.kernels.AbstractFixedStepScheme (such "
                f"as a symplectic scheme), a ButcherTableau or a name, got {type(scheme).__name__}"
            )
        if getattr(scheme, "separable_only", False) and not separable:
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
        qs, ps = odeint_fixed(
            _HamiltonianField(self.hamiltonian),
            ts,
            (y0[:n], y0[n:]),
            method=self.scheme,
            steps_per_interval=self.steps_per_interval,
            throw=False,
        )
        return jnp.concatenate([qs, ps], axis=1)

    def energy(self, ys: Float[Array, "time state"]) -> Float[Array, " time"]:
        """`H` along a trajectory.

        **Arguments:**

        - `ys`: states `(q, p)`, shape `(time, 2n)`.

        **Returns:**

        `H` at each row, shape `(time,)`.
        """
        n = ys.shape[1] // 2
        return jax.vmap(self.hamiltonian)(ys[:, :n], ys[:, n:])
