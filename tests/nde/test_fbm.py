"""MA-fBM: covariance against Riemann–Liouville fBM by quadrature, optimality of the weights."""

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import quad
from scipy.special import gamma as gamma_fn

from dynlearn.nde import (
    MarkovFBM,
    ma_fbm_error,
    ma_fbm_gammas,
    ma_fbm_weights,
    ou_covariance,
    riemann_liouville_covariance,
    riemann_liouville_variance,
)


def rl_cov(h, s, t):
    m = min(s, t)
    val = quad(lambda u: (s - u) ** (h - 0.5) * (t - u) ** (h - 0.5), 0, m, limit=200)[0]
    return val / gamma_fn(h + 0.5) ** 2


def test_covariance_matches_exact_within_approximation_error(x64):
    pairs = [(0.05, 0.05), (0.2, 0.2), (0.3, 0.7), (0.5, 1.0), (1.0, 1.0)]
    ss, tt = (jnp.array(v) for v in zip(*pairs))

    @jax.jit
    def approx(h, g):  # MA-fBM covariances at the pairs and the closed-form error, compiled once
        w = ma_fbm_weights(h, g)
        return jax.vmap(lambda s, t: w @ ou_covariance(g, s, t) @ w)(ss, tt), ma_fbm_error(h, g)

    for h, tol_small, tol_large in [(0.7, 2e-3, 1e-4), (0.3, 0.05, 0.02)]:
        errs = {}
        for k, r in [(5, 10.0), (20, 2.0)]:
            covs, error = approx(jnp.array(h), ma_fbm_gammas(k, r))
            errs[k] = max(abs(float(c) - rl_cov(h, s, t)) for c, (s, t) in zip(covs, pairs))
            # the closed-form error bounds the typical pointwise variance error
            assert float(error) < (tol_small if k == 5 else tol_large) * 5
        assert errs[5] < tol_small and errs[20] < 2 * tol_large + errs[5] / 2
        assert errs[20] < errs[5]
    np.testing.assert_allclose(
        riemann_liouville_variance(0.7, 0.6), rl_cov(0.7, 0.6, 0.6), rtol=1e-8
    )


def test_closed_form_error_and_optimal_weights(x64):
    h, g = 0.35, ma_fbm_gammas(4, 6.0)
    w = ma_fbm_weights(h, g)
    gn, wn = np.asarray(g), np.asarray(w)
    gsum = gn[:, None] + gn[None, :]

    def pointwise(t):  # plain numpy and scipy: E[(B_H(t) - sum_k w_k Y_k(t))^2]
        kern = lambda u: u ** (h - 0.5) / gamma_fn(h + 0.5)  # noqa: E731
        cross = np.array([quad(lambda u, gk=gk: kern(u) * np.exp(-gk * u), 0, t)[0] for gk in gn])
        variance = t ** (2 * h) / (2 * h) / gamma_fn(h + 0.5) ** 2
        return variance - 2 * cross @ wn + wn @ ((1 - np.exp(-gsum * t)) / gsum) @ wn

    by_quadrature = quad(lambda t: float(pointwise(t)), 0, 1, limit=50)[0]
    np.testing.assert_allclose(ma_fbm_error(h, g), by_quadrature, rtol=1e-5)
    # optimality: the error grows in every perturbed direction
    for seed in range(3):
        d = 1e-2 * jax.random.normal(jax.random.key(seed), w.shape, w.dtype)
        assert float(ma_fbm_error(h, g, weights=w + d)) > float(ma_fbm_error(h, g))


def test_augmented_sde_reproduces_noise_and_hurst_gradient(x64):
    fbm = MarkovFBM(0.7, n_processes=4, ratio=8.0)
    drift, diffusion = fbm.augment(
        lambda t, x, a: jnp.zeros_like(x), lambda t, x, a: jnp.ones_like(x)
    )
    k = 4
    bm = dfx.VirtualBrownianTree(0.0, 1.0, tol=1e-4, shape=(1,), key=jax.random.key(1))
    terms = dfx.MultiTerm(dfx.ODETerm(drift), dfx.ControlTerm(diffusion, bm))
    sol = dfx.diffeqsolve(terms, dfx.Euler(), 0.0, 1.0, 1e-2, jnp.zeros(1 + k))
    z = sol.ys[-1]

    # H reaches the augmented vector fields (the weights travel as pytree leaves): the drift's
    # derivative in H is -sum_k (dw_k/dH) gamma_k y_k for unit diffusion
    def first_drift(m):
        return m.augment(lambda t, x, a: jnp.zeros_like(x), lambda t, x, a: jnp.ones_like(x))[0](
            0.0, z, None
        )[0]

    @jax.jit
    def derivatives(m):  # one compiled call (eager dispatch of these small ops is slow)
        return (
            m.weights(),
            jax.grad(lambda mm: jnp.sum(mm.weights()))(m).hurst_logit,
            jax.jacfwd(lambda mm: mm.weights())(m).hurst_logit,
            jax.grad(first_drift)(m).hurst_logit,
        )

    w, grad_sum, dw, grad_drift = derivatives(fbm)
    np.testing.assert_allclose(z[0], w @ z[1:], rtol=1e-9, atol=1e-12)
    assert bool(jnp.isfinite(grad_sum)) and float(jnp.abs(grad_sum)) > 0
    np.testing.assert_allclose(grad_drift, -dw @ (fbm.gammas * z[1:]), rtol=1e-9)


def test_sampler_covariance(x64):
    fbm = MarkovFBM(0.3, n_processes=5)
    ts = jnp.array([0.25, 0.5, 1.0])
    samples = jax.vmap(lambda k: fbm.sample(ts, key=k))(jax.random.split(jax.random.key(0), 8000))
    emp = np.cov(np.asarray(samples).T)
    w = fbm.weights()
    exact = np.array([[w @ ou_covariance(fbm.gammas, s, t) @ w for t in ts] for s in ts])
    np.testing.assert_allclose(emp, exact, rtol=0.08, atol=0.01)


def test_riemann_liouville_covariance_against_closed_forms(x64):
    """Off the diagonal against the hypergeometric closed form
    `s^(a+1) t^a / (a+1) 2F1(-a, 1; a+2; s/t) / Γ(H+1/2)^2` (s < t, a = H - 1/2); on it against
    `riemann_liouville_variance`; at H = 1/2 Brownian motion's `min(s, t)`."""
    import pytest
    from scipy.special import hyp2f1

    ts = np.array([0.1, 0.35, 0.6, 1.0])
    np.testing.assert_allclose(
        riemann_liouville_covariance(0.5, ts), np.minimum.outer(ts, ts), rtol=1e-10
    )
    for h in (0.2, 0.7, 0.9):
        cov = riemann_liouville_covariance(h, ts)
        a = h - 0.5
        np.testing.assert_allclose(cov, cov.T)
        np.testing.assert_allclose(
            np.diag(cov), [float(riemann_liouville_variance(h, t)) for t in ts], rtol=1e-7
        )
        for i, j in [(0, 1), (0, 3), (1, 2), (1, 3)]:
            s, t = ts[i], ts[j]
            want = (
                s ** (a + 1) * t**a / (a + 1) * hyp2f1(-a, 1, a + 2, s / t) / gamma_fn(h + 0.5) ** 2
            )
            np.testing.assert_allclose(cov[i, j], want, rtol=1e-8)
    with pytest.raises(ValueError, match="hurst must lie in"):
        riemann_liouville_covariance(1.2, ts)
    with pytest.raises(ValueError, match="positive times"):
        riemann_liouville_covariance(0.3, np.array([0.0, 1.0]))
