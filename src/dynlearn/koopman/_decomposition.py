"""`KoopmanDecomposition`: the eigenvalues, eigenfunctions and modes every Koopman fit returns.

With a dictionary `psi` and eigenvector coefficients `V`, the eigenfunctions are
`phi_j(x) = psi(x) . V[:, j]`, and the modes `xi_j` expand the state, `x ~ sum_j phi_j(x) xi_j`
(Williams, Kevrekidis & Rowley 2015). Prediction follows the Koopman mode decomposition
`x_n ~ sum_j lambda_j^n phi_j(x_0) xi_j` (or `exp(lambda_j t)` for a generator).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, ArrayLike, Complex, Float
from .._validation import as_array, check_dtype, check_positive
from ._dictionaries import AbstractDictionary


def complex_dtype(dtype) -> jnp.dtype:
    """The complex dtype matching a real floating dtype (float64 -> complex128)."""
    return (
        jnp.dtype(jnp.complex128) if jnp.dtype(dtype) == jnp.float64 else jnp.dtype(jnp.complex64)
    )


class KoopmanDecomposition(eqx.Module):
    """Eigenvalues, eigenfunctions and modes of an approximated Koopman operator (or generator).

    Returned by `dmd`, `edmd`, `kernel_edmd`, `generator_edmd` and `ResDMD.decomposition`;
    eigenpairs are sorted by decreasing `|lambda|` (by decreasing real part for a generator).

    **Fields:**

    - `eigenvalues`: `(modes,)` complex eigenvalues (continuous-time rates when `continuous`).
    - `eigenvectors`: `(features, modes)` coefficients of the eigenfunctions in the dictionary.
    - `modes`: `(modes, state)` Koopman modes: `x ~ sum_j phi_j(x) modes[j]`.
    - `dictionary`: the dictionary the eigenfunctions are expressed in.
    - `residuals`: `(modes,)` ResDMD residuals when computed, else `None`.
    - `continuous`: `True` for a generator (continuous-time) decomposition.
    """

    eigenvalues: Complex[Array, " modes"]
    eigenvectors: Complex[Array, "features modes"]
    modes: Complex[Array, "modes state"]
    dictionary: AbstractDictionary
    residuals: Float[Array, " modes"] | None = None
    continuous: bool = eqx.field(static=True, default=False)

    def eigenfunctions(self, x: Float[ArrayLike, " state"]) -> Complex[Array, " modes"]:
        """Evaluate all eigenfunctions `phi_j(x) = psi(x) . V[:, j]` at one state.

        **Arguments:**

        - `x`: one state, shape `(state,)` (batch with `jax.vmap`).

        **Returns:** the complex values, shape `(modes,)`.
        """
        x = self._check_state("eigenfunctions", "x", x)
        psi = self.dictionary(x)
        return psi.astype(self.eigenvectors.dtype) @ self.eigenvectors

    def _check_state(self, where: str, name: str, x) -> Array:
        x = check_dtype(f"KoopmanDecomposition.{where}", name, x, cast_integers=True)
        state = self.modes.shape[1]
        if x.shape != (state,):
            raise ValueError(
                f"KoopmanDecomposition.{where}: {name} must be one state of shape ({state},) (the "
                f"state size of the fitted data), got shape {tuple(x.shape)}."
            )
        return x

    def predict(self, x0: Float[ArrayLike, " state"], n_steps) -> Float[Array, "time state"]:
        """Forecast from `x0` with the Koopman mode decomposition.

        **Arguments:**

        - `x0`: the initial state, shape `(state,)`.
        - `n_steps`: for a discrete-time decomposition, the number of steps (an `int`);
          for a generator, the times `t` (a 1-D array).

        **Returns:** the real part of `sum_j lambda_j^k phi_j(x0) xi_j` for
        `k = 0..n_steps` (shape `(n_steps + 1, state)`), or of
        `sum_j exp(lambda_j t) phi_j(x0) xi_j` for every `t`.
        """
        x0 = self._check_state("predict", "x0", x0)
        phi0 = self.eigenfunctions(x0)
        if self.continuous:
            times = as_array("KoopmanDecomposition.predict", "n_steps (times)", n_steps)
            if times.ndim != 1:
                raise ValueError(
                    f"predict: a generator needs a 1-D array of times, got {times.shape}"
                )
            growth = jnp.exp(times.astype(phi0.dtype)[:, None] * self.eigenvalues[None, :])
        else:
            if not isinstance(n_steps, int | np.integer) or n_steps < 0:
                raise ValueError(
                    "KoopmanDecomposition.predict: n_steps must be a non-negative int number of "
                    f"steps, got n_steps={n_steps!r}."
                )
            lam = jnp.broadcast_to(self.eigenvalues, (int(n_steps), self.eigenvalues.shape[0]))
            ones = jnp.ones((1, self.eigenvalues.shape[0]), self.eigenvalues.dtype)
            growth = jnp.concatenate([ones, jnp.cumprod(lam, axis=0)])
        return jnp.real((growth * phi0[None, :]) @ self.modes)

    def step(self, x: Float[ArrayLike, " state"]) -> Float[Array, " state"]:
        """One step of the approximated map, `x -> Re sum_j lambda_j phi_j(x) xi_j`.

        **Arguments:**

        - `x`: one state, shape `(state,)`.

        **Returns:** the next state, shape `(state,)`.
        """
        if self.continuous:
            raise ValueError(
                "step: a generator decomposition has no time step; use predict(x0, times)"
            )
        x = self._check_state("step", "x", x)
        return jnp.real((self.eigenvalues * self.eigenfunctions(x)) @ self.modes)

    def select(self, keep) -> KoopmanDecomposition:
        """Keep a subset of eigenpairs (eagerly, outside `jit`).

        **Arguments:**

        - `keep`: a boolean mask or integer indices over the eigenpairs.

        **Returns:** a new `KoopmanDecomposition` with only those eigenpairs.
        """
        if keep is None:
            raise TypeError("select: keep must be a boolean mask or integer indices, got None.")
        keep = np.asarray(keep)
        n = self.eigenvalues.shape[0]
        if keep.dtype == bool:
            if keep.shape != self.eigenvalues.shape:
                raise ValueError(
                    f"select: keep (a mask) must have shape ({n},), got shape {keep.shape}."
                )
            keep = np.flatnonzero(keep)
        elif not np.issubdtype(keep.dtype, np.integer):
            raise TypeError(
                f"select: keep must be a boolean mask or integer indices, got dtype {keep.dtype}."
            )
        elif keep.size and (keep.min() < -n or keep.max() >= n):
            raise ValueError(
                f"select: keep holds indices out of range for {n} eigenpairs, got "
                f"{keep.min()}..{keep.max()}."
            )
        return KoopmanDecomposition(
            eigenvalues=self.eigenvalues[keep],
            eigenvectors=self.eigenvectors[:, keep],
            modes=self.modes[keep],
            dictionary=self.dictionary,
            residuals=None if self.residuals is None else self.residuals[keep],
            continuous=self.continuous,
        )

    def filter(self, max_residual: float) -> KoopmanDecomposition:
        """Remove spurious eigenpairs: keep those with residual at most `max_residual` (ResDMD).

        **Arguments:**

        - `max_residual`: the tolerance `epsilon`.

        **Returns:** a new `KoopmanDecomposition`; every kept `lambda` lies in the
        `epsilon`-pseudospectrum of the Koopman operator (up to quadrature error).
        """
        if self.residuals is None:
            raise ValueError(
                "filter: this decomposition has no residuals; compute it with "
                "resdmd(dictionary, X, Y).decomposition()"
            )
        check_positive("filter", "max_residual", max_residual, allow_zero=True)
        return self.select(np.asarray(self.residuals) <= max_residual)


def eigenpairs(matrix: Array) -> tuple[Array, Array]:
    """Right eigenpairs of a square real or complex matrix, differentiable.

    Derivatives assume distinct eigenvalues (JAX's `enable_eigvec_derivs` opt-in).
    """
    eigenvalues, eigenvectors = jax.lax.linalg.eig(
        matrix, compute_left_eigenvectors=False, enable_eigvec_derivs=True
    )
    return eigenvalues, eigenvectors


def sort_eigenpairs(eigenvalues, eigenvectors, *, continuous: bool):
    order = (
        jnp.argsort(-jnp.real(eigenvalues)) if continuous else jnp.argsort(-jnp.abs(eigenvalues))
    )
    return eigenvalues[order], eigenvectors[:, order]
