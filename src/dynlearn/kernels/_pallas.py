"""Pallas kernels for the scans: one program per block of channels, time in an inner loop.

Private: `linear_scan(method="pallas")` and `selective_scan(implementation="pallas")` call
these. Each program owns a block of state channels; its state stays in registers while a loop
runs over time, reading one row of the inputs and writing one row of the outputs per step, so
nothing of size (time, state) beyond the inputs and outputs is ever stored.

Written for GPUs (the Triton lowering of Pallas); on other backends they run in Pallas'
interpret mode, which is how the tests check them against the plain loops on CPUs. They have
not been timed or run on a GPU yet, so the "auto" choices do not select them.

Real dtypes only: Triton has no complex numbers.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

LINEAR_BLOCK = 128
SELECTIVE_BLOCK = 16


def interpret_mode() -> bool:
    """True where Pallas has no compiled lowering used here (anything but a GPU)."""
    return jax.default_backend() != "gpu"


def _check_real(name: str, *arrays):
    for x in arrays:
        if jnp.issubdtype(x.dtype, jnp.complexfloating):
            raise ValueError(
                f"{name} with Pallas supports real dtypes only, got dtype={x.dtype}; use the "
                "XLA implementation for complex states."
            )


def _block_and_padding(width: int, block: int) -> tuple[int, int]:
    """A power-of-two block no wider than needed, and the padding that makes it divide."""
    block = min(block, 1 << max(0, math.ceil(math.log2(max(width, 1)))))
    return block, -width % block


def _linear_kernel(a_ref, b_ref, h0_ref, out_ref, *, length: int, reverse: bool):
    def step(i, h):
        t = length - 1 - i if reverse else i
        h = a_ref[pl.ds(t, 1), :] * h + b_ref[pl.ds(t, 1), :]
        out_ref[pl.ds(t, 1), :] = h
        return h

    lax.fori_loop(0, length, step, h0_ref[...])


def linear_scan(a, b, h0, reverse: bool, *, block: int = LINEAR_BLOCK):
    """h_t = a_t h_{t-1} + b_t (or from the end), `a`, `b` of one shape and dtype."""
    _check_real("linear_scan", a, b, h0)
    shape = a.shape
    length = shape[0]
    width = math.prod(shape[1:])
    block, pad = _block_and_padding(width, block)
    a2, b2 = a.reshape(length, width), b.reshape(length, width)
    h02 = h0.reshape(1, width)
    if pad:
        a2, b2 = (jnp.pad(x, ((0, 0), (0, pad))) for x in (a2, b2))
        h02 = jnp.pad(h02, ((0, 0), (0, pad)))
    rows = pl.BlockSpec((length, block), lambda j: (0, j))
    call = pl.pallas_call(
        functools.partial(_linear_kernel, length=length, reverse=reverse),
        out_shape=jax.ShapeDtypeStruct(a2.shape, a2.dtype),
        grid=(a2.shape[1] // block,),
        in_specs=[rows, rows, pl.BlockSpec((1, block), lambda j: (0, j))],
        out_specs=rows,
        interpret=interpret_mode(),
    )
    return call(a2, b2, h02)[:, :width].reshape(shape)


def _selective_kernel(
    u_ref,
    delta_ref,
    A_ref,
    B_ref,
    C_ref,
    h0_ref,
    y_ref,
    last_ref,
    entries_ref,
    *,
    length: int,
    chunk: int,
):
    A = A_ref[...]

    def step(t, h):
        @pl.when(t % chunk == 0)
        def _():
            entries_ref[pl.ds(t // chunk, 1), :, :] = h[None]

        d = delta_ref[pl.ds(t, 1), :].T  # (channels, 1)
        du = d * u_ref[pl.ds(t, 1), :].T
        h = jnp.exp(d * A) * h + du * B_ref[pl.ds(t, 1), :]
        y = jnp.sum(h * C_ref[pl.ds(t, 1), :], axis=1)
        y_ref[pl.ds(t, 1), :] = y[None, :].astype(y_ref.dtype)
        return h

    last_ref[...] = lax.fori_loop(0, length, step, h0_ref[...])


def selective_scan_forward(u, delta, A, B, C, h0, *, chunk: int, block: int = SELECTIVE_BLOCK):
    """(y, last state, chunk-entry states), the contract of `_selective_scan_xla.forward`."""
    _check_real("selective_scan", u, delta, A, B, C, h0)
    length, channels = u.shape
    state = A.shape[1]
    chunk = max(1, min(chunk, length))
    num_chunks = -(-length // chunk)
    block, pad = _block_and_padding(channels, block)
    if pad:
        # Padded channels have u = delta = 0: their state stays at h0 = 0 and is cut off.
        u, delta = (jnp.pad(x, ((0, 0), (0, pad))) for x in (u, delta))
        A, h0 = (jnp.pad(x, ((0, pad), (0, 0))) for x in (A, h0))
    padded = channels + pad
    sequence = pl.BlockSpec((length, block), lambda j: (0, j))
    states = pl.BlockSpec((block, state), lambda j: (j, 0))
    shared = pl.BlockSpec((length, state), lambda j: (0, 0))
    call = pl.pallas_call(
        functools.partial(_selective_kernel, length=length, chunk=chunk),
        out_shape=(
            jax.ShapeDtypeStruct((length, padded), u.dtype),
            jax.ShapeDtypeStruct((padded, state), h0.dtype),
            jax.ShapeDtypeStruct((num_chunks, padded, state), h0.dtype),
        ),
        grid=(padded // block,),
        in_specs=[sequence, sequence, states, shared, shared, states],
        out_specs=(
            sequence,
            states,
            pl.BlockSpec((num_chunks, block, state), lambda j: (0, j, 0)),
        ),
        interpret=interpret_mode(),
    )
    y, last, entries = call(u, delta, A, B, C, h0)
    return y[:, :channels], last[:channels], entries[:, :channels]
