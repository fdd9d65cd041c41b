"""Generalized teacher forcing (GTF) for training PLRNNs on chaotic data.

Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
Dynamics" (ICML 2023). Along a training sequence the latent state is pulled towards the
data-inferred state, `z̃_t = (1 - α) F(z̃_{t-1}) + α ẑ_t`, where (identity observation) `ẑ_t`
replaces the observed units by the data. The loss is the MSE of the un-forced predictions
`observe(F(z̃_{t-1}))`. Gradients flow through `z̃`, so Jacobian products are damped by
`(1 - α)`; `α = 1 - 1/G`, with `G` the growth of Jacobian norms, keeps them bounded (aGTF).
`α = 0` is plain backpropagation through time; `α = 1` every `τ` steps (and 0 otherwise) is
sparse teacher forcing (Mikhaeil et al. 2022).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._types import Array, ArrayLike, Float, Key
from .._validation import (
    as_array,
    check_dtype,
    check_finite,
    check_in_range,
    check_int,
    check_option,
)
from ..train import History, NonFiniteLossError, fit
from ._plrnn import ShallowPLRNN


def _forced_rollout(model: ShallowPLRNN, sequence, alpha, interval: int):
    """Predictions `observe(F(z̃_{t-1}))` for t = 1..T-1 and the forced states z̃_0..z̃_{T-2}."""
    n = model.data_size

    def body(z, inputs):
        x_t, t = inputs
        z_pred = model.step(z)
        force = jnp.where(t % interval == 0, alpha, jnp.zeros_like(alpha))
        z_next = z_pred.at[:n].set((1 - force) * z_pred[:n] + force * x_t)
        return z_next, (model.observe(z_pred), z)

    ts = jnp.arange(1, sequence.shape[0], dtype=jnp.int32)
    _, (preds, states) = jax.lax.scan(body, model.encode(sequence[0]), (sequence[1:], ts))
    return preds, states


def _check_sequences(sequences, model, where):
    if not isinstance(model, ShallowPLRNN):
        raise TypeError(f"{where}: model must be a ShallowPLRNN, got {type(model).__name__}")
    sequences = check_dtype(where, "sequences", sequences, cast_integers=True)
    check_finite(where, "sequences", sequences)
    if sequences.ndim != 3 or sequences.shape[2] != model.data_size:
        raise ValueError(
            f"{where}: sequences must have shape (batch, time, {model.data_size}), got "
            f"{tuple(sequences.shape)}"
        )
    if sequences.shape[1] < 2:
        raise ValueError(
            f"{where}: sequences need at least 2 time points, got {sequences.shape[1]}"
        )
    return sequences


def gtf_loss(
    model: ShallowPLRNN,
    sequences: Float[Array, "batch time observed"],
    *,
    alpha: float | Float[Array, ""] = 0.0,
    interval: int = 1,
    key: Key | None = None,
) -> Float[Array, ""]:
    """Generalized-teacher-forcing loss on a batch of sequences.

    Each sequence starts from `encode(x_0)`; at every step `t` the prediction
    `x̂_t = observe(F(z̃_{t-1}))` enters the loss `mean ||x̂_t - x_t||²`, and when `t % interval
    == 0` the observed units of the state are forced, `z̃_t[:N] = (1 - α) F(z̃_{t-1})[:N] + α x_t`.

    Use with `dynlearn.train.fit` through `functools.partial(gtf_loss, alpha=0.1)`.

    **Arguments:**

    - `model`: the `ShallowPLRNN`.
    - `sequences`: data windows, shape `(batch, time, data_size)`.
    - `alpha`: forcing strength in `[0, 1]` (0: backpropagation through time).
    - `interval`: force only every `interval` steps (with `alpha=1`: sparse teacher forcing).
    - `key`: unused (the trainer's loss signature).

    **Returns:** the scalar mean squared prediction error.

    **Raises:** `ValueError` for sequences of the wrong shape or with NaN or inf (when not
    traced), `interval < 1`, or a concrete `alpha` outside `[0, 1]`; `TypeError` for complex
    sequences or a model that is not a `ShallowPLRNN`.
    """
    del key
    sequences = _check_sequences(sequences, model, "gtf_loss")
    check_int("gtf_loss", "interval", interval)
    check_in_range("gtf_loss", "alpha", alpha, 0.0, 1.0)
    alpha = jnp.asarray(alpha, sequences.dtype)
    preds, _ = jax.vmap(lambda s: _forced_rollout(model, s, alpha, interval))(sequences)
    return jnp.mean((preds - sequences[:, 1:]) ** 2)


def estimate_forcing_alpha(
    model: ShallowPLRNN,
    sequences: Float[Array, "batch time observed"],
    *,
    alpha: float | Float[Array, ""] = 0.0,
) -> Float[Array, ""]:
    """The adaptive forcing strength `α* = max(0, 1 - 1/G)` of aGTF.

    `G` is the geometric mean of the spectral norms `||J_t||₂` of the model's Jacobians along the
    (forced, with the current `alpha`) latent trajectories of `sequences`: the typical growth
    factor per step, which forcing with `α*` brings down to one.

    **Arguments:**

    - `model`: the `ShallowPLRNN`.
    - `sequences`: data windows `(batch, time, data_size)`.
    - `alpha`: the forcing used to generate the latent states.

    **Returns:** a scalar in `[0, 1)`.

    **Raises:** as `gtf_loss` (sequences, model, `alpha`).
    """
    sequences = _check_sequences(sequences, model, "estimate_forcing_alpha")
    check_in_range("estimate_forcing_alpha", "alpha", alpha, 0.0, 1.0)
    alpha = jnp.asarray(alpha, sequences.dtype)
    _, states = jax.vmap(lambda s: _forced_rollout(model, s, alpha, 1))(sequences)
    states = jax.lax.stop_gradient(states.reshape(-1, states.shape[-1]))
    norms = jax.vmap(lambda z: jnp.linalg.norm(model.jacobian(z), ord=2))(states)
    growth = jnp.exp(jnp.mean(jnp.log(jnp.maximum(norms, 1e-12))))
    return jnp.maximum(0.0, 1 - 1 / growth)


def trajectory_windows(
    trajectory: Float[ArrayLike, "time dim"], length: int, *, stride: int = 1
) -> Float[Array, "windows length dim"]:
    """All windows of `length` consecutive samples, `stride` apart, from one trajectory.

    **Arguments:**

    - `trajectory`: a series `(time, dim)`.
    - `length`: window length (>= 2).
    - `stride`: offset between window starts.

    **Returns:** `(n_windows, length, dim)`.

    **Raises:** `ValueError` if the series is not 2-D or shorter than one window, `length < 2`
    or `stride < 1`; `TypeError` for non-integer `length` or `stride`, or a non-array series.
    """
    traj = as_array("trajectory_windows", "trajectory", trajectory)
    check_int("trajectory_windows", "length", length, minimum=2)
    check_int("trajectory_windows", "stride", stride)
    if traj.ndim != 2:
        raise ValueError(
            f"trajectory_windows: trajectory must have shape (time, dim), got {tuple(traj.shape)}"
        )
    if length < 2 or stride < 1:
        raise ValueError(
            f"trajectory_windows: need length >= 2 and stride >= 1, got {length} and {stride}"
        )
    if traj.shape[0] < length:
        raise ValueError(
            f"trajectory_windows: series of length {traj.shape[0]} is shorter than the window "
            f"length {length}"
        )
    starts = np.arange(0, traj.shape[0] - length + 1, stride)
    return traj[starts[:, None] + np.arange(length)[None, :]]


class _Forced(eqx.Module):
    """A PLRNN with GTF's training state: the forcing strength `alpha` and the number of steps
    taken. `fit` trains all three leaves; `_annealing` hands the model's gradients to the user's
    optimizer and applies the other two "gradients" as they are, which `_forced_loss` makes the
    annealing step. So alpha lives in the trained PyTree: checkpoints and resumed runs keep it."""

    model: ShallowPLRNN
    alpha: Array
    count: Array


def _annealing(optimizer: optax.GradientTransformation) -> optax.GradientTransformation:
    """`optimizer` on the model; the increments of `alpha` and of the step count pass through.
    Its state is `optimizer`'s own, so it pairs with the bare model (in errors, for instance).
    The same `optimizer` object gives the same wrapper (see `_cached_annealing`)."""
    try:
        return _cached_annealing(optimizer)
    except TypeError:  # an unhashable transform: no caching
        return _make_annealing(optimizer)


def _make_annealing(optimizer: optax.GradientTransformation) -> optax.GradientTransformation:

    def update(grads, state, params=None):
        inner = None if params is None else params.model
        updates, state = optimizer.update(grads.model, state, inner)
        return _Forced(updates, grads.alpha, grads.count), state

    return optax.GradientTransformation(lambda params: optimizer.init(params.model), update)


# `train.fit` reuses its compiled step when called again with the same loss and optimizer
# objects: returning the same wrapper (and the same loss, `_loss_for`) for the same settings lets
# repeated `fit_gtf` calls (seeds, restarts) skip recompilation.
_cached_annealing = functools.lru_cache(maxsize=16)(_make_annealing)


@functools.lru_cache(maxsize=16)
def _loss_for(adaptive: bool, every: int, decay: float):
    return functools.partial(_forced_loss, adaptive=adaptive, every=every, decay=decay)


def _forced_loss(forced: _Forced, batch, *, key, adaptive: bool, every: int, decay: float):
    """`gtf_loss` with aGTF's alpha, annealed every `every` steps (when the count is a multiple
    of `every`). The added term is zero, but its gradient is the change of alpha and 1 for the
    count, which `_annealing` applies: the annealing runs inside `fit`'s compiled steps."""
    del key
    # alpha is not differentiated: the schedule sees constants, so no tangents enter the cond
    fixed = jax.lax.stop_gradient(forced)
    alpha = fixed.alpha
    new_alpha = alpha
    if adaptive:

        def annealed():
            est = estimate_forcing_alpha(fixed.model, batch, alpha=alpha)
            return jnp.where(est > alpha, est, decay * alpha + (1 - decay) * est)

        due = fixed.count.astype(jnp.int32) % every == 0
        new_alpha = jax.lax.cond(due, annealed, lambda: alpha)
    loss = gtf_loss(forced.model, batch, alpha=new_alpha)
    state_step = (forced.alpha - alpha) * (new_alpha - alpha) + (forced.count - fixed.count)
    return loss + state_step, {"alpha": new_alpha}


def _as_windows(trajectories, sequence_length: int, stride: int, data_size: int, dtype):
    """Training windows of one trajectory `(time, obs)`, a stack `(n, time, obs)` or a list."""
    if isinstance(trajectories, (list, tuple)):
        series = [
            check_dtype("fit_gtf", f"trajectories[{i}]", t, cast_integers=True)
            for i, t in enumerate(trajectories)
        ]
    else:
        arr = check_dtype("fit_gtf", "trajectories", trajectories, cast_integers=True)
        series = list(arr) if arr.ndim == 3 else [arr]
    if not series:
        raise ValueError("fit_gtf: no trajectories given")
    windows = []
    for i, traj in enumerate(series):
        if traj.ndim != 2 or traj.shape[1] != data_size:
            raise ValueError(
                f"fit_gtf: trajectory {i} must have shape (time, {data_size}), got "
                f"{tuple(traj.shape)}; pass one (time, {data_size}) array, a stack "
                f"(n, time, {data_size}) or a list of them"
            )
        if traj.shape[0] < sequence_length:
            raise ValueError(
                f"fit_gtf: trajectory {i} has {traj.shape[0]} time points, shorter than the "
                f"window length sequence_length={sequence_length}"
            )
        check_finite("fit_gtf", f"trajectories (trajectory {i})", traj)
        windows.append(trajectory_windows(traj, sequence_length, stride=stride))
    return jnp.concatenate(windows).astype(dtype)


def fit_gtf(
    model: ShallowPLRNN,
    trajectories: Float[ArrayLike, "time observed"]
    | Float[ArrayLike, "n time observed"]
    | Sequence[Float[ArrayLike, "_time observed"]],
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    batch_size: int,
    sequence_length: int,
    key: Key,
    alpha: float | str = "adaptive",
    alpha_every: int = 5,
    alpha_decay: float = 0.999,
    alpha_init: float | None = None,
    stride: int = 1,
    **fit_kwargs: Any,
) -> tuple[ShallowPLRNN, History]:
    """Train a `ShallowPLRNN` with generalized teacher forcing, fixed or adaptive `α`.

    With `alpha="adaptive"` (aGTF) the forcing strength starts at `alpha_init` (default: the
    estimate `estimate_forcing_alpha` on the first `batch_size` windows; the authors' code starts
    at 1) and every `alpha_every` steps it jumps up to a larger new estimate on the step's
    minibatch, or else decays as `α = alpha_decay α + (1 - alpha_decay) α*`.

    Training runs through `dynlearn.train.fit` (progress bar, checkpoints, resuming, non-finite
    guards): `α` and the step count travel with the model in the trained PyTree, so a run resumed
    from a checkpoint of `fit_gtf` continues with its `α`. (For a fixed `α`, `train.fit` with
    `gtf_loss` on `trajectory_windows` does the same.)

    **Arguments:**

    - `model`: the initial `ShallowPLRNN`.
    - `trajectories`: training data: one trajectory `(time, data_size)`, a stack
      `(n, time, data_size)`, or a list of trajectories (of any lengths). Windows never cross
      from one trajectory to the next.
    - `optimizer`: any optax transform (it trains the model; `α` follows the schedule).
    - `steps`, `batch_size`: optimizer steps and windows per step (at most the number of
      windows).
    - `sequence_length`: window length `T`.
    - `key`: PRNG key for the minibatches (drawn as `train.fit` draws them).
    - `alpha`: a fixed forcing strength in `[0, 1]` or `"adaptive"`.
    - `alpha_every`, `alpha_decay`: the aGTF annealing schedule.
    - `alpha_init`: aGTF's initial forcing strength in `[0, 1]` (default: the estimate).
    - `stride`: offset between training windows.
    - `fit_kwargs`: passed on to `dynlearn.train.fit`: `progress`, `steps_per_dispatch`,
      `callbacks` (called with the bare `ShallowPLRNN`), `checkpoint_path`,
      `checkpoint_every`, `resume_from` (a checkpoint written by `fit_gtf`),
      `skip_nonfinite`, `mesh`.

    **Returns:** `(model, history)`: the trained `ShallowPLRNN` and a `dynlearn.train.History`
    with one record per step (`step`, `loss`, and `alpha`, the forcing used at that step);
    `history.column("alpha")` is the schedule.

    **Raises:** `ValueError` for bad `alpha`, `alpha_init` or `alpha_decay` (outside `[0, 1]`),
    non-positive counts (`steps`, `batch_size`, `alpha_every`, `stride`, `sequence_length < 2`),
    trajectories with NaN or inf or shorter than a window; `TypeError` for complex
    trajectories, non-integer counts or a model that is not a `ShallowPLRNN`; what `train.fit`
    raises. A `NonFiniteLossError` carries the bare model and the
    optimizer's state.
    """
    where = "fit_gtf"
    if not isinstance(model, ShallowPLRNN):
        raise TypeError(f"{where}: model must be a ShallowPLRNN, got {type(model).__name__}")
    check_int(where, "steps", steps)
    check_int(where, "batch_size", batch_size)
    check_int(where, "sequence_length", sequence_length, minimum=2)
    check_int(where, "stride", stride)
    adaptive = alpha == "adaptive"
    if isinstance(alpha, str):
        check_option(where, "alpha", alpha, ("adaptive",))
    if not adaptive:
        check_in_range(where, "alpha", alpha, 0.0, 1.0)
    if alpha_init is not None:
        check_in_range(where, "alpha_init", alpha_init, 0.0, 1.0)
    check_int(where, "alpha_every", alpha_every)
    check_in_range(where, "alpha_decay", alpha_decay, 0.0, 1.0)
    for name in ("trainable", "val_data", "val_every"):
        if name in fit_kwargs:
            raise TypeError(f"fit_gtf: {name} is not supported (pass it to train.fit instead)")
    windows = _as_windows(trajectories, sequence_length, stride, model.data_size, model.a.dtype)
    batch_size = min(batch_size, windows.shape[0])
    dtype = windows.dtype
    if not adaptive:
        a0 = jnp.asarray(alpha, dtype)
    elif alpha_init is not None:
        a0 = jnp.asarray(alpha_init, dtype)
    else:
        a0 = estimate_forcing_alpha(model, windows[:batch_size])
    loss = _loss_for(adaptive, int(alpha_every), float(alpha_decay))
    callbacks = tuple(fit_kwargs.pop("callbacks", ()))
    fit_kwargs["callbacks"] = [
        lambda step, forced, history, cb=cb: cb(step, forced.model, history) for cb in callbacks
    ]
    forced = _Forced(model, a0, jnp.zeros((), dtype))
    try:
        forced, history = fit(
            forced,
            loss,
            windows,
            _annealing(optimizer),
            steps=steps,
            batch_size=batch_size,
            key=key,
            **fit_kwargs,
        )
    except (NonFiniteLossError, eqx.EquinoxRuntimeError) as err:
        if isinstance(getattr(err, "model", None), _Forced):
            err.model = err.model.model
        raise
    return forced.model, history
