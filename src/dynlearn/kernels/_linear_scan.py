"""`linear_scan`: the first-order linear recurrence h_t = a_t h_{t-1} + b_t with its own rules.

The forward pass is one of the strategies in `_scan_xla` (sequential, associative, chunked).
The derivative rules are themselves linear scans, so memory stays O(T * state) whatever the
strategy (autodiff through `lax.associative_scan` would keep every level of the tree):

- tangent:  dh_t = a_t dh_{t-1} + (da_t h_{t-1} + db_t), the same recurrence;
- backward: lam_t = a_{t+1} lam_{t+1} + dL/dh_t, one reverse scan, then
  dL/db_t = lam_t, dL/da_t = lam_t h_{t-1}, dL/dh0 = a_0 lam_0.

This is the linear recurrence at the heart of S5 (Smith, Warrington & Linderman, ICLR 2023)
and of Mamba's selective scan (Gu & Dao, 2023).
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
from jax import lax

from .._types import Array, ArrayLike, Inexact
from . import _pallas, _scan_xla
from ._checks import as_inexact, broadcastable, common_dtype
from ._primitive import FusedOp, fused_call

_METHODS = ("auto", "sequential", "associative", "chunked", "pallas")


def _previous(h, h0, reverse: bool):
    """The state each step starts from: h_{t-1} (or h_{t+1} when reversed)."""
    if reverse:
        return jnp.concatenate([h[1:], h0[None]], axis=0)
    return jnp.concatenate([h0[None], h[:-1]], axis=0)


def _shifted(a, reverse: bool):
    """a_{t+1} (or a_{t-1} when reversed), padded with zero where it runs off the end."""
    zero = jnp.zeros_like(a[:1])
    if reverse:
        return jnp.concatenate([zero, a[:-1]], axis=0)
    return jnp.concatenate([a[1:], zero], axis=0)


def _run(method: str, a, b, h0, reverse: bool):
    if method == "pallas":
        return _pallas.linear_scan(a, b, h0, reverse)
    return _scan_xla.run(method, a, b, h0, reverse)


def _sequential_backward(a, h, h0, g, reverse: bool):
    """The backward pass as one loop from the last step: lam_t = g_t + a_{t+1} lam_{t+1}, with
    dL/da_t = lam_t h_{t-1} written in the same step (no shifted copies of `a` or `h`).

    Measured at T=65536, D=256 float32 (2 cores, load ~2.5): forward+backward 173 ms, the same
    as autodiff through a plain `lax.scan` (176 ms), against 207 ms for the generic rule below.
    """
    length = a.shape[0]

    def body(i, carry):
        c, lam_out, ga_out = carry
        t = i if reverse else length - 1 - i
        prev = t + 1 if reverse else t - 1
        inside = (prev >= 0) & (prev < length)
        h_prev = lax.dynamic_index_in_dim(h, jnp.clip(prev, 0, length - 1), keepdims=False)
        h_prev = jnp.where(inside, h_prev, h0)
        lam = lax.dynamic_index_in_dim(g, t, keepdims=False) + c
        lam_out = lax.dynamic_update_index_in_dim(lam_out, lam, t, 0)
        ga_out = lax.dynamic_update_index_in_dim(ga_out, lam * h_prev, t, 0)
        return lax.dynamic_index_in_dim(a, t, keepdims=False) * lam, lam_out, ga_out

    init = (jnp.zeros_like(h0), jnp.zeros_like(g), jnp.zeros_like(g))
    g_h0, g_b, g_a = lax.fori_loop(0, length, body, init)
    return g_a, g_b, g_h0


@functools.cache
def _op(method: str, reverse: bool) -> FusedOp:
    def forward(a, b, h0):
        return (_run(method, a, b, h0, reverse),)

    def tangent(inputs, outputs, tangents):
        a, _, h0 = inputs
        (h,) = outputs
        da, db, dh0 = tangents
        drive = da * _previous(h, h0, reverse) + db
        return (_run(method, a, drive, dh0, reverse),)

    def backward(inputs, outputs, cotangents):
        a, _, h0 = inputs
        (h,) = outputs
        (g,) = cotangents
        if method == "sequential":
            return _sequential_backward(a, h, h0, g, reverse)
        lam = _run(method, _shifted(a, reverse), g, jnp.zeros_like(h0), not reverse)
        edge = -1 if reverse else 0
        return lam * _previous(h, h0, reverse), lam, a[edge] * lam[edge]

    return FusedOp(f"linear_scan[{method}]", forward, backward, tangent)


def linear_scan(
    a: ArrayLike,
    b: ArrayLike,
    h0: ArrayLike | None = None,
    *,
    reverse: bool = False,
    method: str = "auto",
) -> Inexact[Array, " time *state"]:
    """All states of the linear recurrence `h_t = a_t * h_{t-1} + b_t` along the leading axis.

    With `reverse=True` the recurrence runs from the end, `h_t = a_t * h_{t+1} + b_t`, and `h0`
    is the state after the last step. Products are elementwise, so a diagonal linear
    time-varying system (S5, linear RNNs, Mamba) is one call.

    The derivative rules are linear scans too: the backward pass is one reverse scan,
    `g_t = a_{t+1} g_{t+1} + dL/dh_t`, so memory stays `O(T * state)` for every method. Works
    under `jit`, `vmap`, `grad`, `jvp` and their compositions.

    **Arguments:**

    - `a`: the multipliers, shape broadcastable to `b.shape` (e.g. `(T, D)`, `(D,)` for a
      time-invariant system, or `(T, 1)`); real or complex.
    - `b`: the inputs, shape `(T, *state)`; real or complex.
    - `h0`: the initial state, broadcastable to `b.shape[1:]`; zeros if `None`.
    - `reverse`: run the recurrence from the last time step to the first.
    - `method`: `"sequential"` (one `lax.scan` step per time step), `"associative"`
      (`lax.associative_scan`, the parallel prefix), `"chunked"` (sequential inside chunks,
      vectorized across chunks and combined at chunk boundaries), `"pallas"` (a Pallas
      kernel, one program per block of 128 state channels looping over time; compiled on
      GPUs, interpreted elsewhere; real dtypes only) or `"auto"` (sequential on CPU, where it
      measured fastest, associative on GPU/TPU).

    **Returns:**

    The states `h`, shape `b.shape`, in the common dtype of `a`, `b` and `h0` (complex if any
    of them is).

    **Raises:**

    `ValueError` for integer or boolean inputs, shapes that do not broadcast, a scalar `b`, an
    unknown `method`, or complex inputs with `method="pallas"`.
    """
    a = as_inexact("a", a)
    b = as_inexact("b", b)
    if b.ndim == 0:
        raise ValueError(f"b must have a leading time axis, got b.shape={b.shape}.")
    if not broadcastable(a.shape, b.shape):
        raise ValueError(
            f"a.shape={a.shape} does not broadcast to b.shape={b.shape}; a must broadcast to "
            "(time, *state)."
        )
    state_shape = b.shape[1:]
    if h0 is None:
        h0 = jnp.zeros(state_shape, b.dtype)
    h0 = as_inexact("h0", h0)
    if not broadcastable(h0.shape, state_shape):
        raise ValueError(
            f"h0.shape={h0.shape} does not broadcast to the state shape b.shape[1:]="
            f"{state_shape} (b.shape={b.shape})."
        )
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got method={method!r}.")
    dtype = common_dtype(a, b, h0)
    a = jnp.broadcast_to(a.astype(dtype), b.shape)
    b = b.astype(dtype)
    h0 = jnp.broadcast_to(h0.astype(dtype), state_shape)
    if b.shape[0] == 0:
        return b
    if method == "auto":
        width = int(b.size // b.shape[0])
        method = _scan_xla.auto_method(b.shape[0], width)
    (h,) = fused_call(_op(method, bool(reverse)), a, b, h0)
    return h
