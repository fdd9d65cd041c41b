"""Validation of training data and deterministic per-step minibatch sampling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import as_array, check_int


def check_data(data, batch_size: int, *, name: str = "data") -> int:
    """Check that every array leaf of `data` shares a leading length; return that length.

    **Arguments:**

    - `data`: a PyTree of arrays whose leading axis indexes samples.
    - `batch_size`: the minibatch size that will be drawn.
    - `name`: the argument's name in messages (`"data"`, `"val_data"`).

    **Returns:** the number of samples.

    **Raises:** `ValueError` naming the offending lengths, or the batch size when it exceeds the
    number of samples or is not positive; `TypeError` for `None` or non-numeric leaves and a
    non-integer batch size.
    """
    if data is None:
        raise TypeError(f"fit: {name} must be a PyTree of arrays, got None.")
    leaves, _ = jax.tree_util.tree_flatten_with_path(data)
    if not leaves:
        raise ValueError(f"fit: `{name}` has no array leaves; pass e.g. a tuple (inputs, targets).")
    lengths = {}
    for path, leaf in leaves:
        label = f"{name}{jax.tree_util.keystr(path)}"
        as_array("fit", label, leaf)
        shape = np.shape(leaf)
        if len(shape) == 0:
            raise ValueError(f"fit: {label} is a scalar; every leaf needs a leading sample axis.")
        lengths[label] = shape[0]
    if len(set(lengths.values())) != 1:
        detail = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise ValueError(
            f"fit: {name} arrays have different leading lengths ({detail}); they must all index "
            "the same samples."
        )
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"fit: {name} has no samples (leading length 0).")
    batch_size = check_int("fit", "batch_size", batch_size, minimum=1)
    if batch_size > n:
        raise ValueError(
            f"fit: batch_size={batch_size} is larger than the number of samples in {name} ({n}); "
            "lower batch_size or pass more data."
        )
    return n


def sample_batch(data, batch_size: int, n: int, *, key):
    """Draw `batch_size` distinct samples of `data` (leading axis length `n`) with `key`.

    The draw depends only on `key`, which the trainer derives from the run key and the step
    number, so an interrupted run resumed from a checkpoint sees the same batches.
    """
    if batch_size == n:
        idx = jax.random.permutation(key, n)
    else:
        # A full sort of `n` keys per step (about 108 ms for n = 115,200 on 2 CPUs, against 2.8 ms
        # for the same distribution as `lax.top_k` of `n` uniforms). Kept for now: changing the
        # draw changes every seeded result, and the README example and a conformance test then
        # failed with the new draws (issue notes, 2026-12-07).
        idx = jax.random.choice(key, n, (batch_size,), replace=False)
    return jax.tree_util.tree_map(lambda x: jnp.take(x, idx, axis=0), data)
