"""CNF and conditional flow matching: Gaussian closed forms."""

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np

from dynlearn.nde import CNF, conditional_flow_matching_loss

MU, S = 1.5, 0.4


def optimal_field(t, x, args):
    # marginal velocity E[x1 - x0 | x_t = x] for x1 ~ N(MU, S^2), x0 ~ N(0, 1)
    cov = t * S**2 - (1 - t)
    var = (1 - t) ** 2 + t**2 * S**2
    return MU + cov / var * (x - t * MU)


def test_cnf_log_prob_matches_target_density(x64):
    cnf = CNF(optimal_field, 1, stepsize_controller=dfx.PIDController(rtol=1e-9, atol=1e-9))
    xs = jnp.array([[0.5], [1.5], [2.2]])
    exact = -0.5 * ((xs[:, 0] - MU) / S) ** 2 - jnp.log(S * jnp.sqrt(2 * jnp.pi))
    np.testing.assert_allclose(jax.vmap(cnf.log_prob)(xs), exact, rtol=1e-6)
    samples = jax.vmap(lambda k: cnf.sample(key=k))(jax.random.split(jax.random.key(0), 2000))
    np.testing.assert_allclose(jnp.mean(samples), MU, atol=0.03)
    np.testing.assert_allclose(jnp.std(samples), S, rtol=0.06)


def test_optimal_field_minimises_flow_matching_loss(x64):
    keys = jax.random.split(jax.random.key(1), 60000)
    x1 = MU + S * jax.random.normal(jax.random.key(2), (60000, 1))

    def mean_loss(field):
        return jnp.mean(
            jax.vmap(lambda x, k: conditional_flow_matching_loss(field, x, key=k))(x1, keys)
        )

    best = mean_loss(optimal_field)
    for shift in (0.1, -0.1):
        worse = mean_loss(lambda t, x, a, s=shift: optimal_field(t, x, a) + s)
        # the excess loss of a constant offset is exactly its square
        np.testing.assert_allclose(worse - best, shift**2, rtol=0.1)
