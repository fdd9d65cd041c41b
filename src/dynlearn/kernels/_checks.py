"""Input validation shared by the kernels: dtypes and shapes, with the offending values named."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import as_array


def as_inexact(name: str, x) -> jax.Array:
    """`x` as a JAX array with a floating or complex dtype; ValueError otherwise (TypeError for
    None and other non-arrays)."""
    x = as_array(None, name, x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise ValueError(
            f"{name} must have a floating or complex dtype, got {name}.dtype={x.dtype} "
            f"(shape {x.shape}); cast it, e.g. {name}.astype(jnp.float32)."
        )
    return x


def common_dtype(*arrays) -> np.dtype:
    """The dtype all of `arrays` are cast to explicitly (complex wins, wider wins)."""
    dtype = np.result_type(*[np.dtype(x.dtype) for x in arrays])
    return jax.dtypes.canonicalize_dtype(dtype)


def broadcastable(shape, target) -> bool:
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False
