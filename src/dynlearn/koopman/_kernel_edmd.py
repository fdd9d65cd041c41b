"""Kernel EDMD (Williams, Rowley & Kevrekidis, "A kernel-based method for data-driven Koopman
spectral analysis", 2015), with quadrature weights.

With `G^ = sqrt(W) k(X, X) sqrt(W) = Q S^2 Q*` (truncated to `rank`) and
`A^ = sqrt(W) k(Y, X) sqrt(W)`, the matrix `K^ = S^-1 Q* A^ Q S^-1` is EDMD in the induced
dictionary `psi~(x) = k(x, X) sqrt(W) Q S^-1` of `rank` features; its eigenvalues are those of
EDMD with the kernel's (possibly infinite) feature map, restricted to the data's span.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import lineax as lx

from .._types import Array, ArrayLike, Float
from ._decomposition import KoopmanDecomposition, eigenpairs, sort_eigenpairs
from ._dictionaries import AbstractDictionary, _check_state
from ._kernels import AbstractKernel
from ._snapshots import as_snapshots, sqrt_weights, validated_fit


class KernelDictionary(AbstractDictionary):
    """The finite dictionary `psi~(x) = k(x, centers) @ coefficients` induced by kernel EDMD.

    Returned as `kernel_edmd(...).dictionary`; pass it to `resdmd` with fresh data to verify the
    kernel EDMD eigenpairs (Colbrook & Townsend's kernelised ResDMD).

    **Arguments:**

    - `kernel`: the kernel.
    - `centers`: the snapshots `X`, `(samples, state)`.
    - `coefficients`: `(samples, features)`.
    """

    kernel: AbstractKernel
    centers: Float[Array, "samples state"]
    coefficients: Float[Array, "samples features"]

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "KernelDictionary")
        row = self.kernel.gram(x[None, :], self.centers.astype(x.dtype))[0]
        return row @ self.coefficients.astype(x.dtype)


@validated_fit("kernel_edmd", first="kernel")
def kernel_edmd(
    kernel: AbstractKernel,
    X: Float[ArrayLike, "samples state"],
    Y: Float[ArrayLike, "_samples _state"],
    weights: Float[ArrayLike, " _samples"] | None = None,
    *,
    rank: int | None = None,
) -> KoopmanDecomposition:
    """Kernel EDMD: EDMD with the feature map of `kernel`, computed from Gram matrices only.

    **Arguments:**

    - `kernel`: a kernel object, e.g. `GaussianKernel(lengthscale)` or `PolynomialKernel(3)`.
    - `X`, `Y`: snapshot pairs, `(samples, state)` each.
    - `weights`: quadrature weights `(samples,)`; default uniform `1 / samples`.
    - `rank`: number of leading eigenvectors of the Gram matrix kept (default all `samples`;
      truncating discards directions below numerical rank, which otherwise give noise). `K^`
      divides by `s_i s_j`, so eigenvalues are determined by the data only to about
      `eps |G| / s_rank^2` times their condition number: keep `s_rank^2` well above
      `1e-16 |G|` (check `jnp.linalg.eigvalsh` of the Gram matrix). PyDMD's `EDMD` uses the same
      formula (unweighted: pass `weights=jnp.ones(samples)` for identical Gram matrices).

    **Returns:** a `KoopmanDecomposition` whose dictionary is the induced `KernelDictionary`.

    **Raises:** `ValueError` for mismatched shapes or a rank outside `[1, samples]`.
    """
    X, Y = as_snapshots("kernel_edmd", X, Y)
    samples = X.shape[0]
    rank = samples if rank is None else rank
    if not 1 <= rank <= samples:
        raise ValueError(
            f"kernel_edmd: rank must be in [1, {samples}] (the number of snapshots), got {rank}"
        )
    sw = sqrt_weights("kernel_edmd", weights, samples, X.dtype)
    gram = sw[:, None] * kernel.gram(X, X) * sw[None, :]
    cross = sw[:, None] * kernel.gram(Y, X) * sw[None, :]
    s2, q = jnp.linalg.eigh(gram)
    s = jnp.sqrt(jnp.abs(s2[::-1][:rank]))  # descending; |.| guards round-off negatives
    q = q[:, ::-1][:, :rank]
    reduced = (q.T @ cross @ q) / (s[:, None] * s[None, :])
    eigenvalues, eigenvectors = eigenpairs(reduced)
    eigenvalues, eigenvectors = sort_eigenpairs(eigenvalues, eigenvectors, continuous=False)
    dictionary = KernelDictionary(kernel, X, sw[:, None] * q / s[None, :])
    # sqrt(W) Psi~_X = Q S exactly, so the state read-out is S^-1 Q* sqrt(W) X.
    readout = ((q.T @ (X * sw[:, None])) / s[:, None]).astype(eigenvectors.dtype)
    modes = jax.vmap(
        lambda c: lx.linear_solve(lx.MatrixLinearOperator(eigenvectors), c, lx.LU()).value,
        in_axes=1,
        out_axes=1,
    )(readout)
    return KoopmanDecomposition(eigenvalues, eigenvectors, modes, dictionary, continuous=False)
