"""The selective scan's recurrence through the native CPU kernel (XLA FFI), one sequence.

`forward(u, delta, A, B, C, h0) -> (y, last state)` and
`backward(u, delta, A, B, C, h0, g_y, g_last) -> cotangents of the six inputs` call the
library's handlers (see `_native`), real float32 only; channels are padded with zeros to a
multiple of the vector width (a zero channel stays zero) and the padding cut off again.
They plug into a `FusedOp` as its forward/backward pair:

- `vmap`: the FFI calls batch with `vmap_method="broadcast_all"`; the kernels fold every leading
  axis into their batch of sequences and accept `A` per sequence.
- `jvp`, and derivatives of the backward pass (`jvp` of `grad`): each call is a
  `jax.custom_jvp` whose tangent rule is that of the pure-XLA path (`_selective_scan_xla`), so
  forward mode and second order run in XLA with the same values.

Private: `dynlearn.kernels.selective_scan(..., implementation="native")` validates the inputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import _native, _selective_scan_xla


def _struct(x):
    return jax.ShapeDtypeStruct(x.shape, x.dtype)


def _pad(x, axis: int, extra: int):
    if not extra:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, extra)
    return jnp.pad(x, widths)


def _extra(channels: int) -> int:
    return -channels % _native.LANES


def _padded_inputs(u, delta, A, B, C, h0):
    """The six inputs with the channel axis zero-padded to the kernel's vector width."""
    extra = _extra(u.shape[-1])
    return (
        _pad(u, -1, extra),
        _pad(delta, -1, extra),
        _pad(A, -2, extra),
        B,
        C,
        _pad(h0, -2, extra),
    )


@jax.custom_jvp
def forward(u, delta, A, B, C, h0):
    """(y, last state) of the recurrence, from the native forward kernel."""
    channels = u.shape[-1]
    args = _padded_inputs(u, delta, A, B, C, h0)
    call = jax.ffi.ffi_call(
        _native.FORWARD_TARGET,
        (_struct(args[0]), _struct(args[5])),
        vmap_method="broadcast_all",
    )
    y, h_last = call(*args)
    return y[..., :channels], h_last[..., :channels, :]


@forward.defjvp
def _forward_jvp(primals, tangents):
    return jax.jvp(_selective_scan_xla.inference, primals, tangents)


@jax.custom_jvp
def backward(u, delta, A, B, C, h0, g_y, g_last):
    """Cotangents of (u, delta, A, B, C, h0) from those of (y, last state), natively."""
    channels = u.shape[-1]
    extra = _extra(channels)
    args = (
        *_padded_inputs(u, delta, A, B, C, h0),
        _pad(g_y, -1, extra),
        _pad(g_last, -2, extra),
    )
    call = jax.ffi.ffi_call(
        _native.BACKWARD_TARGET,
        tuple(_struct(x) for x in args[:6]),
        vmap_method="broadcast_all",
    )
    g_u, g_delta, g_A, g_B, g_C, g_h0 = call(*args)
    return (
        g_u[..., :channels],
        g_delta[..., :channels],
        g_A[..., :channels, :],
        g_B,
        g_C,
        g_h0[..., :channels, :],
    )


def _xla_backward(u, delta, A, B, C, h0, g_y, g_last):
    """The pure-XLA path's backward pass, with the same signature as `backward`."""
    inputs = (u, delta, A, B, C, h0)
    outputs = _selective_scan_xla.forward(*inputs)
    cotangents = (g_y, g_last, jnp.zeros_like(outputs[2]))
    return tuple(_selective_scan_xla.backward(inputs, outputs, cotangents))


@backward.defjvp
def _backward_jvp(primals, tangents):
    return jax.jvp(_xla_backward, primals, tangents)
