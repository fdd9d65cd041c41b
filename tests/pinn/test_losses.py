"""Causal weights, loss terms, weightings, architectures and training helpers."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynlearn import pinn
from dynlearn.train import fit


def test_causal_weights_exclusive_sum_and_no_gradient():
    losses = jnp.array([0.5, 1.0, 2.0, 0.25])
    w = pinn.causal_weights(losses, 2.0)
    np.testing.assert_allclose(w, jnp.exp(-2.0 * jnp.array([0.0, 0.5, 1.5, 3.5])), rtol=1e-6)
    assert float(w[0]) == 1.0
    # d/dL sum_i w_i L_i equals w exactly: no gradient flows through the weights
    g = jax.grad(lambda l: jnp.sum(pinn.causal_weights(l, 2.0) * l))(losses)
    np.testing.assert_allclose(g, w, rtol=1e-6)
    gw = jax.grad(lambda l: jnp.sum(pinn.causal_weights(l, 3.0)))(losses)
    assert float(jnp.sum(jnp.abs(gw))) == 0


def test_causal_chunks_from_random_points():
    cw = pinn.CausalWeights(n_chunks=4, eps=1.0, t_range=(0.0, 1.0))
    pts = jnp.array([[0.0, 0.1], [0.0, 0.2], [0.0, 0.6], [0.0, 0.99], [0.0, 1.0]])
    sq = jnp.array([1.0, 3.0, 4.0, 5.0, 7.0])
    chunks = cw.chunk_losses(sq, pts)
    np.testing.assert_allclose(chunks, [2.0, 0.0, 4.0, 6.0])
    loss, w = cw(sq, pts, None)
    np.testing.assert_allclose(w, jnp.exp(-jnp.array([0.0, 2.0, 2.0, 6.0])), rtol=1e-6)
    np.testing.assert_allclose(loss, jnp.mean(w * chunks), rtol=1e-6)


def test_causal_initial_term_prepended_with_weight():
    cw = pinn.CausalWeights(
        n_chunks=2, eps=1.0, t_range=(0.0, 1.0), initial_term="ic", initial_weight=10.0
    )
    pts = jnp.array([[0.0, 0.25], [0.0, 0.75]])
    _, w = cw(jnp.array([1.0, 2.0]), pts, jnp.asarray(0.5))
    # the first chunk already waits for the weighted initial loss 10 * 0.5
    np.testing.assert_allclose(w, jnp.exp(-jnp.array([5.0, 6.0])), rtol=1e-6)
    with pytest.raises(ValueError, match="initial_weight"):
        pinn.CausalWeights(n_chunks=2, eps=1.0, t_range=(0.0, 1.0), initial_weight=-1.0)


def test_time_window_chain_rule(x64):
    # network of local time s: g(x, s) = x s^2; on [t0, t1] = [2, 2.5], u = x ((t - 2) / 0.5)^2
    window = pinn.TimeWindow(lambda q: q[0] * q[1] ** 2, 2.0, 2.5)
    p = jnp.array([3.0, 2.2])
    s = (2.2 - 2.0) / 0.5
    np.testing.assert_allclose(window(p), 3.0 * s**2, rtol=1e-12)
    np.testing.assert_allclose(
        pinn.partial_derivative(window, p, (0, 1)), 3.0 * 2 * s / 0.5, rtol=1e-12
    )
    with pytest.raises(ValueError, match="t1 > t0"):
        pinn.TimeWindow(lambda q: q[0], 1.0, 1.0)
    marched = pinn.WindowedField(
        (window, pinn.TimeWindow(lambda q: q[1], 2.5, 3.0)), (2.0, 2.5, 3.0)
    )
    np.testing.assert_allclose(marched(jnp.array([3.0, 2.75])), 0.5, rtol=1e-12)


def test_periodic_embedding_exactly_periodic(getkey, x64):
    embed = pinn.PeriodicEmbedding(2, periods=(2.0, None), harmonics=3)
    field = pinn.ModifiedMLP(2, "scalar", width=16, depth=2, embedding=embed, key=getkey())
    pts = jax.random.uniform(getkey(), (8, 2), jnp.float64, -1.0, 1.0)
    shifted = pts.at[:, 0].add(2.0)
    for orders in [(0, 0), (1, 0), (2, 0), (3, 1)]:
        f = jax.jit(lambda p, o=orders: pinn.partial_derivative(field, p, o))
        np.testing.assert_allclose(f(pts), f(shifted), rtol=1e-9, atol=1e-10)
    term = pinn.Periodic(coordinate=0, period=2.0, derivatives=2)
    assert float(jnp.max(jnp.abs(term(field, pts.at[:, 0].set(-1.0))))) < 1e-10


def test_architectures_shapes_and_factorization(getkey):
    ff = pinn.FourierFeatures(3, 8, scale=2.0, key=getkey())
    for cls in (pinn.MLP, pinn.ModifiedMLP):
        net = cls(3, 2, width=16, depth=2, embedding=ff, factorization=(1.0, 0.1), key=getkey())
        assert net(jnp.ones(3)).shape == (2,)
        assert jax.vmap(net)(jnp.ones((5, 3))).shape == (5, 2)
    # random weight factorization keeps the initial function of the plain layer
    k = getkey()
    a = pinn.DenseLayer(4, 3, key=k)
    b = pinn.DenseLayer(4, 3, factorization=(1.0, 0.1), key=k)
    np.testing.assert_allclose(a(jnp.arange(4.0)), b(jnp.arange(4.0)), rtol=1e-5)
    assert b.log_scale is not None
    with pytest.raises(ValueError, match="expected one point of shape"):
        pinn.MLP(2, 1, width=4, depth=1, key=getkey())(jnp.ones(3))


def _heat_loss(weighting=None):
    # u_t = u_xx on [0, pi] with u = exp(-t) sin(x): residual, initial and Dirichlet terms
    def heat(field, p):
        return pinn.partial_derivative(field, p, (0, 1)) - pinn.partial_derivative(field, p, (2, 0))

    terms = {
        "residual": pinn.Residual(heat),
        "initial": pinn.InitialCondition(lambda p: jnp.sin(p[0])),
        "boundary": pinn.Dirichlet(lambda p: jnp.zeros((), p.dtype)),
        "flux": pinn.Neumann(lambda p: jnp.array([-1.0, 0.0], p.dtype), lambda p: -jnp.exp(-p[1])),
    }
    return pinn.PINNLoss(terms, weighting=weighting)


def _heat_batch(key):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return {
        "residual": pinn.uniform_points(16, [0.0, 0.0], [np.pi, 1.0], key=k1),
        "initial": pinn.uniform_points(16, [0.0, 0.0], [np.pi, 0.0], key=k2),
        "boundary": pinn.uniform_points(16, [np.pi, 0.0], [np.pi, 1.0], key=k3),
        "flux": pinn.uniform_points(16, [0.0, 0.0], [0.0, 1.0], key=k4),
    }


def test_terms_vanish_on_exact_solution(getkey):
    exact = lambda p: jnp.exp(-p[1]) * jnp.sin(p[0])
    loss = _heat_loss()
    total, aux = jax.jit(lambda b: loss(exact, b))(_heat_batch(getkey()))
    assert float(total) < 1e-9
    assert set(aux) >= {"loss_residual", "loss_flux", "weight_boundary"}


def test_weightings_balance(getkey):
    field = pinn.MLP(2, "scalar", width=8, depth=2, key=getkey())
    batch = _heat_batch(getkey())
    for weighting in (pinn.GradNormWeights(), pinn.NTKWeights(max_points=8)):
        total, aux = eqx.filter_jit(_heat_loss(weighting))(field, batch)
        ws = [aux[f"weight_{k}"] for k in ("residual", "initial", "boundary", "flux")]
        assert all(float(w) >= 1.0 for w in ws) and bool(jnp.isfinite(total))
    # gradient-norm weights equalise the weighted gradient norms
    loss = _heat_loss(pinn.GradNormWeights())
    _, aux = eqx.filter_jit(loss)(field, batch)
    params, static = eqx.partition(field, eqx.is_inexact_array)
    norms = []
    for name in ("residual", "initial"):
        g = jax.jit(
            jax.grad(lambda p, n=name: loss.term_losses(eqx.combine(p, static), batch)[0][n])
        )(params)
        flat = jnp.concatenate([x.ravel() for x in jax.tree_util.tree_leaves(g)])
        norms.append(float(aux[f"weight_{name}"] * jnp.linalg.norm(flat)))
    np.testing.assert_allclose(norms[0], norms[1], rtol=1e-4)


def test_bad_input(getkey):
    field = pinn.MLP(2, "scalar", width=8, depth=2, key=getkey())
    loss = _heat_loss()
    batch = _heat_batch(getkey())
    with pytest.raises(ValueError, match="dimension 3"):
        loss(field, {**batch, "residual": jnp.ones((4, 3))})
    with pytest.raises(ValueError, match="batch must be a dict with keys"):
        loss(field, {"residual": batch["residual"]})
    obs = pinn.PINNLoss({"data": pinn.Observations()})
    with pytest.raises(ValueError, match="non-finite"):
        obs(field, {"data": (jnp.ones((3, 2)), jnp.array([1.0, jnp.nan, 0.0]))})
    with pytest.raises(ValueError, match="unknown terms"):
        pinn.PINNLoss({"data": pinn.Observations()}, weighting=pinn.FixedWeights({"x": 1.0}))(
            field, {"data": (jnp.ones((3, 2)), jnp.zeros(3))}
        )
    with pytest.raises(ValueError, match=r"set 'data' contains 1 non-finite"):
        pinn.collocation_data(
            residual=jnp.ones((4, 2)), data=(jnp.ones((2, 2)), jnp.array([0.0, jnp.inf]))
        )
    with pytest.raises(ValueError, match="causal weighting names term"):
        pinn.PINNLoss({"r": pinn.Observations()}, causal=pinn.CausalWeights(4, 1.0, (0.0, 1.0)))


def test_adam_then_lbfgs_and_causal_fit(getkey):
    # a 1-D ODE u' = -u, u(0) = 1 on [0, 2]: Adam through fit, then L-BFGS, then causal training
    def ode(field, p):
        return pinn.partial_derivative(field, p, (1,)) + field(p)

    loss = pinn.PINNLoss(
        {
            "residual": pinn.Residual(ode),
            "initial": pinn.InitialCondition(lambda p: jnp.ones((), p.dtype)),
        }
    )
    data = pinn.collocation_data(
        residual=jnp.linspace(0.0, 2.0, 64)[:, None], initial=jnp.zeros((1, 1))
    )
    field = pinn.MLP(1, "scalar", width=16, depth=2, key=getkey())
    field, hist = fit(
        field, loss, data, optax.adam(1e-2), steps=200, batch_size=64, key=getkey(), progress=False
    )
    field, lb = pinn.lbfgs(field, loss, data, steps=100)
    assert lb[-1]["loss"] < min(1e-4, hist[-1]["loss"])
    t = jnp.linspace(0.0, 2.0, 9)[:, None]
    np.testing.assert_allclose(jax.vmap(field)(t), jnp.exp(-t[:, 0]), atol=5e-3)

    causal = pinn.PINNLoss(loss.terms, causal=pinn.CausalWeights(8, 1.0, (0.0, 2.0)))
    field0 = pinn.MLP(1, "scalar", width=16, depth=2, key=getkey())
    _, ch = pinn.fit_causal(
        field0,
        causal,
        data,
        optax.adam(1e-2),
        steps_per_eps=64,
        batch_size=64,
        key=getkey(),
        eps_schedule=(0.1, 10.0),
        steps_per_dispatch=32,
        progress=False,
    )
    assert {r["eps"] for r in ch} <= {0.1, 10.0} and "causal_min_weight" in ch[-1]
    assert ch[0]["eps"] == 0.1
