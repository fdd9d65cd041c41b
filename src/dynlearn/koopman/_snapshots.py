"""Snapshot data for Koopman fits: pairing, validation, quadrature weights and least squares.

Snapshots are rows: `X[m]` and `Y[m]` are a state and its image one time step later. Quadrature
weights `w_m` turn sums over snapshots into integrals (Colbrook & Townsend's ResDMD); uniform
weights `1 / M` give the usual ergodic average. Least-squares problems go through lineax.
"""

from __future__ import annotations

import functools
import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from .._types import Array, ArrayLike, Float
from .._validation import check_dtype, check_finite, check_int


def snapshot_pairs(trajectories: Float[ArrayLike, "*batch time state"]) -> tuple[Array, Array]:
    """Split trajectories into snapshot pairs `(X, Y)` with `Y[m]` one step after `X[m]`.

    **Arguments:**

    - `trajectories`: one trajectory `(time, state)` or a batch `(batch, time, state)`.

    **Returns:** `X` and `Y`, each `(pairs, state)`, trajectories concatenated.
    """
    traj = check_dtype("snapshot_pairs", "trajectories", trajectories, cast_integers=True)
    if traj.ndim == 2:
        traj = traj[None]
    if traj.ndim != 3 or traj.shape[1] < 2:
        raise ValueError(
            "snapshot_pairs: trajectories must have shape (time, state) or (batch, time, state) "
            f"with time >= 2, got shape {tuple(jnp.shape(trajectories))}."
        )
    check_finite("snapshot_pairs", "trajectories", traj)
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


def _first_line(err: Exception) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def check_snapshot_data(where: str, X, Y, weights=None, *, second: str = "Y"):
    """Eager checks of a fit's data, before the jitted fit: real floating `X` and `Y` (complex
    is refused, not dropped) of one shape `(samples >= 1, state)`, finite values (concrete data),
    and `weights` of shape `(samples,)`, finite and non-negative. Errors name the argument.

    **Returns:** `(X, Y, weights)` as arrays (integers cast to float).
    """
    X = check_dtype(where, "X", X, cast_integers=True)
    Y = check_dtype(where, second, Y, cast_integers=True)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(
            f"{where}: X must be a snapshot matrix of shape (samples >= 1, state), one snapshot "
            f"per row; got shape {tuple(X.shape)}."
        )
    if Y.shape != X.shape:
        raise ValueError(
            f"{where}: X and {second} must have the same shape (samples, state), one snapshot "
            f"per row; got X of shape {tuple(X.shape)} and {second} of shape {tuple(Y.shape)}."
        )
    check_finite(where, "X", X)
    check_finite(where, second, Y)
    if weights is not None:
        weights = check_dtype(where, "weights", weights, cast_integers=True)
        if weights.shape != (X.shape[0],):
            raise ValueError(
                f"{where}: weights must have shape ({X.shape[0]},) (one per snapshot), got shape "
                f"{tuple(weights.shape)}."
            )
        if not isinstance(weights, jax.core.Tracer):
            w = np.asarray(weights)
            if not np.all(np.isfinite(w) & (w >= 0)):
                bad = int(np.flatnonzero(~(np.isfinite(w) & (w >= 0)))[0])
                raise ValueError(
                    f"{where}: weights must be finite and non-negative (quadrature weights), got "
                    f"weights[{bad}]={w[bad]}."
                )
    return X, Y, weights


def check_dictionary(where: str, dictionary, X, *, name: str = "dictionary") -> None:
    """Refuse a non-dictionary, or one that cannot be evaluated on states of `X`'s size."""
    from ._dictionaries import AbstractDictionary

    if not isinstance(dictionary, AbstractDictionary):
        raise TypeError(
            f"{where}: {name} must be a dynlearn.koopman.AbstractDictionary (e.g. Monomials(2)), "
            f"got {type(dictionary).__name__}."
        )
    try:
        jax.eval_shape(dictionary.evaluate, X)
    except Exception as err:
        raise ValueError(
            f"{where}: the {name} {type(dictionary).__name__} cannot be evaluated on states of X "
            f"(shape {tuple(X.shape)}, state size {X.shape[1]}); it raised {_first_line(err)}"
        ) from err


def check_solver(where: str, solver) -> None:
    """Refuse a solver that is not a lineax linear solver (or None)."""
    if solver is not None and not isinstance(solver, lx.AbstractLinearSolver):
        raise TypeError(
            f"{where}: solver must be a lineax linear solver (e.g. lineax.QR(), lineax.SVD()) or "
            f"None, got solver={solver!r}."
        )


def check_rank(where: str, rank, full: int) -> None:
    """Refuse a truncation rank that is not an int in `[1, full]` (None passes)."""
    if rank is None:
        return
    rank = check_int(where, "rank", rank)
    if rank > full:
        raise ValueError(f"{where}: rank must be in [1, {full}], got rank={rank}.")


def validated_fit(where: str, *, second: str = "Y", first: str | None = "dictionary"):
    """Decorator: `equinox.filter_jit` the fit, with the eager checks above run first (at the
    Python entry, where data are concrete: NaN, inf and negative weights are refused here rather
    than inside the compiled fit). `first` names the dictionary or kernel argument, if any."""

    def wrap(fn):
        jitted = eqx.filter_jit(fn)
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def public(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as err:
                raise TypeError(f"{where}: {err}") from None
            bound.apply_defaults()
            a = bound.arguments
            a["X"], a[second], a["weights"] = check_snapshot_data(
                where, a["X"], a[second], a.get("weights"), second=second
            )
            if first == "dictionary":
                check_dictionary(where, a["dictionary"], a["X"])
            elif first == "kernel":
                from ._kernels import AbstractKernel

                if not isinstance(a["kernel"], AbstractKernel):
                    raise TypeError(
                        f"{where}: kernel must be a dynlearn.koopman.AbstractKernel (e.g. "
                        f"GaussianKernel()), got {type(a['kernel']).__name__}."
                    )
            if "solver" in a:
                check_solver(where, a["solver"])
            if "rank" in a:
                full = a["X"].shape[0] if first == "kernel" else min(a["X"].shape)
                check_rank(where, a["rank"], full)
            return jitted(*bound.args, **bound.kwargs)

        return public

    return wrap
