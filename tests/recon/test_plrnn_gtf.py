"""shPLRNN and generalized teacher forcing: alpha = 0 is BPTT, alpha = 1 is teacher forcing."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynlearn.recon import (
    ShallowPLRNN,
    estimate_forcing_alpha,
    fit_gtf,
    gtf_loss,
    trajectory_windows,
)


def _sequences(key, batch=3, time=12, dim=2):
    t = jnp.linspace(0, 3, time)
    phase = jax.random.uniform(key, (batch, 1, 1), maxval=6.0)
    return jnp.concatenate(
        [jnp.sin(t[None, :, None] + phase), jnp.cos(2 * t[None, :, None] + phase)], axis=2
    )[..., :dim]


def _bptt_loss(model, sequences):
    # plain backpropagation through time: free-running rollout from the encoded first point
    total = 0.0
    for seq in sequences:
        z = model.encode(seq[0])
        for t in range(1, seq.shape[0]):
            z = model.step(z)
            total = total + jnp.sum((model.observe(z) - seq[t]) ** 2)
    return total / (sequences.shape[0] * (sequences.shape[1] - 1) * sequences.shape[2])


@pytest.mark.parametrize("clipped", [False, True])
def test_alpha_zero_equals_bptt(x64, getkey, clipped):
    model = ShallowPLRNN(2, 5, 8, clipped=clipped, key=getkey())
    seqs = _sequences(getkey()).astype(jnp.float64)
    model = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64), model)
    loss, grads = eqx.filter_value_and_grad(lambda m: gtf_loss(m, seqs, alpha=0.0))(model)
    ref_loss, ref_grads = eqx.filter_jit(eqx.filter_value_and_grad(lambda m: _bptt_loss(m, seqs)))(
        model
    )
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    for g, r in zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(ref_grads)):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-14)
    # forcing changes the gradient
    forced = eqx.filter_grad(lambda m: gtf_loss(m, seqs, alpha=0.5))(model)
    assert not np.allclose(forced.w1, grads.w1)


def test_full_and_sparse_teacher_forcing_closed_forms(x64, getkey):
    # latent = observed: alpha = 1 replaces the whole state by the data
    model = ShallowPLRNN(2, 2, 6, key=getkey())
    model = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64), model)
    seqs = _sequences(getkey(), time=13).astype(jnp.float64)
    one_step = jax.vmap(jax.vmap(model.step))(seqs[:, :-1])
    np.testing.assert_allclose(
        gtf_loss(model, seqs, alpha=1.0), jnp.mean((one_step - seqs[:, 1:]) ** 2), rtol=1e-12
    )
    # sparse teacher forcing, tau = 4: restart from the data at t = 0, 4, 8
    tau = 4
    errs = []
    for seq in seqs:
        for t in range(1, 13):
            z = seq[(t - 1) // tau * tau]
            for _ in range(t - (t - 1) // tau * tau):
                z = model.step(z)
            errs.append((z - seq[t]) ** 2)
    np.testing.assert_allclose(
        gtf_loss(model, seqs, alpha=1.0, interval=tau), np.mean(errs), rtol=1e-12
    )


def test_jacobian_and_adaptive_alpha(x64, getkey):
    for clipped in (False, True):
        model = ShallowPLRNN(3, 6, 10, clipped=clipped, key=getkey())
        z = jax.random.normal(getkey(), (6,))
        np.testing.assert_allclose(model.jacobian(z), jax.jacfwd(model.step)(z), atol=1e-6)
    # a linear model with A = 2 (W1 = 0) grows by 2 per step: alpha* = 1 - 1/2
    linear = eqx.tree_at(lambda m: (m.a, m.w1), model, (jnp.full(6, 2.0), jnp.zeros((6, 10))))
    seqs = jnp.ones((2, 5, 3))
    np.testing.assert_allclose(estimate_forcing_alpha(linear, seqs), 0.5, rtol=1e-6)
    contracting = eqx.tree_at(lambda m: m.a, linear, jnp.full(6, 0.5))
    assert float(estimate_forcing_alpha(contracting, seqs)) == 0.0


def test_clipped_plrnn_has_bounded_orbits(getkey):
    model = ShallowPLRNN(2, 8, 30, clipped=True, key=getkey())
    model = eqx.tree_at(lambda m: m.w1, model, 5 * model.w1)  # strong nonlinearity
    orbit = model(jnp.array([3.0, -2.0]), 5000)
    assert bool(jnp.all(jnp.isfinite(orbit)))
    assert float(jnp.max(jnp.abs(orbit))) < 1e3


def test_fit_gtf_reduces_loss_and_anneals_alpha(getkey):
    t = jnp.arange(600.0) * 0.1
    traj = jnp.stack([jnp.sin(t), jnp.cos(t)], axis=1)
    model = ShallowPLRNN(2, 6, 16, key=getkey())
    fitted, hist = fit_gtf(
        model,
        traj,
        optax.adam(3e-3),
        steps=150,
        batch_size=8,
        sequence_length=20,
        key=getkey(),
        alpha="adaptive",
    )
    assert hist["loss"].shape == (150,) and hist["alpha"].shape == (150,)
    assert np.all((hist["alpha"] >= 0) & (hist["alpha"] < 1))
    assert hist["loss"][-10:].mean() < 0.3 * hist["loss"][:10].mean()
    _, fixed = fit_gtf(
        model,
        traj,
        optax.adam(3e-3),
        steps=5,
        batch_size=4,
        sequence_length=20,
        key=getkey(),
        alpha=0.2,
    )
    np.testing.assert_allclose(fixed["alpha"], 0.2, rtol=1e-6)


def test_fit_gtf_alpha_init(getkey):
    # aGTF started at alpha = 1 (the authors' code): alpha decays from 1 towards the estimate
    # by the factor 0.999 every 5 steps, and never below the estimate's jumps
    t = jnp.arange(300.0) * 0.1
    traj = jnp.stack([jnp.sin(t), jnp.cos(t)], axis=1)
    model = ShallowPLRNN(2, 2, 8, key=getkey())
    _, hist = fit_gtf(
        model,
        traj,
        optax.adam(1e-3),
        steps=20,
        batch_size=4,
        sequence_length=10,
        key=getkey(),
        alpha="adaptive",
        alpha_init=1.0,
    )
    assert hist["alpha"][0] <= 1.0 and hist["alpha"][0] > 0.99
    assert np.all(np.diff(hist["alpha"]) <= 1e-6)
    with pytest.raises(ValueError, match="alpha_init"):
        fit_gtf(
            model,
            traj,
            optax.sgd(0.1),
            steps=1,
            batch_size=1,
            sequence_length=5,
            key=getkey(),
            alpha="adaptive",
            alpha_init=2.0,
        )


def test_bad_input(getkey):
    model = ShallowPLRNN(2, 4, 5, key=getkey())
    with pytest.raises(ValueError, match="batch, time, 2"):
        gtf_loss(model, jnp.ones((3, 10, 3)))
    with pytest.raises(ValueError, match="shorter than the window"):
        trajectory_windows(jnp.ones((5, 2)), 10)
    with pytest.raises(ValueError, match="x0 must have shape"):
        model(jnp.ones(3), 5)
    with pytest.raises(ValueError, match="n_observed"):
        ShallowPLRNN(4, 2, 5, key=getkey())
    with pytest.raises(ValueError, match="alpha"):
        fit_gtf(
            model,
            jnp.ones((50, 2)),
            optax.sgd(0.1),
            steps=1,
            batch_size=1,
            sequence_length=5,
            key=getkey(),
            alpha=1.5,
        )
