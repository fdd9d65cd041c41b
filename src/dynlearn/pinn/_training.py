"""Training recipes for PINNs on top of `dynlearn.train.fit`.

- `fit_causal`: the causal-training schedule of Wang, Sankaran & Perdikaris (2022): for each
  `eps` of an increasing list, train until `min_i w_i > delta`, then move on.
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
from ..train import History, fit
from ._losses import PINNLoss


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

    The optimizer state restarts at each `eps` (each stage is one `fit` call).

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
    if isinstance(eps_schedule, str) or not isinstance(eps_schedule, Sequence | np.ndarray):
        raise TypeError(
            f"fit_causal: eps_schedule must be a sequence of numbers, got {eps_schedule!r}"
        )
    if len(eps_schedule) == 0:
        raise ValueError("fit_causal: eps_schedule is empty; give at least one eps")
    for i, eps in enumerate(eps_schedule):
        check_positive("fit_causal", f"eps_schedule[{i}]", eps, allow_zero=True)
    if any(b <= a for a, b in zip(eps_schedule[:-1], eps_schedule[1:])):
        raise ValueError(
            f"fit_causal: eps_schedule must increase, got eps_schedule={tuple(eps_schedule)}"
        )
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
