"""Small helpers shared by the SSM blocks: input checks, dt initialization, FFT convolution."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from .._validation import check_dtype, check_positive


def check_sequence(name: str, xs, d: int, *, arg: str = "xs") -> jax.Array:
    """`xs` as a real floating array of shape (L, d) with L >= 1; otherwise a `TypeError`
    (None, integer, boolean or complex input) or `ValueError` (shape) naming the argument."""
    xs = check_dtype(name, arg, xs)
    shape = tuple(xs.shape)
    if len(shape) != 2 or shape[1] != d:
        raise ValueError(
            f"{name}: {arg} must have shape (L, {d}) (one unbatched sample; use jax.vmap for "
            f"batches), got shape {shape}."
        )
    if shape[0] == 0:
        raise ValueError(f"{name}: {arg} must have at least one time step, got shape {shape}.")
    return xs


def check_token(name: str, x, d: int) -> jax.Array:
    """`x` as a real floating array of shape (d,); otherwise an error naming `x`."""
    x = check_dtype(f"{name}.step", "x", x)
    if tuple(x.shape) != (d,):
        raise ValueError(
            f"{name}.step: x must be one token of shape ({d},), got shape {tuple(x.shape)}."
        )
    return x


def check_state(name: str, state, expected) -> None:
    """Refuse a `state` whose shape differs from `expected`: a shape tuple for an array state, or
    for a PyTree state the `jax.eval_shape` of `init_state()`; the message names both."""
    if isinstance(expected, tuple) and all(isinstance(n, int) for n in expected):
        got = tuple(jnp.shape(state)) if state is not None else None
        if got != tuple(expected):
            raise ValueError(
                f"{name}.step: state must have shape {tuple(expected)} (as from init_state()), "
                f"got {'None' if got is None else f'shape {got}'}."
            )
        return
    got = jax.tree_util.tree_map(lambda a: tuple(jnp.shape(a)), state)
    want = jax.tree_util.tree_map(lambda a: tuple(a.shape), expected)
    if jax.tree_util.tree_structure(state) != jax.tree_util.tree_structure(expected) or got != want:
        raise ValueError(
            f"{name}.step: state must have the shapes of init_state(), {want}, got {got}."
        )


def check_dt_range(name: str, dt_min, dt_max) -> None:
    """Refuse initial step ranges that are not `0 < dt_min <= dt_max` (finite)."""
    check_positive(name, "dt_min", dt_min)
    check_positive(name, "dt_max", dt_max)
    if float(dt_min) > float(dt_max):
        raise ValueError(
            f"{name}: need dt_min <= dt_max, got dt_min={dt_min!r}, dt_max={dt_max!r}."
        )


def causal_fft_conv_finite(xs, kernel):
    """`causal_fft_conv`, with non-finite input handled as the recurrence handles it.

    An FFT convolution mixes every time with every other, so one NaN in `xs` would make every
    output NaN, earlier times included. Here the non-finite entries are zeroed before the FFT and
    each channel's output is NaN from its first non-finite input onwards, as the recurrent and
    step modes give: outputs before a NaN stay what they were.
    """
    L = xs.shape[0]
    finite = jnp.isfinite(xs)
    first_bad = jnp.min(jnp.where(finite, L, jnp.arange(L)[:, None]), axis=0)  # (H,), L: none
    ys = causal_fft_conv(jnp.where(finite, xs, 0), kernel)
    return jnp.where(jnp.arange(L)[:, None] >= first_bad[None, :], jnp.nan, ys)


def log_dt_init(key, shape, dt_min: float = 1e-3, dt_max: float = 1e-1, dtype=None):
    """log(dt) with dt log-uniform in [dt_min, dt_max]."""
    u = jax.random.uniform(key, shape, dtype=dtype or jnp.zeros(()).dtype)
    return u * (jnp.log(dt_max) - jnp.log(dt_min)) + jnp.log(dt_min)


def causal_rows_non_finite(fn, xs):
    """`fn(xs)` for a causal map that mixes channels, with non-finite input handled as its
    recurrent form handles it: rows before the first non-finite row of `xs` are computed from
    finite data (masked products `0 * NaN` would otherwise spread NaN to earlier times), rows
    from it onwards are NaN."""
    L = xs.shape[0]
    finite = jnp.all(jnp.isfinite(xs), axis=1)
    first_bad = jnp.min(jnp.where(finite, L, jnp.arange(L)))
    ys = fn(jnp.where(finite[:, None], xs, 0))
    return jnp.where((jnp.arange(L) >= first_bad)[:, None], jnp.nan, ys)


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
