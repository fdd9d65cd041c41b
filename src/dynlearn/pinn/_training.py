"""Training recipes for PINNs on top of `dynlearn.train.fit`.

- `train_causal`: the causal-training recipe of Wang, Sankaran & Perdikaris (2022) as their code
  runs it: one Adam state for the whole run, a total step budget, fresh collocation points at
  every step, and each `eps` of an increasing list kept until `min_i w_i > delta`.
- `fit_causal`: the same schedule as stages of `dynlearn.train.fit` (the optimizer restarts at
  each `eps`, a budget per `eps`, `fit`'s minibatches of one fixed point set).
- `lbfgs`: full-batch L-BFGS (`optax.lbfgs` with its zoom line search), the usual second stage
  after Adam. The line search needs the objective itself (`value_fn`) and a state-aware
  `value_and_grad`, which `fit`'s generic `optimizer.update(grads, state, params)` cannot pass,
  so this small loop drives it instead.
- `time_marching`: train consecutive time windows, each starting from the previous solution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, PRNGKeyArray

from .._validation import (
    check_callable,
    check_finite,
    check_in_range,
    check_int,
    check_positive,
)
from ..train import History, NonFiniteLossError, fit
from ._losses import PINNLoss


@eqx.filter_jit
def _causal_chunk(params, opt_state, static, loss, batch, keys, optimizer, resample):
    """`len(keys)` optimizer steps in one compiled call; the last step's loss and min weight."""

    def one(carry, k):
        p, o = carry
        step_batch = batch if resample is None else resample(k, batch)
        (value, aux), grads = eqx.filter_value_and_grad(
            lambda q: loss(eqx.combine(q, static), step_batch), has_aux=True
        )(p)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes floats and int32 counts
            updates, o = optimizer.update(grads, o, p)
        return (eqx.apply_updates(p, updates), o), (value, aux.get("causal_min_weight", value))

    (params, opt_state), (values, min_w) = jax.lax.scan(one, (params, opt_state), keys)
    return params, opt_state, values[-1], min_w[-1]


def train_causal(
    field,
    loss: PINNLoss,
    batch,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    key: PRNGKeyArray,
    resample: Callable | None = None,
    eps_schedule: Sequence[float] | None = (1e-2, 1e-1, 1.0, 1e1, 1e2),
    delta: float = 0.99,
    check_every: int = 50,
):
    """Causal training as Wang, Sankaran & Perdikaris's code runs it.

    One optimizer state for the whole run and a total budget of `steps`: training starts at
    `eps_schedule[0]` and moves to the next `eps` once the smallest causal weight of the last
    step exceeds `delta` (tested every `check_every` steps). The run stops when the smallest
    weight exceeds `delta` at the last `eps` (the paper's convergence test) or when the budget
    runs out, wherever the schedule is; the last record's `step` and `eps` say which.

    With `resample`, every step trains on fresh points `resample(step_key, batch)` (e.g. from
    `pinn.space_time_points`), as the paper does; without, on `batch` itself (full batch).
    `check_every` steps run as one compiled call, and calls with the same `loss` structure,
    `optimizer` and `resample` objects reuse the compilation.

    A loss without causal weights (or `eps_schedule=None`) trains plainly for `steps` steps
    with the same loop, the baseline at the same budget.

    **Arguments:**

    - `field`: the model.
    - `loss`: a `PINNLoss`; with `causal=CausalWeights(...)` its `eps` follows the schedule.
    - `batch`: the loss's batch (a dict of points per term); fixed, or the template `resample`
      is given.
    - `optimizer`: an optax transformation (its state is kept across every `eps`).
    - `steps`: the total number of optimizer steps.
    - `key`: PRNG key of the resampled points (step `i` of the chunk starting at step `s` uses
      `jax.random.split(jax.random.fold_in(key, s), n)[i]`).
    - `resample`: `resample(key, batch) -> batch`, the batch of one step; `None` for `batch`.
    - `eps_schedule`: increasing causality parameters; `None` for no schedule.
    - `delta`: the threshold on the smallest causal weight that moves to the next `eps`.
    - `check_every`: steps between convergence tests (one compiled call); a last shorter
      call spends the remainder of `steps`.

    **Returns:** `(field, history)`: one record per compiled call with `step` (steps done),
    `eps` (NaN without a schedule), `loss` and `causal_min_weight` of its last step (NaN
    without causal weights).

    **Raises:** `ValueError` naming the entry if `batch` holds NaN or inf;
    `NonFiniteLossError` if a call ends with a non-finite loss, carrying the model and
    optimizer state from before that call.
    """
    if not isinstance(loss, PINNLoss):
        raise TypeError(f"train_causal: loss must be a PINNLoss, got {type(loss).__name__}")
    check_int("train_causal", "steps", steps)
    check_int("train_causal", "check_every", check_every)
    if resample is not None:
        check_callable("train_causal", "resample", resample)
    check_finite("train_causal", "batch", batch)
    causal = loss.causal is not None and eps_schedule is not None
    if causal:
        _check_schedule("train_causal", eps_schedule)
        check_in_range("train_causal", "delta", delta, 0.0, 1.0)
    stages = tuple(float(e) for e in eps_schedule) if causal else (None,)
    params, static = eqx.partition(field, eqx.is_inexact_array)
    with jax.numpy_dtype_promotion("standard"):
        opt_state = optimizer.init(params)
    history = History()
    done, stage = 0, 0
    while done < steps:
        eps = stages[stage]
        staged = (
            loss if eps is None else eqx.tree_at(lambda l: l.causal.eps, loss, jnp.asarray(eps))
        )
        n = min(check_every, steps - done)
        keys = jax.random.split(jax.random.fold_in(key, done), n)
        new_params, new_state, value, min_w = _causal_chunk(
            params, opt_state, static, staged, batch, keys, optimizer, resample
        )
        value, min_w = float(value), float(min_w)
        record = {
            "step": done + n,
            "eps": float("nan") if eps is None else eps,
            "loss": value,
            "causal_min_weight": min_w if causal else float("nan"),
        }
        history.append(record)
        if not np.isfinite(value):
            raise NonFiniteLossError(
                f"train_causal: non-finite loss at steps {done + 1}-{done + n} (loss={value}, "
                f"eps={record['eps']}); lower the learning rate or check the points. The model "
                f"and optimizer state after step {done} are attached as `.model`/`.opt_state`.",
                done + 1,
                None,
                model=eqx.combine(params, static),
                opt_state=opt_state,
                history=history,
            )
        params, opt_state, done = new_params, new_state, done + n
        if causal and min_w > delta:
            if stage + 1 == len(stages):
                break  # converged at the last eps: the paper's stopping rule
            stage += 1
    return eqx.combine(params, static), history


def _check_schedule(where: str, eps_schedule) -> None:
    if isinstance(eps_schedule, str) or not isinstance(eps_schedule, Sequence | np.ndarray):
        raise TypeError(
            f"{where}: eps_schedule must be a sequence of numbers, got {eps_schedule!r}"
        )
    if len(eps_schedule) == 0:
        raise ValueError(f"{where}: eps_schedule is empty; give at least one eps")
    for i, eps in enumerate(eps_schedule):
        check_positive(where, f"eps_schedule[{i}]", eps, allow_zero=True)
    if any(b <= a for a, b in zip(eps_schedule[:-1], eps_schedule[1:])):
        raise ValueError(
            f"{where}: eps_schedule must increase, got eps_schedule={tuple(eps_schedule)}"
        )


def fit_causal(
    field,
    loss: PINNLoss,
    data,
    optimizer: optax.GradientTransformation,
    *,
    steps_per_eps: int,
    batch_size: int,
    key: PRNGKeyArray,
    eps_schedule: Sequence[float] = (1e-2, 1e-1, 1.0, 1e1, 1e2),
    delta: float = 0.99,
    **fit_kwargs,
):
    """Causal training: one `fit` per `eps`, each stopped once `min_i w_i > delta`.

    The optimizer state restarts at each `eps` (each stage is one `fit` call), each `eps` has
    its own budget and the points are `fit`'s minibatches of `data`. For the paper's recipe (one
    optimizer state, a total budget, fresh points every step) use `train_causal`.

    **Arguments:**

    - `field`: the model.
    - `loss`: a `PINNLoss` with `causal=CausalWeights(...)`.
    - `data`, `optimizer`, `batch_size`: as for `dynlearn.train.fit`.
    - `steps_per_eps`: the most steps spent on one `eps`.
    - `key`: PRNG key.
    - `eps_schedule`: increasing causality parameters.
    - `delta`: the stopping threshold on the smallest causal weight.
    - `fit_kwargs`: passed on to `fit` (e.g. `steps_per_dispatch`, `progress`).

    **Returns:** `(field, history)`; each record carries the `eps` it was trained with.
    """
    if not isinstance(loss, PINNLoss):
        raise TypeError(f"fit_causal: loss must be a PINNLoss, got {type(loss).__name__}")
    if loss.causal is None:
        raise ValueError("fit_causal: the loss has no causal weighting (pass causal=...)")
    check_int("fit_causal", "steps_per_eps", steps_per_eps)
    check_int("fit_causal", "batch_size", batch_size)
    _check_schedule("fit_causal", eps_schedule)
    check_in_range("fit_causal", "delta", delta, 0.0, 1.0)
    check_finite("fit_causal", "data", data)
    user_callbacks = tuple(fit_kwargs.pop("callbacks", ()))
    history = History()

    def converged(step, model, hist):
        return hist[-1].get("causal_min_weight", 0.0) > delta

    for stage, eps in enumerate(eps_schedule):
        staged = eqx.tree_at(lambda l: l.causal.eps, loss, float(eps))
        field, hist = fit(
            field,
            staged,
            data,
            optimizer,
            steps=steps_per_eps,
            batch_size=batch_size,
            key=jax.random.fold_in(key, stage),
            callbacks=(converged, *user_callbacks),
            **fit_kwargs,
        )
        offset = history[-1]["step"] if history else 0
        for record in hist:
            history.append({**record, "step": record["step"] + offset, "eps": float(eps)})
    return field, history


def lbfgs(
    model,
    loss_fn: Callable,
    data,
    *,
    steps: int,
    key: PRNGKeyArray | None = None,
    memory_size: int = 20,
    trainable: Callable = eqx.is_inexact_array,
    steps_per_dispatch: int = 50,
):
    """Full-batch L-BFGS with a zoom line search (`optax.lbfgs`).

    **Arguments:**

    - `model`: the model.
    - `loss_fn`: `loss_fn(model, batch, *, key) -> scalar | (scalar, aux)`, as for `fit`; the
      whole of `data` is the batch.
    - `data`: the training data.
    - `steps`: number of L-BFGS iterations.
    - `key`: key passed to the loss (fixed over iterations; default `jax.random.key(0)`).
    - `memory_size`: L-BFGS history length.
    - `trainable`: filter of trained leaves.
    - `steps_per_dispatch`: iterations fused per compiled call.

    **Returns:** `(model, history)` with the loss of every iteration.
    """
    check_int("lbfgs", "steps", steps)
    check_int("lbfgs", "memory_size", memory_size)
    check_int("lbfgs", "steps_per_dispatch", steps_per_dispatch)
    check_callable("lbfgs", "loss_fn", loss_fn)
    check_callable("lbfgs", "trainable", trainable)
    if jax.tree_util.tree_leaves(data) == []:
        raise ValueError("lbfgs: data is empty (no arrays); give the full training batch")
    check_finite("lbfgs", "data", data)
    key = jax.random.key(0) if key is None else key
    params, static = eqx.partition(model, trainable)
    data = jax.tree_util.tree_map(jnp.asarray, data)

    def value(p):
        out = loss_fn(eqx.combine(p, static), data, key=key)
        return out[0] if isinstance(out, tuple) else out

    opt = optax.lbfgs(memory_size=memory_size)
    value_and_grad = optax.value_and_grad_from_state(value)

    def one(carry, _):
        p, state = carry
        v, g = value_and_grad(p, state=state)
        updates, state = opt.update(g, state, p, value=v, grad=g, value_fn=value)
        return (optax.apply_updates(p, updates), state), v

    @eqx.filter_jit
    def chunk(p, state, length: Array):
        return jax.lax.scan(one, (p, state), None, length=length.shape[0])

    state = opt.init(params)
    history = History()
    done = 0
    while done < steps:
        n = min(steps_per_dispatch, steps - done)
        (params, state), values = chunk(params, state, jnp.zeros((n, 0)))
        for i, v in enumerate(values.tolist()):
            history.append({"step": done + i + 1, "loss": float(v)})
        done += n
    return eqx.combine(params, static), history


class TimeWindow(eqx.Module):
    """A field on the time window `[t0, t1]` whose network sees the local time in `[0, 1]`.

    `u(x, t) = network(x, (t - t0) / (t1 - t0))`. Derivatives taken through it are with respect
    to the physical time (the chain rule adds the factor `1 / (t1 - t0)`). Train the network
    itself in local time, with the residual's time derivative divided by the window length,
    and wrap it afterwards: then every window of equal length shares one compiled training
    step (see `examples/pinn_allen_cahn_causal.py`).

    **Arguments:**

    - `network`: the field of local coordinates.
    - `t0`, `t1`: the window's edges.
    - `time_index`: the time coordinate (default: last).
    """

    network: Callable
    t0: float = eqx.field(static=True)
    t1: float = eqx.field(static=True)
    time_index: int = eqx.field(default=-1, static=True)

    def __check_init__(self):
        check_callable("TimeWindow", "network", self.network)
        for name in ("t0", "t1"):
            value = getattr(self, name)
            if isinstance(value, bool) or not np.isfinite(value):
                raise ValueError(
                    f"TimeWindow: {name} must be a finite number, got {name}={value!r}"
                )
        if not self.t1 > self.t0:
            raise ValueError(f"TimeWindow: need t1 > t0, got [{self.t0}, {self.t1}]")

    @property
    def in_size(self):
        return getattr(self.network, "in_size", None)

    def __call__(self, x: Array) -> Array:
        s = (x[self.time_index] - self.t0) / (self.t1 - self.t0)
        return self.network(x.at[self.time_index].set(s))


class WindowedField(eqx.Module):
    """A piecewise-in-time field: window `k` covers `[boundaries[k], boundaries[k+1]]`.

    **Arguments:**

    - `fields`: one field per window.
    - `boundaries`: increasing window edges (`len(fields) + 1` values).
    - `time_index`: the time coordinate (default: last).
    """

    fields: tuple
    boundaries: tuple[float, ...] = eqx.field(static=True)
    time_index: int = eqx.field(default=-1, static=True)

    def __check_init__(self):
        if not self.fields:
            raise ValueError("WindowedField: fields is empty; give one field per window")
        for i, f in enumerate(self.fields):
            check_callable("WindowedField", f"fields[{i}]", f)
        edges = self.boundaries
        if not all(np.isfinite(b) for b in edges) or any(
            b <= a for a, b in zip(edges[:-1], edges[1:])
        ):
            raise ValueError(
                f"WindowedField: boundaries must be finite and strictly increasing, got "
                f"boundaries={tuple(edges)}"
            )
        if len(self.boundaries) != len(self.fields) + 1:
            raise ValueError(
                f"WindowedField: {len(self.fields)} fields need {len(self.fields) + 1} "
                f"boundaries, got {len(self.boundaries)}"
            )

    def __call__(self, x: Array) -> Array:
        t = x[self.time_index]
        inner = jnp.asarray(self.boundaries[1:-1], x.dtype)
        k = jnp.sum(t >= inner)
        outs = jnp.stack([f(x) for f in self.fields])
        return outs[k]


def time_marching(
    train_window: Callable[[int, float, float, Callable | None], Callable],
    boundaries: Sequence[float],
    *,
    time_index: int = -1,
) -> WindowedField:
    """Time marching: train window `k` on `[t_k, t_{k+1}]` given the solution of window `k-1`.

    **Arguments:**

    - `train_window`: `train_window(k, t_k, t_{k+1}, previous) -> field`, where `previous` is the
      trained field of window `k-1` (`None` for the first); use `previous` at `t = t_k` as the
      window's initial condition (and often as its initialization).
    - `boundaries`: increasing window edges.
    - `time_index`: the time coordinate.

    **Returns:** a `WindowedField` over all windows.
    """
    check_callable("time_marching", "train_window", train_window)
    edges = tuple(float(b) for b in boundaries)
    if (
        len(edges) < 2
        or not all(np.isfinite(b) for b in edges)
        or any(b <= a for a, b in zip(edges[:-1], edges[1:]))
    ):
        raise ValueError(
            f"time_marching: boundaries must be at least 2 finite, strictly increasing values, "
            f"got boundaries={edges}"
        )
    fields, previous = [], None
    for k in range(len(edges) - 1):
        previous = train_window(k, edges[k], edges[k + 1], previous)
        if not callable(previous):
            raise TypeError(
                f"time_marching: train_window must return a field (a callable), returned "
                f"{type(previous).__name__} for window {k}"
            )
        fields.append(previous)
    return WindowedField(tuple(fields), edges, time_index)
