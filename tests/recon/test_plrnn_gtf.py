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
from dynlearn.train import History, sample_batch


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
    assert isinstance(hist, History) and [r["step"] for r in hist] == list(range(1, 151))
    loss, alpha = np.asarray(hist.column("loss")), np.asarray(hist.column("alpha"))
    assert np.all((alpha >= 0) & (alpha < 1))
    assert loss[-10:].mean() < 0.3 * loss[:10].mean()
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
    np.testing.assert_allclose(fixed.column("alpha"), 0.2, rtol=1e-6)


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
    alpha = np.asarray(hist.column("alpha"))
    assert alpha[0] <= 1.0 and alpha[0] > 0.99
    assert np.all(np.diff(alpha) <= 1e-6)
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
    with pytest.raises(ValueError, match="data_size"):
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


def _reference_fit_gtf(model, windows, optimizer, *, steps, batch_size, key, alpha, every, decay):
    # fit_gtf's loop before it ran through train.fit (one lax.scan of its own), written out
    # step by step; only the minibatches are drawn as train.fit draws them
    data_key = jax.random.split(key, 3)[0]
    params, static = eqx.partition(model, eqx.is_inexact_array)
    with jax.numpy_dtype_promotion("standard"):  # optax mixes int32 counts and floats
        opt_state = optimizer.init(params)
    adaptive = alpha == "adaptive"
    a = estimate_forcing_alpha(model, windows[:batch_size]) if adaptive else jnp.asarray(alpha)
    grad_fn = eqx.filter_jit(
        jax.value_and_grad(lambda p, b, a: gtf_loss(eqx.combine(p, static), b, alpha=a))
    )
    losses, alphas = [], []
    for step in range(steps):
        batch = sample_batch(
            windows, batch_size, windows.shape[0], key=jax.random.fold_in(data_key, step)
        )
        if adaptive and step % every == 0:
            est = estimate_forcing_alpha(eqx.combine(params, static), batch, alpha=a)
            a = jnp.where(est > a, est, decay * a + (1 - decay) * est)
        loss, grads = grad_fn(params, batch, a)
        with jax.numpy_dtype_promotion("standard"):
            updates, opt_state = optimizer.update(grads, opt_state, params)
        params = eqx.apply_updates(params, updates)
        losses.append(float(loss))
        alphas.append(float(a))
    return eqx.combine(params, static), np.array(losses), np.array(alphas)


def _lorenz_like(n=400, phase=0.0):
    t = jnp.arange(n, dtype=jnp.float32) * 0.05 + phase
    return jnp.stack([jnp.sin(t), jnp.cos(1.3 * t), jnp.sin(0.7 * t) * jnp.cos(t)], axis=1)


@pytest.mark.parametrize("alpha", ["adaptive", 0.3])
def test_fit_gtf_equals_its_former_loop(x64, getkey, alpha):
    # same minibatches, same annealing (every 3 steps, a fast decay so that it moves), same
    # optimizer steps: the loss curve, the alpha schedule and the parameters agree
    model = ShallowPLRNN(3, 6, 12, key=getkey())
    model = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64), model)
    traj = _lorenz_like().astype(jnp.float64)
    key = getkey()
    kwargs = dict(steps=10, batch_size=6, key=key, alpha=alpha)
    fitted, hist = fit_gtf(
        model,
        traj,
        optax.adam(1e-2),
        sequence_length=15,
        alpha_every=3,
        alpha_decay=0.5,
        progress=False,
        **kwargs,
    )
    windows = trajectory_windows(traj, 15)
    ref, ref_loss, ref_alpha = _reference_fit_gtf(
        model, windows, optax.adam(1e-2), every=3, decay=0.5, **kwargs
    )
    np.testing.assert_allclose(hist.column("loss"), ref_loss, rtol=1e-10)
    np.testing.assert_allclose(hist.column("alpha"), ref_alpha, rtol=1e-10, atol=1e-14)
    for leaf, ref_leaf in zip(jax.tree_util.tree_leaves(fitted), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(leaf, ref_leaf, rtol=1e-9, atol=1e-12)
    if alpha == "adaptive":
        assert len(set(hist.column("alpha"))) > 1  # the schedule moved


def test_fit_gtf_several_trajectories(getkey):
    # a list of trajectories (of different lengths) and their windows concatenated train alike;
    # no window spans two trajectories
    model = ShallowPLRNN(3, 4, 8, key=getkey())
    trajs = [_lorenz_like(60), _lorenz_like(45, phase=1.0)]
    key = getkey()
    kwargs = dict(steps=4, batch_size=5, sequence_length=10, key=key, progress=False)
    fitted, hist = fit_gtf(model, trajs, optax.adam(1e-3), **kwargs)
    windows = jnp.concatenate([trajectory_windows(t, 10) for t in trajs])
    assert windows.shape[0] == 51 + 36
    ref, ref_loss, _ = _reference_fit_gtf(
        model,
        windows,
        optax.adam(1e-3),
        steps=4,
        batch_size=5,
        key=key,
        alpha="adaptive",
        every=5,
        decay=0.999,
    )
    np.testing.assert_allclose(hist.column("loss"), ref_loss, rtol=1e-5)
    np.testing.assert_allclose(fitted.w1, ref.w1, rtol=1e-4, atol=1e-6)
    # a stack (n, time, obs) is several trajectories too
    stacked = jnp.stack([_lorenz_like(30), _lorenz_like(30, phase=2.0)])
    _, hist2 = fit_gtf(model, stacked, optax.adam(1e-3), **{**kwargs, "batch_size": 40})
    assert len(hist2) == 4
    with pytest.raises(ValueError, match="trajectory 1 has 8 time points"):
        fit_gtf(model, [_lorenz_like(30), _lorenz_like(8)], optax.adam(1e-3), **kwargs)
    with pytest.raises(ValueError, match=r"trajectory 0 must have shape \(time, 3\)"):
        fit_gtf(model, [jnp.ones((30, 2))], optax.adam(1e-3), **kwargs)


def test_fit_gtf_resumes_with_its_alpha(getkey, tmp_path):
    # alpha is training state: a run resumed from a checkpoint continues the schedule, equal
    # to the uninterrupted run
    model = ShallowPLRNN(3, 4, 8, key=getkey())
    traj = _lorenz_like(200)
    key = getkey()
    kwargs = dict(
        batch_size=4,
        sequence_length=12,
        key=key,
        alpha_init=0.9,
        alpha_every=2,
        alpha_decay=0.5,
        progress=False,
        steps_per_dispatch=3,
    )
    full, hist = fit_gtf(model, traj, optax.adam(1e-3), steps=10, **kwargs)
    path = tmp_path / "gtf.ckpt"
    fit_gtf(model, traj, optax.adam(1e-3), steps=6, checkpoint_path=path, **kwargs)
    seen = []
    resumed, rest = fit_gtf(
        model,
        traj,
        optax.adam(1e-3),
        steps=10,
        resume_from=path,
        callbacks=[lambda step, m, h: seen.append(type(m))],
        **kwargs,
    )
    assert [r["step"] for r in rest] == [7, 8, 9, 10]
    np.testing.assert_allclose(rest.column("alpha"), hist.column("alpha")[6:], rtol=1e-6)
    np.testing.assert_allclose(rest.column("loss"), hist.column("loss")[6:], rtol=1e-5)
    np.testing.assert_allclose(resumed.w1, full.w1, rtol=1e-5, atol=1e-7)
    assert seen and set(seen) == {ShallowPLRNN}


def test_fit_gtf_compiles_once_for_the_same_optimizer(getkey, monkeypatch):
    """A second `fit_gtf` with the same optimizer object and settings reuses the compiled step
    (it traces the loss fewer times than a call with a new optimizer), with the same result."""
    import dynlearn.recon._gtf as gtf_module

    traces = []
    real = gtf_module.gtf_loss

    def counting(*args, **kwargs):
        traces.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(gtf_module, "gtf_loss", counting)
    t = jnp.arange(300.0) * 0.1
    traj = jnp.stack([jnp.sin(t), jnp.cos(t)], axis=1)
    model = ShallowPLRNN(2, 4, 8, key=getkey())
    opt, key = optax.adam(1e-3), getkey()
    kwargs = dict(steps=4, batch_size=4, sequence_length=10, key=key, alpha="adaptive")
    first, _ = fit_gtf(model, traj, opt, **kwargs)
    n_first = len(traces)
    second, _ = fit_gtf(model, traj, opt, **kwargs)
    n_second = len(traces) - n_first
    fit_gtf(model, traj, optax.adam(1e-3), **kwargs)  # a new optimizer object: compiled anew
    n_new = len(traces) - n_first - n_second
    # every call traces the loss once to check its output; compiling traces it again
    assert n_second < n_new == n_first
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
