"""Attractor metrics: closed forms and the reference definitions (GTF-shPLRNN, dysts, scipy)."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.metrics import (
    lyapunov_exponent_error,
    noise_floor,
    power_spectrum_distance,
    state_space_divergence,
)


def _tone(k, n, phase=0.0):
    t = jnp.arange(n, dtype=jnp.float32)
    return jnp.sin(2 * math.pi * k * t / n + phase)


def test_dstsp_identical_is_zero_and_grows_with_shift(getkey):
    x = jax.random.normal(getkey(), (5000, 3))
    assert abs(float(state_space_divergence(x, x))) < 1e-6
    near = float(state_space_divergence(x, x + 0.05))
    far = float(state_space_divergence(x, x + 1.0))
    assert 0 < near < far


def test_dstsp_binned_closed_form():
    # 1-D, 2 bins: true 99 points in the left bin, 1 in the right; generated split evenly
    true = jnp.concatenate([jnp.zeros(99), jnp.ones(1)])[:, None]
    # the box is [0 - 0.1 sd, 1 + 0.1 sd]; the left half holds 0, the right half holds 1
    gen = jnp.concatenate([jnp.zeros(50), jnp.ones(50)])[:, None]
    eps = 1e-5
    # Laplace smoothing of the counts: (counts + eps) / (sum(counts) + eps * n_bins)
    p = (np.array([99, 1]) + eps) / (100 + 2 * eps)
    q = (np.array([50, 50]) + eps) / (100 + 2 * eps)
    expected = np.sum(p * np.log(p / q))
    got = state_space_divergence(true, gen, n_bins=2)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # no generated point in the box: NaN, as the reference
    assert np.isnan(float(state_space_divergence(true, gen + 10.0, n_bins=2)))


def _lorenz_rk4(y0, n, dt=0.01, substeps=4):
    """Lorenz-63 by classical RK4 in numpy (sigma 10, rho 28, beta 8/3), n points after y0."""

    def f(y):
        return np.array([10 * (y[1] - y[0]), y[0] * (28 - y[2]) - y[1], y[0] * y[1] - 8 / 3 * y[2]])

    h = dt / substeps
    y = np.asarray(y0, dtype=np.float64)
    out = np.empty((n, 3))
    for i in range(n):
        for _ in range(substeps):
            k1 = f(y)
            k2 = f(y + h / 2 * k1)
            k3 = f(y + h / 2 * k2)
            k4 = f(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out[i] = y
    return out


@functools.cache
def _lorenz_pair(n=3000):
    """Two independent stretches of the Lorenz attractor, standardised with the first's stats."""
    orbit = _lorenz_rk4([-8.0, 7.0, 27.0], 500 + 2 * n)[500:]
    a, b = orbit[:n], orbit[n:]
    mean, std = a.mean(0), a.std(0)
    return (a - mean) / std, (b - mean) / std


def _reference_binned_kl(true, gen, n_bins, box, alpha=1e-5):
    """D_stsp from the formula of stsp_measure.jl, with numpy's histogramdd."""
    sd = true.std(axis=0, ddof=1)
    if box == "gtf":
        lo, hi = true.min(0) - 0.1 * sd, true.max(0) + 0.1 * sd
    elif box == "legacy":
        lo, hi = -2 * sd, 2 * sd
    else:
        lo, hi = true.min(0), true.max(0)
    edges = [np.linspace(lo[d], hi[d], n_bins + 1) for d in range(true.shape[1])]
    hp, _ = np.histogramdd(true, bins=edges)
    hq, _ = np.histogramdd(gen, bins=edges)
    p = (hp.ravel() + alpha) / (hp.sum() + alpha * hp.size)
    q = (hq.ravel() + alpha) / (hq.sum() + alpha * hq.size)
    return np.sum(p * np.log(p / q))


@pytest.mark.parametrize("box", ["gtf", "legacy", "minmax"])
def test_dstsp_binned_matches_reference_formula(x64, box):
    rng = np.random.default_rng(3)
    a, b = _lorenz_pair()
    cases = [
        (a, b, 30),  # chaotic: two independent stretches of the attractor
        (a, 1.1 * b[:2000] + 0.2, 30),  # a distorted model orbit of another length
        (rng.standard_normal((4000, 2)), rng.standard_normal((3000, 2)) * 1.3, 30),
        (rng.standard_normal((2000, 1)), rng.uniform(-3, 3, (2000, 1)), 7),
    ]
    for true, gen, n_bins in cases:
        expected = _reference_binned_kl(true, gen, n_bins, box)
        got = state_space_divergence(jnp.asarray(true), jnp.asarray(gen), n_bins=n_bins, box=box)
        np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_dstsp_legacy_box_is_around_zero(x64):
    # the legacy box is [-2 sd, 2 sd] around zero, not around the mean: on raw Lorenz data (z
    # around 24, sd 8) it cuts off most of the attractor; after standardising it does not
    a, b = _lorenz_pair()
    shift = np.array([0, 0, 24.0])
    raw_a, raw_b = a * 8 + shift, b * 8 + shift
    raw = float(state_space_divergence(raw_a, raw_b, box="legacy"))
    np.testing.assert_allclose(raw, _reference_binned_kl(raw_a, raw_b, 30, "legacy"), rtol=1e-9)
    standardised = float(state_space_divergence(a, b, box="legacy"))
    assert abs(raw - standardised) > 0.1 * standardised, (raw, standardised)


def _reference_gtf_gmm(samples, centres_p, centres_q, variance):
    """stsp_measure.jl's GMM estimate for given samples, in float32 as the reference."""
    samples, centres_p, centres_q = (
        np.asarray(x, dtype=np.float32) for x in (samples, centres_p, centres_q)
    )
    sigma = np.float32(np.sqrt(variance))

    def density(centres):
        sq = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(-1) / sigma**2
        return (np.exp(np.float32(-0.5) * sq) / sigma ** centres.shape[1]).sum(1) / len(centres)

    p, q = density(centres_p), density(centres_q)
    keep = (p > 0) & (q > 0)
    return np.mean(np.log(p[keep]) - np.log(q[keep])), int((~keep).sum())


def test_dstsp_gmm_gtf_matches_reference_with_outlier_filter():
    from dynlearn.metrics._attractor import _gtf_gmm_kl_from_samples

    rng = np.random.default_rng(5)
    # the true orbit visits two regions, the generated one only the first (and a third): samples
    # near the second underflow to q = 0 in float32 and are dropped, as in the reference
    true = rng.standard_normal((400, 6)).astype(np.float32)
    true[200:, 5] -= 20
    gen = (rng.standard_normal((300, 6)) * 0.5).astype(np.float32)
    gen[150:, 0] += 20
    gen[:150] = true[:150] + 0.3
    samples = true[rng.integers(0, 400, 1000)] + rng.standard_normal((1000, 6)).astype(np.float32)
    for variance in (1.0, 0.25, 4.0):
        expected, dropped = _reference_gtf_gmm(samples, true, gen, variance)
        if variance == 1.0:
            assert dropped > 0  # the case exercises the filter
        got = _gtf_gmm_kl_from_samples(
            jnp.asarray(samples), jnp.asarray(true), jnp.asarray(gen), variance
        )
        np.testing.assert_allclose(got, expected, rtol=1e-4)


def _log_ratio_draws(true, gen, rng, n=4000):
    """Exact-formula log(p/q) of the two unit-variance mixtures at n draws from p (float64)."""
    true, gen = np.asarray(true, np.float64), np.asarray(gen, np.float64)
    samples = true[rng.integers(0, len(true), n)] + rng.standard_normal((n, true.shape[1]))
    logs = []
    for c in (true, gen):
        sq = ((samples[:, None, :] - c[None]) ** 2).sum(-1)
        logs.append(np.log(np.exp(-0.5 * sq).mean(1)))
    return logs[0] - logs[1]


def test_dstsp_gmm_uses_first_max_points_and_is_unbiased(getkey):
    rng = np.random.default_rng(9)
    true = jnp.asarray(rng.standard_normal((300, 6)), dtype=jnp.float32)
    gen = jnp.asarray(rng.standard_normal((300, 6)) * 1.2 + 0.3, dtype=jnp.float32)
    # max_points: only the first points of each orbit are centres
    key = getkey()
    np.testing.assert_allclose(
        state_space_divergence(true, gen, method="gmm", max_points=100, key=key),
        state_space_divergence(true[:100], gen[:100], method="gmm", key=key),
        rtol=1e-6,
    )
    # the Monte Carlo mean against the exact-formula log ratio over many independent draws
    log_ratio = _log_ratio_draws(true, gen, rng)
    n = 4000
    got = state_space_divergence(true, gen, method="gmm", n_samples=n, key=getkey())
    tol = 5 * log_ratio.std() * np.sqrt(2 / n)
    assert abs(float(got) - log_ratio.mean()) < tol, (float(got), log_ratio.mean(), tol)


def test_dstsp_gmm_dysts_matches_dysts_estimate(getkey):
    import dysts.metrics

    rng = np.random.default_rng(11)
    a, b = _lorenz_pair(800)
    cases = [
        (rng.standard_normal((250, 6)), rng.standard_normal((200, 6)) * 1.3 + 0.2),
        # chaotic: 6-D delay coordinates of two Lorenz stretches
        (np.concatenate([a[:300], a[5:305]], 1), np.concatenate([b[:300], b[5:305]], 1)),
    ]
    n = 2000
    for true, gen in cases:
        np.random.seed(0)
        theirs = dysts.metrics.estimate_kl_divergence(true, gen, n_samples=n, sigma_scale=1.0)
        ours = state_space_divergence(
            jnp.asarray(true),
            jnp.asarray(gen),
            method="gmm",
            gmm="dysts",
            n_samples=n,
            key=getkey(),
        )
        # both are Monte Carlo means of the same log ratio: compare within their standard errors
        spread = _log_ratio_draws(true, gen, rng).std()
        tol = 5 * spread * np.sqrt(2 / n)
        assert abs(float(ours) - theirs) < tol, (float(ours), theirs, tol)


def test_dstsp_gmm_identical_zero_and_closed_form(getkey):
    x = jax.random.normal(getkey(), (300, 6))
    assert abs(float(state_space_divergence(x, x))) < 1e-6
    # a single point against a single point shifted by d: KL of two unit Gaussians = |d|²/2
    a = jnp.zeros((1, 6))
    b = jnp.full((1, 6), 0.5)
    for gmm in ("gtf", "dysts"):
        got = state_space_divergence(a, b, method="gmm", gmm=gmm, n_samples=20000)
        np.testing.assert_allclose(got, 6 * 0.25 / 2, rtol=3e-2)


def test_power_spectrum_identical_is_zero():
    x = jnp.stack([_tone(30, 1024), _tone(7, 1024) + 0.1 * _tone(90, 1024)], axis=1)
    assert float(power_spectrum_distance(x, x)) < 1e-6
    # z-scoring makes the distance blind to offset and scale
    assert float(power_spectrum_distance(x, 3 * x + 5)) < 1e-5


def test_power_spectrum_known_shift():
    n, sigma = 4096, 20.0
    for delta in (10, 30, 60):
        true = _tone(500, n)[:, None]
        gen = _tone(500 + delta, n, phase=0.3)[:, None]
        expected = math.sqrt(1 - math.exp(-(delta**2) / (8 * sigma**2)))
        got = float(power_spectrum_distance(true, gen, smoothing=sigma, truncate=8))
        assert abs(got - expected) < 1e-3, (delta, got, expected)
    # without smoothing, disjoint tones are at the maximal distance 1
    got = power_spectrum_distance(_tone(100, n)[:, None], _tone(200, n)[:, None], smoothing=0)
    np.testing.assert_allclose(got, 1.0, atol=1e-5)


def _reference_dh(true, gen, sigma=20.0):
    """D_H from the published recipe with scipy: z-score, |rfft|², gaussian_filter1d, normalise."""
    from scipy.ndimage import gaussian_filter1d

    out = []
    for d in range(true.shape[1]):
        spectra = []
        for x in (true[:, d], gen[:, d]):
            z = (x - x.mean()) / x.std()
            ps = np.abs(np.fft.rfft(z)) ** 2 * 2 / len(z)
            if sigma > 0:
                ps = gaussian_filter1d(ps, sigma)  # default mode="reflect", truncate=4
            spectra.append(ps / ps.sum())
        p, q = spectra
        out.append(np.sqrt(1 - np.sum(np.sqrt(p * q))))
    return np.mean(out)


def test_power_spectrum_matches_scipy_reference(x64):
    rng = np.random.default_rng(21)
    a, b = _lorenz_pair()
    cases = [
        (a, b),  # chaotic: two independent stretches
        (a[:1001], 0.9 * b[:1001] + 0.1 * rng.standard_normal((1001, 3))),  # odd length
        (rng.standard_normal((512, 2)).cumsum(0), rng.standard_normal((512, 2)).cumsum(0)),
        # short series: the kernel radius (80 bins) exceeds the spectrum, reflected repeatedly
        (rng.standard_normal((60, 2)), np.sin(np.arange(60.0))[:, None] * np.ones((1, 2))),
    ]
    for (true, gen), sigma in zip(cases, (20.0, 3.5, 0.0, 20.0)):
        expected = _reference_dh(true, gen, sigma)
        got = power_spectrum_distance(jnp.asarray(true), jnp.asarray(gen), smoothing=sigma)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_power_spectrum_edges_use_reflect_boundary(x64):
    # a low-frequency tone sits near the spectrum's edge, where zero padding would lose mass
    n = 2048
    t = np.arange(n)
    true = np.sin(2 * np.pi * 3 * t / n)[:, None]
    gen = np.sin(2 * np.pi * 12 * t / n)[:, None]
    expected = _reference_dh(true, gen)
    np.testing.assert_allclose(
        power_spectrum_distance(jnp.asarray(true), jnp.asarray(gen)), expected, rtol=1e-9
    )


def test_noise_floor_is_true_against_true(x64):
    a, b = _lorenz_pair()
    np.testing.assert_allclose(
        noise_floor(state_space_divergence, a, b),
        _reference_binned_kl(a, b, 30, "gtf"),
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        noise_floor(power_spectrum_distance, a, b, smoothing=5.0),
        _reference_dh(a, b, 5.0),
        rtol=1e-9,
    )
    # the floor shrinks with length: more points per histogram cell and frequency bin
    a_long, b_long = _lorenz_pair(8000)
    assert float(noise_floor(state_space_divergence, a_long, b_long)) < float(
        noise_floor(state_space_divergence, a_long[:2000], b_long[:2000])
    )
    with pytest.raises(ValueError, match="same shape"):
        noise_floor(power_spectrum_distance, a, b[:100])


def test_lyapunov_exponent_error():
    np.testing.assert_allclose(lyapunov_exponent_error(0.906, 0.8154), 0.1, rtol=1e-4)
    np.testing.assert_allclose(
        lyapunov_exponent_error(
            jnp.array([0.0, 0.906, -14.57]), jnp.array([0.906, 0.0, -14.57]), n_exponents=3
        ),
        0.0,
        atol=1e-7,
    )
    with pytest.raises(ValueError, match="at least n_exponents"):
        lyapunov_exponent_error(jnp.array([1.0]), jnp.array([1.0]), n_exponents=2)


def test_attractor_bad_input():
    x = jnp.ones((100, 3))
    with pytest.raises(ValueError, match="same number of dimensions"):
        state_space_divergence(x, jnp.ones((100, 2)))
    with pytest.raises(ValueError, match="method"):
        state_space_divergence(x, x, method="kde")
    with pytest.raises(ValueError, match="box must be one of"):
        state_space_divergence(x, x, box="unit")
    with pytest.raises(ValueError, match="gmm must be one of"):
        state_space_divergence(x, x, method="gmm", gmm="sklearn")
    with pytest.raises(ValueError, match="same shape"):
        power_spectrum_distance(x, jnp.ones((50, 3)))
    with pytest.raises(ValueError, match="at least 4"):
        power_spectrum_distance(jnp.ones((3, 1)), jnp.ones((3, 1)))


def test_correlation_dimension_error(getkey):
    from dynlearn.metrics import correlation_dimension_error

    square = jax.random.uniform(getkey(), (1500, 2))
    t = jax.random.uniform(getkey(), (1500, 1))
    line = jnp.concatenate([t, 0.5 * t], axis=1)
    assert float(correlation_dimension_error(square, square)) == 0.0
    # a line (D2 = 1) against a filled square (D2 = 2): relative error about 1/2
    err = float(correlation_dimension_error(square, line))
    assert 0.35 < err < 0.65, err
