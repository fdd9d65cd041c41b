"""Small helpers shared by the SSM blocks: input checks, dt initialization, FFT convolution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def check_sequence(name: str, xs, d: int) -> None:
    """Raise a ValueError naming the shapes unless `xs` has shape (L, d)."""
    shape = getattr(xs, "shape", None)
    if shape is None or len(shape) != 2 or shape[1] != d:
        raise ValueError(
            f"{name}: expected a sequence of shape (L, {d}) (one unbatched sample; use jax.vmap "
            f"for batches), got shape {shape}"
        )


def check_token(name: str, x, d: int) -> None:
    """Raise a ValueError naming the shapes unless `x` has shape (d,)."""
    shape = getattr(x, "shape", None)
    if shape != (d,):
        raise ValueError(f"{name}.step: expected one token of shape ({d},), got shape {shape}")


def log_dt_init(key, shape, dt_min: float = 1e-3, dt_max: float = 1e-1, dtype=None):
    """log(dt) with dt log-uniform in [dt_min, dt_max]."""
    u = jax.random.uniform(key, shape, dtype=dtype or jnp.zeros(()).dtype)
    return u * (jnp.log(dt_max) - jnp.log(dt_min)) + jnp.log(dt_min)


def causal_fft_conv(xs, kernel):
    """Causal convolution y[l, h] = sum_{j <= l} kernel[h, j] xs[l - j, h] through the FFT.

    `xs` has shape (L, H) and `kernel` (H, L); both real.
    """
    L = xs.shape[0]
    n = 2 * L
    k_f = jnp.fft.rfft(kernel, n=n, axis=-1)  # (H, n//2+1)
    x_f = jnp.fft.rfft(xs.T, n=n, axis=-1)
    return jnp.fft.irfft(k_f * x_f, n=n, axis=-1)[:, :L].T


def complex_from_pair(pair):
    """A complex array from a real array whose last axis holds (real, imag)."""
    return lax.complex(pair[..., 0], pair[..., 1])


def promote(*dtypes):
    """The common dtype of `dtypes` under JAX's standard promotion (explicit, so strict-safe)."""
    with jax.numpy_dtype_promotion("standard"):
        out = dtypes[0]
        for d in dtypes[1:]:
            out = jnp.promote_types(out, d)
    return out
