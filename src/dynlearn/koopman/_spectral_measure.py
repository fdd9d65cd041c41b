"""Spectral measures of measure-preserving systems from trajectory autocorrelations.

Colbrook & Townsend, "Rigorous data-driven computation of spectral properties of Koopman
operators for dynamical systems" (2024), and Colbrook, "Computing spectral measures and spectral
types" (2021): for a measure-preserving map the Koopman operator is an isometry, and the spectral
measure `nu_g` of an observable `g` on the unit circle has Fourier coefficients
`<K^n g, g> = int g(F^n x) conj(g(x)) d mu(x)`, which ergodic averages along one trajectory
estimate. A filtered Fourier series of these correlations,

    nu_g^N(theta) = (1 / 2 pi) sum_{|n| <= N} phi(n / N) <K^n g, g> exp(-i n theta),

converges to `nu_g` weakly as `N` grows (smoothed at scale `1 / N` by the filter `phi`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float, Inexact
from .._validation import check_dtype, check_finite, check_int


def fejer_filter(x: Float[Array, " n"]) -> Float[Array, " n"]:
    """The Fejer (hat) filter `1 - |x|`: a positive density, first-order accurate."""
    return 1.0 - jnp.abs(check_dtype("fejer_filter", "x", x, cast_integers=True))


def cosine_filter(x: Float[Array, " n"]) -> Float[Array, " n"]:
    """The raised-cosine filter `(1 + cos(pi x)) / 2`: smoother, second-order accurate."""
    return 0.5 * (1.0 + jnp.cos(math.pi * check_dtype("cosine_filter", "x", x, cast_integers=True)))


def autocorrelations(values: Inexact[ArrayLike, " time"], max_lag: int) -> Inexact[Array, " lags"]:
    """Ergodic-average estimates of `<K^n g, g>` for `n = 0..max_lag` from one trajectory.

    **Arguments:**

    - `values`: `g(x_t)` along a trajectory, shape `(time,)` (real or complex).
    - `max_lag`: largest lag `N` (at most `time - 1`).

    **Returns:** `c_n = mean_t g(x_{t+n}) conj(g(x_t))` over the first `time - max_lag` times,
    shape `(max_lag + 1,)`.
    """
    values = check_dtype("autocorrelations", "values", values, complex_ok=True, cast_integers=True)
    check_finite("autocorrelations", "values", values)
    max_lag = check_int("autocorrelations", "max_lag", max_lag, minimum=0)
    if values.ndim != 1 or not 0 <= max_lag < values.shape[0]:
        raise ValueError(
            f"autocorrelations: need values of shape (time,) and 0 <= max_lag < time; got shape "
            f"{values.shape} and max_lag={max_lag}"
        )
    count = values.shape[0] - max_lag
    base = jnp.conj(values[:count])
    lagged = lambda n: jnp.mean(jax.lax.dynamic_slice(values, (n,), (count,)) * base)
    return jax.vmap(lagged)(jnp.arange(max_lag + 1))


def spectral_measure(
    correlations: Inexact[ArrayLike, " lags"],
    angles: Float[ArrayLike, " points"],
    *,
    filter_fn=cosine_filter,
) -> Float[Array, " points"]:
    """Smoothed density of the spectral measure on the unit circle from correlations.

    **Arguments:**

    - `correlations`: `<K^n g, g>` for `n = 0..N` (e.g. from `autocorrelations`).
    - `angles`: points `theta` in `[-pi, pi]` where the density is evaluated.
    - `filter_fn`: the filter `phi` on `[-1, 1]` (`cosine_filter`, `fejer_filter` or any
      function with `phi(0) = 1`, `phi(+-1) = 0`).

    **Returns:** the density `nu_g^N(theta)` (w.r.t. `d theta`), shape `(points,)`; it
    integrates to `<g, g>` over the circle.
    """
    c = check_dtype("spectral_measure", "correlations", correlations, complex_ok=True)
    angles = check_dtype("spectral_measure", "angles", angles, cast_integers=True)
    if not callable(filter_fn):
        raise TypeError(f"spectral_measure: filter_fn must be callable, got {filter_fn!r}.")
    if c.ndim != 1 or c.shape[0] < 2 or angles.ndim != 1:
        raise ValueError(
            f"spectral_measure: need correlations (lags >= 2,) and angles (points,); got "
            f"{c.shape} and {angles.shape}"
        )
    lags = c.shape[0] - 1
    n = jnp.arange(1, lags + 1, dtype=angles.dtype)
    weights = filter_fn(n / lags).astype(angles.dtype)
    arg = angles[:, None] * n[None, :]
    # c_{-n} = conj(c_n), so the series is real: 2 Re(c_n e^{-i n theta}) per pair of lags.
    real = (weights * jnp.real(c[1:]).astype(angles.dtype))[None, :]
    imag = (weights * jnp.imag(c[1:]).astype(angles.dtype))[None, :]
    pairs = jnp.sum(real * jnp.cos(arg) + imag * jnp.sin(arg), axis=1)
    series = jnp.real(c[0]).astype(angles.dtype) + 2.0 * pairs
    return series / (2 * math.pi)
