"""Mixed-precision training: compute in a low precision, keep the parameters in full precision."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

_LOW_DTYPES = (jnp.bfloat16, jnp.float16)


def cast_floating(tree: Any, dtype) -> Any:
    """`tree` with every floating-point array cast to `dtype` (integers, keys, and non-array
    leaves unchanged).

    **Arguments:**

    - `tree`: any PyTree (a model, a batch).
    - `dtype`: the floating dtype to cast to.
    """
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"cast_floating: dtype must be a floating dtype, got dtype={dtype}")

    def cast(x):
        if eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.floating):
            return x.astype(dtype)
        return x

    return jax.tree.map(cast, tree)


def mixed_precision(loss_fn: Callable, compute_dtype=jnp.bfloat16) -> Callable:
    """A loss that runs the model in `compute_dtype` while its parameters stay in full precision.

    The returned `loss(model, batch, *, key)` casts the floating arrays of `model` and `batch` to
    `compute_dtype` (bfloat16 by default), calls `loss_fn` on the cast copies, and returns the
    loss (and any auxiliary output's floating arrays) in the model's own precision (that of its
    first floating array; float32 for a float32 model). Differentiated by `fit`, the
    gradient flows back through the casts, so the optimizer updates the float32 master
    parameters: mixed-precision training as in Micikevicius et al. (2018) without loss scaling
    (bfloat16 has float32's exponent range; with float16, small gradients may underflow).

    **Arguments:**

    - `loss_fn`: `loss_fn(model, batch, *, key) -> loss` or `-> (loss, aux)`, as `fit` takes.
    - `compute_dtype`: `jnp.bfloat16` (default) or `jnp.float16`.

    **Returns:** a loss with the same signature, for `dynlearn.train.fit`.
    """
    if not callable(loss_fn):
        raise TypeError(f"mixed_precision: loss_fn must be callable, got {loss_fn!r}")
    compute_dtype = jnp.dtype(compute_dtype)
    if compute_dtype not in [jnp.dtype(d) for d in _LOW_DTYPES]:
        raise ValueError(
            f"mixed_precision: compute_dtype must be bfloat16 or float16, got {compute_dtype}; "
            "for full precision use the loss itself"
        )

    @functools.wraps(loss_fn)
    def loss(model, batch, *, key):
        floating = [
            x.dtype
            for x in jax.tree.leaves(model)
            if eqx.is_array(x) and jnp.issubdtype(x.dtype, jnp.floating)
        ]
        full = floating[0] if floating else jnp.dtype(jnp.float32)
        low_model = cast_floating(model, compute_dtype)
        out = loss_fn(low_model, cast_floating(batch, compute_dtype), key=key)
        return cast_floating(out, full)

    return loss
