"""Collocation points: uniform samples in boxes, tensor grids, and packing for the trainer.

`dynlearn.train.fit` draws minibatches with one index set for every array of `data`, so all
point sets must share their leading length; `collocation_data` repeats the smaller sets
(cycling through them) to the length of the largest.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._validation import check_dtype, check_finite, check_int


def uniform_points(
    n_points: int, lower: Sequence[float], upper: Sequence[float], *, key: PRNGKeyArray
) -> Float[Array, "n d"]:
    """`n_points` points drawn uniformly from the box `[lower, upper]`.

    Give equal bounds for a coordinate to pin it (e.g. `t = 0` for initial points).

    **Arguments:**

    - `n_points`: number of points.
    - `lower`, `upper`: the box corners, one entry per coordinate.
    - `key`: PRNG key.

    **Returns:** points of shape `(n_points, d)`.
    """
    n_points = check_int("uniform_points", "n_points", n_points)
    lo = check_dtype("uniform_points", "lower", lower, cast_integers=True)
    hi = check_dtype("uniform_points", "upper", upper, cast_integers=True)
    lo, hi = lo.astype(jnp.result_type(float)), hi.astype(jnp.result_type(float))
    check_finite("uniform_points", "lower", lo)
    check_finite("uniform_points", "upper", hi)
    if key is None:
        raise TypeError("uniform_points: key must be a PRNG key, got key=None")
    if lo.ndim != 1 or lo.shape != hi.shape:
        raise ValueError(
            f"uniform_points: lower and upper must be 1-D of equal length, got {lo.shape} and "
            f"{hi.shape}"
        )
    if bool(jnp.any(hi < lo)):
        raise ValueError(f"uniform_points: upper {hi.tolist()} is below lower {lo.tolist()}")
    return lo[None] + (hi - lo)[None] * jax.random.uniform(key, (n_points, lo.shape[0]), lo.dtype)


def grid_points(*axes: Sequence[float] | Array) -> Float[Array, "n d"]:
    """The tensor grid of the given 1-D axes, flattened to points `(n, d)` (first axis slowest).

    **Arguments:**

    - `axes`: one 1-D array of values per coordinate.

    **Returns:** points of shape `(prod(len(a)), len(axes))`.
    """
    if not axes:
        raise ValueError(
            "grid_points: axes is empty; give at least one axis (a 1-D array per coordinate)"
        )
    arrays = []
    for i, a in enumerate(axes):
        a = check_dtype("grid_points", f"axes[{i}]", a, cast_integers=True)
        arrays.append(a.astype(jnp.result_type(float)))
    if any(a.ndim != 1 for a in arrays):
        raise ValueError(f"grid_points: axes must be 1-D, got shapes {[a.shape for a in arrays]}")
    for i, a in enumerate(arrays):
        if a.shape[0] == 0:
            raise ValueError(f"grid_points: axes[{i}] is empty; every axis needs at least 1 value")
        check_finite("grid_points", f"axes[{i}]", a)
    mesh = jnp.meshgrid(*arrays, indexing="ij")
    return jnp.stack([m.ravel() for m in mesh], axis=-1)


def collocation_data(**sets) -> dict:
    """Pack point sets (or `(points, values)` pairs) into a dict with one common length.

    Smaller sets are cycled to the length of the largest, so `dynlearn.train.fit` can draw one
    index set for all of them.

    **Arguments:**

    - `sets`: term name -> points `(n_i, d)` or `(points, values)`.

    **Returns:** a dict usable as `fit`'s `data`, keyed like a `PINNLoss`'s terms.
    """
    if not sets:
        raise ValueError("collocation_data: give at least one point set")
    lengths = {}
    for name, item in sets.items():
        leaves = jax.tree_util.tree_leaves(item)
        if not leaves:
            raise TypeError(
                f"collocation_data: set {name!r} must be points (n, d) or a pair (points, values), "
                f"got {item!r}"
            )
        for leaf in leaves:
            check_dtype("collocation_data", f"set {name!r}", leaf, cast_integers=True)
        ns = {int(np.shape(leaf)[0]) for leaf in leaves}
        if len(ns) != 1 or 0 in ns:
            raise ValueError(f"collocation_data: set {name!r} has inconsistent lengths {ns}")
        lengths[name] = ns.pop()
        for leaf in leaves:
            bad = int(np.sum(~np.isfinite(np.asarray(leaf))))
            if bad:
                raise ValueError(
                    f"collocation_data: set {name!r} contains {bad} non-finite values (NaN or inf)"
                )
    n = max(lengths.values())
    out = {}
    for name, item in sets.items():
        idx = np.arange(n) % lengths[name]
        out[name] = jax.tree_util.tree_map(lambda a, idx=idx: jnp.asarray(a)[idx], item)
    return out


def space_time_points(
    n_times: int,
    n_space: int,
    lower: Sequence[float],
    upper: Sequence[float],
    t_range: tuple[float, float],
    *,
    key: PRNGKeyArray,
    stratified: bool = True,
) -> Float[Array, "n d"]:
    """Random times crossed with random spatial points: a fresh batch for causal training.

    The times are one uniform draw in each of `n_times` equal chunks of `t_range`
    (`stratified=True`, so a `CausalWeights` with `n_chunks=n_times` over the same range finds
    exactly `n_space` points in every chunk) or `n_times` sorted uniform draws over the whole
    range. The `n_space` spatial points are drawn uniformly from the box `[lower, upper]` and
    shared by every time, as in the tensor-grid batches of Wang, Sankaran & Perdikaris's causal
    training code. Draw a new batch at every step (from a new key) to resample the collocation
    points.

    **Arguments:**

    - `n_times`: number of times (chunks).
    - `n_space`: number of spatial points per time.
    - `lower`, `upper`: the spatial box, one entry per spatial coordinate.
    - `t_range`: `(t0, t1)`.
    - `key`: PRNG key.
    - `stratified`: one time per chunk (default) or i.i.d. sorted times.

    **Returns:** points of shape `(n_times * n_space, len(lower) + 1)`, time last and time-major:
    rows `k * n_space` to `(k + 1) * n_space - 1` share the `k`-th (increasing) time.
    """
    n_times = check_int("space_time_points", "n_times", n_times)
    n_space = check_int("space_time_points", "n_space", n_space)
    if not isinstance(t_range, tuple | list) or len(t_range) != 2:
        raise TypeError(f"space_time_points: t_range must be a pair (t0, t1), got {t_range!r}")
    t0, t1 = (float(t) for t in t_range)
    if not (np.isfinite(t0) and np.isfinite(t1) and t1 > t0):
        raise ValueError(
            f"space_time_points: t_range must be finite and increasing, got t_range={t_range!r}"
        )
    if key is None:
        raise TypeError("space_time_points: key must be a PRNG key, got key=None")
    # the box is checked with numpy (concrete values), so the function traces inside `jit`
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    if lo.ndim != 1 or lo.shape != hi.shape:
        raise ValueError(
            f"space_time_points: lower and upper must be 1-D of equal length, got shapes "
            f"{lo.shape} and {hi.shape}"
        )
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))) or np.any(hi < lo):
        raise ValueError(
            f"space_time_points: the box must be finite with upper >= lower, got lower="
            f"{lo.tolist()} and upper={hi.tolist()}"
        )
    tkey, xkey = jax.random.split(key)
    dtype = jnp.result_type(float)
    u01 = jax.random.uniform(xkey, (n_space, lo.shape[0]), dtype)
    space = jnp.asarray(lo, dtype)[None] + jnp.asarray(hi - lo, dtype)[None] * u01
    u = jax.random.uniform(tkey, (n_times,), dtype)
    if stratified:
        times = t0 + (t1 - t0) * (jnp.arange(n_times, dtype=space.dtype) + u) / n_times
    else:
        times = jnp.sort(t0 + (t1 - t0) * u)
    space = jnp.tile(space, (n_times, 1))
    times = jnp.repeat(times, n_space)[:, None]
    return jnp.concatenate([space, times], axis=1)
