"""Candidate-function libraries for SINDy (Brunton, Proctor & Kutz, PNAS 2016).

A library maps one state `x` of shape `(dim,)` to the feature vector `Θ(x)`; batch with
`jax.vmap`. Feature order follows the usual convention (pysindy's): polynomial terms by degree,
then lexicographic within a degree; Fourier terms by frequency, then by variable, sine before
cosine.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Callable, Sequence

import equinox as eqx
import jax.numpy as jnp

from .._types import Array, Float
from .._validation import check_int


class AbstractLibrary(eqx.Module):
    """A SINDy candidate library: `Θ(x)` for one state `x` of shape `(dim,)`."""

    @abc.abstractmethod
    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " features"]:
        """Evaluate the features at one state."""

    @abc.abstractmethod
    def feature_names(self, input_names: Sequence[str]) -> list[str]:
        """Names of the features for variables called `input_names`."""

    def n_features(self, dim: int) -> int:
        """Number of features for states of dimension `dim`."""
        return len(self.feature_names([f"x{i}" for i in range(dim)]))


class PolynomialLibrary(AbstractLibrary):
    """All monomials of the state up to `degree`.

    **Arguments:**

    - `degree`: the largest total degree (>= 1).
    - `include_bias`: include the constant term `1`.
    - `interaction_only`: only products of distinct variables (no powers above one).
    """

    degree: int = eqx.field(static=True)
    include_bias: bool = eqx.field(static=True)
    interaction_only: bool = eqx.field(static=True)

    def __init__(
        self, degree: int = 2, *, include_bias: bool = True, interaction_only: bool = False
    ):
        check_int("PolynomialLibrary", "degree", degree)
        self.degree = degree
        self.include_bias = include_bias
        self.interaction_only = interaction_only

    def _terms(self, dim: int) -> list[tuple[int, ...]]:
        combos = (
            itertools.combinations
            if self.interaction_only
            else (itertools.combinations_with_replacement)
        )
        terms: list[tuple[int, ...]] = [()] if self.include_bias else []
        for k in range(1, self.degree + 1):
            terms.extend(combos(range(dim), k))
        return terms

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " features"]:
        feats = [
            jnp.prod(x[jnp.asarray(t, dtype=jnp.int32)]) if t else jnp.ones((), x.dtype)
            for t in self._terms(x.shape[0])
        ]
        return jnp.stack(feats)

    def feature_names(self, input_names: Sequence[str]) -> list[str]:
        names = []
        for t in self._terms(len(input_names)):
            if not t:
                names.append("1")
                continue
            parts = []
            for i in sorted(set(t)):
                power = t.count(i)
                parts.append(input_names[i] + (f"^{power}" if power > 1 else ""))
            names.append(" ".join(parts))
        return names


class FourierLibrary(AbstractLibrary):
    """`sin(k x_i)` and `cos(k x_i)` for `k = 1..n_frequencies` and every variable `x_i`.

    **Arguments:**

    - `n_frequencies`: the number of harmonics.
    - `include_sin`, `include_cos`: which of the two to include.
    """

    n_frequencies: int = eqx.field(static=True)
    include_sin: bool = eqx.field(static=True)
    include_cos: bool = eqx.field(static=True)

    def __init__(
        self, n_frequencies: int = 1, *, include_sin: bool = True, include_cos: bool = True
    ):
        check_int("FourierLibrary", "n_frequencies", n_frequencies)
        if not (include_sin or include_cos):
            raise ValueError(
                f"FourierLibrary: need n_frequencies >= 1 and sine or cosine, got "
                f"n_frequencies={n_frequencies}, include_sin={include_sin}, "
                f"include_cos={include_cos}"
            )
        self.n_frequencies = n_frequencies
        self.include_sin = include_sin
        self.include_cos = include_cos

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " features"]:
        feats = []
        for k in range(1, self.n_frequencies + 1):
            for i in range(x.shape[0]):
                if self.include_sin:
                    feats.append(jnp.sin(k * x[i]))
                if self.include_cos:
                    feats.append(jnp.cos(k * x[i]))
        return jnp.stack(feats)

    def feature_names(self, input_names: Sequence[str]) -> list[str]:
        names = []
        for k in range(1, self.n_frequencies + 1):
            kk = "" if k == 1 else str(k)
            for n in input_names:
                if self.include_sin:
                    names.append(f"sin({kk}{n})")
                if self.include_cos:
                    names.append(f"cos({kk}{n})")
        return names


class CustomLibrary(AbstractLibrary):
    """User-supplied features: each function maps the whole state `(dim,)` to a scalar.

    **Arguments:**

    - `functions`: callables `f(x) -> scalar`.
    - `names`: one name per function (a string, or a callable `names(input_names) -> str`).
    """

    functions: tuple[Callable, ...] = eqx.field(static=True)
    names: tuple[str | Callable, ...] = eqx.field(static=True)

    def __init__(self, functions: Sequence[Callable], names: Sequence[str | Callable]):
        for i, f in enumerate(functions):
            if not callable(f):
                raise TypeError(f"CustomLibrary: functions[{i}] must be callable, got {f!r}")
        if len(functions) == 0 or len(functions) != len(names):
            raise ValueError(
                f"CustomLibrary: need one name per function and at least one function, got "
                f"{len(functions)} functions and {len(names)} names"
            )
        self.functions = tuple(functions)
        self.names = tuple(names)

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " features"]:
        return jnp.stack([jnp.asarray(f(x), dtype=x.dtype).reshape(()) for f in self.functions])

    def feature_names(self, input_names: Sequence[str]) -> list[str]:
        return [n(list(input_names)) if callable(n) else n for n in self.names]


class ConcatLibrary(AbstractLibrary):
    """The features of several libraries, one after another.

    **Arguments:**

    - `libraries`: the libraries to concatenate.
    """

    libraries: tuple[AbstractLibrary, ...]

    def __init__(self, libraries: Sequence[AbstractLibrary]):
        if len(libraries) == 0:
            raise ValueError("ConcatLibrary: libraries must hold at least one library, got []")
        for i, lib in enumerate(libraries):
            if not isinstance(lib, AbstractLibrary):
                raise TypeError(
                    f"ConcatLibrary: libraries[{i}] must be a dynlearn.recon.AbstractLibrary, "
                    f"got {lib!r}"
                )
        self.libraries = tuple(libraries)

    def __call__(self, x: Float[Array, " dim"]) -> Float[Array, " features"]:
        return jnp.concatenate([lib(x) for lib in self.libraries])

    def feature_names(self, input_names: Sequence[str]) -> list[str]:
        return [n for lib in self.libraries for n in lib.feature_names(input_names)]
