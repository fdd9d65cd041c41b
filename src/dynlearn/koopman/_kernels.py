"""Kernels for kernel EDMD (Williams, Rowley & Kevrekidis, "A kernel-based method for
data-driven Koopman spectral analysis", 2015).

A kernel `k(x, y) = psi(x) . psi(y)` stands for a (possibly infinite) dictionary `psi`; kernel
EDMD only ever evaluates Gram matrices `k(X, Y)`.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float
from .._validation import check_int


def check_gram_inputs(kernel, xs, ys) -> None:
    """Refuse Gram-matrix inputs that are not two snapshot matrices of one state size."""
    name = f"{type(kernel).__name__}.gram"
    for label, v in (("xs", xs), ("ys", ys)):
        if getattr(v, "ndim", None) != 2:
            raise ValueError(
                f"{name}: {label} must be snapshots of shape (samples, state), got "
                f"{'shape ' + str(tuple(v.shape)) if hasattr(v, 'shape') else repr(v)}."
            )
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(
            f"{name}: xs and ys must have the same state size, got xs of shape {tuple(xs.shape)} "
            f"and ys of shape {tuple(ys.shape)}."
        )


class AbstractKernel(eqx.Module):
    """Base class of kernels: `kernel(x, y)` is a scalar, `kernel.gram(X, Y)` a matrix."""

    @abc.abstractmethod
    def __call__(self, x: Float[Array, " state"], y: Float[Array, " state"]) -> Float[Array, ""]:
        """Evaluate the kernel at one pair of states."""

    def gram(self, xs: Float[Array, "m state"], ys: Float[Array, "n state"]) -> Float[Array, "m n"]:
        """The Gram matrix `K[i, j] = k(xs[i], ys[j])`.

        **Arguments:**

        - `xs`, `ys`: snapshots, one per row.

        **Returns:** the matrix of shape `(len(xs), len(ys))`.
        """
        check_gram_inputs(self, xs, ys)
        return jax.vmap(lambda x: jax.vmap(lambda y: self(x, y))(ys))(xs)


class GaussianKernel(AbstractKernel):
    """Gaussian (RBF) kernel `exp(-|x - y|^2 / (2 lengthscale^2))`.

    Equal to scikit-learn's / PyDMD's `"rbf"` kernel with `gamma = 1 / (2 lengthscale^2)`.

    **Arguments:**

    - `lengthscale`: the width.
    """

    lengthscale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if self.lengthscale <= 0:
            raise ValueError(f"GaussianKernel: lengthscale must be > 0, got {self.lengthscale}")

    def __call__(self, x: Float[Array, " state"], y: Float[Array, " state"]) -> Float[Array, ""]:
        return jnp.exp(-jnp.sum((x - y) ** 2) / (2 * self.lengthscale**2))

    def gram(self, xs: Float[Array, "m state"], ys: Float[Array, "n state"]) -> Float[Array, "m n"]:
        check_gram_inputs(self, xs, ys)
        # |x|^2 + |y|^2 - 2 x.y as one matrix product; clipped at 0 against round-off.
        sq = jnp.sum(xs**2, axis=1)[:, None] + jnp.sum(ys**2, axis=1)[None, :] - 2 * (xs @ ys.T)
        return jnp.exp(-jnp.maximum(sq, 0) / (2 * self.lengthscale**2))


class PolynomialKernel(AbstractKernel):
    """Polynomial kernel `(scale x . y + offset)^degree`.

    Its feature space is spanned by the monomials of total degree at most `degree` (for
    `offset > 0`), so kernel EDMD with it reproduces EDMD with `Monomials(degree)`.

    **Arguments:**

    - `degree`: the degree.
    - `offset`: the constant `c` (> 0 keeps all lower degrees).
    - `scale`: the factor on the inner product.
    """

    degree: int = eqx.field(static=True)
    offset: float = eqx.field(static=True, default=1.0)
    scale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        check_int("PolynomialKernel", "degree", self.degree)

    def __call__(self, x: Float[Array, " state"], y: Float[Array, " state"]) -> Float[Array, ""]:
        return (self.scale * jnp.dot(x, y) + self.offset) ** self.degree

    def gram(self, xs: Float[Array, "m state"], ys: Float[Array, "n state"]) -> Float[Array, "m n"]:
        check_gram_inputs(self, xs, ys)
        return (self.scale * (xs @ ys.T) + self.offset) ** self.degree


class LaplacianKernel(AbstractKernel):
    """Laplacian kernel `exp(-|x - y|_1 / lengthscale)`.

    **Arguments:**

    - `lengthscale`: the width.
    """

    lengthscale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if self.lengthscale <= 0:
            raise ValueError(f"LaplacianKernel: lengthscale must be > 0, got {self.lengthscale}")

    def __call__(self, x: Float[Array, " state"], y: Float[Array, " state"]) -> Float[Array, ""]:
        return jnp.exp(-jnp.sum(jnp.abs(x - y)) / self.lengthscale)
