"""Dictionaries of observables for Koopman learning, each a strategy object.

A dictionary maps one state `x` (shape `(state,)`) to a vector of observables `psi(x)` (shape
`(features,)`). EDMD (Williams, Kevrekidis & Rowley, "A data-driven approximation of the Koopman
operator: extending dynamic mode decomposition", 2015) and ResDMD (Colbrook & Townsend,
"Rigorous data-driven computation of spectral properties of Koopman operators for dynamical
systems", 2024) approximate the Koopman operator on the span of these observables.

Polynomial dictionaries (monomials, Hermite, Legendre) are tensor products of univariate
polynomials over all multi-indices of total degree at most `degree`, ordered by total degree.
"""

from __future__ import annotations

import abc
import itertools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, Float, Key
from .._validation import check_dtype, check_int, check_positive


def multi_indices(data_size: int, degree: int) -> np.ndarray:
    """All multi-indices in `data_size` variables of total degree at most `degree`.

    **Arguments:**

    - `data_size`: number of variables.
    - `degree`: maximal total degree.

    **Returns:** an integer array `(count, data_size)` ordered by total degree, then
    lexicographically (largest power of the first variable first).
    """
    if data_size < 1 or degree < 0:
        raise ValueError(
            f"multi_indices: need data_size >= 1 and degree >= 0, got {data_size}, {degree}"
        )
    rows = []
    for total in range(degree + 1):
        for combo in itertools.product(range(total, -1, -1), repeat=data_size):
            if sum(combo) == total:
                rows.append(combo)
    return np.asarray(rows, dtype=np.int32).reshape(-1, data_size)


def _tensor_product(table: Array, exponents: np.ndarray) -> Array:
    # table[k, j] = p_k(x_j); feature n = prod_j table[exponents[n, j], j].
    columns = jnp.arange(table.shape[1])[None, :]
    return jnp.prod(table[exponents, columns], axis=1)


def _check_state(x: Array, name: str, size: int | None = None) -> None:
    if getattr(x, "ndim", None) != 1 or (size is not None and x.shape[0] != size):
        want = f"({size},)" if size is not None else "(state,)"
        raise ValueError(
            f"{name}: x must be one state of shape {want}, got "
            f"{'shape ' + str(tuple(x.shape)) if hasattr(x, 'shape') else repr(x)}; "
            "use jax.vmap (or dictionary.evaluate) for a batch of snapshots."
        )


def _check_centers(name: str, centers, scale_name: str, scale) -> None:
    if not hasattr(centers, "ndim") or centers.ndim != 2:
        got = f"shape {tuple(centers.shape)}" if hasattr(centers, "shape") else repr(centers)
        raise ValueError(f"{name}: centers must be an array of shape (features, state), got {got}.")
    check_positive(name, scale_name, scale)


class AbstractDictionary(eqx.Module):
    """Base class of dictionaries: `psi = dictionary(x)` maps a state to its observables.

    Subclasses implement `__call__(x) -> (features,)` for one state `x` of shape `(state,)`.
    """

    @abc.abstractmethod
    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        """Evaluate the observables at one state."""

    def evaluate(self, xs: Float[Array, "samples state"]) -> Float[Array, "samples features"]:
        """Evaluate the dictionary on every row of `xs`.

        **Arguments:**

        - `xs`: snapshots, one per row, shape `(samples, state)`.

        **Returns:** the feature matrix `Psi` of shape `(samples, features)`.
        """
        xs = check_dtype(f"{type(self).__name__}.evaluate", "xs", xs, cast_integers=True)
        if xs.ndim != 2:
            raise ValueError(
                f"{type(self).__name__}.evaluate: xs must be snapshots of shape (samples, state), "
                f"got shape {tuple(xs.shape)}."
            )
        try:
            jax.eval_shape(self, xs[0]) if xs.shape[0] else None
        except ValueError as err:
            raise ValueError(
                f"{type(self).__name__}.evaluate: xs of shape {tuple(xs.shape)} does not fit this "
                f"dictionary: {err}"
            ) from err
        return jax.vmap(self)(xs)


class Identity(AbstractDictionary):
    """The state itself, `psi(x) = x` (exact DMD when used with EDMD).

    **Arguments:** none.
    """

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "Identity")
        return x


class Monomials(AbstractDictionary):
    """All monomials `x^alpha` of total degree `|alpha| <= degree`.

    **Arguments:**

    - `degree`: maximal total degree.
    - `include_constant`: keep the constant monomial `1` (the trivial eigenfunction).
    """

    degree: int = eqx.field(static=True)
    include_constant: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        check_int("Monomials", "degree", self.degree)

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "Monomials")
        powers = [jnp.ones_like(x), x]
        for _ in range(2, self.degree + 1):
            powers.append(powers[-1] * x)
        exponents = multi_indices(x.shape[0], self.degree)
        psi = _tensor_product(jnp.stack(powers), exponents)
        return psi if self.include_constant else psi[1:]


class Hermite(AbstractDictionary):
    """Tensor products of probabilists' Hermite polynomials `He_k`, total degree `<= degree`.

    Orthogonal for the standard Gaussian measure; `x` is standardised as `(x - mean) / scale`.

    **Arguments:**

    - `degree`: maximal total degree.
    - `mean`, `scale`: affine standardisation applied to every coordinate first.
    """

    degree: int = eqx.field(static=True)
    mean: float = eqx.field(static=True, default=0.0)
    scale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if self.degree < 1 or self.scale <= 0:
            raise ValueError(
                f"Hermite: need degree >= 1 and scale > 0, got {self.degree}, {self.scale}"
            )

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "Hermite")
        z = (x - self.mean) / self.scale
        polys = [jnp.ones_like(z), z]
        for k in range(1, self.degree):
            polys.append(z * polys[k] - k * polys[k - 1])
        return _tensor_product(
            jnp.stack(polys[: self.degree + 1]), multi_indices(x.shape[0], self.degree)
        )


class Legendre(AbstractDictionary):
    """Tensor products of Legendre polynomials `P_k` on `[low, high]`, total degree `<= degree`.

    Orthogonal for the uniform measure on the box `[low, high]^state`.

    **Arguments:**

    - `degree`: maximal total degree.
    - `low`, `high`: the interval mapped to `[-1, 1]` in every coordinate.
    """

    degree: int = eqx.field(static=True)
    low: float = eqx.field(static=True, default=-1.0)
    high: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if self.degree < 1 or self.high <= self.low:
            raise ValueError(
                "Legendre: need degree >= 1 and high > low, got "
                f"{self.degree}, [{self.low}, {self.high}]"
            )

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "Legendre")
        z = (2 * x - (self.low + self.high)) / (self.high - self.low)
        polys = [jnp.ones_like(z), z]
        for k in range(1, self.degree):
            polys.append(((2 * k + 1) * z * polys[k] - k * polys[k - 1]) / (k + 1))
        return _tensor_product(
            jnp.stack(polys[: self.degree + 1]), multi_indices(x.shape[0], self.degree)
        )


def _half_space_frequencies(data_size: int, max_frequency: int) -> np.ndarray:
    # Integer wave vectors k with |k|_inf <= n whose first non-zero entry is positive: together
    # with cos/sin they span exp(i k.x) for all |k|_inf <= n without duplicates.
    rows = []
    for k in itertools.product(range(-max_frequency, max_frequency + 1), repeat=data_size):
        nonzero = [v for v in k if v != 0]
        if nonzero and nonzero[0] > 0:
            rows.append(k)
    rows.sort(key=lambda k: (max(abs(v) for v in k), k))
    return np.asarray(rows, dtype=np.int32).reshape(-1, data_size)


class Fourier(AbstractDictionary):
    """Real Fourier modes `1, cos(2 pi k.x / period), sin(2 pi k.x / period)` for `|k|_inf <= n`.

    Spans the complex exponentials `exp(2 pi i k.x / period)`, the eigenfunctions of rotations
    of the torus.

    **Arguments:**

    - `max_frequency`: largest integer frequency `n` in every coordinate.
    - `period`: period of every coordinate (default `2 pi`, for angles).
    """

    max_frequency: int = eqx.field(static=True)
    period: float = eqx.field(static=True, default=2 * math.pi)

    def __check_init__(self):
        if self.max_frequency < 1 or self.period <= 0:
            raise ValueError(
                "Fourier: need max_frequency >= 1 and period > 0, got "
                f"{self.max_frequency}, {self.period}"
            )

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "Fourier")
        k = jnp.asarray(_half_space_frequencies(x.shape[0], self.max_frequency), x.dtype)
        phase = (2 * math.pi / self.period) * (k @ x)
        return jnp.concatenate([jnp.ones((1,), x.dtype), jnp.cos(phase), jnp.sin(phase)])


class GaussianRBF(AbstractDictionary):
    """Gaussian radial basis functions `exp(-|x - c_i|^2 / (2 lengthscale^2))` at fixed centres.

    **Arguments:**

    - `centers`: the centres `c_i`, shape `(features, state)`.
    - `lengthscale`: the common width.
    """

    centers: Float[Array, "features state"]
    lengthscale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        _check_centers("GaussianRBF", self.centers, "lengthscale", self.lengthscale)

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "GaussianRBF", self.centers.shape[1])
        sq = jnp.sum((x[None, :] - self.centers.astype(x.dtype)) ** 2, axis=1)
        return jnp.exp(-sq / (2 * self.lengthscale**2))


class ThinPlateRBF(AbstractDictionary):
    """Thin-plate splines `r^2 log r` with `r = |x - c_i| / scale` at fixed centres.

    **Arguments:**

    - `centers`: the centres `c_i`, shape `(features, state)`.
    - `scale`: distances are divided by `scale` first.
    """

    centers: Float[Array, "features state"]
    scale: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        _check_centers("ThinPlateRBF", self.centers, "scale", self.scale)

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "ThinPlateRBF", self.centers.shape[1])
        sq = jnp.sum((x[None, :] - self.centers.astype(x.dtype)) ** 2, axis=1) / self.scale**2
        safe = jnp.where(sq > 0, sq, jnp.ones_like(sq))  # r^2 log r -> 0 at r = 0, finite gradient
        return jnp.where(sq > 0, 0.5 * sq * jnp.log(safe), jnp.zeros_like(sq))


class RandomFourierFeatures(AbstractDictionary):
    """Random Fourier features `sqrt(2/D) cos(W x + b)` approximating a Gaussian kernel.

    Rahimi & Recht, "Random features for large-scale kernel machines" (2007): with rows of `W`
    drawn from `N(0, I / lengthscale^2)` and `b ~ U[0, 2 pi)`, `psi(x).psi(y)` approximates
    `exp(-|x - y|^2 / (2 lengthscale^2))`.

    **Arguments:**

    - `data_size`: dimension of the state.
    - `n_features`: number of features `D`.
    - `lengthscale`: width of the approximated Gaussian kernel.
    - `key`: PRNG key for `W` and `b` (keyword-only).
    """

    weights: Float[Array, "features state"]
    offsets: Float[Array, " features"]

    def __init__(self, data_size: int, n_features: int, lengthscale: float = 1.0, *, key: Key):
        data_size = check_int("RandomFourierFeatures", "data_size", data_size)
        n_features = check_int("RandomFourierFeatures", "n_features", n_features)
        check_positive("RandomFourierFeatures", "lengthscale", lengthscale)
        wkey, bkey = jax.random.split(key)
        self.weights = jax.random.normal(wkey, (n_features, data_size)) / lengthscale
        self.offsets = jax.random.uniform(bkey, (n_features,), maxval=2 * math.pi)

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "RandomFourierFeatures", self.weights.shape[1])
        w = self.weights.astype(x.dtype)
        b = self.offsets.astype(x.dtype)
        scale = jnp.asarray(math.sqrt(2.0 / w.shape[0]), x.dtype)
        return scale * jnp.cos(w @ x + b)


class TimeDelays(AbstractDictionary):
    """Time-delay (Hankel) observables: `inner` applied to each lag of a delay vector.

    The input is one row of `delay_embed(trajectory, num_delays)`: the states
    `x_t, x_{t-1}, ..., x_{t-num_delays}` concatenated (shape `((num_delays + 1) * state,)`).

    **Arguments:**

    - `num_delays`: number of lags besides the current state.
    - `inner`: dictionary applied to every lag (default `Identity()`, i.e. Hankel DMD).
    """

    num_delays: int = eqx.field(static=True)
    inner: AbstractDictionary = Identity()

    def __check_init__(self):
        if self.num_delays < 0:
            raise ValueError(f"TimeDelays: num_delays must be >= 0, got {self.num_delays}")

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "TimeDelays")
        lags = self.num_delays + 1
        if x.shape[0] % lags:
            raise ValueError(
                f"TimeDelays: input length {x.shape[0]} is not a multiple of "
                f"num_delays + 1 = {lags}; "
                "build inputs with delay_embed(trajectory, num_delays)."
            )
        windows = x.reshape(lags, -1)
        return jax.vmap(self.inner)(windows).reshape(-1)


def delay_embed(
    trajectory: Float[Array, "time state"], num_delays: int
) -> Float[Array, "rows features"]:
    """Stack time delays: row `i` is `x_{i+d}, x_{i+d-1}, ..., x_i` concatenated (`d = num_delays`).

    **Arguments:**

    - `trajectory`: states at consecutive times, shape `(time, state)`.
    - `num_delays`: number of lags `d`.

    **Returns:** the delay vectors, shape `(time - d, (d + 1) * state)`; consecutive rows are
    consecutive times, so `snapshot_pairs` applies.
    """
    trajectory = check_dtype("delay_embed", "trajectory", trajectory, cast_integers=True)
    num_delays = check_int("delay_embed", "num_delays", num_delays, minimum=0)
    if trajectory.ndim != 2:
        raise ValueError(
            f"delay_embed: trajectory must be (time, state), got shape {trajectory.shape}"
        )
    if num_delays < 0 or trajectory.shape[0] <= num_delays:
        raise ValueError(
            f"delay_embed: need 0 <= num_delays < time, got num_delays={num_delays} and "
            f"{trajectory.shape[0]} time steps"
        )
    rows = trajectory.shape[0] - num_delays
    lags = [trajectory[num_delays - j : num_delays - j + rows] for j in range(num_delays + 1)]
    return jnp.concatenate(lags, axis=1)


class Learned(AbstractDictionary):
    """A trainable dictionary: any callable `eqx.Module` mapping `(state,)` to `(features,)`.

    **Arguments:**

    - `module`: the network, e.g. `eqx.nn.MLP(state, features, width, depth, key=key)`.
    - `include_state`: prepend the state itself (so the state can be read back linearly).
    - `include_constant`: prepend the constant observable `1`.
    """

    module: eqx.Module
    include_state: bool = eqx.field(static=True, default=True)
    include_constant: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        if not callable(self.module):
            raise TypeError(f"Learned: module must be a callable eqx.Module, got {self.module!r}.")

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "Learned")
        parts = []
        if self.include_constant:
            parts.append(jnp.ones((1,), x.dtype))
        if self.include_state:
            parts.append(x)
        parts.append(self.module(x).astype(x.dtype))
        return jnp.concatenate(parts)


def _check_dictionaries(name: str, dictionaries) -> None:
    if not isinstance(dictionaries, tuple | list) or len(dictionaries) == 0:
        raise ValueError(
            f"{name}: dictionaries must be a non-empty tuple of dictionaries, got {dictionaries!r}."
        )
    for i, d in enumerate(dictionaries):
        if not isinstance(d, AbstractDictionary):
            raise TypeError(
                f"{name}: dictionaries[{i}] must be an AbstractDictionary, got {type(d).__name__}."
            )


class Concatenation(AbstractDictionary):
    """Several dictionaries side by side: `psi(x) = [psi_1(x), psi_2(x), ...]`.

    **Arguments:**

    - `dictionaries`: a tuple of dictionaries.
    """

    dictionaries: tuple[AbstractDictionary, ...]

    def __check_init__(self):
        _check_dictionaries("Concatenation", self.dictionaries)

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "Concatenation")
        return jnp.concatenate([d(x) for d in self.dictionaries])


class TensorProduct(AbstractDictionary):
    """All products of features of dictionaries acting on different coordinates.

    `psi(x) = kron(psi_1(x[c_1]), psi_2(x[c_2]), ...)`, e.g. Fourier modes in an angle times
    Hermite functions in a momentum (Colbrook & Townsend's pendulum dictionary).

    **Arguments:**

    - `dictionaries`: a tuple of dictionaries.
    - `coordinates`: for each dictionary, the tuple of state indices it acts on.
    """

    dictionaries: tuple[AbstractDictionary, ...]
    coordinates: tuple[tuple[int, ...], ...] = eqx.field(static=True)

    def __check_init__(self):
        _check_dictionaries("TensorProduct", self.dictionaries)
        if len(self.dictionaries) != len(self.coordinates):
            raise ValueError(
                f"TensorProduct: coordinates must hold one coordinate tuple per dictionary, got "
                f"{len(self.dictionaries)} dictionaries and {len(self.coordinates)} coordinate"
                " tuples"
            )

    def __call__(self, x: Float[Array, " state"]) -> Float[Array, " features"]:
        _check_state(x, "TensorProduct")
        used = [i for coords in self.coordinates for i in coords]
        if used and max(used) >= x.shape[0]:
            raise ValueError(
                f"TensorProduct: coordinates {self.coordinates} out of range for x of shape "
                f"{tuple(x.shape)}"
            )
        out = jnp.ones((1,), x.dtype)
        for dictionary, coords in zip(self.dictionaries, self.coordinates):
            out = jnp.outer(out, dictionary(x[jnp.asarray(coords)])).reshape(-1)
        return out
