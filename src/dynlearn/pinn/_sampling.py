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
