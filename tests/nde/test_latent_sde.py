"""LatentSDE: Girsanov KL in closed form, ELBO below the exact Kalman log-likelihood."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.nde import LatentSDE, latent_sde_loss

A, SIGMA, M0, S0, R = 0.7, 0.5, 0.3, 0.8, 0.4


def linear_gaussian(model, posterior_shift=0.0):
    # prior dz = -A z dt + SIGMA dW, z0 ~ N(M0, S0^2), x = z + N(0, R^2); q(z0) = p(z0) and a
    # posterior drift shifted by SIGMA * posterior_shift.
    def encoder(ts, xs):
        return jnp.zeros((ts.shape[0], 1)), jnp.array([M0, jnp.log(S0)])

    model = eqx.tree_at(lambda m: m.encoder, model, encoder)
    model = eqx.tree_at(lambda m: m.prior_drift, model, lambda t, z: -A * z)
    model = eqx.tree_at(
        lambda m: m.posterior_drift, model, lambda t, z, c: -A * z + SIGMA * posterior_shift
    )
    model = eqx.tree_at(lambda m: m.diffusion, model, lambda t, z: SIGMA * jnp.ones_like(z))
    model = eqx.tree_at(lambda m: m.decoder, model, lambda z: z)
    return eqx.tree_at(
        lambda m: (m.prior_z0_mean, m.prior_z0_logstd, m.obs_logstd),
        model,
        (jnp.array([M0]), jnp.array([jnp.log(S0)]), jnp.log(jnp.array(R))),
    )


def prior_marginals(ts):
    mean = M0 * jnp.exp(-A * ts)
    var = S0**2 * jnp.exp(-2 * A * ts) + SIGMA**2 * (1 - jnp.exp(-2 * A * ts)) / (2 * A)
    return mean, var


def kalman_loglik(ts, xs):
    m, p, total = M0, S0**2, 0.0
    for i in range(len(ts)):
        if i:
            dt = ts[i] - ts[i - 1]
            m = m * np.exp(-A * dt)
            p = p * np.exp(-2 * A * dt) + SIGMA**2 * (1 - np.exp(-2 * A * dt)) / (2 * A)
        s = p + R**2
        total += -0.5 * (np.log(2 * np.pi * s) + (xs[i] - m) ** 2 / s)
        k = p / s
        m, p = m + k * (xs[i] - m), (1 - k) * p
    return total


@pytest.fixture
def model(getkey):
    return LatentSDE(1, 1, 1, width=4, depth=1, key=getkey(), dt0=0.01)


def test_girsanov_kl_closed_form(x64, model):
    ts = jnp.linspace(0.0, 1.5, 4)
    xs = jnp.ones((4, 1))
    m = linear_gaussian(model, posterior_shift=0.6)
    # residual posterior: the posterior drift is prior drift + correction (here SIGMA * 0.6)
    residual = linear_gaussian(
        LatentSDE(
            1, 1, 1, width=4, depth=1, key=jax.random.key(3), dt0=0.01, residual_posterior=True
        )
    )
    residual = eqx.tree_at(lambda mm: mm.posterior_drift, residual, lambda t, z, c: SIGMA * 0.6)
    both = eqx.filter_jit(lambda ms, k: [mm.elbo(ts, xs, key=k) for mm in ms])
    for _, aux in both([m, residual], jax.random.key(0)):
        np.testing.assert_allclose(aux["kl_path"], 0.5 * 0.6**2 * 1.5, rtol=1e-9)
        np.testing.assert_allclose(aux["kl_z0"], 0.0, atol=1e-12)


def test_elbo_below_exact_log_likelihood(x64, model):
    ts = jnp.array([0.0, 0.4, 1.0, 1.3, 2.0])
    xs = jnp.array([[0.5], [0.1], [-0.4], [0.2], [0.3]])
    m = linear_gaussian(model)
    keys = jax.random.split(jax.random.key(1), 2000)
    elbos = eqx.filter_jit(jax.vmap(lambda k: m.elbo(ts, xs, key=k)[0]))(keys)
    # with q = prior the ELBO's expectation is E_prior[log p(x|z)], known in closed form
    mean, var = prior_marginals(ts)
    expected = jnp.sum(-0.5 * (((xs[:, 0] - mean) ** 2 + var) / R**2 + jnp.log(2 * jnp.pi * R**2)))
    stderr = float(jnp.std(elbos)) / np.sqrt(len(keys))
    np.testing.assert_allclose(jnp.mean(elbos), expected, atol=4 * stderr + 0.02)
    exact = kalman_loglik(np.asarray(ts), np.asarray(xs[:, 0]))
    assert float(expected) < exact
    assert float(jnp.mean(elbos)) < exact


def test_loss_gradients_and_missing_values(getkey):
    model = LatentSDE(1, 2, 2, width=4, depth=1, key=getkey(), dt0=0.1)
    ts = jnp.tile(jnp.linspace(0.0, 1.0, 6), (3, 1))
    xs = jax.random.normal(getkey(), (3, 6, 1)).at[0, 2, 0].set(jnp.nan)
    # value and gradient in one compiled call (the SDE solve is the expensive part to compile)
    (loss, aux), grads = eqx.filter_jit(
        eqx.filter_value_and_grad(
            lambda m, k: latent_sde_loss(m, {"ts": ts, "xs": xs}, key=k), has_aux=True
        )
    )(model, getkey())
    assert bool(jnp.isfinite(loss)) and set(aux) == {"loglik", "kl_z0", "kl_path"}
    leaves = jax.tree_util.tree_leaves(eqx.filter(grads, eqx.is_inexact_array))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert any(float(jnp.max(jnp.abs(g))) > 0 for g in leaves)
    with pytest.raises(ValueError, match="expected ts"):
        model.elbo(ts[0], xs[0, :5], key=getkey())


def test_full_covariance_prior_z0(x64, getkey):
    # prior z0 ~ N(m0, L0 L0^T) with a learned lower-triangular L0: KL against numpy's dense
    # closed form (inverse and log-determinant of the full covariance), samples' covariance
    model = LatentSDE(1, 3, 2, width=4, depth=1, key=getkey(), dt0=0.1)
    m0, logstd0 = jnp.array([0.3, -0.2, 0.5]), jnp.array([0.1, -0.4, 0.2])
    offdiag = jax.random.normal(getkey(), (3, 3))  # only the strictly lower part is used
    model = eqx.tree_at(
        lambda m: (m.prior_z0_mean, m.prior_z0_logstd, m.prior_z0_offdiag),
        model,
        (m0, logstd0, offdiag),
    )
    scale = np.diag(np.exp(logstd0)) + np.tril(np.asarray(offdiag), -1)
    cov_p = scale @ scale.T
    mean, logstd = jnp.array([1.0, 0.4, -0.7]), jnp.array([-0.5, 0.3, 0.0])
    cov_q, diff = np.diag(np.exp(2 * np.asarray(logstd))), np.asarray(mean - m0)
    inv = np.linalg.inv(cov_p)
    expected = 0.5 * (
        np.trace(inv @ cov_q)
        + diff @ inv @ diff
        - 3
        + np.linalg.slogdet(cov_p)[1]
        - np.linalg.slogdet(cov_q)[1]
    )
    np.testing.assert_allclose(model.kl_z0(mean, logstd), expected, rtol=1e-12)
    zs = eqx.filter_jit(jax.vmap(lambda k: model.sample_prior(jnp.array([0.0, 0.1]), key=k)[0]))(
        jax.random.split(getkey(), 20000)
    )
    n, var = zs.shape[0], np.diag(cov_p)
    # four standard errors of the sample mean and of each sample covariance entry
    assert np.all(np.abs(np.mean(zs[:, 0], 0) - m0) < 4 * np.sqrt(var / n))
    cov_err = np.sqrt((np.outer(var, var) + cov_p**2) / n)
    assert np.all(np.abs(np.cov(np.asarray(zs[:, 0]).T) - cov_p) < 4 * cov_err)
    diagonal = LatentSDE(1, 3, 2, width=4, depth=1, key=getkey(), prior_z0_covariance="diagonal")
    assert diagonal.prior_z0_offdiag is None
    np.testing.assert_allclose(diagonal.prior_z0_scale(), np.eye(3))
    with pytest.raises(ValueError, match="prior_z0_covariance"):
        LatentSDE(1, 3, 2, key=getkey(), prior_z0_covariance="dense")
