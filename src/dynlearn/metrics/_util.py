"""Input checks shared by the metrics: two series of equal shape, as floating arrays."""

from __future__ import annotations

import numpy as np

from .._validation import check_dtype


def as_float(x, where: str | None = None, name: str = "x"):
    """`x` as a real floating jax array; integer input becomes the default float type.

    `TypeError` naming `name` for None, non-numeric and complex input (never silently dropping
    an imaginary part).
    """
    return check_dtype(where, name, x, cast_integers=True)


def as_series_pair(true, pred, where: str, *, min_length: int = 1, names=("true", "pred")):
    """Return `(true, pred)` as `(time, dim)` float arrays of one dtype; check their shapes.

    A 1-D input is read as a scalar series `(time,)` -> `(time, 1)`. `names` are the two
    arguments' names in the caller's signature, for the messages.
    """
    a, b = names
    true = as_float(true, where, a)
    pred = as_float(pred, where, b)
    if true.ndim == 1:
        true = true[:, None]
    if pred.ndim == 1:
        pred = pred[:, None]
    if true.ndim != 2 or pred.ndim != 2:
        raise ValueError(
            f"{where}: expected series of shape (time, dim) or (time,), got {a}.shape="
            f"{tuple(true.shape)} and {b}.shape={tuple(pred.shape)}"
        )
    if true.shape[1] != pred.shape[1]:
        raise ValueError(
            f"{where}: {a} and {b} must have the same number of dimensions, got "
            f"{a}.shape={tuple(true.shape)} and {b}.shape={tuple(pred.shape)}"
        )
    for name, arr in ((a, true), (b, pred)):
        if arr.shape[0] < min_length:
            raise ValueError(
                f"{where}: {name} has {arr.shape[0]} time points, need at least {min_length}"
            )
    dtype = np.promote_types(true.dtype, pred.dtype)
    return true.astype(dtype), pred.astype(dtype)
