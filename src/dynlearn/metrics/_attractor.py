"""Attractor (long-term, invariant) metrics: D_stsp, D_H and invariant-error helpers.

Follows Hess et al., "Generalized Teacher Forcing for Learning Chaotic Dynamics" (ICML 2023) and
its predecessors (Koppe et al. 2019, Mikhaeil et al. 2022): the state-space divergence D_stsp is a
Kullback–Leibler divergence between occupation measures of true and generated orbits, binned for
low dimension and estimated with Gaussian mixtures otherwise; the power-spectrum distance D_H is the
Hellinger distance between smoothed, normalised power spectra, averaged over dimensions.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float, Key
from ._util import as_float, as_series_pair


def _binned_kl(true, gen, n_bins: int, smoothing: float):
    dim = true.shape[1]
    lo = jnp.min(true, axis=0)
    hi = jnp.max(true, axis=0)
    sd = jnp.std(true, axis=0)
    lo = lo - 0.1 * sd
    hi = hi + 0.1 * sd
    width = jnp.where(hi > lo, hi - lo, 1)
    n_cells = n_bins**dim
    strides = jnp.asarray([n_bins ** (dim - 1 - i) for i in range(dim)], dtype=jnp.int32)

    def occupation(x):
        idx = jnp.floor((x - lo[None, :]) / width[None, :] * n_bins).astype(jnp.int32)
        inside = jnp.all((idx >= 0) & (idx < n_bins), axis=1)
        flat = jnp.sum(jnp.clip(idx, 0, n_bins - 1) * strides[None, :], axis=1)
        counts = jnp.zeros(n_cells, x.dtype).at[flat].add(inside.astype(x.dtype))
        freq = counts / jnp.maximum(jnp.sum(counts), 1)
        return (freq + smoothing) / (1 + smoothing * n_cells)

    p = occupation(true)
    q = occupation(gen)
    return jnp.sum(p * (jnp.log(p) - jnp.log(q)))


def _subsample(x, max_points: int):
    if x.shape[0] <= max_points:
        return x
    idx = jnp.linspace(0, x.shape[0] - 1, max_points).round().astype(jnp.int32)
    return x[idx]


def _gmm_log_density(points, centers, variance):
    sq = jnp.sum((points[:, None, :] - centers[None, :, :]) ** 2, axis=-1)
    dim = points.shape[1]
    norm = math.log(centers.shape[0]) + 0.5 * dim * math.log(2 * math.pi * variance)
    return jax.scipy.special.logsumexp(-sq / (2 * variance), axis=1) - norm


def _gmm_kl(true, gen, n_samples: int, max_points: int, variance: float, key):
    centers_p = _subsample(true, max_points)
    centers_q = _subsample(gen, max_points)
    k_pick, k_noise = jax.random.split(key)
    pick = jax.random.randint(k_pick, (n_samples,), 0, centers_p.shape[0])
    noise = jax.random.normal(k_noise, (n_samples, true.shape[1]), true.dtype)
    samples = centers_p[pick] + math.sqrt(variance) * noise
    log_p = _gmm_log_density(samples, centers_p, variance)
    log_q = _gmm_log_density(samples, centers_q, variance)
    return jnp.mean(log_p - log_q)


def state_space_divergence(
    true: Float[ArrayLike, "..."],
    generated: Float[ArrayLike, "..."],
    *,
    method: str = "auto",
    n_bins: int = 30,
    smoothing: float = 1e-5,
    n_samples: int = 1000,
    max_points: int = 1000,
    variance: float = 1.0,
    key: Key | None = None,
) -> Float[Array, ""]:
    """State-space divergence D_stsp = KL(p_true || p_generated) of the orbits' occupation.

    - `"bins"` (the default for dimension < 6): each dimension is cut into `n_bins` bins over
      `[min - 0.1 sd, max + 0.1 sd]` of the true data; points of either series outside that box
      are dropped; relative frequencies get Laplace smoothing `p = (f + smoothing) /
      (1 + smoothing * n_bins**dim)`; the KL divergence of the two histograms is returned.
    - `"gmm"` (the default for dimension >= 6): each series defines a mixture of isotropic
      Gaussians with variance `variance` centred on (at most `max_points`, evenly strided) points;
      `KL` is estimated by Monte Carlo with `n_samples` draws from the true mixture.

    Standardise both series with the true data's statistics first if their scales differ a lot
    from one (the GMM variance is absolute).

    **Arguments:**

    - `true`: reference orbit `(time, dim)`.
    - `generated`: model orbit `(time2, dim)` (lengths may differ).
    - `method`: `"auto"`, `"bins"` or `"gmm"`.
    - `n_bins`, `smoothing`: histogram settings.
    - `n_samples`, `max_points`, `variance`: GMM settings.
    - `key`: PRNG key for the GMM Monte Carlo estimate (default `jax.random.key(0)`).

    **Returns:** a scalar, 0 for identical orbits (it can be slightly negative for the GMM
    estimate).

    **Raises:** `ValueError` for mismatched dimensions, too few points, an unknown `method`,
    or `"bins"` with `n_bins**dim` above 10⁸ cells.
    """
    true, gen = as_series_pair(true, generated, "state_space_divergence", min_length=1)
    dim = true.shape[1]
    if method == "auto":
        method = "bins" if dim < 6 else "gmm"
    if method not in ("bins", "gmm"):
        raise ValueError(
            f"state_space_divergence: method must be 'auto', 'bins' or 'gmm', got {method!r}"
        )
    if method == "bins":
        if true.shape[0] < 2:
            raise ValueError(
                f"state_space_divergence: the binned estimate needs at least 2 true points, got "
                f"{true.shape[0]}"
            )
        if n_bins < 1:
            raise ValueError(f"state_space_divergence: n_bins must be >= 1, got {n_bins}")
        if n_bins**dim > 10**8:
            raise ValueError(
                f"state_space_divergence: {n_bins}**{dim} histogram cells is too many; use "
                "method='gmm' or fewer bins"
            )
        return _binned_kl(true, gen, n_bins, smoothing)
    if key is None:
        key = jax.random.key(0)
    return _gmm_kl(true, gen, n_samples, max_points, variance, key)


def _gaussian_kernel(sigma: float, truncate: float, dtype):
    half = max(int(truncate * sigma + 0.5), 1)
    x = jnp.arange(-half, half + 1, dtype=dtype)
    k = jnp.exp(-0.5 * (x / sigma) ** 2)
    return k / jnp.sum(k)


def _smoothed_spectra(x, sigma: float, truncate: float):
    mean = jnp.mean(x, axis=0)
    sd = jnp.std(x, axis=0)
    z = (x - mean[None, :]) / jnp.where(sd > 0, sd, 1)[None, :]
    power = jnp.abs(jnp.fft.rfft(z, axis=0)) ** 2
    if sigma > 0:
        kernel = _gaussian_kernel(sigma, truncate, power.dtype)
        power = jax.vmap(lambda p: jnp.convolve(p, kernel, mode="same"), in_axes=1, out_axes=1)(
            power
        )
    total = jnp.sum(power, axis=0)
    return power / jnp.where(total > 0, total, 1)[None, :]


def power_spectrum_distance(
    true: Float[ArrayLike, "..."],
    generated: Float[ArrayLike, "..."],
    *,
    smoothing: float | int = 20.0,
    truncate: float | int = 4.0,
    per_dimension: bool = False,
) -> Float[Array, "..."]:
    """Power-spectrum distance D_H: Hellinger distance of smoothed, normalised power spectra.

    Each dimension of each series is z-scored, its power spectrum `|rfft|²` is smoothed with a
    Gaussian kernel of standard deviation `smoothing` frequency bins (truncated at `truncate`
    standard deviations) and normalised to sum one; then
    `H(p, q) = ||√p - √q||₂ / √2`, which lies in `[0, 1]`. Two pure tones `Δ` bins apart (far
    from the edges) give `H = sqrt(1 - exp(-Δ² / (8 smoothing²)))`.

    **Arguments:**

    - `true`, `generated`: series of equal shape `(time, dim)` at the same sampling step.
    - `smoothing`: Gaussian smoothing in frequency bins (0 disables it).
    - `truncate`: kernel half-width in standard deviations.
    - `per_dimension`: return one distance per dimension instead of their mean.

    **Returns:** a scalar (mean over dimensions), or `(dim,)` with `per_dimension`.

    **Raises:** `ValueError` for shapes that differ or series shorter than 4 points.
    """
    true, gen = as_series_pair(true, generated, "power_spectrum_distance", min_length=4)
    if true.shape != gen.shape:
        raise ValueError(
            f"power_spectrum_distance: true and generated must have the same shape (same length "
            f"gives the same frequency bins), got {tuple(true.shape)} and {tuple(gen.shape)}"
        )
    if smoothing < 0:
        raise ValueError(f"power_spectrum_distance: smoothing must be >= 0, got {smoothing}")
    p = _smoothed_spectra(true, float(smoothing), float(truncate))
    q = _smoothed_spectra(gen, float(smoothing), float(truncate))
    dist = jnp.sqrt(jnp.sum((jnp.sqrt(p) - jnp.sqrt(q)) ** 2, axis=0) / 2)
    return dist if per_dimension else jnp.mean(dist)


def lyapunov_exponent_error(
    true_exponents: Float[ArrayLike, "..."] | float,
    estimated_exponents: Float[ArrayLike, "..."] | float,
    *,
    n: int = 1,
) -> Float[Array, ""]:
    """Relative error of the leading Lyapunov exponents.

    `||λ̂[:n] - λ[:n]|| / ||λ[:n]||` with both spectra sorted in decreasing order; with `n=1` this
    is `|λ̂_max - λ_max| / |λ_max|`.

    **Arguments:**

    - `true_exponents`: reference spectrum (a scalar for the largest exponent only).
    - `estimated_exponents`: spectrum of the model (e.g. from `dynlearn.analysis`).
    - `n`: how many leading exponents to compare.

    **Returns:** a scalar relative error.

    **Raises:** `ValueError` if either spectrum has fewer than `n` exponents.
    """
    lam = jnp.sort(jnp.ravel(as_float(true_exponents)))[::-1]
    est = jnp.sort(jnp.ravel(as_float(estimated_exponents)))[::-1]
    if n < 1 or lam.shape[0] < n or est.shape[0] < n:
        raise ValueError(
            f"lyapunov_exponent_error: need n >= 1 and at least n exponents, got n={n}, "
            f"{lam.shape[0]} true and {est.shape[0]} estimated"
        )
    est = est.astype(lam.dtype)
    return jnp.linalg.norm(est[:n] - lam[:n]) / jnp.linalg.norm(lam[:n])


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
    true, gen = as_series_pair(true, generated, "correlation_dimension_error", min_length=10)
    from ..analysis import correlation_dimension

    d_true = jnp.asarray(correlation_dimension(true, **kwargs))
    d_gen = jnp.asarray(correlation_dimension(gen, **kwargs)).astype(d_true.dtype)
    return jnp.abs(d_gen - d_true) / jnp.abs(d_true)
