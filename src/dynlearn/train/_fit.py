"""`fit`: one small functional training loop for every model family.

Each dispatch runs `steps_per_dispatch` optimizer steps fused in one `lax.scan`, so Python
overhead is paid once per dispatch. Minibatches and loss keys are derived from the run key and the
step number alone (`fold_in`), which makes a resumed run bit-for-bit equal to an uninterrupted one.
A step whose loss or gradient is non-finite is never applied: training either stops with
`NonFiniteLossError` (default) or skips the update (`skip_nonfinite=True`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from tqdm.auto import tqdm

from ._batching import check_data, sample_batch
from ._checkpoint import load_checkpoint, save_checkpoint
from ._history import History
from ._sharding import batch_sharding, data_mesh, replicated


class NonFiniteLossError(FloatingPointError):
    """Training met a non-finite loss or gradient; `step` is the 1-based step that failed."""

    def __init__(self, message: str, step: int, checkpoint: str | None):
        super().__init__(message)
        self.step = step
        self.checkpoint = checkpoint


def _split_output(out):
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
        return out[0], out[1]
    return out, {}


def _check_loss_output(loss_fn, model, batch, key):
    try:
        out = eqx.filter_eval_shape(lambda m, b, k: loss_fn(m, b, key=k), model, batch, key)
    except TypeError as err:
        raise TypeError(
            f"fit: calling loss_fn(model, batch, *, key) failed: {err}. The loss must accept the "
            "model, a minibatch with the same structure as `data`, and a keyword-only `key`."
        ) from err
    loss, aux = _split_output(out)
    if not hasattr(loss, "shape") or loss.shape != ():
        shape = getattr(loss, "shape", type(loss).__name__)
        raise ValueError(
            f"fit: loss_fn must return a scalar (or (scalar, aux_dict)); it returned shape "
            f"{shape}. Reduce it, e.g. with jnp.mean."
        )


def _resolve_mesh(mesh, batch_size: int) -> Mesh | None:
    if isinstance(mesh, str):
        if mesh != "auto":
            raise ValueError(f"fit: mesh must be a jax.sharding.Mesh, None or 'auto', got {mesh!r}")
        if len(jax.devices()) == 1:
            return None
        mesh = data_mesh()
        if batch_size % mesh.size:
            return None  # cannot split evenly: fall back to one device rather than fail
    if mesh is not None and batch_size % mesh.size:
        raise ValueError(
            f"fit: batch_size={batch_size} is not divisible by the {mesh.size} devices of the "
            "mesh; choose a multiple of the device count."
        )
    return mesh


class _Static:
    """A static jit key: hashed and compared by value when the object is hashable (a model's
    non-array skeleton), by identity otherwise (a loss that is an unhashable callable)."""

    def __init__(self, obj):
        self.obj = obj
        try:
            self._hash = hash(obj)
            self._by_value = True
        except TypeError:
            self._hash = id(obj)
            self._by_value = False

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        if not isinstance(other, _Static) or self._by_value != other._by_value:
            return False
        return self.obj is other.obj or (self._by_value and self.obj == other.obj)


class _Run(eqx.Module):
    """What one training run compiles against. Every field is static and hashable, so calling
    `fit` again with the same loss, optimizer, model structure and batch shape reuses the
    compiled step instead of compiling it anew."""

    loss_fn: _Static = eqx.field(static=True)
    optimizer: _Static = eqx.field(static=True)
    skeleton: _Static = eqx.field(static=True)  # the model's non-array parts
    batch_size: int = eqx.field(static=True)
    n: int = eqx.field(static=True)
    mesh: Any = eqx.field(static=True)
    dispatch: int = eqx.field(static=True)  # steps per compiled call

    def loss_of(self, p, frozen, batch, k):
        model = eqx.combine(p, frozen, self.skeleton.obj)
        return _split_output(self.loss_fn.obj(model, batch, key=k))


def _one_step(run: _Run, frozen, data, data_key, loss_key, carry, step):
    p, o = carry
    batch = sample_batch(data, jax.random.fold_in(data_key, step), run.batch_size, run.n)
    if run.mesh is not None:
        batch = jax.lax.with_sharding_constraint(batch, batch_sharding(run.mesh))
    (loss, aux), grads = jax.value_and_grad(run.loss_of, has_aux=True)(
        p, frozen, batch, jax.random.fold_in(loss_key, step)
    )
    # optax mixes Python floats with int32 step counts, which strict promotion rejects;
    # the optimizer's internals are not ours to police, so trace them under standard rules.
    with jax.numpy_dtype_promotion("standard"):
        updates, new_o = run.optimizer.obj.update(grads, o, p)
    new_p = eqx.apply_updates(p, updates)
    finite = jnp.isfinite(loss)
    for g in jax.tree_util.tree_leaves(grads):
        finite = finite & jnp.all(jnp.isfinite(g))
    keep = lambda new, old: jnp.where(finite, new, old)
    new_p = jax.tree_util.tree_map(keep, new_p, p)
    new_o = jax.tree_util.tree_map(keep, new_o, o)
    scalars = {k: v for k, v in aux.items() if jnp.ndim(v) == 0}
    return (new_p, new_o), (loss, scalars, finite)


# Data and keys are arguments, not closure constants: closed-over arrays would be baked into the
# compiled program (slow to compile, duplicated in memory) and force a recompile on every call.
# Every dispatch has the same static length; steps at or past `stop` (a shorter chunk before a
# validation, checkpoint or the end) are skipped by `lax.cond`, so one compile serves them all.
@eqx.filter_jit
def _run_chunk(p, o, frozen, data, data_key, loss_key, first_step, stop, *, run: _Run):
    steps_ = first_step + jnp.arange(run.dispatch, dtype=jnp.int32)

    def real(carry, step):
        return _one_step(run, frozen, data, data_key, loss_key, carry, step)

    def skip(carry, step):
        out = jax.eval_shape(real, carry, step)[1]
        return carry, jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), out)

    body = lambda carry, step: jax.lax.cond(step < stop, real, skip, carry, step)
    return jax.lax.scan(body, (p, o), steps_)


@eqx.filter_jit
def _val_loss(p, frozen, val_data, key, *, run: _Run):
    loss, _ = run.loss_of(p, frozen, val_data, key)
    return loss


def fit(
    model,
    loss_fn: Callable[..., Any],
    data,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    batch_size: int,
    key,
    steps_per_dispatch: int = 16,
    val_data=None,
    val_every: int | None = None,
    callbacks: Sequence[Callable] = (),
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume_from: str | Path | None = None,
    skip_nonfinite: bool = False,
    mesh: Mesh | str | None = "auto",
    progress: bool = True,
    trainable: Callable[[Any], bool] = eqx.is_inexact_array,
):
    """Train `model` by minimising `loss_fn` over minibatches of `data` with `optimizer`.

    **Arguments:**

    - `model`: any PyTree (usually an `eqx.Module`); leaves selected by `trainable` are trained.
    - `loss_fn`: `loss_fn(model, batch, *, key) -> scalar` or `-> (scalar, aux_dict)`; scalar
      aux values are logged in the history.
    - `data`: a PyTree of arrays sharing their leading (sample) axis.
    - `optimizer`: any `optax.GradientTransformation`.
    - `steps`: total number of optimizer steps (a resumed run continues up to this number).
    - `batch_size`: samples per step, drawn without replacement.
    - `key`: PRNG key for batch sampling and for the loss's `key`.
    - `steps_per_dispatch`: optimizer steps fused into one compiled call.
    - `val_data`, `val_every`: evaluate `loss_fn` on all of `val_data` every `val_every` steps
      (logged as `val_loss`).
    - `callbacks`: functions `cb(step, model, history)` called after each dispatch; returning
      `True` stops training.
    - `checkpoint_path`, `checkpoint_every`: write an atomic checkpoint every `checkpoint_every`
      steps and at the end.
    - `resume_from`: a checkpoint to continue from (model, optimizer state, step and key).
    - `skip_nonfinite`: skip steps whose loss or gradient is non-finite instead of stopping.
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis to shard batches over, `"auto"` (all
      local devices when there are several) or `None` (one device).
    - `progress`: show a tqdm progress bar with the running loss.
    - `trainable`: filter choosing the trained leaves (default: floating-point arrays).

    **Returns:** `(model, history)`, the trained model and a `History` of per-step records.

    **Raises:** `ValueError` for inconsistent data, a bad batch size, `steps <= 0` or a
    non-scalar loss; `NonFiniteLossError` naming the failing step (the last good checkpoint, if
    any, is kept on disk).
    """
    if not isinstance(steps, int | np.integer) or steps <= 0:
        raise ValueError(f"fit: steps must be a positive integer, got {steps!r}")
    if steps_per_dispatch < 1:
        raise ValueError(f"fit: steps_per_dispatch must be >= 1, got {steps_per_dispatch}")
    for name, every in (("val_every", val_every), ("checkpoint_every", checkpoint_every)):
        if every is not None and every <= 0:
            raise ValueError(f"fit: {name} must be positive, got {every}")
    if (val_every is None) != (val_data is None):
        raise ValueError("fit: pass val_data and val_every together")
    if checkpoint_every is not None and checkpoint_path is None:
        raise ValueError("fit: checkpoint_every needs checkpoint_path")
    n = check_data(data, batch_size)
    data = jax.tree_util.tree_map(jnp.asarray, data)
    if val_data is not None:
        check_data(val_data, 1)
        val_data = jax.tree_util.tree_map(jnp.asarray, val_data)

    data_key, loss_key, val_key = jax.random.split(key, 3)
    probe_batch = sample_batch(data, data_key, batch_size, n)
    _check_loss_output(loss_fn, model, probe_batch, loss_key)

    params, static = eqx.partition(model, trainable)
    with jax.numpy_dtype_promotion("standard"):
        opt_state = optimizer.init(params)
    start = 0
    if resume_from is not None:
        (model, opt_state), start, key, _ = load_checkpoint(resume_from, (model, opt_state))
        params, static = eqx.partition(model, trainable)
        data_key, loss_key, val_key = jax.random.split(key, 3)

    # Frozen arrays (leaves `trainable` rejects) travel as arguments; the rest is static.
    frozen, skeleton = eqx.partition(static, eqx.is_array)
    mesh = _resolve_mesh(mesh, batch_size)
    if mesh is not None:
        rep = replicated(mesh)
        params, opt_state, frozen, data = jax.device_put((params, opt_state, frozen, data), rep)
        if val_data is not None:
            val_data = jax.device_put(val_data, rep)

    dispatch = max(1, min(steps_per_dispatch, steps - start))
    run = _Run(
        _Static(loss_fn), _Static(optimizer), _Static(skeleton), batch_size, n, mesh, dispatch
    )

    def run_chunk(p, o, first_step, stop):
        return _run_chunk(p, o, frozen, data, data_key, loss_key, first_step, stop, run=run)

    def val_loss_fn(p, step):
        return _val_loss(p, frozen, val_data, jax.random.fold_in(val_key, step), run=run)

    history = History()
    bar = tqdm(total=steps, initial=start, disable=not progress, desc="fit", leave=True)
    step = start
    try:
        while step < steps:
            boundary = steps
            for every in (val_every, checkpoint_every):
                if every is not None:
                    boundary = min(boundary, (step // every + 1) * every)
            length = min(steps_per_dispatch, boundary - step)
            (params, opt_state), (losses, aux, finite) = run_chunk(
                params,
                opt_state,
                jnp.asarray(step, jnp.int32),
                jnp.asarray(step + length, jnp.int32),
            )
            losses = np.asarray(losses)[:length]
            finite = np.asarray(finite)[:length]
            aux = {k: np.asarray(v)[:length] for k, v in aux.items()}
            for i in range(length):
                record = {"step": step + i + 1, "loss": float(losses[i])}
                record.update({k: float(v[i]) for k, v in aux.items()})
                if not finite[i]:
                    record["skipped"] = True
                history.append(record)
            if not finite.all():
                bad = step + int(np.argmin(finite)) + 1
                if not skip_nonfinite:
                    ckpt = str(checkpoint_path) if checkpoint_path is not None else None
                    where = (
                        f" The last good checkpoint is kept at {ckpt!r}."
                        if ckpt and Path(ckpt).exists()
                        else ""
                    )
                    raise NonFiniteLossError(
                        f"fit: non-finite loss or gradient at step {bad} (loss="
                        f"{float(losses[bad - step - 1])}); lower the learning rate, clip "
                        "gradients, check the data for NaN, or pass skip_nonfinite=True."
                        f"{where}",
                        step=bad,
                        checkpoint=ckpt,
                    )
            step += length
            bar.update(length)
            bar.set_postfix(loss=f"{history[-1]['loss']:.4g}")
            if val_every is not None and step % val_every == 0:
                history[-1]["val_loss"] = float(val_loss_fn(params, step))
            if checkpoint_every is not None and (step % checkpoint_every == 0 or step == steps):
                save_checkpoint(
                    checkpoint_path, (eqx.combine(params, static), opt_state), step=step, key=key
                )
            if callbacks:
                current = eqx.combine(params, static)
                if any([bool(cb(step, current, history)) for cb in callbacks]):
                    break
    finally:
        bar.close()
    if checkpoint_path is not None and checkpoint_every is None:
        final = (eqx.combine(params, static), opt_state)
        save_checkpoint(checkpoint_path, final, step=step, key=key)
    return eqx.combine(params, static), history
