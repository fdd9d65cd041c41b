"""`pinn.train_causal` against a plain Python loop of the same recipe."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynlearn import pinn
from dynlearn.train import NonFiniteLossError


def _ode(field, p):
    return pinn.partial_derivative(field, p, (1,)) + field(p)  # u' = -u


def _problem(getkey, causal=True):
    terms = {
        "residual": pinn.Residual(_ode),
        "initial": pinn.InitialCondition(lambda p: jnp.ones((), p.dtype)),
    }
    weights = pinn.CausalWeights(4, 1.0, (0.0, 2.0), initial_term="initial") if causal else None
    loss = pinn.PINNLoss(terms, causal=weights)
    batch = {"residual": jnp.linspace(0.0, 2.0, 16)[:, None], "initial": jnp.zeros((1, 1))}
    field = pinn.MLP(1, "scalar", width=8, depth=2, key=getkey())
    return field, loss, batch


def _resample(key, batch):
    return {**batch, "residual": jax.random.uniform(key, (16, 1), maxval=2.0)}


@eqx.filter_jit
def _one_step(params, state, static, loss, batch, optimizer):
    (_, aux), g = jax.value_and_grad(lambda q: loss(eqx.combine(q, static), batch), has_aux=True)(
        params
    )
    with jax.numpy_dtype_promotion("standard"):  # optax mixes floats and int32 counts
        updates, state = optimizer.update(g, state, params)
    return optax.apply_updates(params, updates), state, aux


def _plain_loop(field, loss, batch, optimizer, steps, key, resample, schedule, delta, every):
    """The recipe step by step (one compiled step, a Python loop), eps moved after every
    `every` steps once the smallest weight passes `delta`, stopping when the last one does."""
    params, static = eqx.partition(field, eqx.is_inexact_array)
    with jax.numpy_dtype_promotion("standard"):
        state = optimizer.init(params)
    stage, eps_seen, done = 0, [], 0
    while done < steps:
        n = min(every, steps - done)
        keys = jax.random.split(jax.random.fold_in(key, done), n)
        eps = None if schedule is None else schedule[stage]
        staged = (
            loss if eps is None else eqx.tree_at(lambda l: l.causal.eps, loss, jnp.asarray(eps))
        )
        for k in keys:
            b = batch if resample is None else resample(k, batch)
            params, state, aux = _one_step(params, state, static, staged, b, optimizer)
        done += n
        eps_seen.append(eps)
        if schedule is not None and float(aux["causal_min_weight"]) > delta:
            if stage == len(schedule) - 1:
                break
            stage += 1
    return eqx.combine(params, static), eps_seen


@pytest.mark.parametrize("resample", [None, _resample])
def test_matches_a_plain_loop_with_one_optimizer_state(getkey, resample):
    field, loss, batch = _problem(getkey)
    key, schedule = getkey(), (0.01, 0.1, 100.0)
    opt = optax.adam(1e-2)
    # delta 0.5: the weights pass it at the small eps, not at 100, so the run spends its whole
    # budget: 23 steps = 4 chunks of 5 and one of 3
    trained, hist = pinn.train_causal(
        field, loss, batch, opt, steps=23, key=key, resample=resample,
        eps_schedule=schedule, delta=0.5, check_every=5,
    )  # fmt: skip
    ref, eps_seen = _plain_loop(field, loss, batch, opt, 23, key, resample, schedule, 0.5, 5)
    assert [r["step"] for r in hist] == [5, 10, 15, 20, 23]
    assert [r["eps"] for r in hist] == eps_seen
    assert eps_seen[0] == 0.01 and eps_seen[-1] == 100.0  # the schedule did move
    for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    assert all(0.0 <= r["causal_min_weight"] <= 1.0 for r in hist)


def test_schedule_moves_only_past_delta_and_stays_at_the_last_eps(getkey):
    field, loss, batch = _problem(getkey)
    opt = optax.adam(1e-2)
    # delta 0: every chunk passes, so each chunk takes the next eps and the run stops once the
    # last eps has passed too (the paper's convergence test), before the budget of 20 steps
    _, hist = pinn.train_causal(
        field, loss, batch, opt, steps=20, key=getkey(), eps_schedule=(0.1, 1.0), delta=0.0,
        check_every=4,
    )  # fmt: skip
    assert [(r["step"], r["eps"]) for r in hist] == [(4, 0.1), (8, 1.0)]
    # delta just below 1: the smallest weight exp(-eps * sum of earlier losses) stays below it
    _, hist = pinn.train_causal(
        field, loss, batch, opt, steps=20, key=getkey(), eps_schedule=(100.0, 1000.0),
        delta=0.999999, check_every=4,
    )  # fmt: skip
    assert [r["eps"] for r in hist] == [100.0] * 5


def test_plain_loss_trains_with_the_same_loop(getkey):
    field, loss, batch = _problem(getkey, causal=False)
    opt = optax.adam(1e-2)
    key = getkey()
    trained, hist = pinn.train_causal(field, loss, batch, opt, steps=12, key=key, check_every=6)
    ref, _ = _plain_loop(field, loss, batch, opt, 12, key, None, None, 0.0, 6)
    for a, b in zip(jax.tree.leaves(trained), jax.tree.leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    assert all(np.isnan(r["eps"]) and np.isnan(r["causal_min_weight"]) for r in hist)
    assert hist[-1]["loss"] < hist[0]["loss"]


def test_non_finite_loss_raises_with_the_last_good_model(getkey):
    field, loss, batch = _problem(getkey)

    def nan_points(key, b):  # the template batch is finite; the points of every step are not
        return {**b, "residual": b["residual"].at[3, 0].set(jnp.nan)}

    with pytest.raises(NonFiniteLossError, match="non-finite loss at steps 1-5") as err:
        pinn.train_causal(
            field, loss, batch, optax.adam(1e-2), steps=10, key=getkey(), resample=nan_points,
            check_every=5,
        )  # fmt: skip
    for a, b in zip(jax.tree.leaves(err.value.model), jax.tree.leaves(field)):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments_are_named(getkey):
    field, loss, batch = _problem(getkey)
    opt = optax.adam(1e-2)
    with pytest.raises(TypeError, match="PINNLoss"):  # ours, or the test-time type check
        pinn.train_causal(field, lambda m, b: 0.0, batch, opt, steps=5, key=getkey())
    with pytest.raises(ValueError, match="eps_schedule must increase"):
        pinn.train_causal(field, loss, batch, opt, steps=5, key=getkey(), eps_schedule=(1.0, 0.1))
    with pytest.raises(TypeError, match="resample"):
        pinn.train_causal(field, loss, batch, opt, steps=5, key=getkey(), resample=3)
    with pytest.raises(ValueError, match=r"batch\['residual'\] contains 1 NaN"):
        bad = {**batch, "residual": batch["residual"].at[3, 0].set(jnp.nan)}
        pinn.train_causal(field, loss, bad, opt, steps=5, key=getkey())
    with pytest.raises(ValueError, match="check_every"):
        pinn.train_causal(field, loss, batch, opt, steps=5, key=getkey(), check_every=0)
