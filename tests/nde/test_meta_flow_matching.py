"""Meta flow matching: set-encoder invariance, Gaussian closed forms for the conditional field."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynlearn.nde import MetaFlowMatching, meta_flow_matching_loss

S = 0.5  # population i: N(c_i, 1) at t = 0 -> N(2 c_i, S^2) at t = 1 (one dimension)


def optimal_field(t, x, e):
    # E[x1 - x0 | x_t = x] for independent x0 ~ N(c, 1), x1 ~ N(2c, S^2); the embedding is c
    c = e[0]
    mean = (1 - t) * c + t * 2 * c
    cov = t * S**2 - (1 - t)
    var = (1 - t) ** 2 + t**2 * S**2
    return c + cov / var * (x - mean)


def populations(key, p, n):
    kc, k0, k1 = jax.random.split(key, 3)
    c = jax.random.uniform(kc, (p, 1, 1), minval=-2.0, maxval=2.0)
    x0 = c + jax.random.normal(k0, (p, n, 1))
    x1 = 2 * c + S * jax.random.normal(k1, (p, n, 1))
    return c, {"x0": x0, "x1": x1}


def test_encoder_is_permutation_invariant(getkey):
    model = MetaFlowMatching(2, 8, width=16, depth=1, key=getkey())
    pop = jax.random.normal(getkey(), (50, 2))
    perm = jax.random.permutation(getkey(), 50)
    e, e_perm, e_shift = eqx.filter_jit(
        lambda m: [m.encoder(p) for p in (pop, pop[perm], pop + 1)]
    )(model)
    np.testing.assert_allclose(e, e_perm, rtol=1e-5, atol=1e-6)
    assert not np.allclose(e, e_shift)
    # the default conditional field sees t, x and the embedding
    v = model.vector_field(0.3, pop[0], e)
    assert v.shape == (2,)
    for other in (
        model.vector_field(0.7, pop[0], e),
        model.vector_field(0.3, pop[1], e),
        model.vector_field(0.3, pop[0], e_shift),
    ):
        assert not np.allclose(v, other)
    with pytest.raises(ValueError, match="shape"):
        meta_flow_matching_loss(model, {"x0": pop, "x1": pop}, key=getkey())


def test_conditional_field_is_optimal_and_push_transports(x64, getkey):
    # the population mean is a sufficient embedding for these Gaussian populations
    ctrl = dfx.PIDController(rtol=1e-9, atol=1e-9)
    model = MetaFlowMatching(1, 1, width=4, depth=1, key=getkey(), stepsize_controller=ctrl)
    model = eqx.tree_at(lambda q: q.encoder, model, lambda pop: jnp.mean(pop, axis=0))
    _, batch = populations(jax.random.key(0), 400, 200)

    @eqx.filter_jit
    def losses(m, key):
        def loss(field):
            return meta_flow_matching_loss(
                eqx.tree_at(lambda q: q.vector_field, m, field), batch, key=key
            )

        best = loss(optimal_field)
        shifted = [loss(lambda t, x, e, s=s: optimal_field(t, x, e) + s) for s in (0.3, -0.3)]
        blind = loss(lambda t, x, e: optimal_field(t, x, jnp.zeros_like(e)))
        return best, shifted, blind

    best, shifted, blind = losses(model, jax.random.key(1))
    for worse in shifted:  # a constant offset s costs s^2 on top of the optimum
        np.testing.assert_allclose(worse - best, 0.09, rtol=0.15)
    # ignoring the population (embedding 0) costs E[c^2 (1 - k_t (1 + t))^2] with E[c^2] = 4/3
    assert float(blind - best) > 1.0
    # the optimal conditional field's flow is the affine map x -> 2 c + S (x - c), c the embedding
    m = eqx.tree_at(lambda q: q.vector_field, model, optimal_field)
    pop = 1.5 + jax.random.normal(jax.random.key(2), (500, 1))
    out = eqx.filter_jit(lambda mm, p: mm.push(p))(m, pop)
    c_hat = jnp.mean(pop)
    np.testing.assert_allclose(out, 2 * c_hat + S * (pop - c_hat), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="shape"):
        m.push(pop[:, 0])
