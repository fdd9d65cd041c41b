"""Hard constraints: output transforms and the mixture-of-experts least-squares layer.

- `HardConstraint`: `u(x) = g(x) + d(x) N(x)` with `d = 0` on the constrained set, so initial or
  Dirichlet conditions hold exactly (Lagaris, Likas & Fotiadis 1998; Lu et al. 2021).
- `MixtureOfExpertsLSQ`: the differentiable-optimization layer of Négiar et al., "Learning
  differentiable solvers for physical simulations" (ICML 2023), scaled with a mixture of experts as
  in Chalapathi et al., "Scaling physics-informed hard constraints with mixture-of-experts"
  (ICLR 2024). A network gives basis functions `phi(x)`; in each subdomain (expert) the field is
  `u_k(x) = c_k . phi(x)`, with `c_k` solving the nonlinear least-squares problem "PDE residual
  and initial/boundary conditions vanish at the expert's constraint points" by Levenberg–Marquardt
  (optimistix). Gradients with respect to the basis network come from the implicit function
  theorem (`optimistix.ImplicitAdjoint`), never by unrolling the solver. Experts are solved in
  parallel with `jax.vmap`, each on a small system.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optimistix as optx
from jaxtyping import Array, Float, PyTree

from .._validation import check_callable, check_int, check_positive


class HardConstraint(eqx.Module):
    """`u(x) = particular(x) + distance(x) * network(x)`.

    Choose `distance` vanishing exactly where the condition is imposed: `distance = t` and
    `particular = u0(x)` impose an initial condition; `distance = x (1 - x)` and
    `particular = 0` impose homogeneous Dirichlet conditions on `[0, 1]`; products combine both.

    **Arguments:**

    - `network`: the free field `N(x)`.
    - `particular`: `g(x)`, satisfying the condition.
    - `distance`: `d(x)`, zero on the constrained set.
    """

    network: Callable
    particular: Callable = eqx.field(static=True)
    distance: Callable = eqx.field(static=True)

    def __check_init__(self):
        for name in ("network", "particular", "distance"):
            check_callable("HardConstraint", name, getattr(self, name))

    @property
    def in_size(self):
        return getattr(self.network, "in_size", None)

    def __call__(self, x: Float[Array, " d"]) -> Array:
        return self.particular(x) + self.distance(x) * self.network(x)


class ExpertField(eqx.Module):
    """The field `u(x) = c_{k(x)} . phi(x)` of a `MixtureOfExpertsLSQ` with solved coefficients.

    **Arguments:**

    - `layer`: the `MixtureOfExpertsLSQ`.
    - `coefficients`: `(experts, n_basis)` from `layer.solve`.
    """

    layer: MixtureOfExpertsLSQ
    coefficients: Float[Array, "experts basis"]

    def __check_init__(self):
        if not isinstance(self.layer, MixtureOfExpertsLSQ):
            raise TypeError(
                f"ExpertField: layer must be a MixtureOfExpertsLSQ, got {type(self.layer).__name__}"
            )
        shape = jnp.shape(self.coefficients)
        if len(shape) != 2 or shape[0] != self.layer.n_experts:
            raise ValueError(
                f"ExpertField: coefficients must have shape ({self.layer.n_experts}, n_basis) "
                f"(one row per expert), got shape {shape}"
            )

    @property
    def in_size(self):
        return getattr(self.layer.basis, "in_size", None)

    def __call__(self, x: Float[Array, " d"]) -> Array:
        k = self.layer.expert_index(x)
        return jnp.dot(self.coefficients[k], self.layer.basis(x))


class _Combination(eqx.Module):
    basis: Callable
    coefficients: Array

    def __call__(self, x):
        return jnp.dot(self.coefficients, self.basis(x))


class MixtureOfExpertsLSQ(eqx.Module):
    """Hard-constrained mixture of experts: per-subdomain differentiable least squares.

    The domain is split along `coordinate` at `edges` into `experts = len(edges) - 1`
    subdomains. `solve(points)` finds, for every expert at once, the coefficients `c_k` that
    minimise `||equations(u_k, points_k)||^2` with `u_k = c_k . phi` (Levenberg–Marquardt);
    the constraints then hold at the constraint points to solver tolerance, and the solve is
    differentiable with respect to the basis network by the implicit function theorem. Train the
    basis with any loss on the resulting `ExpertField` (e.g. the residual at fresh points).

    **Arguments:**

    - `basis`: a network `phi(x) -> (n_basis,)`.
    - `equations`: `equations(u, points) -> (m,)` stacking the residuals that must vanish in one
      expert, for a scalar field `u` and that expert's constraint points (any PyTree).
    - `edges`: increasing subdomain edges along `coordinate`.
    - `coordinate`: the coordinate split into subdomains (default 0).
    - `solver`: an optimistix least-squares solver (default Levenberg–Marquardt with
      `rtol = atol = 1e-6`).
    - `max_steps`: solver iterations (the solve raises, naming this, if they are not enough).
    - `ridge`: an optional Tikhonov term `ridge ||c||^2` added to every expert's problem. The
      implicit-function-theorem gradient is that of a unique minimiser: use more constraint
      rows than basis functions, or a ridge (the constraints then hold only up to `O(ridge)`).
    - `throw`: raise when a solve does not converge within `max_steps` (otherwise return the
      last iterate; check the constraint residuals yourself).
    """

    basis: eqx.Module
    equations: Callable = eqx.field(static=True)
    edges: tuple[float, ...] = eqx.field(static=True)
    coordinate: int = eqx.field(static=True)
    solver: optx.AbstractLeastSquaresSolver
    max_steps: int = eqx.field(static=True)
    ridge: float
    throw: bool = eqx.field(static=True)

    def __init__(
        self,
        basis: eqx.Module,
        equations: Callable,
        edges,
        *,
        coordinate: int = 0,
        solver: optx.AbstractLeastSquaresSolver | None = None,
        max_steps: int = 64,
        ridge: float = 0.0,
        throw: bool = True,
    ):
        check_callable("MixtureOfExpertsLSQ", "basis", basis)
        check_callable("MixtureOfExpertsLSQ", "equations", equations)
        edges = tuple(float(e) for e in edges)
        if (
            len(edges) < 2
            or not all(np.isfinite(e) for e in edges)
            or any(b <= a for a, b in zip(edges[:-1], edges[1:]))
        ):
            raise ValueError(
                f"MixtureOfExpertsLSQ: edges must be at least 2 finite, strictly increasing "
                f"values, got edges={edges}"
            )
        check_int("MixtureOfExpertsLSQ", "coordinate", coordinate, minimum=0)
        check_int("MixtureOfExpertsLSQ", "max_steps", max_steps)
        check_positive("MixtureOfExpertsLSQ", "ridge", ridge, allow_zero=True)
        if solver is not None and not isinstance(solver, optx.AbstractLeastSquaresSolver):
            raise TypeError(
                f"MixtureOfExpertsLSQ: solver must be an optimistix least-squares solver or "
                f"None, got solver={solver!r}"
            )
        self.basis, self.equations, self.edges = basis, equations, edges
        self.coordinate = coordinate
        self.solver = optx.LevenbergMarquardt(rtol=1e-6, atol=1e-6) if solver is None else solver
        self.max_steps = max_steps
        self.ridge = float(ridge)
        self.throw = throw

    @property
    def n_experts(self) -> int:
        return len(self.edges) - 1

    def expert_index(self, x: Float[Array, " d"]) -> Array:
        """Index of the expert whose subdomain contains the point `x`."""
        inner = jnp.asarray(self.edges[1:-1], x.dtype)
        return jnp.sum(x[self.coordinate] >= inner)

    def solve(self, points: PyTree) -> Float[Array, "experts basis"]:
        """Coefficients of every expert from its constraint points (leading axis: experts).

        **Arguments:**

        - `points`: a PyTree whose leaves have leading axis `experts`; entry `k` is what
          `equations` receives for expert `k`.

        **Returns:** the coefficients, shape `(experts, n_basis)`.
        """
        leaves = jax.tree_util.tree_leaves(points)
        if not leaves or any(jnp.shape(a)[0] != self.n_experts for a in leaves):
            raise ValueError(
                f"MixtureOfExpertsLSQ.solve: every leaf of points needs leading axis "
                f"{self.n_experts} (one per expert), got {[jnp.shape(a) for a in leaves]}"
            )
        probe = jax.tree_util.tree_map(lambda a: a[0], points)
        x0 = jax.tree_util.tree_leaves(probe)[0]
        n_basis = jax.eval_shape(self.basis, x0[0] if x0.ndim == 2 else x0).shape[0]

        def residuals(c, args):
            basis, pts = args
            rows = self.equations(_Combination(basis, c), pts)
            if self.ridge == 0:
                return rows
            return jnp.concatenate([rows, jnp.sqrt(jnp.asarray(self.ridge, c.dtype)) * c])

        def one(pts):
            c0 = jnp.zeros(n_basis, x0.dtype)
            sol = optx.least_squares(
                residuals,
                self.solver,
                c0,
                args=(self.basis, pts),
                max_steps=self.max_steps,
                adjoint=optx.ImplicitAdjoint(lx.AutoLinearSolver(well_posed=False)),
                throw=self.throw,
            )
            return sol.value

        return jax.vmap(one)(points)

    def field(self, coefficients: Float[Array, "experts basis"]) -> ExpertField:
        """The piecewise field built from solved coefficients."""
        return ExpertField(self, coefficients)
