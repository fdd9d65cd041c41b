"""Power spectra against the exact frequency of a sine and against scipy's Welch estimate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from dynlearn.analysis import power_spectrum


def test_sine_peaks_at_its_frequency(x64):
    dt, f0 = 0.01, 3.0
    t = jnp.arange(4000, dtype=jnp.float64) * dt
    freqs, power = power_spectrum(jnp.sin(2 * jnp.pi * f0 * t) + 0.5, dt=dt)
    assert freqs.shape == power.shape == (2001,)
    np.testing.assert_allclose(freqs[jnp.argmax(power)], f0, atol=1 / (4000 * dt))
    # Parseval: the density integrates to the variance, 1/2, once the mean is removed.
    np.testing.assert_allclose(jnp.sum(power) * (freqs[1] - freqs[0]), 0.5, rtol=1e-3)


def test_matches_scipy_welch(x64, getkey):
    x = jnp.cumsum(jax.random.normal(getkey(), (1000, 2), dtype=jnp.float64), axis=0)
    for window in ("hann", "boxcar"):
        for length in (128, 255):
            freqs, power = power_spectrum(x, dt=0.1, segment_length=length, window=window)
            ref_f, ref_p = scipy.signal.welch(
                np.asarray(x),
                fs=10.0,
                window=window,
                nperseg=length,
                noverlap=length - (length - round(0.5 * length)),
                axis=0,
            )
            np.testing.assert_allclose(freqs, ref_f, rtol=1e-12)
            np.testing.assert_allclose(power, ref_p, rtol=1e-9, atol=1e-12 * float(np.max(ref_p)))


def test_two_tones_float32():
    t = jnp.arange(2048, dtype=jnp.float32)
    x = jnp.sin(2 * jnp.pi * 0.1 * t) + 0.3 * jnp.sin(2 * jnp.pi * 0.25 * t)
    freqs, power = power_spectrum(x, segment_length=512)
    assert power.dtype == jnp.float32
    low, high = freqs < 0.175, freqs >= 0.175
    np.testing.assert_allclose(freqs[low][jnp.argmax(power[low])], 0.1, atol=1 / 512)
    np.testing.assert_allclose(freqs[high][jnp.argmax(power[high])], 0.25, atol=1 / 512)
    # The weaker tone carries 0.3^2 of the stronger one's power.
    ratio = jnp.max(power[high]) / jnp.max(power[low])
    assert 0.05 < float(ratio) < 0.15


def test_bad_input():
    with pytest.raises(ValueError, match="segment_length"):
        power_spectrum(jnp.zeros(10), segment_length=20)
    with pytest.raises(ValueError, match="overlap"):
        power_spectrum(jnp.zeros(10), overlap=1.0)
    with pytest.raises(ValueError, match="window"):
        power_spectrum(jnp.zeros(10), window="hamming")
    with pytest.raises(ValueError, match="shape"):
        power_spectrum(jnp.zeros((4, 2, 2)))
