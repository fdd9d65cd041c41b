"""Correlation dimension by the Grassberger–Procaccia algorithm.

Grassberger & Procaccia, "Measuring the strangeness of strange attractors", Physica D 9 (1983).
The correlation sum `C(r)` is the fraction of pairs of points closer than `r`; on an attractor of
correlation dimension `D2`, `C(r) ~ r^D2` for small `r`. Pairs closer in time than a Theiler
window are left out (Theiler, Phys. Rev. A 34, 1986), because consecutive samples of a flow are
close for a reason that has nothing to do with the geometry of the set.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float, Key, Scalar
from .._validation import check_dtype, check_finite, check_int, refuse_if


def _as_points(points, caller: str) -> Array:
    points = check_dtype(caller, "points", points, cast_integers=True)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2 or points.shape[0] < 3:
        raise ValueError(
            f"{caller}: points must have shape (n_points, dimension) with n_points >= 3, got "
            f"{points.shape}"
        )
    check_finite(caller, "points", points)
    return points


def _check_max_points(max_points, caller: str) -> None:
    if max_points is not None:
        check_int(caller, "max_points", max_points, minimum=3)


def _subsample(points: Array, max_points: int | None, key: Key | None) -> tuple[Array, Array]:
    """Return up to `max_points` points and their original time indices, in time order."""
    n = points.shape[0]
    index = jnp.arange(n)
    if max_points is not None and n > max_points:
        if key is None:
            key = jax.random.key(0)
        index = jnp.sort(jax.random.choice(key, n, (max_points,), replace=False))
    return points[index], index


def _pair_distances(points: Array, index: Array, theiler: int) -> tuple[Array, Array]:
    """Distances of all pairs i < j with |t_i - t_j| > theiler; excluded pairs are `inf`."""
    diff = points[:, None, :] - points[None, :, :]
    dist = jnp.sqrt(jnp.sum(diff * diff, axis=-1))
    gap = index[None, :] - index[:, None]
    valid = gap > theiler
    return jnp.where(valid, dist, jnp.inf), jnp.sum(valid)


@eqx.filter_jit
def _correlation_sum(points: Array, index: Array, radii: Array, theiler: int) -> Array:
    dist, n_valid = _pair_distances(points, index, theiler)
    flat = jnp.sort(dist.reshape(-1))
    counts = jnp.searchsorted(flat, radii, side="left")
    return counts.astype(points.dtype) / n_valid.astype(points.dtype)


def correlation_sum(
    points: ArrayLike,
    radii: ArrayLike,
    *,
    theiler: int = 0,
    max_points: int | None = 2000,
    key: Key | None = None,
) -> Float[Array, " radii"]:
    """The Grassberger–Procaccia correlation sum `C(r)`, the fraction of pairs closer than `r`.

    **Arguments:**

    - `points`: samples of the set, shape `(n_points, dimension)` (or `(n_points,)`), in time
      order when `theiler > 0`.
    - `radii`: radii at which to evaluate `C`, shape `(radii,)`.
    - `theiler`: pairs whose time indices differ by at most this many samples are left out.
    - `max_points`: use a random subset of this many points (all pairs are compared, so cost
      and memory grow as its square); `None` uses every point.
    - `key`: PRNG key for the subset (default: a fixed key).

    **Returns:** `C(r)` for every radius, shape `(radii,)`.

    **Raises:** `ValueError` for badly shaped `points` or `radii`, NaN or inf in `points`,
    negative or non-finite `radii`, `max_points < 3`, or a Theiler window that leaves no pairs;
    `TypeError` for complex or non-numeric input.
    """
    caller = "correlation_sum"
    points = _as_points(points, caller)
    radii = check_dtype(caller, "radii", radii, cast_integers=True).astype(points.dtype)
    if radii.ndim != 1:
        raise ValueError(f"{caller}: radii must be 1-D, got shape {radii.shape}")
    radii = refuse_if(
        radii,
        jnp.any(~(radii >= 0)) | jnp.any(jnp.isinf(radii)),
        f"{caller}: radii must be finite and non-negative, got radii={radii}",
    )
    _check_max_points(max_points, caller)
    _check_theiler(theiler, points.shape[0], caller)
    points, index = _subsample(points, max_points, key)
    return _correlation_sum(points, index, radii, int(theiler))


def _check_theiler(theiler, n: int, caller: str) -> None:
    if not isinstance(theiler, int) or theiler < 0 or theiler >= n - 1:
        raise ValueError(
            f"{caller}: theiler must be an integer in 0..{n - 2} for {n} points, got {theiler!r}"
        )


@eqx.filter_jit
def _gp_slope(points: Array, index: Array, theiler: int, c_range, n_radii: int):
    dist, n_valid = _pair_distances(points, index, theiler)
    flat = jnp.sort(dist.reshape(-1))
    n_pairs = n_valid.astype(points.dtype)
    # Radii at which C takes log-spaced values: quantiles of the pair distances, read directly
    # off the sorted list (the k-th smallest distance r_k has C(r_k+) = k / n_pairs).
    c_low = jnp.maximum(jnp.asarray(c_range[0], points.dtype), 50 / n_pairs)
    c_high = jnp.asarray(c_range[1], points.dtype)
    c_targets = jnp.exp(jnp.linspace(jnp.log(c_low), jnp.log(c_high), n_radii, dtype=points.dtype))
    ranks = jnp.clip(jnp.round(c_targets * n_pairs).astype(jnp.int32), 1, None)
    radii = flat[ranks - 1]
    c = ranks.astype(points.dtype) / n_pairs
    x, y = jnp.log(radii), jnp.log(c)
    x_centered = x - jnp.mean(x)
    slope = jnp.sum(x_centered * (y - jnp.mean(y))) / jnp.sum(x_centered * x_centered)
    slope = eqx.error_if(
        slope,
        ~jnp.isfinite(slope) | (c_low >= c_high),
        "correlation_dimension: no scaling range (repeated points, or too few pairs for the "
        "requested c_range); use more points, raise max_points or widen c_range",
    )
    return slope, radii, c


def correlation_dimension(
    points: ArrayLike,
    *,
    theiler: int = 0,
    c_range: tuple[float, float] = (1e-4, 1e-2),
    n_radii: int = 16,
    max_points: int | None = 2000,
    key: Key | None = None,
    return_curve: bool = False,
) -> Scalar | tuple[Scalar, Float[Array, " radii"], Float[Array, " radii"]]:
    """Correlation dimension `D2` of a set of points (Grassberger–Procaccia).

    `D2` is the least-squares slope of `log C(r)` against `log r` over the radii where the
    correlation sum lies in `c_range`, the small-scale end of the curve where `C(r) ~ r^D2`.
    These radii are quantiles of the pair distances, so no radius grid has to be chosen. The
    lower end of `c_range` is raised to at least 50 pairs, so that the count is not noise.

    **Arguments:**

    - `points`: samples of the set, shape `(n_points, dimension)`, e.g. a long trajectory on an
      attractor (in time order when `theiler > 0`).
    - `theiler`: Theiler window: pairs at most this many samples apart in time are left out.
      Use about one characteristic time of a densely sampled flow; 0 for maps and random sets.
    - `c_range`: `(C_low, C_high)`, the range of correlation sums fitted.
    - `n_radii`: number of radii in the fit.
    - `max_points`: use a random subset of this many points (cost and memory grow as its
      square; 2000 points make two million pairs); `None` uses every point.
    - `key`: PRNG key for the subset (default: a fixed key).
    - `return_curve`: also return the radii and correlation sums used in the fit.

    **Returns:** the dimension estimate, a scalar; with `return_curve=True`,
    `(dimension, radii, correlation_sums)`.

    **Raises:** `ValueError` for badly shaped `points`, NaN or inf in `points`, `c_range` not
    within `(0, 1]` and increasing, `n_radii < 2`, `max_points < 3`, or a bad Theiler window;
    `TypeError` for complex or non-numeric `points`, or a `c_range` that is not a pair.
    """
    caller = "correlation_dimension"
    points = _as_points(points, caller)
    try:
        c_low, c_high = (float(c) for c in c_range)
    except (TypeError, ValueError):
        raise TypeError(
            f"{caller}: c_range must be a pair of numbers (low, high), got c_range={c_range!r}"
        ) from None
    if not 0 < c_low < c_high <= 1:
        raise ValueError(f"{caller}: c_range must satisfy 0 < low < high <= 1, got {c_range!r}")
    if not isinstance(n_radii, int) or n_radii < 2:
        raise ValueError(f"{caller}: n_radii must be an integer >= 2, got {n_radii!r}")
    _check_max_points(max_points, caller)
    _check_theiler(theiler, points.shape[0], caller)
    points, index = _subsample(points, max_points, key)
    n = points.shape[0]
    pairs_needed = 50 / c_high
    if n * (n - 1) / 2 - n * theiler < pairs_needed:
        raise ValueError(
            f"{caller}: {n} points (theiler={theiler}) give too few pairs to reach "
            f"C = {c_high:g} with 50 pairs; use at least "
            f"{math.ceil(math.sqrt(2 * pairs_needed)) + 2 * theiler + 1} points or raise c_range"
        )
    slope, radii, c = _gp_slope(points, index, int(theiler), (c_low, c_high), n_radii)
    if return_curve:
        return slope, radii, c
    return slope
