"""HiPPO matrices and their normal-plus-low-rank (NPLR) form.

Follows "HiPPO: Recurrent Memory with Optimal Polynomial Projections" (Gu et al., 2020) and
"How to Train Your HiPPO" (Gu et al., 2022). Each kind defines the linear ODE
`c'(t) = A c(t) + B f(t)` (scaled by `1/t` for LegS) whose state `c` holds the coefficients of the
projection of the history of `f` onto an orthogonal basis. The NPLR form writes
`A = V diag(Lambda) V^* - P^T P` with `V` unitary, the structure that S4 exploits.
"""

from __future__ import annotations

from typing import Literal

import jax.numpy as jnp
import numpy as np

from .._types import Array, Complex, Float
from .._validation import check_int, check_option

HippoKind = Literal["legs", "legt", "lagt", "fout"]
_KINDS = ("legs", "legt", "lagt", "fout")


def _check(kind: str, N: int, where: str = "hippo") -> None:
    check_option(where, "kind", kind, _KINDS)
    check_int(where, "state_size", N)
    if kind == "fout" and N % 2:
        raise ValueError(
            f"{where}: kind 'fout' needs an even state_size (cos/sin pairs), got state_size={N}."
        )


def _hippo_numpy(kind: str, N: int) -> tuple[np.ndarray, np.ndarray]:
    n = np.arange(N)[:, None]
    k = np.arange(N)[None, :]
    r = np.sqrt(2.0 * np.arange(N) + 1.0)
    if kind == "legs":
        A = np.where(n > k, -r[:, None] * r[None, :], 0.0) - np.diag(np.arange(N) + 1.0)
        B = r.copy()
    elif kind == "legt":
        sign = np.where(n >= k, 1.0, (-1.0) ** ((n - k) % 2))
        A = -0.5 * r[:, None] * r[None, :] * sign
        B = 0.5 * r
    elif kind == "lagt":
        A = 0.5 * np.eye(N) - np.tril(np.ones((N, N)))
        B = np.ones(N)
    else:  # fout
        freqs = np.arange(N // 2)
        A = np.zeros((N, N))
        for f in freqs[1:]:
            A[2 * f + 1, 2 * f] = np.pi * f
            A[2 * f, 2 * f + 1] = -np.pi * f
        B = np.zeros(N)
        B[0::2] = np.sqrt(2.0)
        B[0] = 1.0
        A = A - B[:, None] * B[None, :]
    return A, B


def _float_dtype(dtype):
    return jnp.zeros((), dtype=dtype).dtype if dtype is not None else jnp.zeros(()).dtype


def _complex_dtype(dtype):
    if dtype is not None and jnp.issubdtype(dtype, jnp.complexfloating):
        return jnp.zeros((), dtype=dtype).dtype
    return jnp.complex128 if _float_dtype(dtype) == jnp.float64 else jnp.complex64


def hippo(
    kind: str, state_size: int, *, dtype=None
) -> tuple[Float[Array, "N N"], Float[Array, " N"]]:
    """The HiPPO state matrix `A` and input vector `B` of one measure.

    Conventions (as in the S4 reference code): LegS `c' = (A c + B f) / t`; LegT is the window
    `[t - 2, t]` at unit time scale (divide the time step by `theta / 2` for a window `theta`);
    LagT is the exponentially decaying Laguerre measure; FouT the truncated Fourier basis on the
    unit window.

    **Arguments:**

    - `kind`: `"legs"`, `"legt"`, `"lagt"` or `"fout"`.
    - `state_size` (`N`): the number of basis functions (state size); even for `"fout"`.
    - `dtype`: floating dtype of the result (default: JAX's default float).

    **Returns:**

    `(A, B)` with shapes `(N, N)` and `(N,)`.
    """
    N = state_size
    _check(kind, N, "hippo")
    A, B = _hippo_numpy(kind, N)
    dt = _float_dtype(dtype)
    return jnp.asarray(A, dt), jnp.asarray(B, dt)


def _low_rank_numpy(kind: str, N: int) -> np.ndarray:
    r = np.sqrt(2.0 * np.arange(N) + 1.0)
    if kind == "legs":
        return np.sqrt(np.arange(N) + 0.5)[None, :]
    if kind == "legt":
        alt = (-1.0) ** np.arange(N)
        return np.stack([0.5 * r, 0.5 * alt * r])
    if kind == "lagt":
        return np.full((1, N), np.sqrt(0.5))
    _, B = _hippo_numpy("fout", N)
    return B[None, :]


def hippo_low_rank(kind: str, state_size: int, *, dtype=None) -> Float[Array, "rank N"]:
    """The low-rank correction `P` with `A + P^T P` normal (a multiple of `I` plus skew).

    For LegS `P[n] = sqrt(n + 1/2)` and `A + P P^T = -I/2 + skew`; LegT needs rank 2; LagT and
    FouT rank 1.

    **Arguments:**

    - `kind`, `state_size`, `dtype`: as in [`dynlearn.ssm.hippo`][].

    **Returns:**

    `P` of shape `(rank, N)`.
    """
    N = state_size
    _check(kind, N, "hippo_low_rank")
    return jnp.asarray(_low_rank_numpy(kind, N), _float_dtype(dtype))


def hippo_nplr(
    kind: str, state_size: int, *, dtype=None
) -> tuple[
    Complex[Array, " N"], Complex[Array, "rank N"], Complex[Array, " N"], Complex[Array, "N N"]
]:
    """The normal-plus-low-rank form of a HiPPO matrix, in its eigenbasis.

    With `S = A + P^T P = V diag(Lambda) V^*` (normal, `V` unitary), the matrix is
    `A = V (diag(Lambda) - Pt^T conj(Pt)) V^*` where `Pt = P conj(V)` are the low-rank factors
    expressed in the eigenbasis, and the input vector becomes `Bt = V^* B`. This is the
    diagonal-plus-low-rank (DPLR) parameterization used by S4.

    **Arguments:**

    - `kind`, `state_size`: as in [`dynlearn.ssm.hippo`][].
    - `dtype`: complex dtype of the results (default: complex of JAX's default float).

    **Returns:**

    `(Lambda, Pt, Bt, V)` with shapes `(N,)`, `(rank, N)`, `(N,)`, `(N, N)`: eigenvalues sorted by
    imaginary part, the low-rank factors and input vector in the eigenbasis, and the unitary basis.
    """
    N = state_size
    _check(kind, N, "hippo_nplr")
    A, B = _hippo_numpy(kind, N)
    P = _low_rank_numpy(kind, N)
    S = A + P.T @ P
    shift = float(np.mean(np.diag(S)))
    skew = S - shift * np.eye(N)
    # skew is skew-symmetric, so -i * skew is Hermitian and eigh gives a unitary V.
    w, V = np.linalg.eigh(-1j * skew)
    Lam = shift + 1j * w
    Pt = P.astype(np.complex128) @ V.conj()  # rows: (V^* p)^T for each low-rank vector p
    Bt = V.conj().T @ B
    cdt = _complex_dtype(dtype)
    return (
        jnp.asarray(Lam, cdt),
        jnp.asarray(Pt, cdt),
        jnp.asarray(Bt, cdt),
        jnp.asarray(V, cdt),
    )
