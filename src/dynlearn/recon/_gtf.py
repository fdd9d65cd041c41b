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

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._types import Array, ArrayLike, Float, Key
from ._plrnn import ShallowPLRNN


def _forced_rollout(model: ShallowPLRNN, sequence, alpha, interval: int):
    """Predictions `observe(F(z̃_{t-1}))` for t = 1..T-1 and the forced states z̃_0..z̃_{T-2}."""
    n = model.n_observed

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
    if sequences.ndim != 3 or sequences.shape[2] != model.n_observed:
        raise ValueError(
            f"{where}: sequences must have shape (batch, time, {model.n_observed}), got "
            f"{tuple(sequences.shape)}"
        )
    if sequences.shape[1] < 2:
        raise ValueError(
            f"{where}: sequences need at least 2 time points, got {sequences.shape[1]}"
        )


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
    - `sequences`: data windows, shape `(batch, time, n_observed)`.
    - `alpha`: forcing strength in `[0, 1]` (0: backpropagation through time).
    - `interval`: force only every `interval` steps (with `alpha=1`: sparse teacher forcing).
    - `key`: unused (the trainer's loss signature).

    **Returns:** the scalar mean squared prediction error.

    **Raises:** `ValueError` for sequences of the wrong shape or `interval < 1`.
    """
    del key
    _check_sequences(sequences, model, "gtf_loss")
    if interval < 1:
        raise ValueError(f"gtf_loss: interval must be >= 1, got {interval}")
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
    - `sequences`: data windows `(batch, time, n_observed)`.
    - `alpha`: the forcing used to generate the latent states.

    **Returns:** a scalar in `[0, 1)`.
    """
    _check_sequences(sequences, model, "estimate_forcing_alpha")
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

    **Raises:** `ValueError` if the series is shorter than one window.
    """
    traj = jnp.asarray(trajectory)
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


def fit_gtf(
    model: ShallowPLRNN,
    trajectory: Float[ArrayLike, "time observed"],
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
) -> tuple[ShallowPLRNN, dict[str, np.ndarray]]:
    """Train a `ShallowPLRNN` with generalized teacher forcing, fixed or adaptive `α`.

    With `alpha="adaptive"` (aGTF) the forcing strength starts at `alpha_init` (default: the
    estimate `estimate_forcing_alpha`; the authors' code starts at 1) and every `alpha_every`
    steps it jumps up to a larger new estimate, or else decays as
    `α = alpha_decay α + (1 - alpha_decay) α*`. All steps run in one compiled `lax.scan`.
    (For a fixed `α` the generic `dynlearn.train.fit` with `gtf_loss` works as well; this
    routine exists because `α` is training state.)

    **Arguments:**

    - `model`: the initial `ShallowPLRNN`.
    - `trajectory`: training data `(time, n_observed)`.
    - `optimizer`: any optax transform.
    - `steps`, `batch_size`: optimizer steps and windows per step.
    - `sequence_length`: window length `T`.
    - `key`: PRNG key for the minibatches.
    - `alpha`: a fixed forcing strength in `[0, 1]` or `"adaptive"`.
    - `alpha_every`, `alpha_decay`: the aGTF annealing schedule.
    - `alpha_init`: aGTF's initial forcing strength in `[0, 1]` (default: the estimate).
    - `stride`: offset between training windows.

    **Returns:** `(model, history)` with `history["loss"]` and `history["alpha"]` per step.

    **Raises:** `ValueError` for bad `alpha`, `steps` or a trajectory shorter than a window.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"fit_gtf: steps and batch_size must be >= 1, got {steps}, {batch_size}")
    adaptive = alpha == "adaptive"
    if not adaptive and (isinstance(alpha, str) or not 0 <= alpha <= 1):
        raise ValueError(f"fit_gtf: alpha must be in [0, 1] or 'adaptive', got {alpha!r}")
    if alpha_init is not None and not 0 <= alpha_init <= 1:
        raise ValueError(f"fit_gtf: alpha_init must be in [0, 1], got {alpha_init!r}")
    windows = trajectory_windows(trajectory, sequence_length, stride=stride)
    windows = windows.astype(model.a.dtype)
    n = windows.shape[0]
    params, static = eqx.partition(model, eqx.is_inexact_array)
    with jax.numpy_dtype_promotion("standard"):
        opt_state = optimizer.init(params)

    def loss_fn(p, batch, a):
        return gtf_loss(eqx.combine(p, static), batch, alpha=a)

    def one_step(carry, step):
        p, o, a = carry
        idx = jax.random.choice(
            jax.random.fold_in(key, step), n, (min(batch_size, n),), replace=False
        )
        batch = windows[idx]
        if adaptive:

            def annealed():
                est = estimate_forcing_alpha(eqx.combine(p, static), batch, alpha=a)
                return jnp.where(est > a, est, alpha_decay * a + (1 - alpha_decay) * est)

            a = jax.lax.cond(step % alpha_every == 0, annealed, lambda: a)
        loss, grads = jax.value_and_grad(loss_fn)(p, batch, a)
        with jax.numpy_dtype_promotion("standard"):
            updates, o = optimizer.update(grads, o, p)
        p = eqx.apply_updates(p, updates)
        return (p, o, a), (loss, a)

    @eqx.filter_jit
    def run(p, o, a):
        return jax.lax.scan(one_step, (p, o, a), jnp.arange(steps, dtype=jnp.int32))

    a0 = jnp.asarray(0.0 if adaptive else alpha, windows.dtype)
    if adaptive and alpha_init is not None:
        a0 = jnp.asarray(alpha_init, windows.dtype)
    elif adaptive:
        a0 = estimate_forcing_alpha(model, windows[: min(batch_size, n)])
    (params, _, _), (losses, alphas) = run(params, opt_state, a0)
    history = {"loss": np.asarray(losses), "alpha": np.asarray(alphas)}
    return eqx.combine(params, static), history
