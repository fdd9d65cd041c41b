"""Tests of dynlearn.train.fit: convergence, resume bit-exactness, fused steps, guards, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynlearn.train import NonFiniteLossError, fit, load_checkpoint

from tests.helpers import tree_allclose, tree_equal_bits


def _problem(n=128, seed=0):
    key = jax.random.key(seed)
    kx, km = jax.random.split(key)
    x = jax.random.normal(kx, (n, 3))
    w = jnp.array([[1.0], [-2.0], [0.5]])
    y = x @ w + 0.3
    model = eqx.nn.Linear(3, 1, key=km)
    return model, (x, y), (w, 0.3)


def mse(model, batch, *, key):
    x, y = batch
    return jnp.mean((jax.vmap(model)(x) - y) ** 2)


def test_fit_recovers_linear_regression_weights():
    model, data, (w, b) = _problem()
    model, hist = fit(
        model,
        mse,
        data,
        optax.adam(5e-2),
        steps=400,
        batch_size=32,
        key=jax.random.key(1),
        progress=False,
    )
    assert np.allclose(model.weight, w.T, atol=1e-2)
    assert np.allclose(model.bias, b, atol=1e-2)
    assert len(hist) == 400 and hist[-1]["step"] == 400
    assert hist[-1]["loss"] < 1e-3 < hist[0]["loss"]


def test_fit_equals_handwritten_loop():
    """fit with full-batch SGD is exactly a hand-written gradient-descent loop."""
    model, data, _ = _problem(n=32)
    opt = optax.sgd(0.1)
    trained, _ = fit(
        model,
        mse,
        data,
        opt,
        steps=20,
        batch_size=32,
        key=jax.random.key(0),
        progress=False,
        steps_per_dispatch=7,
    )
    ref = model
    for _ in range(20):  # full batch: order of the permutation does not change the mean
        grads = eqx.filter_grad(lambda m: mse(m, data, key=None))(ref)
        ref = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, ref, grads)
    assert tree_allclose(trained, ref, rtol=1e-5, atol=1e-6)


def test_fused_steps_equal_single_steps():
    model, data, _ = _problem()
    kw = dict(steps=30, batch_size=16, key=jax.random.key(3), progress=False)
    m1, h1 = fit(model, mse, data, optax.adam(1e-2), steps_per_dispatch=1, **kw)
    m2, h2 = fit(model, mse, data, optax.adam(1e-2), steps_per_dispatch=8, **kw)
    assert tree_allclose(m1, m2, rtol=1e-6, atol=1e-7)
    assert np.allclose(h1.column("loss"), h2.column("loss"), rtol=1e-6)


def test_resume_is_bit_exact(tmp_path):
    model, data, _ = _problem()
    opt = optax.adam(1e-2)
    kw = dict(batch_size=16, key=jax.random.key(4), progress=False, steps_per_dispatch=4)
    full, hist_full = fit(model, mse, data, opt, steps=24, **kw)

    ckpt = tmp_path / "run" / "ckpt.dlc"
    # "Interrupted" run: stops after 12 steps with a checkpoint every 6.
    fit(model, mse, data, opt, steps=12, checkpoint_path=ckpt, checkpoint_every=6, **kw)
    resumed, hist_res = fit(model, mse, data, opt, steps=24, resume_from=ckpt, **kw)
    assert tree_equal_bits(full, resumed)
    assert [r["loss"] for r in hist_full[12:]] == [r["loss"] for r in hist_res]
    assert hist_res[0]["step"] == 13


def test_nonfinite_stops_with_step_and_keeps_checkpoint(tmp_path):
    model, (x, y), _ = _problem(n=64)
    y = y.at[40].set(jnp.nan)  # a NaN sample: the first batch that draws it fails
    ckpt = tmp_path / "ckpt.dlc"
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss or gradient at step \d+") as err:
        fit(
            model,
            mse,
            (x, y),
            optax.adam(1e-2),
            steps=200,
            batch_size=16,
            key=jax.random.key(5),
            progress=False,
            checkpoint_path=ckpt,
            checkpoint_every=1,
            steps_per_dispatch=1,
        )
    bad = err.value.step
    assert bad >= 1
    if bad > 1:  # the checkpoint on disk is the state after the last good step
        opt_state = optax.adam(1e-2).init(eqx.filter(model, eqx.is_inexact_array))
        (m, _), step, _, _ = load_checkpoint(ckpt, (model, opt_state))
        assert step == bad - 1
        assert all(bool(jnp.all(jnp.isfinite(p))) for p in jax.tree_util.tree_leaves(m))


def test_skip_nonfinite_keeps_parameters_finite():
    model, (x, y), _ = _problem(n=64)
    y = y.at[3].set(jnp.inf)
    trained, hist = fit(
        model,
        mse,
        (x, y),
        optax.adam(1e-2),
        steps=40,
        batch_size=16,
        key=jax.random.key(6),
        progress=False,
        skip_nonfinite=True,
    )
    skipped = [r for r in hist if r.get("skipped")]
    assert skipped, "some batch must have drawn the bad sample"
    assert all(bool(jnp.all(jnp.isfinite(p))) for p in jax.tree_util.tree_leaves(trained))


def test_aux_values_validation_and_callbacks_are_logged():
    model, data, _ = _problem()

    def loss_aux(model, batch, *, key):
        loss = mse(model, batch, key=key)
        return loss, {"rmse": jnp.sqrt(loss)}

    seen = []
    _, hist = fit(
        model,
        loss_aux,
        data,
        optax.adam(1e-2),
        steps=20,
        batch_size=16,
        key=jax.random.key(7),
        progress=False,
        val_data=data,
        val_every=10,
        callbacks=[lambda step, m, h: seen.append(step)],
    )
    assert np.allclose(np.sqrt(hist.column("loss")), hist.column("rmse"), rtol=1e-5)
    assert [r["step"] for r in hist if "val_loss" in r] == [10, 20]
    assert seen and seen[-1] == 20


def test_callback_can_stop_training():
    model, data, _ = _problem()
    _, hist = fit(
        model,
        mse,
        data,
        optax.adam(1e-2),
        steps=100,
        batch_size=16,
        key=jax.random.key(8),
        progress=False,
        steps_per_dispatch=5,
        callbacks=[lambda step, m, h: step >= 10],
    )
    assert hist[-1]["step"] == 10


def test_history_writes_jsonl_and_csv(tmp_path):
    model, data, _ = _problem()
    _, hist = fit(
        model,
        mse,
        data,
        optax.sgd(1e-2),
        steps=5,
        batch_size=8,
        key=jax.random.key(9),
        progress=False,
    )
    hist.to_jsonl(tmp_path / "h.jsonl")
    hist.to_csv(tmp_path / "h.csv")
    assert len((tmp_path / "h.jsonl").read_text().splitlines()) == 5
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "step,loss"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(steps=0), "steps must be a positive int, got steps=0"),
        (dict(batch_size=1000), "batch_size=1000 is larger than the number of samples"),
        (dict(batch_size=0), "batch_size must be a positive int, got batch_size=0"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    model, data, _ = _problem()
    args = dict(steps=5, batch_size=8, key=jax.random.key(0), progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fit(model, mse, data, optax.sgd(1e-2), **args)


def test_mismatched_data_lengths_raise():
    model, (x, y), _ = _problem()
    with pytest.raises(ValueError, match=r"different leading lengths .*128.*100"):
        fit(
            model,
            mse,
            (x, y[:100]),
            optax.sgd(1e-2),
            steps=5,
            batch_size=8,
            key=jax.random.key(0),
            progress=False,
        )


def test_non_scalar_loss_raises():
    model, data, _ = _problem()

    def bad(model, batch, *, key):
        x, y = batch
        return (jax.vmap(model)(x) - y) ** 2

    with pytest.raises(ValueError, match=r"must return a scalar .* shape \(8, 1\)"):
        fit(
            model,
            bad,
            data,
            optax.sgd(1e-2),
            steps=5,
            batch_size=8,
            key=jax.random.key(0),
            progress=False,
        )


def _trace_counting_mse():
    """An MSE loss that appends to a list each time it is traced (Python runs only at trace)."""
    traces = []

    def loss_fn(model, batch, *, key):
        traces.append(1)
        x, y = batch
        return jnp.mean((jax.vmap(model)(x) - y) ** 2)

    return traces, loss_fn


def test_fit_reuses_compiled_step_across_calls():
    # The compiled step depends only on the loss, optimizer, model structure and shapes: a second
    # fit with the same ones must not compile it again. Traces are counted by a Python side effect;
    # each call traces the loss once more only for its cheap output-shape check.
    traces, loss_fn = _trace_counting_mse()

    x = jnp.linspace(-1.0, 1.0, 32)[:, None]
    data = (x, 3.0 * x)
    model = eqx.nn.Linear(1, 1, key=jax.random.key(0))
    opt = optax.sgd(0.1)
    first, _ = fit(
        model, loss_fn, data, opt, steps=8, batch_size=8, key=jax.random.key(1), progress=False
    )
    count = len(traces)
    assert count >= 2  # shape check + compiling the step
    second, _ = fit(
        model, loss_fn, data, opt, steps=8, batch_size=8, key=jax.random.key(1), progress=False
    )
    assert len(traces) == count + 1
    assert jnp.array_equal(first.weight, second.weight)
    # New data of the same shape is an argument, not a baked-in constant: still no retrace, and
    # the result follows the new data.
    third, _ = fit(
        model,
        loss_fn,
        (x, -2.0 * x),
        opt,
        steps=8,
        batch_size=8,
        key=jax.random.key(1),
        progress=False,
    )
    assert len(traces) == count + 2
    assert float(third.weight[0, 0]) < 0.0 < float(first.weight[0, 0])


def test_fit_with_frozen_array_leaves():
    # Arrays rejected by `trainable` stay fixed and are not hashed as static values.
    model = eqx.nn.Linear(1, 1, key=jax.random.key(0))
    x = jnp.linspace(-1.0, 1.0, 16)[:, None]

    def loss_fn(model, batch, *, key):
        return jnp.mean((jax.vmap(model)(batch) - 2.0 * batch) ** 2)

    only_weight = lambda leaf: eqx.is_inexact_array(leaf) and leaf.ndim == 2
    trained, _ = fit(
        model,
        loss_fn,
        x,
        optax.sgd(0.1),
        steps=20,
        batch_size=16,
        key=jax.random.key(2),
        progress=False,
        trainable=only_weight,
    )
    assert jnp.array_equal(trained.bias, model.bias)
    assert not jnp.array_equal(trained.weight, model.weight)


def test_partial_dispatches_share_one_compile_and_match_full_ones():
    # 37 steps with validation every 10 and 16 steps per dispatch gives dispatches of 10, 10, 10
    # and 7 steps: all run the one compiled 16-step program (skipped steps do nothing), and the
    # result equals one step per dispatch.
    traces, loss_fn = _trace_counting_mse()

    model, data, _ = _problem(64)
    kw = dict(steps=37, batch_size=16, key=jax.random.key(3), progress=False)
    opt = optax.adam(1e-2)
    before = len(traces)
    fused, hist = fit(model, loss_fn, data, opt, val_data=data, val_every=10, **kw)
    # probe + step compile (cond traces the loss for both branches' shapes) + validation
    assert len(traces) - before <= 4
    single, _ = fit(model, loss_fn, data, opt, steps_per_dispatch=1, **kw)
    assert [r["step"] for r in hist] == list(range(1, 38))
    assert tree_allclose(fused, single, rtol=1e-5, atol=1e-6)


def test_nonfinite_stop_hands_back_the_last_good_model(tmp_path):
    model, (x, y), _ = _problem(n=64)
    y = y.at[40].set(jnp.nan)
    args = dict(batch_size=16, key=jax.random.key(5), progress=False, steps_per_dispatch=4)
    ckpt = tmp_path / "final.dlc"
    with pytest.raises(NonFiniteLossError) as err:
        fit(model, mse, (x, y), optax.adam(1e-2), steps=200, checkpoint_path=ckpt, **args)
    error = err.value
    # checkpoint_path alone is written at the end only: the message must not name a file
    assert "No checkpoint was written" in str(error) and error.checkpoint is None
    assert not ckpt.exists()
    assert "`.model` and `.opt_state`" in str(error)
    assert error.history[-1]["step"] == error.step
    assert error.step > 1, "the seed must give a few good steps first"
    # The attached model is exactly the model after step - 1 (same batches, same numbers).
    expected, _ = fit(model, mse, (x, y), optax.adam(1e-2), steps=error.step - 1, **args)
    assert tree_equal_bits(
        eqx.filter(error.model, eqx.is_array), eqx.filter(expected, eqx.is_array)
    )
    assert error.opt_state is not None


def test_nonfinite_message_names_the_last_checkpoint(tmp_path):
    model, (x, y), _ = _problem(n=64)
    y = y.at[40].set(jnp.nan)
    ckpt = tmp_path / "ckpt.dlc"
    with pytest.raises(NonFiniteLossError) as err:
        fit(
            model,
            mse,
            (x, y),
            optax.adam(1e-2),
            steps=200,
            batch_size=16,
            key=jax.random.key(5),
            progress=False,
            checkpoint_path=ckpt,
            checkpoint_every=2,
        )
    error = err.value
    last = (error.step - 1) // 2 * 2
    if last:
        assert error.checkpoint == str(ckpt) and error.checkpoint_step == last
        assert f"The last checkpoint is {str(ckpt)!r} (step {last})" in str(error)
    else:
        assert "No checkpoint was written yet" in str(error)


def test_skipped_steps_are_counted_and_logged(caplog):
    model, (x, y), _ = _problem(n=64)
    y = y.at[3].set(jnp.inf)
    with caplog.at_level("WARNING", logger="dynlearn.train"):
        _, hist = fit(
            model,
            mse,
            (x, y),
            optax.adam(1e-2),
            steps=40,
            batch_size=16,
            key=jax.random.key(6),
            progress=False,
            skip_nonfinite=True,
        )
    assert hist.n_skipped == sum(1 for r in hist if r.get("skipped")) > 0
    summary = [r.message for r in caplog.records if "steps were skipped" in r.message]
    assert summary == [
        f"fit: {hist.n_skipped} of 40 steps were skipped for a non-finite loss or "
        "gradient (see the 'skipped' entries of the history)"
    ]


def test_unwritable_checkpoint_path_fails_before_the_first_step(tmp_path):
    model, data, _ = _problem()
    (tmp_path / "a_file").write_text("x")
    calls = []

    def counting_loss(model, batch, *, key):
        calls.append(1)
        return mse(model, batch, key=key)

    with pytest.raises(OSError, match="fit: cannot write checkpoints to .*a_file"):
        fit(
            model,
            counting_loss,
            data,
            optax.sgd(1e-2),
            steps=5,
            batch_size=8,
            key=jax.random.key(0),
            progress=False,
            checkpoint_path=tmp_path / "a_file" / "ckpt.dlc",
        )
    assert calls == []


def test_progress_bar_is_off_when_stderr_is_not_a_terminal(capfd):
    model, data, _ = _problem()
    fit(model, mse, data, optax.sgd(1e-2), steps=3, batch_size=8, key=jax.random.key(0))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    fit(
        model,
        mse,
        data,
        optax.sgd(1e-2),
        steps=3,
        batch_size=8,
        key=jax.random.key(0),
        progress=True,
    )
    out, err = capfd.readouterr()
    assert out == "" and "fit: 100%" in err and "IProgress" not in err


def test_a_failed_check_inside_the_loss_hands_back_the_state_before_the_dispatch():
    x = jnp.linspace(-1.0, 1.0, 32)[:, None]
    y = 3.0 * x  # sgd moves w from 1 towards 3; the check fires once w passes 1.5

    def loss(w, batch, *, key):
        xb, yb = batch
        w = eqx.error_if(w, w[0] > 1.5, "w left its range")
        return jnp.mean((xb * w[None, :] - yb) ** 2)

    args = dict(batch_size=32, key=jax.random.key(0), progress=False, steps_per_dispatch=4)
    with pytest.raises(eqx.EquinoxRuntimeError, match="w left its range") as err:
        fit(jnp.ones(1), loss, (x, y), optax.sgd(0.1), steps=100, **args)
    error = err.value
    assert error.step > 0 and error.step % 4 == 0  # the state at the start of the dispatch
    before, _ = fit(jnp.ones(1), loss, (x, y), optax.sgd(0.1), steps=error.step, **args)
    assert float(error.model[0]) > 1.0 and bool(jnp.all(error.model == before))
    assert error.opt_state is not None
    assert any("attached to this error as `.model`" in note for note in error.__notes__)


def test_sample_batch_draws_distinct_uniform_subsets():
    """Each batch is a subset (no repeats) and every sample is equally likely: over 2000 keys the
    inclusion counts of n = 50 samples in batches of 10 match n * p = 400 within a chi-square
    bound (49 degrees of freedom: 99.9% quantile ~ 85.4)."""
    from dynlearn.train import sample_batch

    n, batch_size, draws = 50, 10, 2000
    data = jnp.arange(n)
    batches = jax.vmap(lambda k: sample_batch(data, batch_size, n, key=k))(
        jax.random.split(jax.random.key(3), draws)
    )
    batches = np.asarray(batches)
    assert all(len(set(row)) == batch_size for row in batches)
    counts = np.bincount(batches.ravel(), minlength=n)
    expected = draws * batch_size / n
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 85.4, chi2


def test_sample_batch_for_many_samples_draws_distinct_uniform_subsets():
    """Above `TOP_K_DRAW_ABOVE` samples the draw is a top-k of uniforms: still distinct samples,
    each equally likely (inclusion counts of 40 equal blocks of n over 4000 batches of 16
    against their expectation 1600: chi-square, 39 degrees of freedom, 99.9% quantile ~ 72.1),
    and the smaller-n path still draws what `jax.random.choice` draws."""
    from dynlearn.train import sample_batch
    from dynlearn.train._batching import TOP_K_DRAW_ABOVE

    n, batch_size, draws, blocks = TOP_K_DRAW_ABOVE + 3616, 16, 4000, 40
    data = jnp.arange(n)
    batches = np.asarray(
        jax.vmap(lambda k: sample_batch(data, batch_size, n, key=k))(
            jax.random.split(jax.random.key(5), draws)
        )
    )
    assert batches.min() >= 0 and batches.max() < n
    assert all(len(set(row)) == batch_size for row in batches)
    counts = np.bincount(batches.ravel() * blocks // n, minlength=blocks)
    expected = draws * batch_size / blocks
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 72.1, chi2
    small = TOP_K_DRAW_ABOVE
    key = jax.random.key(1)
    expected_idx = jax.random.choice(key, small, (batch_size,), replace=False)
    np.testing.assert_array_equal(
        sample_batch(jnp.arange(small), batch_size, small, key=key), expected_idx
    )
