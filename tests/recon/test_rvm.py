"""Relevance vector machine: scikit-learn's ARDRegression, brute-force evidence, sparse recovery."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.recon import RVM, fit_sindy


def _problem(seed, n=60, p=8, noise=0.05):
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[[1, 4]] = [1.5, -0.8]
    y = theta @ w + noise * rng.standard_normal(n)
    return theta, y, w


def _log_evidence(theta, y, alpha, beta):
    # log N(y | 0, C) with C = I/beta + Θ_S diag(1/alpha_S) Θ_Sᵀ, by a dense Cholesky
    cov = np.eye(len(y)) / beta + (theta / alpha[None, :]) @ theta.T
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, y)
    return -0.5 * (z @ z) - np.sum(np.log(np.diag(chol))) - 0.5 * len(y) * np.log(2 * np.pi)


def test_rvm_matches_sklearn_ard(x64):
    import sklearn.linear_model as sklearn  # a test dependency (pyproject [test])
    for seed in range(3):
        theta, y, _ = _problem(seed)
        ref = sklearn.ARDRegression(fit_intercept=False, max_iter=500, tol=1e-10).fit(theta, y)
        post = RVM(max_iter=500, tol=1e-10).posterior(jnp.asarray(theta), jnp.asarray(y))
        np.testing.assert_allclose(post.mean, ref.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(post.noise_precision, ref.alpha_, rtol=1e-8)
        kept = np.asarray(post.active)
        np.testing.assert_array_equal(kept, ref.lambda_ < 1e4)
        np.testing.assert_allclose(post.precisions[kept], ref.lambda_[kept], rtol=1e-7)
        assert int(post.iterations) == ref.n_iter_


def test_rvm_hyperparameters_maximise_brute_force_evidence(x64):
    # no hyperpriors: the fixed point must be a maximum of the plain evidence p(y | α, β); a
    # large pruning precision so that "pruned" means α -> ∞ rather than "above 1e4"
    theta, y, w_true = _problem(7, n=40, p=6, noise=0.1)
    rvm = RVM(1e12, max_iter=5000, tol=1e-13, precision_prior=(0.0, 0.0), noise_prior=(0.0, 0.0))
    post = rvm.posterior(jnp.asarray(theta), jnp.asarray(y))
    keep = np.asarray(post.active)
    alpha, beta = np.asarray(post.precisions)[keep], float(post.noise_precision)
    assert keep[1] and keep[4]
    best = _log_evidence(theta[:, keep], y, alpha, beta)
    # stationary in every kept log-precision and in log beta (central differences)
    h = 1e-4
    for i in range(len(alpha)):
        up, down = alpha.copy(), alpha.copy()
        up[i] *= np.exp(h)
        down[i] *= np.exp(-h)
        grad = (
            _log_evidence(theta[:, keep], y, up, beta)
            - _log_evidence(theta[:, keep], y, down, beta)
        ) / (2 * h)
        assert abs(grad) < 1e-4, (i, grad)
    grad_beta = (
        _log_evidence(theta[:, keep], y, alpha, beta * np.exp(h))
        - _log_evidence(theta[:, keep], y, alpha, beta * np.exp(-h))
    ) / (2 * h)
    assert abs(grad_beta) < 1e-4
    # and a maximum: random perturbations of all hyperparameters never raise the evidence
    rng = np.random.default_rng(0)
    for _ in range(20):
        step = 0.3 * rng.standard_normal(len(alpha) + 1)
        assert (
            _log_evidence(theta[:, keep], y, alpha * np.exp(step[:-1]), beta * np.exp(step[-1]))
            <= best + 1e-9
        )
    # re-admitting a pruned term at any finite precision does not raise the evidence either
    for j in np.flatnonzero(~keep):
        cols = keep.copy()
        cols[j] = True
        order = np.flatnonzero(cols)
        for a_j in np.logspace(-3, 8, 23):
            full = np.ones(len(cols))
            full[keep] = alpha
            full[j] = a_j
            assert _log_evidence(theta[:, order], y, full[order], beta) <= best + 1e-9
    # the posterior is the Gaussian posterior for those hyperparameters
    sub = theta[:, keep]
    cov = np.linalg.inv(beta * sub.T @ sub + np.diag(alpha))
    np.testing.assert_allclose(post.mean[keep], beta * cov @ sub.T @ y, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(post.covariance)[np.ix_(keep, keep)], cov, rtol=1e-9)


def test_rvm_recovers_sparse_vector_and_lorenz(x64):
    theta, y, w_true = _problem(3, n=200, p=12, noise=0.01)
    w = RVM().fit(jnp.asarray(theta), jnp.asarray(y)[:, None])[0]
    np.testing.assert_array_equal(np.asarray(w) != 0, w_true != 0)
    np.testing.assert_allclose(w, w_true, atol=5e-3)
    # SINDy with the RVM recovers Lorenz-63 from exact derivatives
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform([-20, -25, 0], [20, 25, 45], (400, 3)))
    xd = jnp.stack(
        [
            10 * (x[:, 1] - x[:, 0]),
            x[:, 0] * (28 - x[:, 2]) - x[:, 1],
            x[:, 0] * x[:, 1] - 8 / 3 * x[:, 2],
        ],
        axis=1,
    )
    model = fit_sindy(x, x_dot=xd, optimizer=RVM())
    expected = np.zeros((3, 10))  # features 1, x, y, z, x², xy, xz, y², yz, z²
    expected[0, [1, 2]] = [-10, 10]
    expected[1, [1, 2, 6]] = [28, -1, -1]
    expected[2, [3, 5]] = [-8 / 3, 1]
    np.testing.assert_allclose(model.coefficients, expected, atol=1e-6)


def test_rvm_bad_input():
    with pytest.raises(ValueError, match="max_precision"):
        RVM(max_precision=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        RVM(noise_prior=(-1.0, 0.0))
    with pytest.raises(ValueError, match="samples"):
        RVM().posterior(jnp.ones((5, 2)), jnp.ones(4))
    assert jax.tree_util.tree_leaves(RVM()) == []
