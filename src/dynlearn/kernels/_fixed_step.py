"""`odeint_fixed` and `iterate`: fixed-grid integration of flows and iteration of maps.

Every step of an explicit Runge-Kutta method (Butcher tableaux in `_butcher`) runs inside one
nested `lax.scan`, saving at the requested times. For the backward pass the steps are grouped
into blocks of about sqrt(n) steps wrapped in `jax.checkpoint`: reverse mode keeps only the
state at block boundaries and recomputes one block at a time, so memory grows like sqrt(n)
instead of n (Griewank & Walther, "Evaluating Derivatives", 2008, Chapter 12; the
"recursive checkpointing" of diffrax with one level). Plain JAX otherwise, so `jvp`, `vmap`
and higher derivatives need no special rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._types import Array, ArrayLike, PyTree
from ._butcher import TABLEAUX, ButcherTableau


def _axpy(y, dt, coefs, ks):
    """y + dt * sum_j coefs[j] * ks[j], leafwise, skipping zero coefficients."""

    def leaf(y_leaf, *k_leaves):
        acc = None
        for coef, k in zip(coefs, k_leaves):
            if coef == 0.0:
                continue
            term = coef * k
            acc = term if acc is None else acc + term
        if acc is None:
            return y_leaf
        return y_leaf + dt.astype(y_leaf.dtype) * acc.astype(y_leaf.dtype)

    return jax.tree_util.tree_map(leaf, y, *ks)


def _rk_step(tableau: ButcherTableau, vf, t, dt, y, k_first):
    """One step; `k_first = vf(t, y)`. Returns y_next and, for FSAL methods, vf(t + dt, y_next)."""
    ks = [k_first]
    for i in range(1, tableau.stages):
        if tableau.fsal and i == tableau.stages - 1:
            break
        y_stage = _axpy(y, dt, tableau.a[i - 1], ks)
        ks.append(vf(t + tableau.c[i] * dt, y_stage))
    y_next = _axpy(y, dt, tableau.b, ks)
    k_next = vf(t + dt, y_next) if tableau.fsal else None
    return y_next, k_next


def _block_length(total: int, per_interval: int) -> int:
    """Steps per checkpointed block: a divisor of `per_interval` near sqrt(total steps)."""
    target = max(1, math.isqrt(max(total, 1)))
    if per_interval <= target:
        return per_interval
    best = max(d for d in range(1, target + 1) if per_interval % d == 0)
    return best if 2 * best >= target else target


def _check_tree(name: str, tree):
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            where = jax.tree_util.keystr(path)
            raise ValueError(
                f"{name}{where} must have a floating or complex dtype, got dtype={dtype} "
                f"(shape {jnp.shape(leaf)})."
            )


def odeint_fixed(
    vector_field: Callable[[Array, PyTree, PyTree], PyTree],
    y0: PyTree,
    ts: ArrayLike,
    args: PyTree = None,
    *,
    method: str | ButcherTableau = "rk4",
    steps_per_interval: int = 1,
) -> PyTree:
    """Integrate `dy/dt = vector_field(t, y, args)` with a fixed-step explicit Runge-Kutta method.

    Each interval `[ts[i], ts[i+1]]` is cut into `steps_per_interval` equal steps; the solution
    is saved at every `ts[i]`. All steps run in one nested `lax.scan`; the backward pass
    recomputes blocks of about `sqrt(n)` steps (`jax.checkpoint`), so its memory grows like
    `sqrt(n)` rather than `n`. Works with `jit`, `grad`, `jvp` and `vmap`, and with respect to
    `y0`, `args` and `ts`.

    **Arguments:**

    - `vector_field`: `(t, y, args) -> dy/dt`, returning a PyTree of the structure and shapes
      of `y0`.
    - `y0`: the initial state at `ts[0]`, a PyTree of floating or complex arrays.
    - `ts`: increasing save times, shape `(T,)` with `T >= 1`.
    - `args`: passed unchanged to `vector_field`.
    - `method`: `"euler"`, `"midpoint"`, `"heun"`, `"rk4"`, `"tsit5"` or `"dopri5"` (the 5th
      order weights of the Dormand-Prince pair, at a fixed step), or a `ButcherTableau`.
    - `steps_per_interval`: integration steps between consecutive save times, `>= 1`.

    **Returns:**

    The solution at `ts`: a PyTree like `y0` whose leaves have a leading axis of length `T`
    (the first entry is `y0`).

    **Raises:**

    `ValueError` for `ts` that is not one-dimensional, empty, integer-valued or not strictly
    increasing, `steps_per_interval < 1`, an unknown `method`, integer leaves in `y0`, or a
    `vector_field` whose output does not match `y0`.
    """
    if isinstance(method, str):
        if method not in TABLEAUX:
            raise ValueError(f"method must be one of {sorted(TABLEAUX)}, got method={method!r}.")
        tableau = TABLEAUX[method]
    elif isinstance(method, ButcherTableau):
        tableau = method
    else:
        raise ValueError(f"method must be a name or a ButcherTableau, got {method!r}.")
    if isinstance(steps_per_interval, bool) or not isinstance(steps_per_interval, int | np.integer):
        raise ValueError(f"steps_per_interval must be an int, got {steps_per_interval!r}.")
    if steps_per_interval < 1:
        raise ValueError(f"steps_per_interval must be >= 1, got {steps_per_interval}.")
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ValueError(f"ts must have shape (T,) with T >= 1, got ts.shape={ts.shape}.")
    if not jnp.issubdtype(ts.dtype, jnp.floating):
        raise ValueError(f"ts must be real floating point, got ts.dtype={ts.dtype}.")
    _check_tree("y0", y0)
    y0 = jax.tree_util.tree_map(jnp.asarray, y0)
    if not isinstance(ts, jax.core.Tracer):
        steps = np.diff(np.asarray(ts))
        if np.any(~(steps > 0)):
            raise ValueError(f"ts must be strictly increasing, got ts={np.asarray(ts)}.")
    else:
        ts = eqx.error_if(ts, jnp.any(jnp.diff(ts) <= 0), "ts must be strictly increasing.")
    out_shape = jax.eval_shape(vector_field, ts[0], y0, args)
    expected = jax.eval_shape(lambda y: y, y0)
    if jax.tree_util.tree_structure(out_shape) != jax.tree_util.tree_structure(expected) or any(
        o.shape != e.shape
        for o, e in zip(jax.tree_util.tree_leaves(out_shape), jax.tree_util.tree_leaves(expected))
    ):
        raise ValueError(
            "vector_field(t, y0, args) must return a PyTree with the structure and shapes of y0; "
            f"got {out_shape} for y0 of {expected}."
        )

    num_intervals = ts.shape[0] - 1
    if num_intervals == 0:
        return jax.tree_util.tree_map(lambda y: y[None], y0)
    per_interval = int(steps_per_interval)
    block = _block_length(num_intervals * per_interval, per_interval)
    blocks_per_interval = -(-per_interval // block)
    # Steps past per_interval in the last block of an interval have dt = 0 (identity steps).

    def vf(t, y):
        out = vector_field(t, y, args)
        # Keep the state's dtypes (a float32 state under float64 times stays float32).
        return jax.tree_util.tree_map(lambda o, y_leaf: o.astype(y_leaf.dtype), out, y)

    @jax.checkpoint
    def run_block(carry, t_start, dt, first_index):
        # carry = (y, vf(t, y)) for FSAL methods, (y, ()) otherwise.
        def one_step(j, state):
            y, k = state
            index = first_index + j
            # Padding steps (index >= per_interval) sit at the interval's end with dt = 0, so
            # an FSAL stage carried out of them is evaluated at the right time.
            t = t_start + jnp.minimum(index, per_interval).astype(dt.dtype) * dt
            step_dt = jnp.where(index < per_interval, dt, jnp.zeros_like(dt))
            y_next, k_next = _rk_step(tableau, vf, t, step_dt, y, k if tableau.fsal else vf(t, y))
            return y_next, (k_next if tableau.fsal else ())

        return lax.fori_loop(0, block, one_step, carry)

    def interval(carry, t_pair):
        t0, t1 = t_pair
        dt = (t1 - t0) / per_interval

        def block_step(c, b):
            return run_block(c, t0, dt, b * block), None

        carry, _ = lax.scan(block_step, carry, jnp.arange(blocks_per_interval))
        return carry, carry[0]

    k0 = vf(ts[0], y0) if tableau.fsal else ()
    _, ys = lax.scan(interval, (y0, k0), (ts[:-1], ts[1:]))
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), y0, ys)


def iterate(map_fn: Callable[[PyTree], PyTree], x0: PyTree, n: int) -> PyTree:
    """The orbit `x0, f(x0), f(f(x0)), ...` of a discrete map, `n` iterations in one `lax.scan`.

    **Arguments:**

    - `map_fn`: `x -> x_next`, returning a PyTree of the structure and shapes of `x0`.
    - `x0`: the initial point, a PyTree of arrays.
    - `n`: the number of iterations, a non-negative int.

    **Returns:**

    A PyTree like `x0` whose leaves have a leading axis of length `n + 1`: `x0` first, then
    the `n` iterates.

    **Raises:**

    `ValueError` if `n` is not a non-negative int or `map_fn` changes the structure, shapes or
    dtypes of the state.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative int, got n={n!r}.")
    x0 = jax.tree_util.tree_map(jnp.asarray, x0)
    out_shape = jax.eval_shape(map_fn, x0)
    expected = jax.eval_shape(lambda x: x, x0)
    if out_shape != expected:
        raise ValueError(
            f"map_fn must return a PyTree like x0; got {out_shape} for x0 of {expected}."
        )

    def step(x, _):
        x = map_fn(x)
        return x, x

    _, xs = lax.scan(step, x0, None, length=int(n))
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), x0, xs)
