"""`fit`: one small functional training loop for every model family.

Each dispatch runs `steps_per_dispatch` optimizer steps fused in one `lax.scan`, so Python
overhead is paid once per dispatch. Minibatches and loss keys are derived from the run key and the
step number alone (`fold_in`), which makes a resumed run bit-for-bit equal to an uninterrupted one.
A step whose loss or gradient is non-finite is never applied: training either stops with
`NonFiniteLossError` (default), which carries the last good model and optimizer state, or skips
the update (`skip_nonfinite=True`), counted in the history and reported through `logging`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from .._validation import check_int
from ._batching import check_data, sample_batch
from ._checkpoint import check_writable, load_checkpoint, save_checkpoint
from ._history import History
from ._sharding import batch_sharding, data_mesh, replicated

_log = logging.getLogger("dynlearn.train")


class NonFiniteLossError(FloatingPointError):
    """Training met a non-finite loss or gradient.

    **Attributes:**

    - `step`: the 1-based step that failed.
    - `model`: the last good model (after step `step - 1`), so no work is lost.
    - `opt_state`: the optimizer state that goes with `model`.
    - `checkpoint`: path of the last checkpoint written by this run (or the one it resumed
      from), or `None` if there is none; `checkpoint_step` is its step.
    - `history`: the history up to and including the failing step.
    """

    def __init__(
        self,
        message: str,
        step: int,
        checkpoint: str | None,
        *,
        model=None,
        opt_state=None,
        checkpoint_step: int | None = None,
        history=None,
    ):
        super().__init__(message)
        self.step = step
        self.checkpoint = checkpoint
        self.checkpoint_step = checkpoint_step
        self.model = model
        self.opt_state = opt_state
        self.history = history


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        return shell.get_ipython() is not None
    except Exception:  # pragma: no cover - a broken IPython install
        return False


def _progress_bar(progress: bool | None, **kwargs):
    """A tqdm bar, or a disabled one. `progress=None`: shown only on a terminal or in a
    notebook, so logs and CI output do not fill with carriage-return updates. The widget bar
    is used only where ipywidgets is importable (tqdm.auto would otherwise warn)."""
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        progress = bool(isatty and isatty()) or _in_notebook()
    if progress and _in_notebook():
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            pass
        else:
            from tqdm.auto import tqdm as auto_tqdm

            return auto_tqdm(disable=False, **kwargs)
    from tqdm import tqdm as plain_tqdm

    return plain_tqdm(disable=not progress, **kwargs)


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
    batch = sample_batch(data, run.batch_size, run.n, key=jax.random.fold_in(data_key, step))
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
    progress: bool | None = None,
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
      steps and at the end. The location is checked (folder created, a file written and
      removed) before the first step, so an unwritable path fails before any training.
    - `resume_from`: a checkpoint to continue from (model, optimizer state, step and key).
    - `skip_nonfinite`: skip steps whose loss or gradient is non-finite instead of stopping;
      skipped steps have `"skipped": True` in the history (`History.n_skipped` counts them)
      and are reported with a `logging` warning on the `dynlearn.train` logger.
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis to shard batches over, `"auto"` (all
      local devices when there are several) or `None` (one device).
    - `progress`: show a tqdm progress bar with the running loss: `True`, `False`, or `None`
      (default) for on only when stderr is a terminal or in a Jupyter notebook.
    - `trainable`: filter choosing the trained leaves (default: floating-point arrays).

    **Returns:** `(model, history)`, the trained model and a `History` of per-step records.

    **Raises:** `ValueError` for inconsistent data, `val_data` whose shapes differ from
    `data`'s, a bad batch size, `steps <= 0` or a non-scalar loss; `OSError` for a checkpoint
    location that cannot be written (before the first step); `NonFiniteLossError` naming the
    failing step and the last checkpoint, and carrying the last good model and optimizer state.
    """
    steps = check_int("fit", "steps", steps, minimum=1)
    steps_per_dispatch = check_int("fit", "steps_per_dispatch", steps_per_dispatch, minimum=1)
    for name, every in (("val_every", val_every), ("checkpoint_every", checkpoint_every)):
        if every is not None:
            check_int("fit", name, every, minimum=1)
    if (val_every is None) != (val_data is None):
        raise ValueError(
            f"fit: pass val_data and val_every together, got val_data="
            f"{'None' if val_data is None else 'given'} and val_every={val_every!r}"
        )
    if checkpoint_every is not None and checkpoint_path is None:
        raise ValueError("fit: checkpoint_every needs checkpoint_path")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable, got {loss_fn!r}")
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(
            f"fit: optimizer must be an optax.GradientTransformation, got {optimizer!r}"
        )
    batch_size = check_int("fit", "batch_size", batch_size, minimum=1)
    n = check_data(data, batch_size)
    data = jax.tree_util.tree_map(jnp.asarray, data)
    if val_data is not None:
        check_data(val_data, 1, name="val_data")
        val_data = jax.tree_util.tree_map(jnp.asarray, val_data)
        _check_like_data(data, val_data)
    if checkpoint_path is not None:
        checkpoint_path = check_writable(checkpoint_path, where="fit")

    data_key, loss_key, val_key = jax.random.split(key, 3)
    probe_batch = sample_batch(data, batch_size, n, key=data_key)
    _check_loss_output(loss_fn, model, probe_batch, loss_key)

    params, static = eqx.partition(model, trainable)
    with jax.numpy_dtype_promotion("standard"):
        opt_state = optimizer.init(params)
    start = 0
    last_checkpoint: tuple[str, int] | None = None
    if resume_from is not None:
        (model, opt_state), start, key, _ = load_checkpoint(resume_from, (model, opt_state))
        last_checkpoint = (str(resume_from), start)
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
    bar = _progress_bar(progress, total=steps, initial=start, desc="fit", leave=True)
    step = start
    n_skipped = 0
    try:
        while step < steps:
            boundary = steps
            for every in (val_every, checkpoint_every):
                if every is not None:
                    boundary = min(boundary, (step // every + 1) * every)
            length = min(steps_per_dispatch, boundary - step)
            params_before, opt_before = params, opt_state
            try:
                (params, opt_state), (losses, aux, finite) = run_chunk(
                    params,
                    opt_state,
                    jnp.asarray(step, jnp.int32),
                    jnp.asarray(step + length, jnp.int32),
                )
                losses = np.asarray(losses)[:length]  # waits for the steps: errors surface here
            except eqx.EquinoxRuntimeError as err:
                # A check inside the loss (`eqx.error_if`, e.g. a solver that blew up) stopped
                # the compiled steps: hand back the state before them rather than lose it.
                err.model = eqx.combine(params_before, static)
                err.opt_state = opt_before
                err.step = step
                err.add_note(
                    f"fit: a run-time check failed within steps {step + 1} to {step + length}. "
                    f"The model and optimizer state after step {step} are attached to this "
                    "error as `.model` and `.opt_state`."
                    + _where_checkpoint(last_checkpoint, checkpoint_path, checkpoint_every)
                )
                raise
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
                    # The state before the failing step: rerun this chunk up to it (the same
                    # compiled call, so the same numbers as the first time).
                    good_p, good_o = params_before, opt_before
                    if bad - 1 > step:
                        (good_p, good_o), _ = run_chunk(
                            params_before,
                            opt_before,
                            jnp.asarray(step, jnp.int32),
                            jnp.asarray(bad - 1, jnp.int32),
                        )
                    del history[bad - start :]
                    raise _nonfinite_error(
                        bad,
                        float(losses[bad - step - 1]),
                        last_checkpoint,
                        checkpoint_path,
                        checkpoint_every,
                        model=eqx.combine(good_p, static),
                        opt_state=good_o,
                        history=history,
                    )
                skipped = [step + i + 1 for i in range(length) if not finite[i]]
                n_skipped += len(skipped)
                _log.warning(
                    "fit: skipped %d step(s) with a non-finite loss or gradient (%s); %d of "
                    "%d steps skipped so far",
                    len(skipped),
                    _steps_text(skipped),
                    n_skipped,
                    step + length - start,
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
                last_checkpoint = (str(checkpoint_path), step)
            if callbacks:
                current = eqx.combine(params, static)
                if any([bool(cb(step, current, history)) for cb in callbacks]):
                    break
    finally:
        bar.close()
    if n_skipped:
        _log.warning(
            "fit: %d of %d steps were skipped for a non-finite loss or gradient (see the "
            "'skipped' entries of the history)",
            n_skipped,
            step - start,
        )
    if checkpoint_path is not None and checkpoint_every is None:
        final = (eqx.combine(params, static), opt_state)
        save_checkpoint(checkpoint_path, final, step=step, key=key)
    return eqx.combine(params, static), history


def _steps_text(steps: list[int]) -> str:
    shown = ", ".join(str(s) for s in steps[:10])
    return f"steps {shown}" + (f" and {len(steps) - 10} more" if len(steps) > 10 else "")


def _nonfinite_error(
    bad, loss, last_checkpoint, checkpoint_path, checkpoint_every, **state
) -> NonFiniteLossError:
    where = _where_checkpoint(last_checkpoint, checkpoint_path, checkpoint_every)
    return NonFiniteLossError(
        f"fit: non-finite loss or gradient at step {bad} (loss={loss}); lower the learning "
        "rate, clip gradients, check the data for NaN, or pass skip_nonfinite=True. The last "
        f"good model and optimizer state (after step {bad - 1}) are attached to this error as "
        f"`.model` and `.opt_state`.{where}",
        step=bad,
        checkpoint=None if last_checkpoint is None else last_checkpoint[0],
        checkpoint_step=None if last_checkpoint is None else last_checkpoint[1],
        **state,
    )


def _where_checkpoint(last_checkpoint, checkpoint_path, checkpoint_every) -> str:
    """Where the last checkpoint is, or why there is none, as a sentence for an error."""
    if last_checkpoint is not None:
        where = (
            f" The last checkpoint is {last_checkpoint[0]!r} (step {last_checkpoint[1]}); "
            "resuming from it repeats the same batches, so change something first."
        )
    elif checkpoint_path is not None:
        where = (
            f" No checkpoint was written yet: {str(checkpoint_path)!r} is written every "
            f"{checkpoint_every} steps."
            if checkpoint_every is not None
            else f" No checkpoint was written: {str(checkpoint_path)!r} is only written at the "
            "end (pass checkpoint_every for periodic ones)."
        )
    else:
        where = " No checkpoint was written (no checkpoint_path)."
    return where


def _check_like_data(data, val_data) -> None:
    """`val_data` must have `data`'s structure and per-sample shapes and dtypes (any length)."""
    d_leaves, d_def = jax.tree_util.tree_flatten_with_path(data)
    v_leaves, v_def = jax.tree_util.tree_flatten_with_path(val_data)
    if d_def != v_def:
        raise ValueError(
            f"fit: val_data must have the structure of data; got {v_def} for data of {d_def}"
        )
    for (path, d), (_, v) in zip(d_leaves, v_leaves):
        name = jax.tree_util.keystr(path)
        if d.shape[1:] != v.shape[1:]:
            raise ValueError(
                f"fit: val_data{name} has per-sample shape {tuple(v.shape[1:])} (shape "
                f"{tuple(v.shape)}), but data{name} has {tuple(d.shape[1:])} (shape "
                f"{tuple(d.shape)}); they must match except for the number of samples."
            )
        if d.dtype != v.dtype:
            raise ValueError(
                f"fit: val_data{name} has dtype {v.dtype}, but data{name} has {d.dtype}."
            )
