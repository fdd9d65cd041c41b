"""Power spectral density of sampled signals by Welch's method.

Welch, "The use of fast Fourier transform for the estimation of power spectra", IEEE Trans. Audio
Electroacoustics 15 (1967): the signal is cut into overlapping windowed segments whose
periodograms are averaged. With one segment and a boxcar window this is the plain periodogram.
The scaling is a one-sided density, so `sum(power) * df` is the variance of the signal.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float, ScalarLike
from .._validation import check_dtype, check_finite, check_option, check_positive


def _window(window, length: int, dtype, caller: str) -> Array:
    if isinstance(window, str):
        check_option(caller, "window", window, ("hann", "boxcar"))
        if window == "hann":
            n = jnp.arange(length, dtype=dtype)
            # Periodic Hann window, the usual choice for spectral analysis.
            return 0.5 - 0.5 * jnp.cos(2 * jnp.pi * n / length)
        if window == "boxcar":
            return jnp.ones(length, dtype=dtype)
    window = check_dtype(caller, "window", window, cast_integers=True).astype(dtype)
    if window.shape != (length,):
        raise ValueError(
            f"{caller}: a window array must have shape ({length},) (the segment length), got "
            f"{window.shape}"
        )
    return window


@eqx.filter_jit
def _welch(x: Array, window: Array, dt: Array, hop: int, n_segments: int, detrend: bool):
    length = window.shape[0]
    starts = jnp.arange(n_segments) * hop
    index = starts[:, None] + jnp.arange(length)[None, :]
    segments = x[index]  # (segments, length, features)
    if detrend:
        segments = segments - jnp.mean(segments, axis=1, keepdims=True)
    spectra = jnp.fft.rfft(segments * window[None, :, None], axis=1)
    power = jnp.mean(jnp.real(spectra * jnp.conj(spectra)), axis=0)
    scale = dt / jnp.sum(window * window)
    # One-sided density: every bin but DC (and Nyquist for even lengths) counts twice.
    n_freq = power.shape[0]
    doubled = jnp.ones(n_freq, dtype=x.dtype).at[1:].set(2)
    if length % 2 == 0:
        doubled = doubled.at[-1].set(1)
    power = power * (scale * doubled)[:, None]
    freqs = jnp.arange(n_freq, dtype=x.dtype) / (length * dt)
    return freqs, power


def power_spectrum(
    x: ArrayLike,
    *,
    dt: ScalarLike = 1.0,
    segment_length: int | None = None,
    overlap: float = 0.5,
    window: str | ArrayLike = "hann",
    detrend: bool = True,
) -> tuple[Float[Array, " freq"], Float[Array, " freq *features"]]:
    """One-sided power spectral density of a signal (Welch's method).

    **Arguments:**

    - `x`: the signal, shape `(time,)` or `(time, features)` (each feature separately), sampled
      every `dt`.
    - `dt`: sampling interval; frequencies are in cycles per unit of time.
    - `segment_length`: samples per segment (default: the whole signal, one periodogram).
    - `overlap`: fraction of a segment shared with the next, in `[0, 1)`.
    - `window`: `"hann"`, `"boxcar"` or an array of length `segment_length`.
    - `detrend`: subtract each segment's mean before the transform.

    **Returns:** `(frequencies, power)`: frequencies `k / (segment_length * dt)` up to Nyquist,
    shape `(freq,)`, and the density with shape `(freq,)` or `(freq, features)`, scaled so that
    `sum(power) * df` approximates the variance (equal to `scipy.signal.welch` with
    `scaling="density"`).

    **Raises:** `ValueError` for a signal of more than two dimensions or fewer than two samples,
    NaN or inf in `x`, a `dt` that is not finite and positive, a segment length outside
    `2..time`, an overlap outside `[0, 1)` or an unknown window; `TypeError` for complex or
    non-numeric `x` (take the spectra of the real and imaginary parts separately).
    """
    caller = "power_spectrum"
    x = check_dtype(caller, "x", x, cast_integers=True)
    if x.ndim not in (1, 2) or x.shape[0] < 2:
        raise ValueError(
            f"{caller}: x must have shape (time,) or (time, features) with time >= 2, got {x.shape}"
        )
    check_finite(caller, "x", x)
    check_positive(caller, "dt", dt)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[:, None]
    n = x.shape[0]
    length = n if segment_length is None else segment_length
    if not isinstance(length, int) or not 2 <= length <= n:
        raise ValueError(
            f"{caller}: segment_length must be an integer in 2..{n} (the signal length), got "
            f"{segment_length!r}"
        )
    if isinstance(overlap, bool | str) or overlap is None or not 0 <= overlap < 1:
        raise ValueError(f"{caller}: overlap must lie in [0, 1), got {overlap!r}")
    hop = max(1, length - int(round(overlap * length)))
    n_segments = 1 + (n - length) // hop
    w = _window(window, length, x.dtype, caller)
    freqs, power = _welch(x, w, jnp.asarray(dt, dtype=x.dtype), hop, n_segments, bool(detrend))
    return freqs, (power[:, 0] if squeeze else power)
