"""`selective_scan`: Mamba's selective scan for one sequence, fused, with its own rules.

Semantics of the reference `selective_scan_ref` of Gu & Dao (2023), "Mamba: Linear-Time
Sequence Modeling with Selective State Spaces" (Algorithm 2 and Section 3.3), for one sequence:

    delta <- softplus(delta + delta_bias)          (if delta_softplus)
    h_t    = exp(delta_t A) * h_{t-1} + delta_t B_t u_t
    y_t    = C_t . h_t + D u_t                     (2 Re(C_t . h_t) for a complex state)
    y_t   <- y_t * silu(z_t)                       (if z is given)

The recurrence runs in `_selective_scan_xla` (chunked, only chunk-entry states kept for the
backward pass); the elementwise parts around it are left to JAX's autodiff.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, ArrayLike, Float
from . import _native, _pallas, _selective_scan_native, _selective_scan_xla
from ._checks import as_inexact, common_dtype
from ._primitive import FusedOp, fused_call

_IMPLEMENTATIONS = ("auto", "xla", "native", "pallas")


def _native_backward(inputs, outputs, cotangents):
    return _selective_scan_native.backward(*inputs, *cotangents)


def _native_abstract(u, delta, A, B, C, h0):
    return (jax.ShapeDtypeStruct(u.shape, u.dtype), jax.ShapeDtypeStruct(h0.shape, h0.dtype))


# Undifferentiated sequences with fewer state updates than this (L * D * N, D padded to 8) run
# the XLA inference path: there the FFI call's fixed cost of a few microseconds loses
# (benchmarks/kernels.py --only selective_sizes: native 0.79-0.89x at L*D*N = 64 and 512,
# 1.06-1.09x at 2048, more above).
_AUTO_MIN_UPDATES = 1024


def _auto_inference(u, delta, A, B, C, h0):
    length, channels = u.shape
    if length * (-(-channels // 8) * 8) * A.shape[1] < _AUTO_MIN_UPDATES:
        return _selective_scan_xla.inference(u, delta, A, B, C, h0)
    return _selective_scan_native.forward(u, delta, A, B, C, h0)


# The native kernel's pair: no residuals (its backward pass recomputes the chunk-entry states).
# "auto" adds an inference path that leaves tiny sequences to XLA.
_NATIVE_OPS = {
    "native": FusedOp(
        "selective_scan[native]",
        _selective_scan_native.forward,
        _native_backward,
        abstract=_native_abstract,
    ),
    "auto": FusedOp(
        "selective_scan[native, auto]",
        _selective_scan_native.forward,
        _native_backward,
        abstract=_native_abstract,
        inference=_auto_inference,
    ),
}


@functools.cache
def _op(chunk: int, implementation: str) -> FusedOp:
    def forward(u, delta, A, B, C, h0):
        if implementation == "pallas":
            # The XLA backward pass takes the chunk-entry states as (num_chunks, N, D).
            y, h_last, entries = _pallas.selective_scan_forward(u, delta, A, B, C, h0, chunk=chunk)
            return y, h_last, jnp.swapaxes(entries, -1, -2)
        return _selective_scan_xla.forward(u, delta, A, B, C, h0, chunk=chunk)

    def backward(inputs, outputs, cotangents):
        return _selective_scan_xla.backward(inputs, outputs, cotangents, chunk=chunk)

    # Undifferentiated calls skip the chunk-entry states (the one residual output): the XLA path
    # runs its residual-free scan, the Pallas path its kernel with the residual dropped.
    if implementation == "pallas":

        def inference(u, delta, A, B, C, h0):
            return forward(u, delta, A, B, C, h0)[:2]
    else:
        inference = _selective_scan_xla.inference
    return FusedOp(
        f"selective_scan[chunk={chunk}, {implementation}]",
        forward,
        backward,
        inference=inference,
        residuals=1,
    )


def _choose(implementation: str, state_dtype) -> str:
    """The implementation that runs: "auto" resolved, "native" checked to be usable."""
    native_fits = jnp.dtype(state_dtype) == jnp.float32
    if implementation == "native":
        if not native_fits:
            raise ValueError(
                'implementation="native" runs real float32 only, got the state dtype '
                f'{jnp.dtype(state_dtype)}; use implementation="xla".'
            )
        loaded, reason = _native.status()
        if not loaded:
            raise RuntimeError(
                f'implementation="native": the native CPU kernel is unavailable ({reason}); '
                'use implementation="xla" or "auto".'
            )
        return implementation
    if implementation == "auto":
        on_cpu = jax.default_backend() == "cpu"
        return "native, auto" if native_fits and on_cpu and _native.status()[0] else "xla"
    return implementation


def _expect_shape(name: str, x, shape, context: str):
    if x.shape != tuple(shape):
        raise ValueError(f"{name}.shape={x.shape} but expected {tuple(shape)} ({context}).")


def _expect_real(name: str, x):
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise ValueError(f"{name} must be real, got {name}.dtype={x.dtype}.")


def selective_scan(
    u: ArrayLike,
    delta: ArrayLike,
    A: ArrayLike,
    B: ArrayLike,
    C: ArrayLike,
    D: ArrayLike | None = None,
    z: ArrayLike | None = None,
    *,
    delta_bias: ArrayLike | None = None,
    delta_softplus: bool = False,
    h0: ArrayLike | None = None,
    return_last_state: bool = False,
    chunk: int = _selective_scan_xla.DEFAULT_CHUNK,
    implementation: str = "auto",
) -> Float[Array, "length channels"] | tuple[Float[Array, "length channels"], Array]:
    """Mamba's selective scan over one sequence, fused: the `(L, D, N)` tensors never exist.

    Computes `h_t = exp(delta_t A) * h_{t-1} + delta_t B_t u_t` per channel `d` and state `n`,
    and `y_t = C_t . h_t + D u_t`, optionally gated as `y_t * silu(z_t)`; the semantics of the
    reference `selective_scan_ref` of Mamba (Gu & Dao, 2023). With a complex `A` (or `B`, `C`)
    the state is complex and `y_t = 2 Re(C_t . h_t) + D u_t`, as in the reference (conjugate
    pairs). Batch with `jax.vmap`.

    Differentiated, the forward pass works chunk by chunk and keeps only the chunk-entry states;
    the backward pass recomputes the states inside each chunk and runs the adjoint recurrence
    backwards. When no derivative is taken (inference under `jit` or `vmap`), a residual-free
    scan runs instead, with the same values.
    `h0` and `return_last_state=True` allow stateful, chunk-by-chunk inference: scanning two
    halves in turn, passing the first half's last state as `h0`, equals scanning the whole.

    **Arguments:**

    - `u`: inputs, shape `(L, D)`, real.
    - `delta`: step sizes, shape `(L, D)`, real (raw, if `delta_softplus`).
    - `A`: state matrix (diagonal per channel), shape `(D, N)`, real or complex.
    - `B`: input projections, shape `(L, N)`, real or complex.
    - `C`: output projections, shape `(L, N)`, real or complex.
    - `D`: skip connection, shape `(D,)`, real; none if `None`.
    - `z`: gate, shape `(L, D)`, real; no gate if `None`.
    - `delta_bias`: added to `delta` before the softplus, shape `(D,)`, real.
    - `delta_softplus`: apply `softplus` to `delta + delta_bias`.
    - `h0`: initial state, shape `(D, N)`; zeros if `None`.
    - `return_last_state`: also return the state after the last step.
    - `chunk`: time steps per chunk (a tuning knob; the result does not depend on it).
    - `implementation`: `"xla"` (pure XLA loops), `"native"` (the native CPU kernel through
      XLA's FFI: forward and backward passes in C++, vectorized across channels with AVX2;
      real float32 only; built at install time on x86-64, see `native_available`; `jvp` and
      second derivatives run the XLA path's rules; `chunk` is ignored), `"pallas"` (the forward
      pass as a Pallas kernel, one program per block of 16 channels; compiled on GPUs,
      interpreted elsewhere; real dtypes only; the backward pass stays XLA) or `"auto"`:
      `"native"` for real float32 inputs when JAX's default backend is the CPU and the native
      kernel is available (if it is not, one notice is logged; undifferentiated calls with
      fewer than 1024 state updates, `L * D * N`, run `"xla"`, measured faster there), else
      `"xla"` (the Pallas kernel has not yet been timed on a GPU).

    **Returns:**

    `y`, shape `(L, D)`, in the dtype of `u`; or `(y, last_state)` with `last_state` of
    shape `(D, N)` (complex if the state is) when `return_last_state=True`.

    **Raises:**

    `ValueError` naming the shapes when they do not fit together, for integer inputs, complex
    `u`, `delta`, `D`, `z` or `delta_bias`, `chunk < 1`, an unknown `implementation`, or a
    complex state with `implementation="pallas"` or a dtype other than float32 with
    `implementation="native"`; `RuntimeError` saying why for `implementation="native"` when the
    native kernel is unavailable.
    """
    u = as_inexact("u", u)
    delta = as_inexact("delta", delta)
    A = as_inexact("A", A)
    B = as_inexact("B", B)
    C = as_inexact("C", C)
    if u.ndim != 2:
        raise ValueError(f"u must have shape (L, D), got u.shape={u.shape}; batch with vmap.")
    length, channels = u.shape
    if A.ndim != 2 or A.shape[0] != channels:
        raise ValueError(f"A.shape={A.shape} but expected ({channels}, N) for u.shape={u.shape}.")
    state = A.shape[1]
    context = f"u.shape={u.shape}, A.shape={A.shape}"
    _expect_shape("delta", delta, (length, channels), context)
    _expect_shape("B", B, (length, state), context)
    _expect_shape("C", C, (length, state), context)
    optional = {"D": D, "z": z, "delta_bias": delta_bias}
    expected = {"D": (channels,), "z": (length, channels), "delta_bias": (channels,)}
    for name, value in optional.items():
        if value is not None:
            value = as_inexact(name, value)
            _expect_shape(name, value, expected[name], context)
            _expect_real(name, value)
            optional[name] = value
    D, z, delta_bias = optional["D"], optional["z"], optional["delta_bias"]
    _expect_real("u", u)
    _expect_real("delta", delta)
    if not isinstance(chunk, int | np.integer) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got chunk={chunk!r}.")
    if implementation not in _IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {_IMPLEMENTATIONS}, got implementation="
            f"{implementation!r}."
        )

    given = [x for x in (u, delta, A, B, C, D, z, delta_bias) if x is not None]
    if h0 is not None:
        h0 = as_inexact("h0", h0)
        given.append(h0)
    state_dtype = common_dtype(*given)
    real_dtype = jnp.zeros((), state_dtype).real.dtype
    if h0 is None:
        h0 = jnp.zeros((channels, state), state_dtype)
    _expect_shape("h0", h0, (channels, state), context)
    implementation = _choose(implementation, state_dtype)

    u = u.astype(real_dtype)
    delta = delta.astype(real_dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.astype(real_dtype)[None, :]
    if delta_softplus:
        delta = jax.nn.softplus(delta)
    if length == 0:
        y = jnp.zeros((0, channels), real_dtype)
        h_last = h0.astype(state_dtype)
    else:
        if implementation.startswith("native"):
            op = _NATIVE_OPS["auto" if implementation.endswith("auto") else "native"]
        else:
            op = _op(int(chunk), implementation)
        y, h_last = fused_call(
            op,
            u,
            delta,
            A.astype(state_dtype),
            B.astype(state_dtype),
            C.astype(state_dtype),
            h0.astype(state_dtype),
        )
    if D is not None:
        y = y + u * D.astype(real_dtype)[None, :]
    if z is not None:
        y = y * jax.nn.silu(z.astype(real_dtype))
    if return_last_state:
        return y, h_last
    return y
