"""Input checks shared by the metrics: two series of equal shape, as floating arrays."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def as_float(x):
    """`x` as a real floating jax array; integer input becomes the default float type."""
    arr = jnp.asarray(x)
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.asarray(0.0).dtype)
    return arr


def as_series_pair(true, pred, where: str, *, min_length: int = 1):
    """Return `(true, pred)` as `(time, dim)` float arrays of one dtype; check their shapes.

    A 1-D input is read as a scalar series `(time,)` -> `(time, 1)`.
    """
    true = as_float(true)
    pred = as_float(pred)
    if true.ndim == 1:
        true = true[:, None]
    if pred.ndim == 1:
        pred = pred[:, None]
    if true.ndim != 2 or pred.ndim != 2:
        raise ValueError(
            f"{where}: expected series of shape (time, dim) or (time,), got true.shape="
            f"{tuple(true.shape)} and pred.shape={tuple(pred.shape)}"
        )
    if true.shape[1] != pred.shape[1]:
        raise ValueError(
            f"{where}: true and pred must have the same number of dimensions, got "
            f"true.shape={tuple(true.shape)} and pred.shape={tuple(pred.shape)}"
        )
    for name, arr in (("true", true), ("pred", pred)):
        if arr.shape[0] < min_length:
            raise ValueError(
                f"{where}: {name} has {arr.shape[0]} time points, need at least {min_length}"
            )
    dtype = np.promote_types(true.dtype, pred.dtype)
    return true.astype(dtype), pred.astype(dtype)
