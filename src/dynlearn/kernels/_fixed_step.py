"""`odeint_fixed` and `iterate`: fixed-grid integration of flows and iteration of maps.

Every step of an explicit Runge-Kutta method (Butcher tableaux in `_butcher`) runs inside one
nested `lax.scan`, saving at the requested times; another fixed-step scheme object (`_schemes`,
e.g. a symplectic one or a user's) runs its own `step` in a plain nested scan. The Runge-Kutta
backward pass is hand-written (`_rk_xla.backward`, the discrete adjoint of the steps): the
forward pass keeps the state at the start of blocks of about sqrt(n) steps, and the backward
pass recomputes one block at a time, so memory grows like sqrt(n) instead of n (Griewank &
Walther, "Evaluating Derivatives", 2008, Chapter 12). The operation is bound through
`_primitive.fused_call`, so `jvp`, `vmap` and higher derivatives keep working.
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
from .._validation import as_array, check_option
from . import _rk_xla
from ._butcher import TABLEAUX, ButcherTableau
from ._primitive import FusedOp, batch_first, batch_size, fused_call
from ._schemes import AbstractFixedStepScheme, scheme_solve
from ._small_dots import jaxpr_has_small_contractions, unroll_small_contractions


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
    ts: ArrayLike,
    y0: PyTree,
    args: PyTree = None,
    *,
    method: str | ButcherTableau | AbstractFixedStepScheme = "rk4",
    steps_per_interval: int = 1,
    throw: bool = True,
) -> PyTree:
    """Integrate `dy/dt = vector_field(t, y, args)` with a fixed-step method.

    Each interval `[ts[i], ts[i+1]]` is cut into `steps_per_interval` equal steps; the solution
    is saved at every `ts[i]`. All steps run in one nested `lax.scan`. The backward pass is
    the hand-written discrete adjoint of the steps: it recomputes blocks of about `sqrt(n)`
    steps from stored block-start states, so its memory grows like `sqrt(n)` rather than `n`.
    Works with `jit`, `grad`, `jvp` and `vmap`, and with respect to `y0`, `args`, `ts` and
    arrays the vector field closes over (e.g. the parameters of an equinox module).

    Called outside any transformation, the solve runs through a cached `equinox.filter_jit`
    (like `diffrax.diffeqsolve`), so repeated calls do not compile again. As with `jax.jit`, a
    vector field that reads a *global* array sees the value it had at the first call; pass
    changing arrays through `args` or as fields of an equinox module.

    **Arguments:**

    - `vector_field`: `(t, y, args) -> dy/dt`, returning a PyTree of the structure and shapes
      of `y0`.
    - `ts`: increasing save times, shape `(T,)` with `T >= 1` (before `y0`, as in diffrax).
    - `y0`: the initial state at `ts[0]`, a PyTree of floating or complex arrays.
    - `args`: passed unchanged to `vector_field`.
    - `method`: a fixed-step scheme object, or the name of a built-in tableau as a shortcut:
      `"euler"`, `"midpoint"`, `"heun"`, `"rk4"`, `"tsit5"` or `"dopri5"` (the 5th order
      weights of the Dormand-Prince pair, at a fixed step). A
      [`dynlearn.kernels.ButcherTableau`][] (any explicit Runge-Kutta method) runs in the fused
      kernel with the hand-written adjoint described above; any other
      [`dynlearn.kernels.AbstractFixedStepScheme`][] (a symplectic
      [`dynlearn.kernels.Leapfrog`][] for a state `(q, p)` of a separable field,
      [`dynlearn.kernels.ImplicitMidpoint`][], or a user's scheme) runs its `step` in a nested
      `lax.scan`, differentiated by JAX (memory linear in the number of steps).
    - `steps_per_interval`: integration steps between consecutive save times, `>= 1`.
    - `throw`: if the state becomes non-finite (NaN or inf, e.g. a finite-time blow-up or a
      step too large for the method's stability region), raise an error that names the first
      save time at which it was non-finite (through `equinox.error_if`, so also inside `jit`).
      With `throw=False` the non-finite values are returned as computed. The check is one
      reduction over the saved states, outside the integration loop.

    **Returns:**

    The solution at `ts`: a PyTree like `y0` whose leaves have a leading axis of length `T`
    (the first entry is `y0`).

    **Raises:**

    `ValueError` for `ts` that is not one-dimensional, empty, integer-valued or not strictly
    increasing, `steps_per_interval < 1`, an unknown `method`, integer leaves in `y0`, or a
    `vector_field` whose output does not match `y0`; with `throw=True`, an
    `equinox.EquinoxRuntimeError` ("the state became non-finite at t=...") when `y0` or the
    solution contains NaN or inf.
    """
    if isinstance(method, str):
        check_option("odeint_fixed", "method", method, TABLEAUX)
        tableau = TABLEAUX[method]
    elif isinstance(method, ButcherTableau | AbstractFixedStepScheme):
        tableau = method
    else:
        raise ValueError(
            "odeint_fixed: method must be a name, a ButcherTableau or an "
            f"AbstractFixedStepScheme, got {method!r}."
        )
    if isinstance(steps_per_interval, bool) or not isinstance(steps_per_interval, int | np.integer):
        raise ValueError(f"steps_per_interval must be an int, got {steps_per_interval!r}.")
    if steps_per_interval < 1:
        raise ValueError(f"steps_per_interval must be >= 1, got {steps_per_interval}.")
    if not isinstance(throw, bool):
        raise TypeError(f"odeint_fixed: throw must be True or False, got throw={throw!r}.")
    if not callable(vector_field):
        raise TypeError(f"odeint_fixed: vector_field must be callable, got {vector_field!r}.")
    if y0 is None or not jax.tree_util.tree_leaves(y0):
        raise TypeError(f"odeint_fixed: y0 must be an array or a PyTree of arrays, got {y0!r}.")
    ts = as_array("odeint_fixed", "ts", ts)
    _check_ts(ts)
    _check_tree("y0", y0)
    eager = not any(
        isinstance(leaf, jax.core.Tracer)
        for leaf in jax.tree_util.tree_leaves((vector_field, y0, ts, args))
    )
    if eager:
        # Called outside any transformation: run through a cached `filter_jit`, so that
        # repeated calls with the same vector field and shapes do not compile again.
        ys = _integrate_jit(vector_field, y0, ts, args, tableau, int(steps_per_interval))
        if throw and any(isinstance(y, jax.core.Tracer) for y in jax.tree_util.tree_leaves(ys)):
            # Traced after all: the vector field closes over traced arrays.
            return _raise_if_nonfinite(ys, ts.shape[0], np.asarray(ts))
        if throw:
            # Checked here rather than inside the cached program, so the message can give the
            # save times themselves without compiling them into it.
            bad = int(_first_nonfinite_jit(ys))
            if bad >= 0:
                leaf = jax.tree_util.tree_leaves(ys)[0]
                eqx.error_if(leaf, True, _nonfinite_messages(np.asarray(ts))[bad])
        return ys
    ys = _integrate(vector_field, y0, ts, args, tableau, int(steps_per_interval))
    if throw:
        times = None if isinstance(ts, jax.core.Tracer) else np.asarray(ts)
        ys = _raise_if_nonfinite(ys, ts.shape[0], times)
    return ys


def _first_nonfinite(ys) -> Array:
    """The first save index at which any leaf of `ys` is NaN or inf, or -1: one reduction over
    the saved states, outside the integration loop."""
    leaves = jax.tree_util.tree_leaves(ys)
    n = leaves[0].shape[0]
    finite = jnp.ones((n,), bool)
    for leaf in leaves:
        finite = finite & jnp.all(jnp.isfinite(leaf).reshape(n, -1), axis=1)
    return jnp.where(jnp.all(finite), -1, jnp.argmin(finite))


_first_nonfinite_jit = jax.jit(_first_nonfinite)


def _nonfinite_messages(times: np.ndarray | None, n: int | None = None) -> list[str]:
    """One message per save index: where the state was first non-finite and what to do."""
    n = len(times) if times is not None else n
    fix = (
        "; reduce the step (raise steps_per_interval), use a more stable method, or check the "
        "vector field for a finite-time blow-up (throw=False returns the values instead)."
    )
    out = ["odeint_fixed: y0 contains NaN or inf."]
    for i in range(1, n):
        if times is not None:
            where = f"at t={times[i]:.6g} (it was finite at t={times[i - 1]:.6g})"
        else:
            where = f"at save time ts[{i}] (it was finite at ts[{i - 1}])"
        out.append(f"odeint_fixed: the state became non-finite {where}{fix}")
    return out


def _raise_if_nonfinite(ys, n: int, times: np.ndarray | None):
    bad = _first_nonfinite(ys)
    leaves, treedef = jax.tree_util.tree_flatten(ys)
    leaves[0] = eqx.branched_error_if(
        leaves[0], bad >= 0, jnp.maximum(bad, 0), _nonfinite_messages(times, n)
    )
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _check_ts(ts):
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ValueError(f"ts must have shape (T,) with T >= 1, got ts.shape={ts.shape}.")
    if not jnp.issubdtype(ts.dtype, jnp.floating):
        raise ValueError(f"ts must be real floating point, got ts.dtype={ts.dtype}.")
    if not isinstance(ts, jax.core.Tracer):
        if not np.all(np.isfinite(np.asarray(ts))):
            raise ValueError(f"ts must be finite, got ts={np.asarray(ts)}.")
        steps = np.diff(np.asarray(ts))
        if np.any(~(steps > 0)):
            raise ValueError(f"ts must be strictly increasing, got ts={np.asarray(ts)}.")


def _checked_ts(ts, y0):
    """`y0`, made to raise at run time unless the traced `ts` is strictly increasing.

    The check rides on the state rather than on `ts`: save times that are constants of the
    traced program (`jnp.array([0.0, 1.0])` inside a `jit`) then stay constants for XLA, which
    folds the check, and the step sizes computed from them, away (fewer kernels to compile).
    """
    leaves, treedef = jax.tree_util.tree_flatten(y0)
    bad = jnp.any(jnp.diff(ts) <= 0)
    leaves[0] = eqx.error_if(leaves[0], bad, "ts must be strictly increasing.")
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _integrate(vector_field, y0, ts, args, tableau, per_interval: int):
    """`odeint_fixed` after the checks that need no tracing."""
    y0 = jax.tree_util.tree_map(jnp.asarray, y0)
    if isinstance(ts, jax.core.Tracer):
        y0 = _checked_ts(ts, y0)
    if not isinstance(tableau, ButcherTableau):
        return _integrate_scheme(vector_field, y0, ts, args, tableau, per_interval)
    # Closed-over arrays (e.g. the parameters of an equinox module) become explicit inputs, so
    # that the hand-written backward pass can differentiate with respect to them.
    fn = eqx.filter_closure_convert(vector_field, ts[0], y0, args)
    dynamic, static = eqx.partition((fn, args), eqx.is_inexact_array)
    # One trace of the field serves the output check and the choice of `isolate_stages`.
    traced = jax.make_jaxpr(_call(static), return_shape=True)(dynamic, ts[0], y0)
    program, out_shape = traced
    _check_output(out_shape, y0)

    num_intervals = ts.shape[0] - 1
    if num_intervals == 0:
        return jax.tree_util.tree_map(lambda y: y[None], y0)
    schedule = _rk_xla.Schedule(
        per_interval,
        _block_length(num_intervals * per_interval, per_interval),
        isolate_stages=jaxpr_has_small_contractions(program.jaxpr),
    )
    f_params = _field(static, traced)
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(static)):
        # Traced integer or boolean arrays (e.g. under vmap) cannot be closed over by the fused
        # operation: differentiate the plain forward scan instead (memory linear in steps).
        f = lambda t, y: f_params(dynamic, t, y)
        return _rk_xla.forward(tableau, schedule, f, ts, y0)[0]
    y_leaves, y_def = jax.tree_util.tree_flatten(y0)
    p_leaves, p_def = jax.tree_util.tree_flatten(dynamic)
    op = _make_op(tableau, schedule, f_params, y_def, p_def, len(y_leaves))
    outputs = fused_call(op, ts, *y_leaves, *p_leaves)
    return jax.tree_util.tree_unflatten(y_def, outputs[: len(y_leaves)])


_integrate_jit = eqx.filter_jit(_integrate)


def _check_output(out_shape, y0):
    expected = jax.eval_shape(lambda y: y, y0)
    if jax.tree_util.tree_structure(out_shape) != jax.tree_util.tree_structure(expected) or any(
        o.shape != e.shape
        for o, e in zip(jax.tree_util.tree_leaves(out_shape), jax.tree_util.tree_leaves(expected))
    ):
        raise ValueError(
            "vector_field(t, y0, args) must return a PyTree with the structure and shapes of y0; "
            f"got {out_shape} for y0 of {expected}."
        )


def _integrate_scheme(vector_field, y0, ts, args, scheme: AbstractFixedStepScheme, per_interval):
    """A scheme object other than a Butcher tableau: its `step` in a nested `lax.scan`."""
    _check_output(jax.eval_shape(vector_field, ts[0], y0, args), y0)
    if ts.shape[0] == 1:
        return jax.tree_util.tree_map(lambda y: y[None], y0)
    return scheme_solve(scheme, vector_field, ts, y0, args, per_interval)


def _call(static):
    """The vector field as `(params, t, y) -> fn(t, y, args)`, as the user wrote it."""

    def call(params, t, y):
        fn, args = eqx.combine(params, static)
        return fn(t, y, args)

    return call


def _field(static, traced=None):
    """The vector field as `f_params(params, t, y)`, params the differentiable part of
    `(fn, args)`; it keeps the state's dtypes (a float32 state under float64 times stays
    float32). Products with a tiny contraction (a first layer reading the state) are written
    out as sums for the forward values (`_small_dots`); `traced` is the field's program
    already traced at the solve's argument types, if any."""

    field = unroll_small_contractions(_call(static), traced)

    def f_params(params, t, y):
        out = field(params, t, y)
        return jax.tree_util.tree_map(lambda o, y_leaf: o.astype(y_leaf.dtype), out, y)

    # Jitted, so the field is traced once per argument shape and its derivatives are cached:
    # every stage of every step reuses one trace (compile time).
    return jax.jit(f_params)


def _make_op(tableau, schedule, f_params, y_def, p_def, n_y) -> FusedOp:
    """The fused operation (ts, y0 leaves, parameter leaves) -> (ys leaves, block starts)."""
    unflatten = jax.tree_util.tree_unflatten
    leaves = jax.tree_util.tree_leaves

    def split(inputs):
        ts, rest = inputs[0], inputs[1:]
        return ts, unflatten(y_def, rest[:n_y]), unflatten(p_def, rest[n_y:])

    def forward(*inputs):
        ts, y0, params = split(inputs)
        f = lambda t, y: f_params(params, t, y)
        ys, starts = _rk_xla.forward(tableau, schedule, f, ts, y0)
        return (*leaves(ys), *leaves(starts))

    def backward(inputs, outputs, cotangents, needs):
        ts, y0, params = split(inputs)
        starts = unflatten(y_def, outputs[n_y:])
        g_ys = unflatten(y_def, cotangents[:n_y])
        g_params, g_ts, g_y0 = _rk_xla.backward(
            tableau,
            schedule,
            f_params,
            params,
            ts,
            y0,
            starts,
            g_ys,
            params_needed=any(needs[1 + n_y :]),
            ts_needed=needs[0],
        )
        return (g_ts, *leaves(g_y0), *leaves(g_params))

    def abstract(ts, *leaves):
        intervals = ts.shape[0] - 1
        y_leaves = leaves[:n_y]
        ys = [jax.ShapeDtypeStruct((ts.shape[0],) + y.shape, y.dtype) for y in y_leaves]
        starts = [
            jax.ShapeDtypeStruct((intervals, schedule.blocks) + y.shape, y.dtype) for y in y_leaves
        ]
        return ys + starts

    def batch(args, dims):
        """`vmap` with shared save times: one solve of the batched state with the vector field
        vmapped over it, instead of the generic rule (which would broadcast the parameters to
        the batch and compute one parameter gradient per sample)."""
        if dims[0] is not None:
            return None
        size = batch_size(args, dims)
        y_args = [batch_first(a, d, size) for a, d in zip(args[1 : 1 + n_y], dims[1 : 1 + n_y])]
        # Unbatched parameters stay unbatched (vmap's in_axes None below).
        p_args = [
            a if d is None else batch_first(a, d, size)
            for a, d in zip(args[1 + n_y :], dims[1 + n_y :])
        ]
        p_axes = unflatten(p_def, [None if d is None else 0 for d in dims[1 + n_y :]])
        batched_field = jax.jit(jax.vmap(f_params, in_axes=(p_axes, None, 0)))
        op = _make_op(tableau, schedule, batched_field, y_def, p_def, n_y)
        # Outputs: ys (time, batch, ...) and block starts (intervals, blocks, batch, ...).
        return op, [args[0], *y_args, *p_args], [1] * n_y + [2] * n_y

    return FusedOp(
        f"odeint_fixed[{tableau.name}]",
        forward,
        backward,
        abstract=abstract,
        masked_backward=True,
        batch=batch,
    )


def iterate(map_fn: Callable[[PyTree], PyTree], x0: PyTree, n_steps: int) -> PyTree:
    """The orbit `x0, f(x0), f(f(x0)), ...` of a discrete map: `n_steps` iterations, one scan.

    **Arguments:**

    - `map_fn`: `x -> x_next`, returning a PyTree of the structure and shapes of `x0`.
    - `x0`: the initial point, a PyTree of arrays.
    - `n_steps`: the number of iterations, a non-negative int.

    **Returns:**

    A PyTree like `x0` whose leaves have a leading axis of length `n_steps + 1`: `x0` first,
    then the `n_steps` iterates.

    **Raises:**

    `ValueError` if `n_steps` is not a non-negative int or `map_fn` changes the structure, shapes or
    dtypes of the state.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative int, got n_steps={n_steps!r}.")
    if not callable(map_fn):
        raise TypeError(f"iterate: map_fn must be callable, got {map_fn!r}.")
    if x0 is None or not jax.tree_util.tree_leaves(x0):
        raise TypeError(f"iterate: x0 must be an array or a PyTree of arrays, got {x0!r}.")
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

    _, xs = lax.scan(step, x0, None, length=int(n_steps))
    return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), x0, xs)
