"""Pure-XLA fixed-step explicit Runge-Kutta integration with a hand-written discrete adjoint.

Private: `dynlearn.kernels.odeint_fixed` validates its input and calls `forward` / `backward`
through `_primitive.fused_call`, which adds `jvp`, `vmap` and higher derivatives.

Layout. The `(T - 1) * per_interval` steps are grouped per interval into blocks of `block`
steps (about sqrt(total) steps; a block may end with identity steps of size zero when `block`
does not divide `per_interval`). The forward pass is one nested `lax.scan` (intervals, blocks,
steps) that keeps the state at every save time and at the start of every block.

Backward pass (the discrete adjoint of the Runge-Kutta steps; Griewank & Walther, "Evaluating
Derivatives", 2008, Chapter 12 for the checkpointing): a reverse scan over blocks, each
recomputed from its stored start state, so only one block of residuals is alive at a time
(memory ~ sqrt(n)). Two ways to go back through a recomputed block:

- With constant save times (the usual case), `_rk_adjoint`: the recomputation records the
  residuals of every evaluation's pullback, and the adjoint of each RK step is written out
  and applied from them; the parameter gradient of the whole block is a few large products
  over all its evaluations (`_stage_vjp`). The recomputed steps are the forward steps, so XLA
  compiles their kernels once.
- With a cotangent for `ts`, JAX's `vjp` of the recomputed block. Every evaluation carries a
  zero perturbation `e` (a `_tap`: identity forward, so the recomputed steps are the forward
  steps) whose cotangent is that evaluation's; the parameter gradient of the block is then one
  batched `vjp` of `vmap(f)` over all its stage inputs.

Either way the weight gradients are not accumulated step by step: on CPUs, many tiny
weight-gradient products become a few large ones. Cotangents the caller discards (parameters
not differentiated) are not computed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._butcher import ButcherTableau
from ._rk_adjoint import block_adjoint
from ._stage_vjp import StageVjp

tree_map = jax.tree_util.tree_map


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Static layout of the steps: `per_interval` steps per interval, in blocks of `block`.

    `isolate_stages`: keep each stage value a kernel output of its own (`_isolated`), for
    vector fields whose first product XLA would otherwise fuse with each stage's combination
    (`_small_dots`)."""

    per_interval: int
    block: int
    isolate_stages: bool = False

    @property
    def blocks(self) -> int:
        return -(-self.per_interval // self.block)

    @property
    def padded(self) -> bool:
        return self.blocks * self.block != self.per_interval

    def step(self, index, t0, dt):
        """Start time and size of step `index` of the interval from `t0` with step `dt`.

        Padding steps (index >= per_interval) sit at the interval's end with size zero: they
        leave the state unchanged."""
        if not self.padded:
            return t0 + index.astype(dt.dtype) * dt, dt
        t = t0 + jnp.minimum(index, self.per_interval).astype(dt.dtype) * dt
        return t, jnp.where(index < self.per_interval, dt, jnp.zeros_like(dt))


def _axpy(y, dt, coefs, ks):
    """y + dt * sum_j coefs[j] * ks[j], leafwise, skipping zero coefficients.

    Written with `lax` primitives: `jnp` arithmetic goes through a jitted wrapper per call,
    which is most of the tracing time of a solve with many stages."""

    def leaf(y_leaf, *k_leaves):
        acc = None
        for coef, k in zip(coefs, k_leaves):
            if coef == 0.0:
                continue
            term = k if coef == 1.0 else lax.mul(k, np.asarray(coef, k.dtype))
            acc = term if acc is None else lax.add(acc, term)
        if acc is None:
            return y_leaf
        return lax.add(y_leaf, lax.mul(lax.convert_element_type(dt, y_leaf.dtype), acc))

    return tree_map(leaf, y, *ks)


def _isolated(tree, one):
    """`tree / one` for a run-time `one` (a float32 scalar 1): an exact identity that XLA does
    not fuse into consumers that read each value many times (division counts as expensive), so
    every stage value feeds the same vector-field kernels instead of one fused copy per
    stage."""

    def leaf(x):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            return x
        return lax.div(x, lax.convert_element_type(one, x.dtype))

    return tree_map(leaf, tree)


def rk_step(tableau: ButcherTableau, f, t, dt, y, perturb=None, record=False, isolate=False):
    """One explicit RK step from (t, y) with step dt; returns `(y_next, stacked)`.

    Evaluates the `tableau.evaluations` stages that `y_next` depends on. The last stage of a
    first-same-as-last method, `f(t + dt, y_next)`, only feeds the next step, as its first
    stage: at a fixed step size the next step evaluates it itself, which costs the same number
    of evaluations and carries nothing between steps.

    `perturb`, if given, is a PyTree like `y` with a leading axis of one entry per evaluation,
    tapped onto that evaluation's value (`_tap`: under `jax.vjp` its cotangent is the
    evaluation's). With `record`, `f` returns `(k, record)`. `stacked` stacks along a leading
    axis, over the evaluations, their records (`record`), else their inputs and times
    `(inputs, times)` (`perturb`), else is `()`. With `isolate`, the stage values pass
    through `_isolated` on their way to `f`.
    """
    ks, inputs, times, records = [], [], [], []
    one = lax.optimization_barrier(np.ones((), np.float32)) if isolate else None

    def evaluate(time, y_stage):
        if isolate:
            y_stage = _isolated(y_stage, one)
        if record:
            k, rec = f(time, y_stage)
            records.append(rec)
        else:
            k = f(time, y_stage)
        if perturb is not None:
            e = len(ks)
            k = tree_map(lambda k_leaf, p: _tap(k_leaf, p[e]), k, perturb)
            inputs.append(y_stage)
            times.append(time)
        return k

    ks.append(evaluate(t, y))
    for i in range(1, tableau.evaluations):
        y_stage = _axpy(y, dt, tableau.a[i - 1], ks)
        ks.append(evaluate(lax.add(t, lax.mul(np.asarray(tableau.c[i], dt.dtype), dt)), y_stage))
    y_next = _axpy(y, dt, tableau.b, ks)
    if record:
        return y_next, _stack(records)
    if perturb is not None:
        return y_next, (_stack(inputs), jnp.stack(times))
    return y_next, ()


@jax.custom_vjp
def _tap(k, e):
    """`k`, unchanged; the cotangent of `k` is also returned as the cotangent of `e`.

    A zero perturbation `k + e` whose primal computation is free: the forward program stays the
    plain step, while `e`'s cotangent is the cotangent of the evaluation `k`."""
    del e
    return k


def _tap_fwd(k, e):
    del e
    return k, None


def _tap_bwd(_, g):
    return g, g


_tap.defvjp(_tap_fwd, _tap_bwd)


def _run_block(tableau, schedule: Schedule, f, y, b, t0, dt, perturb=None, record=False):
    """`schedule.block` steps of the interval starting at t0, from step `b * block`.

    Returns the state after the block and, stacked over the block's steps, what `rk_step`
    stacks over each step's evaluations (`perturb`, `record`: see there).
    """
    block = schedule.block

    def one_step(y, x):
        j, e = x
        t, step_dt = schedule.step(b * block + j, t0, dt)
        return rk_step(tableau, f, t, step_dt, y, e, record, schedule.isolate_stages)

    return lax.scan(one_step, y, (jnp.arange(block), perturb))


def _stack(trees):
    return tree_map(lambda *leaves: jnp.stack(leaves), *trees)


def _interval_times(ts, per_interval: int):
    """Each interval's start time and step size."""
    return ts[:-1], (ts[1:] - ts[:-1]) / per_interval


def forward(tableau: ButcherTableau, schedule: Schedule, f, ts, y0):
    """(ys at ts, block-start states y of shape (T - 1, blocks, ...))."""
    t0s, dts = _interval_times(ts, schedule.per_interval)

    def interval(y, x):
        t0, dt = x

        def block_step(y_start, b):
            y_end, _ = _run_block(tableau, schedule, f, y_start, b, t0, dt)
            return y_end, y_start

        y, starts = lax.scan(block_step, y, jnp.arange(schedule.blocks))
        return y, (y, starts)

    _, (ys, starts) = lax.scan(interval, y0, (t0s, dts))
    ys = tree_map(lambda a, b: jnp.concatenate([a[None], b]), y0, ys)
    return ys, starts


def _block_vjp(tableau, schedule, f_params, params, y_start, b, t0, dt, g_end, *, params_needed):
    """Block `b` of the interval from `t0` differentiated by JAX (`backward` with `ts`).

    Recomputes the block under `jax.vjp` with a zero perturbation `_tap`ped onto every
    evaluation, whose cotangent is that evaluation's; the block's parameter cotangent is then
    one batched `vjp` of `vmap(f)` over all its stage inputs. Returns `(g_y_start, g_params,
    g_t0, g_dt)` (`g_params` None without `params_needed`)."""
    n_eval = tableau.evaluations
    block = schedule.block

    def f(t, y):
        return f_params(params, t, y)

    def flat(x):
        return x.reshape((block * n_eval,) + x.shape[2:])

    # Zero perturbations, one per evaluation, stacked over the block's steps: their
    # cotangents are the cotangents of the evaluations (only needed for `g_params`).
    perturb = tree_map(lambda leaf: jnp.zeros((block, n_eval) + leaf.shape, leaf.dtype), y_start)

    def run(y, e, t0, dt):
        y_end, stacked = _run_block(tableau, schedule, f, y, b, t0, dt, e)
        if e is None:
            return y_end, None
        inputs, times = stacked
        return y_end, (tree_map(flat, inputs), flat(times))

    # Only the inputs whose cotangents are used are arguments of the vjp: parameters that are
    # not differentiated leave smaller (and fewer distinct) kernels to compile and run.
    if not params_needed:
        _, pull, _ = jax.vjp(lambda y, t0, dt: run(y, None, t0, dt), y_start, t0, dt, has_aux=True)
        g_y, gt0, gdt = pull(g_end)
        return g_y, None, gt0, gdt
    _, pull, (inputs, times) = jax.vjp(run, y_start, perturb, t0, dt, has_aux=True)
    g_y, g_e, gt0, gdt = pull(g_end)
    cts = tree_map(flat, g_e)
    _, pull_params = jax.vjp(
        lambda p: jax.vmap(lambda t, y: f_params(p, t, y))(times, inputs), params
    )
    (g_params,) = pull_params(cts)
    return g_y, g_params, gt0, gdt


def _accumulate(acc, g, fresh):
    """`acc + g` over flat `acc`, or `g` alone while `fresh` (a scalar bool).

    The first block gone through (the solve's last) starts the sum, so the accumulator needs no
    zeros to start from (each would be a kernel of its own to compile); it is flat, so leaves
    of one size share one kernel and no small trailing dimension makes LLVM unroll the loop
    (several times the compile time)."""
    g = g.reshape(-1)
    return lax.select(lax.broadcast(fresh, acc.shape), g, lax.add(acc, g))


def backward(
    tableau: ButcherTableau,
    schedule: Schedule,
    f_params: Callable[[Any, Any, Any], Any],
    params,
    ts,
    y0,
    starts,
    g_ys,
    *,
    params_needed: bool = True,
    ts_needed: bool = True,
):
    """Cotangents of (params, ts, y0) from the cotangents `g_ys` of the saved states.

    `f_params(params, t, y)` is the vector field as a function of its differentiable
    parameters; `starts` are the block-start states from `forward`. Cotangents that are not
    needed (`params_needed`, `ts_needed` False) are returned as zeros without being computed.
    """
    per_interval = schedule.per_interval
    # Constant save times (the usual case): the hand-written adjoint of `_rk_adjoint`, which
    # recomputes each block once and reuses its residuals for every cotangent. With a cotangent
    # for `ts` (the stage times then matter too): JAX's vjp of the recomputed block.
    recorded = not ts_needed
    if recorded:
        stage = StageVjp(f_params, params, ts[0], y0, with_params=params_needed)

        def run_block(f_rec, y, b, t0, dt, record):
            return _run_block(tableau, schedule, f_rec, y, b, t0, dt, None, record)

    def block_back(carry, x):
        g_y, (g_params, fresh), g_t0, g_dt, t0, dt = carry
        y_start, b = x
        if recorded:
            g_y, g_p = block_adjoint(tableau, schedule, run_block, stage, y_start, b, t0, dt, g_y)
        else:
            g_y, g_p, gt0, gdt = _block_vjp(
                tableau,
                schedule,
                f_params,
                params,
                y_start,
                b,
                t0,
                dt,
                g_y,
                params_needed=params_needed,
            )
            g_t0, g_dt = g_t0 + gt0, g_dt + gdt
        if params_needed:
            g_params = tree_map(lambda acc, g: _accumulate(acc, g, fresh), g_params, g_p)
            fresh = jnp.zeros_like(fresh)
        return (g_y, (g_params, fresh), g_t0, g_dt, t0, dt), None

    def interval_back(carry, x):
        g_y, g_params = carry
        t0, dt, g_save, starts_i = x
        g_y = tree_map(jnp.add, g_y, g_save)
        zero = jnp.zeros_like(t0)
        init = (g_y, g_params, zero, zero, t0, dt)
        (g_y, g_params, g_t0, g_dt, _, _), _ = lax.scan(
            block_back, init, (starts_i, jnp.arange(schedule.blocks)), reverse=True
        )
        return (g_y, g_params), (g_t0, g_dt)

    (t0s, dts), pull_times = jax.vjp(lambda ts: _interval_times(ts, per_interval), ts)
    g_later = tree_map(lambda g: g[1:], g_ys)
    g_y = tree_map(jnp.zeros_like, y0)
    # With `params_needed`, any values of the parameters' types while `fresh`: the first
    # block's cotangent replaces them.
    g_params = params if params_needed else tree_map(jnp.zeros_like, params)
    g_params = tree_map(lambda p: p.reshape(-1), g_params)
    (g_y, (g_params, _)), (g_t0s, g_dts) = lax.scan(
        interval_back,
        (g_y, (g_params, jnp.bool_(True))),
        (t0s, dts, g_later, starts),
        reverse=True,
    )
    g_params = tree_map(lambda g, p: g.reshape(p.shape), g_params, params)
    (g_ts,) = pull_times((g_t0s, g_dts))
    g_y = tree_map(lambda a, g: a + g[0], g_y, g_ys)
    return g_params, g_ts, g_y
