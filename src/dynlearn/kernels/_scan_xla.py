"""Pure-XLA implementations of the first-order linear recurrence h_t = a_t h_{t-1} + b_t.

Three strategies over the leading (time) axis of `a`, `b` (same shape and dtype) from the
state `h0` (shape `a.shape[1:]`):

- `sequential`: one `lax.scan` step per time step;
- `associative`: `lax.associative_scan` on the pairs (a, b), the parallel prefix of
  Blelloch (1990), "Prefix sums and their applications";
- `chunked`: a two-level scan. Time is cut into chunks; a first sweep composes each chunk into
  one affine map h -> A_c h + B_c (a loop over the position inside the chunk, vectorized over all
  chunks at once), a short sequential scan over the chunk maps gives each chunk's entry state,
  and a second sweep writes the states. Every loop step touches a whole slab of
  `num_chunks * state` values, so the per-step overhead that limits `sequential` on CPUs is
  paid `2 * chunk + num_chunks` times instead of `T` times.

`reverse=True` runs the recurrence from the end: h_t = a_t h_{t+1} + b_t, with `h0` the state
after the last step. These are private; `dynlearn.kernels.linear_scan` picks one and adds the
derivative rules.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax


def sequential(a, b, h0, reverse: bool, unroll: int = 1):
    def step(h, ab):
        a_t, b_t = ab
        h = a_t * h + b_t
        return h, h

    _, h = lax.scan(step, h0, (a, b), reverse=reverse, unroll=unroll)
    return h


def _compose(earlier, later):
    a1, b1 = earlier
    a2, b2 = later
    return a2 * a1, a2 * b1 + b2


def associative(a, b, h0, reverse: bool):
    prod_a, acc_b = lax.associative_scan(_compose, (a, b), reverse=reverse, axis=0)
    return prod_a * h0[None] + acc_b


def default_chunk(length: int) -> int:
    """Chunk length near sqrt(T), a power of two: both sweeps and the boundary scan balance."""
    return max(8, min(1024, 2 ** round(math.log2(max(length, 1)) / 2)))


def chunked(a, b, h0, reverse: bool, chunk: int | None = None):
    length = a.shape[0]
    state_shape = a.shape[1:]
    if length == 0:
        return b
    chunk = default_chunk(length) if chunk is None else chunk
    chunk = min(chunk, length)
    num_chunks = -(-length // chunk)
    pad = num_chunks * chunk - length
    width = math.prod(state_shape)
    a2 = a.reshape(length, width)
    b2 = b.reshape(length, width)
    if pad:
        # Identity steps (a=1, b=0) placed where the recurrence reaches them last.
        where = ((0, pad), (0, 0)) if not reverse else ((pad, 0), (0, 0))
        a2 = jnp.pad(a2, where, constant_values=1)
        b2 = jnp.pad(b2, where, constant_values=0)
    a3 = a2.reshape(num_chunks, chunk, width)
    b3 = b2.reshape(num_chunks, chunk, width)

    def position(i):
        return chunk - 1 - i if reverse else i

    def take(x, k):
        return lax.dynamic_index_in_dim(x, k, axis=1, keepdims=False)

    # Sweep 1: compose each chunk into h -> prod_a * h + acc_b.
    def compose_step(i, carry):
        prod_a, acc_b = carry
        k = position(i)
        a_k = take(a3, k)
        return prod_a * a_k, a_k * acc_b + take(b3, k)

    ones = jnp.ones((num_chunks, width), a.dtype)
    zeros = jnp.zeros((num_chunks, width), a.dtype)
    prod_a, acc_b = lax.fori_loop(0, chunk, compose_step, (ones, zeros))

    # Entry state of every chunk, by a sequential scan over the chunk maps.
    def boundary_step(h, ab):
        p, q = ab
        return p * h + q, h

    _, entry = lax.scan(boundary_step, h0.reshape(width), (prod_a, acc_b), reverse=reverse)

    # Sweep 2: write the states of all chunks, one position at a time.
    def write_step(i, carry):
        h, out = carry
        k = position(i)
        h = take(a3, k) * h + take(b3, k)
        out = lax.dynamic_update_index_in_dim(out, h, k, axis=1)
        return h, out

    out = jnp.zeros((num_chunks, chunk, width), b.dtype)
    _, out = lax.fori_loop(0, chunk, write_step, (entry, out))
    out = out.reshape(num_chunks * chunk, width)
    out = out[pad:] if reverse else out[:length]
    return out.reshape(a.shape)


def run(method: str, a, b, h0, reverse: bool):
    if method == "sequential":
        return sequential(a, b, h0, reverse)
    if method == "associative":
        return associative(a, b, h0, reverse)
    if method == "chunked":
        return chunked(a, b, h0, reverse)
    raise AssertionError(method)


def auto_method(length: int, width: int) -> str:
    """The strategy "auto" resolves to, by backend and problem size."""
    if jax.default_backend() in ("gpu", "tpu"):
        return "associative" if length > 1 else "sequential"
    # Measured on 2-core CPUs (benchmarks/kernels.py, T=65536, D=256): sequential 41 ms,
    # chunked 54 ms, associative 180 ms; XLA's CPU loop is already at the copy bandwidth here.
    return "sequential"
