"""Snapshot data for Koopman fits: pairing, validation, quadrature weights and least squares.

Snapshots are rows: `X[m]` and `Y[m]` are a state and its image one time step later. Quadrature
weights `w_m` turn sums over snapshots into integrals (Colbrook & Townsend's ResDMD); uniform
weights `1 / M` give the usual ergodic average. Least-squares problems go through lineax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import lineax as lx

from .._types import Array, ArrayLike, Float


def snapshot_pairs(trajectories: Float[ArrayLike, "*batch time state"]) -> tuple[Array, Array]:
    """Split trajectories into snapshot pairs `(X, Y)` with `Y[m]` one step after `X[m]`.

    **Arguments:**

    - `trajectories`: one trajectory `(time, state)` or a batch `(batch, time, state)`.

    **Returns:** `X` and `Y`, each `(pairs, state)`, trajectories concatenated.
    """
    traj = jnp.asarray(trajectories)
    if traj.ndim == 2:
        traj = traj[None]
    if traj.ndim != 3 or traj.shape[1] < 2:
        raise ValueError(
            "snapshot_pairs: need (time, state) or (batch, time, state) with time >= 2, "
            f"got {traj.shape}"
        )
    state = traj.shape[-1]
    return traj[:, :-1].reshape(-1, state), traj[:, 1:].reshape(-1, state)


def as_snapshots(name: str, X, Y, *, dtype=None) -> tuple[Array, Array]:
    X = jnp.asarray(X)
    Y = jnp.asarray(Y)
    if X.ndim != 2 or X.shape != Y.shape:
        raise ValueError(
            f"{name}: X and Y must be snapshot matrices of the same shape (samples, state), one "
            f"snapshot per row; got X {X.shape} and Y {Y.shape}"
        )
    if X.shape[0] < 1:
        raise ValueError(f"{name}: no snapshots (X has shape {X.shape})")
    if dtype is None:
        dtype = jnp.promote_types(X.dtype, Y.dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            dtype = jnp.zeros(()).dtype
    return X.astype(dtype), Y.astype(dtype)


def sqrt_weights(name: str, weights, samples: int, dtype) -> Array:
    if weights is None:
        return jnp.full((samples,), 1.0 / samples, dtype) ** 0.5
    weights = jnp.asarray(weights)
    if weights.shape != (samples,):
        raise ValueError(
            f"{name}: weights must have shape ({samples},) (one per snapshot), got {weights.shape}"
        )
    return jnp.sqrt(weights.astype(dtype))


def lstsq(name: str, a: Array, b: Array, solver: lx.AbstractLinearSolver) -> Array:
    """Solve `min |a x - b|` for every column of `b` with one factorisation of `a`."""
    samples, features = a.shape
    if samples < features and not isinstance(solver, lx.SVD):
        raise ValueError(
            f"{name}: {samples} snapshots cannot determine {features} dictionary features (the "
            "Gram matrix is singular). Use more snapshots, a smaller dictionary, or "
            "solver=lineax.SVD() for the minimum-norm least-squares fit."
        )
    if isinstance(solver, lx.QR):
        # Factor once: a vmapped lineax QR solve factors `a` once per column of `b` (memory
        # columns x samples x features: 80 GB for 10000 snapshots and 1000 features).
        q, r = jnp.linalg.qr(a)
        triangular = lx.MatrixLinearOperator(r, lx.upper_triangular_tag)
        solve = lambda column: lx.linear_solve(triangular, column, lx.Triangular()).value
        return jax.vmap(solve, in_axes=1, out_axes=1)(q.T @ b)
    operator = lx.MatrixLinearOperator(a)
    solve = lambda column: lx.linear_solve(operator, column, solver).value
    return jax.vmap(solve, in_axes=1, out_axes=1)(b)
