"""EnKF: converges to the Kalman filter on a linear Gaussian system as the ensemble grows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.recon import enkf_analysis, ensemble_kalman_filter

F = np.array([[0.95, 0.2], [-0.2, 0.95]])
H = np.array([[1.0, 0.0]])
Q = np.diag([0.05, 0.02])
R = np.array([[0.1]])
M0 = np.array([1.0, -1.0])
P0 = np.diag([0.5, 0.5])


def _kalman_filter(observations):
    m, p = M0.copy(), P0.copy()
    means, covs = [], []
    for y in observations:
        m, p = F @ m, F @ p @ F.T + Q
        s = H @ p @ H.T + R
        k = p @ H.T @ np.linalg.inv(s)
        m = m + k @ (y - H @ m)
        p = (np.eye(2) - k @ H) @ p
        means.append(m)
        covs.append(p)
    return np.array(means), np.array(covs)


def _simulate(n=15, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(M0, P0)
    ys = []
    for _ in range(n):
        x = F @ x + rng.multivariate_normal(np.zeros(2), Q)
        ys.append(H @ x + rng.multivariate_normal(np.zeros(1), R))
    return np.array(ys)


def _enkf_error(n_members, key, ys, kf_mean, kf_cov):
    k0, k1 = jax.random.split(key)
    ens0 = (
        jnp.asarray(M0)[None, :]
        + jax.random.normal(k0, (n_members, 2), jnp.float64) @ jnp.asarray(np.linalg.cholesky(P0)).T
    )
    res = ensemble_kalman_filter(
        lambda x: jnp.asarray(F) @ x, ens0, ys, observe=H, obs_cov=R, process_cov=Q, key=k1
    )
    mean_err = float(np.max(np.abs(np.asarray(res.mean) - kf_mean)))
    var_err = float(
        np.max(np.abs(np.asarray(res.spread) ** 2 - np.diagonal(kf_cov, axis1=1, axis2=2)))
    )
    return mean_err, var_err


def test_enkf_converges_to_kalman_filter(x64):
    ys = _simulate()
    kf_mean, kf_cov = _kalman_filter(ys)
    errors = {
        n: _enkf_error(n, jax.random.key(n), jnp.asarray(ys), kf_mean, kf_cov)
        for n in (20, 500, 20000)
    }
    # Monte Carlo error shrinks like 1/sqrt(members)
    assert errors[20000][0] < errors[500][0] < errors[20][0]
    assert errors[20000][0] < 0.02, errors
    assert errors[20000][1] < 0.01, errors


def test_analysis_single_member_update_closed_form(x64, getkey):
    # with a huge ensemble, one analysis step equals the Kalman update of the ensemble moments
    ens = jax.random.normal(getkey(), (50000, 2), jnp.float64) * jnp.array([[1.0, 2.0]])
    y = jnp.array([0.5])
    post = enkf_analysis(ens, y, lambda x: x[:1], jnp.asarray(R), key=getkey())
    # prior var 1 for x0, obs var 0.1: posterior mean 0.5 * 1/1.1, variance 1 * 0.1/1.1
    np.testing.assert_allclose(jnp.mean(post[:, 0]), 0.5 / 1.1, atol=0.02)
    np.testing.assert_allclose(jnp.var(post[:, 0]), 0.1 / 1.1, atol=0.01)
    # the unobserved, uncorrelated component keeps its prior spread
    np.testing.assert_allclose(jnp.std(post[:, 1]), 2.0, rtol=0.02)


def test_bad_input(getkey):
    ens = jnp.zeros((10, 3))
    with pytest.raises(ValueError, match="members >= 2"):
        ensemble_kalman_filter(
            lambda x: x,
            jnp.zeros((1, 3)),
            jnp.zeros((5, 1)),
            observe=jnp.ones((1, 3)),
            obs_cov=1.0,
            key=getkey(),
        )
    with pytest.raises(ValueError, match="observation matrix"):
        ensemble_kalman_filter(
            lambda x: x, ens, jnp.zeros((5, 2)), observe=jnp.ones((1, 3)), obs_cov=1.0, key=getkey()
        )
    with pytest.raises(ValueError, match="observe"):
        ensemble_kalman_filter(
            lambda x: x, ens, jnp.zeros((5, 2)), observe=lambda x: x, obs_cov=1.0, key=getkey()
        )
    with pytest.raises(ValueError, match="obs_cov"):
        ensemble_kalman_filter(
            lambda x: x,
            ens,
            jnp.zeros((5, 2)),
            observe=lambda x: x[:2],
            obs_cov=jnp.ones(3),
            key=getkey(),
        )
