"""Residual DMD: EDMD with verified eigenpairs and pseudospectra.

Colbrook & Townsend, "Rigorous data-driven computation of spectral properties of Koopman
operators for dynamical systems" (CPAM 2024); Colbrook, Mezic & Stepanenko, "Limits and powers of
Koopman learning" (2023). With quadrature weights `W`, the residual of a candidate eigenpair
`(lambda, g = psi . c)` is

    res(lambda, g)^2 = |K g - lambda g|^2 / |g|^2
                     = c* (L - lambda A* - conj(lambda) A + |lambda|^2 G) c / c* G c,

which written out in Gram matrices cancels catastrophically. We use the well-conditioned QR form:
`sqrt(W) Psi_X = Q R`, `C1 = sqrt(W) Psi_Y R^-1`, so that in the orthonormalised dictionary
`psi R^-1` the EDMD matrix is `A = Q* C1` and `res(lambda, v) = |(C1 - lambda Q) v| / |v|`.
Splitting
`C1 = Q A + Q2 R2` (QR of the part of `C1` outside `range(Q)`) gives, exactly,

    |(C1 - z Q) v| = |[A - z I; R2] v|,

an `(2N, N)` problem independent of the number of snapshots: residuals cost `O(N^2)` per pair,
and the pseudospectrum at `z` is the smallest singular value of `[A - z I; R2]`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx

from .._types import Array, ArrayLike, Float, Inexact
from .._validation import as_array, check_int
from ._decomposition import KoopmanDecomposition, eigenpairs, sort_eigenpairs
from ._dictionaries import AbstractDictionary
from ._snapshots import as_snapshots, check_dictionary, check_snapshot_data, sqrt_weights


def require_float64(name: str) -> None:
    """Raise unless float64 is enabled: residuals need it to resolve values below ~1e-4."""
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            f"{name} needs float64: residuals and pseudospectra are differences of nearly equal "
            "quantities, and in float32 nothing below ~1e-4 (sqrt of machine epsilon, through "
            "the Gram matrices) can be resolved, so spurious and true eigenvalues look alike. "
            'Enable it at the start of your program with jax.config.update("jax_enable_x64", True) '
            "(or the environment variable JAX_ENABLE_X64=1)."
        )


def _triangular_solve_right(b: Array, r: Array) -> Array:
    # b R^-1, i.e. solve R^T y = b_row for every row: one lower-triangular lineax solve per row.
    operator = lx.MatrixLinearOperator(r.T, lx.lower_triangular_tag)
    return jax.vmap(lambda row: lx.linear_solve(operator, row, lx.Triangular()).value)(b)


class ResDMD(eqx.Module):
    """EDMD in the well-conditioned QR form, able to verify eigenpairs and compute pseudospectra.

    Build with `resdmd(dictionary, X, Y, weights)`. Needs float64.

    **Fields:**

    - `dictionary`: the observables `psi`.
    - `triangular`: `R` of `sqrt(W) Psi_X = Q R`, `(features, features)`.
    - `operator`: `A = Q* C1`, the EDMD matrix in the orthonormalised dictionary `psi R^-1`.
    - `remainder`: `R2`, the triangular factor of `C1 - Q A` (what EDMD cannot represent).
    - `readout`: `Q* sqrt(W) X`, the state in the orthonormalised dictionary, `(features, state)`.
    """

    dictionary: AbstractDictionary
    triangular: Float[Array, "features features"]
    operator: Float[Array, "features features"]
    remainder: Float[Array, "features features"]
    readout: Float[Array, "features state"]

    def decomposition(self) -> KoopmanDecomposition:
        """EDMD eigenpairs with their residuals.

        **Returns:** a `KoopmanDecomposition` with `residuals` set; `filter(epsilon)` then removes
        the spurious eigenvalues (those with residual above `epsilon`).
        """
        return _decomposition(self)

    def residuals(
        self,
        eigenvalues: Inexact[ArrayLike, " pairs"],
        coefficients: Inexact[ArrayLike, "features pairs"],
    ) -> Float[Array, " pairs"]:
        """Residuals `|K g - lambda g| / |g|` of candidate eigenpairs from any source.

        **Arguments:**

        - `eigenvalues`: candidate `lambda_j`, shape `(pairs,)`.
        - `coefficients`: candidate eigenfunctions `g_j = psi . c_j` as columns `c_j` in this
          dictionary, shape `(features, pairs)` (e.g. another decomposition's `eigenvectors`).

        **Returns:** the residuals, shape `(pairs,)`.
        """
        ctype = jnp.complex128
        eigenvalues = as_array("residuals", "eigenvalues", eigenvalues).astype(ctype)
        coefficients = as_array("residuals", "coefficients", coefficients).astype(ctype)
        n = self.triangular.shape[0]
        if (
            coefficients.ndim != 2
            or coefficients.shape[0] != n
            or eigenvalues.shape != coefficients.shape[1:]
        ):
            raise ValueError(
                f"residuals: need eigenvalues (pairs,) and coefficients ({n}, pairs); got "
                f"{eigenvalues.shape} and {coefficients.shape}"
            )
        return _candidate_residuals(
            self.triangular, self.operator, self.remainder, eigenvalues, coefficients
        )

    def pseudospectrum(
        self,
        grid: Inexact[ArrayLike, "..."],
        *,
        iterations: int = 25,
        block_size: int = 4,
        batch_size: int = 512,
    ) -> Float[Array, "..."]:
        """Smallest singular value of `(K - z)` restricted to the dictionary, at every grid point.

        `z` lies in the approximate `epsilon`-pseudospectrum where the value is below `epsilon`;
        these sets converge from above to the true pseudospectra as the dictionary and data grow.
        The value is `sqrt` of the smallest eigenvalue of the Hermitian matrix
        `B(z)* B(z) = (A - z)* (A - z) + R2* R2` (with `B(z) = [A - z I; R2]`), found by block
        inverse (subspace) iteration on its Cholesky factor: `O(N^2)` per iteration instead of a
        full SVD per point. Values are accurate to about `1e-8` absolute in float64 (squared
        form); use `residuals` for exact small residuals of given pairs.

        **Arguments:**

        - `grid`: complex points `z`, any shape (e.g. `xs[None, :] + 1j * ys[:, None]`).
        - `iterations`: inverse-iteration steps (convergence rate: ratio of the smallest to the
          `block_size + 1`-th eigenvalue per step).
        - `block_size`: number of vectors iterated together.
        - `batch_size`: grid points handled per vectorised batch (bounds memory).

        **Returns:** the values, same shape as `grid`.
        """
        grid = as_array("pseudospectrum", "grid", grid).astype(jnp.complex128)
        iterations = check_int("pseudospectrum", "iterations", iterations)
        block_size = check_int("pseudospectrum", "block_size", block_size)
        batch_size = check_int("pseudospectrum", "batch_size", batch_size)
        a = self.operator.astype(jnp.complex128)
        r2 = self.remainder.astype(jnp.complex128)
        n = a.shape[0]
        block = min(block_size, n)
        gram = a.conj().T @ a + r2.conj().T @ r2
        eye = jnp.eye(n, dtype=jnp.complex128)
        shift = 1e-14 * jnp.real(jnp.trace(gram)) / n  # keeps the Cholesky factor finite
        start = jnp.linalg.qr(
            jax.random.normal(jax.random.key(0), (n, block), jnp.float64).astype(jnp.complex128)
        )[0]
        return _pseudospectrum(a, gram, eye, shift, start, grid, iterations, batch_size)


def _real_times(matrix: Array, vectors: Array) -> Array:
    # A real matrix times complex vectors as two real products (half the flops of a complex one).
    matrix = jnp.real(matrix)
    return jax.lax.complex(matrix @ jnp.real(vectors), matrix @ jnp.imag(vectors))


def _residuals_orthonormal(operator: Array, remainder: Array, eigenvalues: Array, vectors: Array):
    # All pairs at once: |(C1 - lambda Q) v| = |[A v - lambda v; R2 v]|, one stacked product.
    # (Never the squared Gram form v*(L - lambda A* - conj(lambda) A + |lambda|^2 G) v, which
    # cancels catastrophically and cannot resolve residuals below ~1e-8.)
    n = operator.shape[0]
    stacked = _real_times(jnp.concatenate([operator, remainder]), vectors)
    top = stacked[:n] - eigenvalues[None, :] * vectors
    numerator = jnp.sqrt(
        jnp.sum(jnp.abs(top) ** 2, axis=0) + jnp.sum(jnp.abs(stacked[n:]) ** 2, axis=0)
    )
    return numerator / jnp.linalg.norm(vectors, axis=0)


@jax.jit
def _candidate_residuals(triangular, operator, remainder, eigenvalues, coefficients):
    vectors = _real_times(triangular, coefficients)
    return _residuals_orthonormal(operator, remainder, eigenvalues, vectors)


@eqx.filter_jit
def _decomposition(verified: ResDMD) -> KoopmanDecomposition:
    eigenvalues, vectors = eigenpairs(verified.operator)
    eigenvalues, vectors = sort_eigenpairs(eigenvalues, vectors, continuous=False)
    residuals = _residuals_orthonormal(verified.operator, verified.remainder, eigenvalues, vectors)
    r = lx.MatrixLinearOperator(verified.triangular.astype(vectors.dtype), lx.upper_triangular_tag)
    coefficients = jax.vmap(
        lambda v: lx.linear_solve(r, v, lx.Triangular()).value, in_axes=1, out_axes=1
    )(vectors)
    modes = jnp.linalg.solve(vectors, verified.readout.astype(vectors.dtype))  # one LU, all columns
    return KoopmanDecomposition(
        eigenvalues, coefficients, modes, verified.dictionary, residuals=residuals, continuous=False
    )


@eqx.filter_jit
def _qr_form(dictionary: AbstractDictionary, X: Array, Y: Array, sw: Array):
    psi_x = dictionary.evaluate(X).astype(jnp.float64) * sw[:, None]
    psi_y = dictionary.evaluate(Y).astype(jnp.float64) * sw[:, None]
    q, r = jnp.linalg.qr(psi_x)
    c1 = _triangular_solve_right(psi_y, r)
    a = q.T @ c1
    outside = c1 - q @ a
    correction = q.T @ outside  # one re-orthogonalisation pass keeps `outside` orthogonal to Q
    a = a + correction
    outside = outside - q @ correction
    r2 = jnp.linalg.qr(outside, mode="r")
    readout = q.T @ (X * sw[:, None])
    return r, a, r2, readout


@eqx.filter_jit
def _pseudospectrum(a, gram, eye, shift, start, grid, iterations, batch_size):
    def smallest(z):
        diagonal = (jnp.abs(z) ** 2 + shift).astype(eye.dtype)
        m = gram - z * a.conj().T - jnp.conj(z) * a + diagonal * eye
        chol = jnp.linalg.cholesky(m)  # m = chol chol*

        def inverse_step(basis, _):
            y = jax.scipy.linalg.solve_triangular(chol, basis, lower=True)
            y = jax.scipy.linalg.solve_triangular(chol.conj().T, y, lower=False)
            return jnp.linalg.qr(y)[0], None

        basis, _ = jax.lax.scan(inverse_step, start, None, length=iterations)
        ritz = jnp.linalg.eigvalsh(basis.conj().T @ m @ basis)[0]
        return jnp.sqrt(jnp.maximum(ritz - shift, 0.0))

    # Pad to whole batches ourselves instead of lax.map's remainder path, which was seen to
    # stall with single-threaded BLAS (OPENBLAS_NUM_THREADS=1) on CPU.
    points = grid.reshape(-1)
    batch_size = max(1, min(batch_size, points.shape[0]))
    padded = -(-points.shape[0] // batch_size) * batch_size
    points = jnp.concatenate([points, jnp.zeros(padded - points.shape[0], points.dtype)])
    values = jax.lax.map(jax.vmap(smallest), points.reshape(-1, batch_size))
    return values.reshape(-1)[: grid.size].reshape(grid.shape)


def resdmd(
    dictionary: AbstractDictionary,
    X: Float[ArrayLike, "samples state"],
    Y: Float[ArrayLike, "_samples _state"],
    weights: Float[ArrayLike, " _samples"] | None = None,
) -> ResDMD:
    """Set up residual DMD: EDMD in the QR form, ready for residuals and pseudospectra.

    **Arguments:**

    - `dictionary`: the observables.
    - `X`, `Y`: snapshot pairs, `(samples, state)` each; cast to float64.
    - `weights`: quadrature weights `(samples,)`; default uniform `1 / samples`.

    **Returns:** a `ResDMD`; `.decomposition()` gives eigenpairs with residuals,
    `.pseudospectrum(grid)` the pseudospectrum, `.residuals(lams, coeffs)` verifies any candidates.

    **Raises:** `RuntimeError` if float64 is disabled (it says how to enable it); `ValueError` for
    mismatched shapes or fewer snapshots than features.
    """
    require_float64("resdmd")
    X, Y, weights = check_snapshot_data("resdmd", X, Y, weights)
    check_dictionary("resdmd", dictionary, X)
    X, Y = as_snapshots("resdmd", X, Y, dtype=jnp.float64)
    samples = X.shape[0]
    sw = sqrt_weights("resdmd", weights, samples, X.dtype)
    features = jax.eval_shape(dictionary.evaluate, X).shape[1]
    if samples < features:
        raise ValueError(
            f"resdmd: {samples} snapshots cannot determine {features} dictionary features; use "
            "more snapshots or a smaller dictionary."
        )
    return ResDMD(dictionary, *_qr_form(dictionary, X, Y, sw))
