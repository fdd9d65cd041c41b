"""Attractor (long-term, invariant) metrics: D_stsp, D_H, their noise floor, invariant errors.

D_stsp and D_H follow Hess et al., "Generalized Teacher Forcing for Learning Chaotic Dynamics"
(ICML 2023) as the paper's own code computes them: github.com/DurstewitzLab/GTF-shPLRNN at
commit 63ac00d84f237d5ecf2f85d8447a198261aff0c0, `src/measures/stsp_measure.jl` (D_stsp, binned
and Gaussian-mixture estimates) and `src/measures/pse.jl` (D_H), with the settings of its
`settings/defaults.json` (30 bins, sigma² = 1, smoothing 20). The other box schemes and dysts'
mixture estimate are named options. Both estimators are biased upwards at finite length: report
`noise_floor` (true orbit against an independent true orbit of the same length) beside them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float, Key
from .._validation import (
    check_callable,
    check_finite,
    check_int,
    check_option,
    check_positive,
    refuse_if,
)
from ._util import as_float, as_series_pair

_BOXES = ("gtf", "legacy", "minmax")
_GMM_REFERENCES = ("gtf", "dysts")


def _box(true, box: str):
    """Lower and upper corner of the histogram box, per dimension."""
    # the reference uses Julia's `std`, the corrected (n - 1) estimate
    sd = jnp.std(true, axis=0, ddof=1)
    if box == "gtf":
        return jnp.min(true, axis=0) - 0.1 * sd, jnp.max(true, axis=0) + 0.1 * sd
    if box == "legacy":
        # [-2 sd, 2 sd] around zero, not around the mean: the scheme assumes standardised data
        return -2 * sd, 2 * sd
    return jnp.min(true, axis=0), jnp.max(true, axis=0)


def _histogram(x, lo, hi, n_bins: int, close_right: bool):
    """Counts of the points of `x` in the `n_bins**dim` cells of the box; points outside dropped."""
    dim = x.shape[1]
    width = jnp.where(hi > lo, hi - lo, 1)
    idx = jnp.floor((x - lo[None, :]) / width[None, :] * n_bins).astype(jnp.int32)
    if close_right:
        # the [min, max] box keeps the maximum in the last bin
        idx = jnp.where(x == hi[None, :], n_bins - 1, idx)
    inside = jnp.all((idx >= 0) & (idx < n_bins), axis=1)
    strides = jnp.asarray([n_bins ** (dim - 1 - i) for i in range(dim)], dtype=jnp.int32)
    flat = jnp.sum(jnp.clip(idx, 0, n_bins - 1) * strides[None, :], axis=1)
    return jnp.zeros(n_bins**dim, x.dtype).at[flat].add(inside.astype(x.dtype))


@functools.partial(jax.jit, static_argnames=("n_bins", "box"))
def _binned_kl(true, gen, n_bins: int, smoothing, box: str):
    lo, hi = _box(true, box)
    close_right = box == "minmax"
    counts_p = _histogram(true, lo, hi, n_bins, close_right)
    counts_q = _histogram(gen, lo, hi, n_bins, close_right)
    n_cells = n_bins ** true.shape[1]
    # Laplace smoothing of the counts, as the reference's `laplace_smoothing`
    p = (counts_p + smoothing) / (jnp.sum(counts_p) + smoothing * n_cells)
    q = (counts_q + smoothing) / (jnp.sum(counts_q) + smoothing * n_cells)
    kl = jnp.sum(jnp.where(p > 0, p * (jnp.log(p) - jnp.log(q)), 0))
    # the reference returns NaN when no generated point falls into the box
    return jnp.where(jnp.sum(counts_q) > 0, kl, jnp.nan)


def _chunked_rows(fn, samples, chunk: int = 64):
    """`fn` applied to blocks of rows of `samples` (bounds the (samples, centres, dim) memory)."""
    n = samples.shape[0]
    pad = (-n) % chunk
    padded = jnp.concatenate([samples, jnp.zeros((pad, samples.shape[1]), samples.dtype)])
    out = jax.lax.map(fn, padded.reshape(-1, chunk, samples.shape[1]))
    return out.reshape(-1)[:n]


# float32 rounds a positive number at or below 2**-150 to 0: where the reference's Float32
# mixture density is exactly 0 (about 14.4 sigma from every centre for sigma = 1)
_FLOAT32_ZERO_LOG = -150 * math.log(2)


def _gtf_log_density(samples, centres, sigma: float):
    """log of the reference's `gmm_likelihood_diagonal_Σ`: mean_c exp(-|s - c|²/(2σ²)) / σ^N."""
    dim = centres.shape[1]

    def block(s):
        sq = jnp.sum((s[:, None, :] - centres[None, :, :]) ** 2, axis=-1) / sigma**2
        return jax.scipy.special.logsumexp(-0.5 * sq, axis=1)

    return _chunked_rows(block, samples) - dim * math.log(sigma) - math.log(centres.shape[0])


def _gtf_gmm_kl_from_samples(samples, centres_p, centres_q, variance: float):
    """Monte Carlo KL of the reference: samples with a zero density under p or q are dropped.

    Computed in log space; a density counts as zero where the reference's Float32 arithmetic
    gives 0 (below 2**-150), whatever the input dtype (XLA on CPU would flush float32
    subnormals to zero earlier than Julia does).
    """
    sigma = math.sqrt(variance)
    log_p = _gtf_log_density(samples, centres_p, sigma)
    log_q = _gtf_log_density(samples, centres_q, sigma)
    keep = (log_p > _FLOAT32_ZERO_LOG) & (log_q > _FLOAT32_ZERO_LOG)
    log_ratio = jnp.where(keep, log_p - log_q, 0)
    # no sample kept gives NaN, as the reference's mean of an empty vector
    return jnp.sum(log_ratio) / jnp.sum(keep.astype(log_ratio.dtype))


def _mixture_log_density(samples, centres, variance: float):
    """log of the equal-weight isotropic mixture density, without the (2π variance)^(N/2) factor."""

    def block(s):
        sq = jnp.sum((s[:, None, :] - centres[None, :, :]) ** 2, axis=-1)
        return jax.scipy.special.logsumexp(-sq / (2 * variance), axis=1)

    return _chunked_rows(block, samples) - math.log(centres.shape[0])


def _draw_from_mixture(centres, n_samples: int, variance: float, key):
    k_pick, k_noise = jax.random.split(key)
    pick = jax.random.randint(k_pick, (n_samples,), 0, centres.shape[0])
    noise = jax.random.normal(k_noise, (n_samples, centres.shape[1]), centres.dtype)
    return centres[pick] + math.sqrt(variance) * noise


@functools.partial(jax.jit, static_argnames=("reference", "n_samples", "max_points", "variance"))
def _gmm_kl(true, gen, reference: str, n_samples: int, max_points: int, variance: float, key):
    if reference == "gtf":
        centres_p, centres_q = true[:max_points], gen[:max_points]
        samples = _draw_from_mixture(centres_p, n_samples, variance, key)
        return _gtf_gmm_kl_from_samples(samples, centres_p, centres_q, variance)
    samples = _draw_from_mixture(true, n_samples, variance, key)
    log_p = _mixture_log_density(samples, true, variance)
    log_q = _mixture_log_density(samples, gen, variance)
    return jnp.mean(log_p - log_q)


def state_space_divergence(
    true: Float[ArrayLike, "..."],
    generated: Float[ArrayLike, "..."],
    *,
    method: str = "auto",
    n_bins: int = 30,
    box: str = "gtf",
    smoothing: float = 1e-5,
    gmm: str = "gtf",
    n_samples: int = 1000,
    max_points: int = 10_000,
    variance: float = 1.0,
    key: Key | None = None,
) -> Float[Array, ""]:
    """State-space divergence D_stsp = KL(p_true || p_generated) of the orbits' occupation.

    Follows Hess et al., "Generalized Teacher Forcing for Learning Chaotic Dynamics" (ICML 2023),
    as its code computes it: github.com/DurstewitzLab/GTF-shPLRNN, commit
    63ac00d84f237d5ecf2f85d8447a198261aff0c0, `src/measures/stsp_measure.jl` (binned for
    dimension < 6, Gaussian mixtures otherwise, as its `decide_on_measure`).

    - `"bins"`: each dimension of the box (below) is cut into `n_bins` equal bins; points of
      either orbit outside the box are not counted; `smoothing` (α) is added to the bin counts,
      `p = (counts + α) / (sum(counts) + α n_bins^dim)`; the result is `Σ p log(p / q)`. NaN if
      no generated point falls into the box (as the reference). Boxes, from the true orbit's
      per-dimension min, max and standard deviation `sd` (n - 1 normalised, as Julia's `std`):
      `box="gtf"` `[min - 0.1 sd, max + 0.1 sd]` (the reference's default scheme);
      `box="legacy"` `[-2 sd, 2 sd]` around zero (the reference's "legacy" scheme after Brenner
      et al., ICML 2022; meant for standardised data); `box="minmax"` `[min, max]` (the maximum
      counted in the last bin).
    - `"gmm"`: each orbit defines an equal-weight mixture of isotropic Gaussians of variance
      `variance` (σ²) centred on its points; KL is estimated by Monte Carlo with `n_samples`
      draws from the true mixture. `gmm="gtf"` (the reference): the first `max_points` points of
      each orbit are the centres, and samples where either density is 0 in the reference's
      Float32 arithmetic (below 2⁻¹⁵⁰: about 14σ from every centre) are dropped. `gmm="dysts"`
      (`dysts.metrics.estimate_kl_divergence` with `sigma_scale=variance`): every point is a
      centre, nothing is dropped; computed in log space, so it stays finite where dysts' would
      divide by an underflowed density.

    Differences from the reference: the reference stores counts as `UInt16`, which wrap above
    65535 points in one bin (orbits of about 10⁵ points or more); counts here do not wrap.
    Monte Carlo draws use `key`, not Julia's global generator.

    **Arguments:**

    - `true`: reference orbit `(time, dim)`.
    - `generated`: model orbit `(time2, dim)` (lengths may differ).
    - `method`: `"auto"` (`"bins"` below dimension 6, `"gmm"` from 6 on), `"bins"` or `"gmm"`.
    - `n_bins`, `box`, `smoothing`: histogram settings (30, `"gtf"`, 1e-5 as the reference).
    - `gmm`: `"gtf"` or `"dysts"`, which mixture estimate.
    - `n_samples`, `max_points`, `variance`: mixture settings (1000, 10000, 1.0 as the
      reference; `max_points` applies to `gmm="gtf"` only). The variance is absolute:
      standardise both orbits with the true data's statistics first, as the reference's data is.
    - `key`: PRNG key for the Monte Carlo estimate (default `jax.random.key(0)`).

    **Returns:** a scalar, 0 for identical orbits (the mixture estimate can be slightly
    negative). Compare it with `noise_floor(state_space_divergence, true, other_true)`.

    **Raises:** `ValueError` for mismatched dimensions, too few points, NaN or inf in `true`, an
    unknown `method`, `box` or `gmm`, a non-positive count or `variance`, a negative
    `smoothing`, or `"bins"` with `n_bins**dim` above 10⁸ cells; `TypeError` for complex input
    or non-integer counts.
    """
    where = "state_space_divergence"
    true, gen = as_series_pair(true, generated, where, min_length=1, names=("true", "generated"))
    # the reference orbit defines the box and the mixture: a NaN there would silently empty
    # every bin (a diverged `generated` orbit is allowed: its points fall outside the box)
    check_finite(where, "true", true)
    dim = true.shape[1]
    check_option(where, "method", method, ("auto", "bins", "gmm"))
    if method == "auto":
        method = "bins" if dim < 6 else "gmm"
    if method == "bins":
        check_option(where, "box", box, _BOXES)
        if true.shape[0] < 2:
            raise ValueError(
                f"state_space_divergence: the binned estimate needs at least 2 true points, got "
                f"{true.shape[0]}"
            )
        n_bins = check_int(where, "n_bins", n_bins)
        check_positive(where, "smoothing", smoothing, allow_zero=True)
        if n_bins**dim > 10**8:
            raise ValueError(
                f"state_space_divergence: n_bins**dim = {n_bins}**{dim} histogram cells is too "
                "many; use method='gmm' or fewer bins"
            )
        return _binned_kl(true, gen, n_bins, smoothing, box)
    check_option(where, "gmm", gmm, _GMM_REFERENCES)
    check_positive(where, "variance", variance)
    n_samples = check_int(where, "n_samples", n_samples)
    max_points = check_int(where, "max_points", max_points)
    if key is None:
        key = jax.random.key(0)
    return _gmm_kl(true, gen, gmm, n_samples, max_points, float(variance), key)


def _reflect_indices(n: int, radius: int):
    """Indices of a length-`n` signal extended by `radius` on each side, reflected at the edges.

    scipy.ndimage's `mode="reflect"` (d c b a | a b c d | d c b a), repeated for any radius.
    """
    i = jnp.arange(-radius, n + radius) % (2 * n)
    return jnp.where(i < n, i, 2 * n - 1 - i)


def _gaussian_kernel(sigma: float, truncate: float, dtype):
    # scipy.ndimage.gaussian_filter1d's kernel: radius int(truncate * sigma + 0.5), normalised
    radius = int(truncate * sigma + 0.5)
    x = jnp.arange(-radius, radius + 1, dtype=dtype)
    k = jnp.exp(-0.5 * (x / sigma) ** 2)
    return k / jnp.sum(k), radius


def _smoothed_spectra(x, sigma: float, truncate: float):
    mean = jnp.mean(x, axis=0)
    sd = jnp.std(x, axis=0)
    z = (x - mean[None, :]) / jnp.where(sd > 0, sd, 1)[None, :]
    power = jnp.abs(jnp.fft.rfft(z, axis=0)) ** 2
    if sigma > 0:
        kernel, radius = _gaussian_kernel(sigma, truncate, power.dtype)
        extended = power[_reflect_indices(power.shape[0], radius)]
        power = jax.vmap(
            lambda p: jnp.convolve(p, kernel, mode="valid", precision="highest"),
            in_axes=1,
            out_axes=1,
        )(extended)
        # as the reference: no negative round-off after smoothing
        power = jnp.maximum(power, 0)
    total = jnp.sum(power, axis=0)
    return power / jnp.where(total > 0, total, 1)[None, :]


@functools.partial(jax.jit, static_argnames=("sigma", "truncate"))
def _hellinger_per_dimension(true, gen, sigma: float, truncate: float):
    p = _smoothed_spectra(true, sigma, truncate)
    q = _smoothed_spectra(gen, sigma, truncate)
    return jnp.sqrt(jnp.sum((jnp.sqrt(p) - jnp.sqrt(q)) ** 2, axis=0) / 2)


def power_spectrum_distance(
    true: Float[ArrayLike, "..."],
    generated: Float[ArrayLike, "..."],
    *,
    smoothing: float | int = 20.0,
    truncate: float | int = 4.0,
    per_dimension: bool = False,
) -> Float[Array, "..."]:
    """Power-spectrum distance D_H: Hellinger distance of smoothed, normalised power spectra.

    Follows the DSR papers' code (Mikhaeil et al., NeurIPS 2022; Hess et al., ICML 2023): the
    GTF-shPLRNN repository's `src/measures/pse.jl` (github.com/DurstewitzLab/GTF-shPLRNN, commit
    63ac00d84f237d5ecf2f85d8447a198261aff0c0), whose smoothing reproduces
    `scipy.ndimage.gaussian_filter1d` (used directly by the Python versions of that code). Per
    dimension of each series: z-score, power spectrum `|rfft|²` (constant factors such as `2/T`
    cancel in the normalisation), Gaussian smoothing along frequency with standard deviation
    `smoothing` bins, kernel radius `int(truncate * smoothing + 0.5)` and the `reflect` boundary
    (d c b a | a b c d | d c b a) of scipy, negative round-off set to 0, normalisation to sum
    one; then `H(p, q) = ||√p - √q||₂ / √2` in `[0, 1]`, averaged over dimensions.

    Two pure tones `Δ` bins apart (far from the edges) give
    `H = sqrt(1 - exp(-Δ² / (8 smoothing²)))`. dysts' `average_hellinger_distance` is a
    different quantity (unsmoothed, un-standardised, first 100 bins of the full FFT).

    **Arguments:**

    - `true`, `generated`: series of equal shape `(time, dim)` at the same sampling step.
    - `smoothing`: Gaussian smoothing in frequency bins (20 as the reference; 0 disables it).
    - `truncate`: kernel radius in standard deviations (4, scipy's default).
    - `per_dimension`: return one distance per dimension instead of their mean.

    **Returns:** a scalar (mean over dimensions), or `(dim,)` with `per_dimension`. Compare it
    with `noise_floor(power_spectrum_distance, true, other_true)`.

    **Raises:** `ValueError` for shapes that differ, series shorter than 4 points, a negative
    or NaN `smoothing` or a non-positive `truncate`; `TypeError` for complex input.
    """
    where = "power_spectrum_distance"
    true, gen = as_series_pair(true, generated, where, min_length=4, names=("true", "generated"))
    if true.shape != gen.shape:
        raise ValueError(
            f"power_spectrum_distance: true and generated must have the same shape (same length "
            f"gives the same frequency bins), got {tuple(true.shape)} and {tuple(gen.shape)}"
        )
    check_positive(where, "smoothing", smoothing, allow_zero=True)
    check_positive(where, "truncate", truncate)
    dist = _hellinger_per_dimension(true, gen, float(smoothing), float(truncate))
    return dist if per_dimension else jnp.mean(dist)


def noise_floor(
    metric: Callable[..., Array],
    true: Float[ArrayLike, "..."],
    independent_true: Float[ArrayLike, "..."],
    **kwargs,
) -> Float[Array, "..."]:
    """The value an attractor metric gives a perfect model: two independent true orbits.

    D_stsp and D_H are biased upwards at finite length (histogram cells and spectral bins are
    sampled sparsely), so a model's value only means something next to this floor at the same
    length and settings. `independent_true` is an orbit of the true system of the same length
    as `true`, from another initial condition on the attractor (or a later, non-overlapping
    stretch of one long orbit), sampled at the same step.

    ```python
    floor = noise_floor(state_space_divergence, test, other_test)
    d_stsp = state_space_divergence(test, generated)  # report both
    ```

    **Arguments:**

    - `metric`: an attractor metric `metric(true, generated, **kwargs)`, e.g.
      `state_space_divergence` or `power_spectrum_distance`.
    - `true`: the true orbit the model's orbit is compared with, `(time, dim)`.
    - `independent_true`: an independent true orbit of the same shape.
    - `**kwargs`: the settings used for the model's value (bins, box, smoothing, key, ...).

    **Returns:** `metric(true, independent_true, **kwargs)`.

    **Raises:** `ValueError` if the two orbits differ in shape (a floor at another length is a
    different floor).
    """
    check_callable("noise_floor", "metric", metric)
    a, b = as_series_pair(true, independent_true, "noise_floor", names=("true", "independent_true"))
    if a.shape != b.shape:
        raise ValueError(
            f"noise_floor: the independent true orbit must have the same shape as the true one "
            f"(the floor depends on the length), got true.shape={tuple(a.shape)} and "
            f"independent_true.shape={tuple(b.shape)}"
        )
    return metric(a, b, **kwargs)


def lyapunov_exponent_error(
    true_exponents: Float[ArrayLike, "..."] | float,
    estimated_exponents: Float[ArrayLike, "..."] | float,
    *,
    n_exponents: int = 1,
) -> Float[Array, ""]:
    """Relative error of the leading Lyapunov exponents.

    `||λ̂[:k] - λ[:k]|| / ||λ[:k]||` (`k = n_exponents`) with both spectra sorted in decreasing
    order; with `n_exponents=1` this is `|λ̂_max - λ_max| / |λ_max|`.

    **Arguments:**

    - `true_exponents`: reference spectrum (a scalar for the largest exponent only).
    - `estimated_exponents`: spectrum of the model (e.g. from `dynlearn.analysis`).
    - `n_exponents`: how many leading exponents to compare.

    **Returns:** a scalar relative error.

    **Raises:** `ValueError` if either spectrum has fewer than `n_exponents` exponents,
    `n_exponents < 1`, or the leading true exponents are all zero; `TypeError` for complex or
    non-numeric spectra.
    """
    where = "lyapunov_exponent_error"
    lam = jnp.sort(jnp.ravel(as_float(true_exponents, where, "true_exponents")))[::-1]
    est = jnp.sort(jnp.ravel(as_float(estimated_exponents, where, "estimated_exponents")))[::-1]
    n = check_int(where, "n_exponents", n_exponents)
    for name, arr in (("true_exponents", lam), ("estimated_exponents", est)):
        if arr.shape[0] < n:
            raise ValueError(
                f"{where}: {name} has {arr.shape[0]} exponent(s); need at least n_exponents={n}"
            )
    est = est.astype(lam.dtype)
    norm = jnp.linalg.norm(lam[:n])
    norm = refuse_if(
        norm,
        norm == 0,
        f"{where}: the leading {n} true_exponents are all 0, so the relative error is undefined",
    )
    return jnp.linalg.norm(est[:n] - lam[:n]) / norm


def correlation_dimension_error(
    true: Float[ArrayLike, "..."],
    generated: Float[ArrayLike, "..."],
    **kwargs,
) -> Float[Array, ""]:
    """Relative error of the correlation dimension (Grassberger–Procaccia) of two orbits.

    `|D2(generated) - D2(true)| / D2(true)`, with `D2` from
    `dynlearn.analysis.correlation_dimension`.

    **Arguments:**

    - `true`: reference orbit `(time, dim)`.
    - `generated`: model orbit `(time2, dim)`.
    - `**kwargs`: passed to `dynlearn.analysis.correlation_dimension`.

    **Returns:** a scalar relative error.

    **Raises:** `ValueError` for mismatched dimensions.
    """
    true, gen = as_series_pair(
        true, generated, "correlation_dimension_error", min_length=10, names=("true", "generated")
    )
    from ..analysis import correlation_dimension

    d_true = jnp.asarray(correlation_dimension(true, **kwargs))
    d_gen = jnp.asarray(correlation_dimension(gen, **kwargs)).astype(d_true.dtype)
    return jnp.abs(d_gen - d_true) / jnp.abs(d_true)
