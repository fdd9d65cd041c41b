"""Exact DMD, EDMD and generator EDMD.

- Exact DMD: Tu, Rowley, Luchtenburg, Brunton & Kutz, "On dynamic mode decomposition: theory and
  applications" (2014).
- EDMD: Williams, Kevrekidis & Rowley, "A data-driven approximation of the Koopman operator:
  extending dynamic mode decomposition" (2015), with quadrature weights as in Colbrook &
  Townsend's ResDMD: `K = argmin |sqrt(W) (Psi_X K - Psi_Y)|_F`, i.e. `K = G^+ A` with
  `G = Psi_X* W Psi_X`, `A = Psi_X* W Psi_Y`.
- Generator EDMD: Klus, Nueske, Peitz, Niemann, Clementi & Schuette, "Data-driven approximation of
  the Koopman generator" (2020): `Psi_Y` is replaced by the time derivatives
  `dpsi(x) = Dpsi(x) xdot`.

Least squares go through lineax (QR by default); everything is differentiable.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import lineax as lx

from .._types import Array, ArrayLike, Float
from ._decomposition import KoopmanDecomposition, eigenpairs, sort_eigenpairs
from ._dictionaries import AbstractDictionary, Identity
from ._snapshots import as_snapshots, lstsq, sqrt_weights, validated_fit


def _decompose(
    name: str,
    operator: Array,
    weighted_psi_x: Array,
    weighted_x: Array,
    dictionary: AbstractDictionary,
    solver: lx.AbstractLinearSolver,
    *,
    continuous: bool,
) -> KoopmanDecomposition:
    eigenvalues, eigenvectors = eigenpairs(operator)
    eigenvalues, eigenvectors = sort_eigenpairs(eigenvalues, eigenvectors, continuous=continuous)
    # State read-out B (features, state): Psi_X B ~ X; modes = V^-1 B since Psi B = (Psi V) V^-1 B.
    readout = lstsq(name, weighted_psi_x, weighted_x, solver).astype(eigenvectors.dtype)
    modes = jax.vmap(
        lambda column: (
            lx.linear_solve(lx.MatrixLinearOperator(eigenvectors), column, lx.LU()).value
        ),
        in_axes=1,
        out_axes=1,
    )(readout)
    return KoopmanDecomposition(eigenvalues, eigenvectors, modes, dictionary, continuous=continuous)


@validated_fit("edmd_operator")
def edmd_operator(
    dictionary: AbstractDictionary,
    X: Float[ArrayLike, "samples state"],
    Y: Float[ArrayLike, "_samples _state"],
    weights: Float[ArrayLike, " _samples"] | None = None,
    *,
    solver: lx.AbstractLinearSolver | None = None,
) -> Float[Array, "features features"]:
    """The EDMD matrix `K` with `Psi_Y ~ Psi_X K` (weighted least squares through lineax).

    For an observable `g = psi . c`, `K c` are the coefficients of its Koopman image. Use this
    (rather than `edmd`) inside a loss: it avoids the eigendecomposition and is smooth.

    **Arguments:**

    - `dictionary`: the observables.
    - `X`, `Y`: snapshot pairs, `(samples, state)` each.
    - `weights`: quadrature weights `(samples,)`; default uniform `1 / samples`.
    - `solver`: a lineax solver for the least-squares problem (default `lineax.QR()`;
      `lineax.SVD()` for a rank-deficient dictionary: minimum-norm solution).

    **Returns:** `K`, shape `(features, features)`.

    **Raises:** `ValueError` when `X` and `Y` differ in shape, or when there are fewer snapshots
    than features (unless `solver` is `lineax.SVD()`).
    """
    X, Y = as_snapshots("edmd", X, Y)
    solver = lx.QR() if solver is None else solver
    sw = sqrt_weights("edmd", weights, X.shape[0], X.dtype)
    psi_x = dictionary.evaluate(X) * sw[:, None]
    psi_y = dictionary.evaluate(Y) * sw[:, None]
    return lstsq("edmd", psi_x, psi_y, solver)


@validated_fit("edmd")
def edmd(
    dictionary: AbstractDictionary,
    X: Float[ArrayLike, "samples state"],
    Y: Float[ArrayLike, "_samples _state"],
    weights: Float[ArrayLike, " _samples"] | None = None,
    *,
    solver: lx.AbstractLinearSolver | None = None,
) -> KoopmanDecomposition:
    """Extended dynamic mode decomposition.

    **Arguments:**

    - `dictionary`: the observables (a dictionary object, e.g. `Monomials(3)`).
    - `X`, `Y`: snapshot pairs, `(samples, state)` each, `Y[m]` one step after `X[m]`.
    - `weights`: quadrature weights `(samples,)`; default uniform `1 / samples`.
    - `solver`: a lineax least-squares solver (default `lineax.QR()`).

    **Returns:** a `KoopmanDecomposition` (eigenvalues, eigenfunctions, modes, prediction).

    **Raises:** `ValueError` for mismatched shapes or too few snapshots (see `edmd_operator`).
    """
    X, Y = as_snapshots("edmd", X, Y)
    solver = lx.QR() if solver is None else solver
    sw = sqrt_weights("edmd", weights, X.shape[0], X.dtype)
    psi_x = dictionary.evaluate(X) * sw[:, None]
    psi_y = dictionary.evaluate(Y) * sw[:, None]
    operator = lstsq("edmd", psi_x, psi_y, solver)
    return _decompose(
        "edmd", operator, psi_x, X * sw[:, None], dictionary, solver, continuous=False
    )


@validated_fit("generator_edmd", second="dX")
def generator_edmd(
    dictionary: AbstractDictionary,
    X: Float[ArrayLike, "samples state"],
    dX: Float[ArrayLike, "_samples _state"],
    weights: Float[ArrayLike, " _samples"] | None = None,
    *,
    solver: lx.AbstractLinearSolver | None = None,
) -> KoopmanDecomposition:
    """EDMD for the Koopman generator of a flow `xdot = f(x)` (gEDMD, Klus et al. 2020).

    The time derivative of each observable, `dpsi(x) = Dpsi(x) f(x)`, is a Jacobian-vector
    product of the dictionary, so any differentiable dictionary works.

    **Arguments:**

    - `dictionary`: the observables.
    - `X`: states, `(samples, state)`.
    - `dX`: time derivatives `f(X)` at those states, `(samples, state)`.
    - `weights`: quadrature weights; default uniform.
    - `solver`: a lineax least-squares solver (default `lineax.QR()`).

    **Returns:** a `KoopmanDecomposition` with `continuous=True`: eigenvalues are rates
    (`exp(lambda t)` is the Koopman eigenvalue at time `t`), and `predict` takes times.
    """
    X, dX = as_snapshots("generator_edmd", X, dX)
    solver = lx.QR() if solver is None else solver
    sw = sqrt_weights("generator_edmd", weights, X.shape[0], X.dtype)
    psi_x = dictionary.evaluate(X) * sw[:, None]
    dpsi = jax.vmap(lambda x, v: jax.jvp(dictionary, (x,), (v,))[1])(X, dX) * sw[:, None]
    generator = lstsq("generator_edmd", psi_x, dpsi, solver)
    return _decompose(
        "generator_edmd", generator, psi_x, X * sw[:, None], dictionary, solver, continuous=True
    )


@validated_fit("dmd", first=None)
def dmd(
    X: Float[ArrayLike, "samples state"],
    Y: Float[ArrayLike, "_samples _state"],
    *,
    rank: int | None = None,
) -> KoopmanDecomposition:
    """Exact dynamic mode decomposition (Tu et al. 2014).

    With snapshots as columns, `X^T = U S V*` truncated to `rank`, the reduced operator is
    `A~ = U* Y^T V S^-1`; its eigenpairs `(lambda, w)` give the exact modes `Y^T V S^-1 w`.

    **Arguments:**

    - `X`, `Y`: snapshot pairs, `(samples, state)` each (snapshots are rows).
    - `rank`: SVD truncation rank (default: `min(samples, state)`).

    **Returns:** a `KoopmanDecomposition` with the identity dictionary: `modes[j]` is the
    exact DMD mode `j` and the eigenfunctions are `phi(x) = pinv(modes^T) x` (DMD amplitudes).
    """
    X, Y = as_snapshots("dmd", X, Y)
    full = min(X.shape)
    rank = full if rank is None else rank
    if not 1 <= rank <= full:
        raise ValueError(
            f"dmd: rank must be in [1, {full}] for snapshots of shape {X.shape}, got {rank}"
        )
    u, s, vh = jnp.linalg.svd(X.T, full_matrices=False)
    u, s, vh = u[:, :rank], s[:rank], vh[:rank]
    projected = Y.T @ (vh.T / s[None, :])  # (state, rank)
    reduced = u.T @ projected
    eigenvalues, w = eigenpairs(reduced)
    eigenvalues, w = sort_eigenpairs(eigenvalues, w, continuous=False)
    modes = projected.astype(w.dtype) @ w  # (state, rank)
    eigenvectors = jnp.linalg.pinv(modes).T
    return KoopmanDecomposition(eigenvalues, eigenvectors, modes.T, Identity(), continuous=False)
