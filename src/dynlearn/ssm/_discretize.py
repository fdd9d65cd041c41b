"""Discretization of linear time-invariant systems `x' = A x + B u` with step `dt`.

Zero-order hold (exact for piecewise-constant input), the bilinear (Tustin) transform used by
S4, and forward / backward Euler, as compared in "How to Train Your HiPPO" (Gu et al., 2022).
A one-dimensional `A` is read as a diagonal matrix (S4D, S5, Mamba), a two-dimensional `A` as a
dense one.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, ArrayLike, Inexact
from .._validation import check_dtype, check_option
from ._common import promote

Method = Literal["zoh", "bilinear", "forward_euler", "backward_euler"]
_METHODS = ("zoh", "bilinear", "forward_euler", "backward_euler")


def discretize(
    A: Inexact[Array, "..."],
    B: Inexact[Array, "..."],
    dt: ArrayLike,
    method: str = "zoh",
) -> tuple[Inexact[Array, "..."], Inexact[Array, "..."]]:
    """Discretize `x' = A x + B u` into `x_k = A_bar x_{k-1} + B_bar u_k`.

    - zoh: `A_bar = exp(dt A)`, `B_bar = A^{-1} (exp(dt A) - I) B`;
    - bilinear: `A_bar = (I - dt/2 A)^{-1} (I + dt/2 A)`, `B_bar = (I - dt/2 A)^{-1} dt B`;
    - forward_euler: `A_bar = I + dt A`, `B_bar = dt B`;
    - backward_euler: `A_bar = (I - dt A)^{-1}`, `B_bar = (I - dt A)^{-1} dt B`.

    **Arguments:**

    - `A`: state matrix, `(N, N)` dense or `(N,)` diagonal (real or complex).
    - `B`: input matrix, `(N,)` or `(N, M)`.
    - `dt`: step size, a scalar (or, for diagonal `A`, an array broadcasting against `A`).
    - `method`: `"zoh"`, `"bilinear"`, `"forward_euler"` or `"backward_euler"`.

    **Returns:**

    `(A_bar, B_bar)` with the shapes of `A` and `B`.
    """
    check_option("discretize", "method", method, _METHODS)
    A = check_dtype("discretize", "A", A, complex_ok=True, cast_integers=True)
    B = check_dtype("discretize", "B", B, complex_ok=True, cast_integers=True)
    if A.ndim not in (1, 2) or (A.ndim == 2 and A.shape[0] != A.shape[1]):
        raise ValueError(f"discretize: A must have shape (N,) or (N, N), got shape {A.shape}.")
    N = A.shape[0]
    if B.ndim not in (1, 2) or B.shape[0] != N:
        raise ValueError(
            f"discretize: B must have shape (N,) or (N, M) with N = {N} from A, got shape "
            f"{B.shape}."
        )
    _check_dt(dt)
    dtype = promote(A.dtype, B.dtype)
    A = A.astype(dtype)
    B = B.astype(dtype)
    dt = jnp.asarray(dt).astype(dtype)
    if A.ndim == 1:
        return _discretize_diagonal(A, B, dt, method)
    if dt.ndim != 0:
        raise ValueError(f"discretize: dense A needs a scalar dt, got shape {dt.shape}")
    eye = jnp.eye(N, dtype=A.dtype)
    if method == "zoh":
        # Block matrix exponential: exp([[A, B], [0, 0]] dt) = [[A_bar, B_bar], [0, I]];
        # valid for singular A too.
        B2 = B[:, None] if B.ndim == 1 else B
        M = B2.shape[1]
        top = jnp.concatenate([A, B2.astype(A.dtype)], axis=1)
        block = jnp.concatenate([top, jnp.zeros((M, N + M), A.dtype)], axis=0)
        E = jax.scipy.linalg.expm(dt * block)
        A_bar = E[:N, :N]
        B_bar = E[:N, N:]
        return A_bar, (B_bar[:, 0] if B.ndim == 1 else B_bar)
    if method == "bilinear":
        lhs = eye - (dt / 2) * A
        A_bar = jnp.linalg.solve(lhs, eye + (dt / 2) * A)
        B_bar = jnp.linalg.solve(lhs, dt * B)
        return A_bar, B_bar
    if method == "forward_euler":
        return eye + dt * A, dt * B
    lhs = eye - dt * A
    return jnp.linalg.inv(lhs), jnp.linalg.solve(lhs, dt * B)


def _check_dt(dt) -> None:
    """Refuse a concrete step that is not finite and positive (a traced one is not checked)."""
    if dt is None or isinstance(dt, bool | str):
        raise TypeError(f"discretize: dt must be a positive real number, got dt={dt!r}.")
    if isinstance(dt, jax.core.Tracer):
        return
    arr = np.asarray(dt)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"discretize: dt must be real, got dtype {arr.dtype}.")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        value = float(arr) if arr.ndim == 0 else float(arr[bad].ravel()[0])
        raise ValueError(
            f"discretize: dt must be finite and positive (a negative step gives a system that "
            f"runs backwards in time and is unstable), got dt={value!r}"
            + ("." if arr.ndim == 0 else f" in an array of shape {arr.shape}.")
        )


def _discretize_diagonal(A, B, dt, method):
    dtA = dt * A
    scale_b = (lambda v: v[:, None]) if B.ndim == 2 else (lambda v: v)
    if method == "zoh":
        A_bar = jnp.exp(dtA)
        # (exp(dt a) - 1) / a, written with expm1 for accuracy at small dt a.
        gain = jnp.where(dtA == 0, dt * jnp.ones_like(A), jnp.expm1(dtA) / jnp.where(A == 0, 1, A))
        return A_bar, scale_b(gain) * B
    if method == "bilinear":
        denom = 1 - dtA / 2
        return (1 + dtA / 2) / denom, scale_b(dt / denom) * B
    if method == "forward_euler":
        return 1 + dtA, scale_b(dt * jnp.ones_like(A)) * B
    denom = 1 - dtA
    return 1 / denom, scale_b(dt / denom) * B
