"""Scans used by the SSM blocks: the fused `dynlearn.kernels` scans, or plain `lax` references.

The kernels subpackage owns the fused scans (`linear_scan`, `selective_scan`); the blocks call
them through this module. It also keeps a small reference implementation of each, with the same
signatures and semantics, which the tests and `benchmarks/ssm.py` compare against by setting
`USE_KERNELS = False` (read while tracing).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from ..kernels import linear_scan as _kernel_linear_scan
from ..kernels import selective_scan as _kernel_selective_scan

# Route to the fused kernels (on by default); the tests and the benchmarks switch it off to run
# the reference implementations below.
USE_KERNELS = True


def _reference_linear_scan(a, b, h0=None):
    def combine(left, right):
        a_l, b_l = left
        a_r, b_r = right
        return a_r * a_l, a_r * b_l + b_r

    if h0 is not None:
        b = b.at[0].add(a[0] * h0)
    _, hs = lax.associative_scan(combine, (a, b))
    return hs


def linear_scan(a, b, h0=None):
    """`h_t = a_t * h_{t-1} + b_t` along axis 0 (elementwise), returning every `h_t`."""
    if USE_KERNELS:
        return _kernel_linear_scan(a, b, h0)
    return _reference_linear_scan(a, b, h0)


def _reference_selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0):
    if delta_bias is not None:
        delta = delta + delta_bias[None, :]
    if delta_softplus:
        delta = jax.nn.softplus(delta)
    dA = jnp.exp(delta[:, :, None] * A[None])  # (L, D, N)
    dBu = (delta * u)[:, :, None] * B[:, None, :]  # (L, D, N)

    def body(h, inputs):
        a_t, b_t, c_t = inputs
        h = a_t * h + b_t
        return h, h @ c_t

    h_init = jnp.zeros(A.shape, dA.dtype) if h0 is None else h0
    h_last, y = lax.scan(body, h_init, (dA, dBu, C))
    if D is not None:
        y = y + D[None, :] * u
    if z is not None:
        y = y * jax.nn.silu(z)
    return y, h_last


def selective_scan(
    u,
    delta,
    A,
    B,
    C,
    D=None,
    z=None,
    *,
    delta_bias=None,
    delta_softplus=False,
    h0=None,
    return_last_state=False,
):
    """Mamba's selective scan on one sequence; see `dynlearn.kernels.selective_scan`."""
    if USE_KERNELS:
        return _kernel_selective_scan(
            u,
            delta,
            A,
            B,
            C,
            D,
            z,
            delta_bias=delta_bias,
            delta_softplus=delta_softplus,
            h0=h0,
            return_last_state=return_last_state,
        )
    y, h_last = _reference_selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0)
    return (y, h_last) if return_last_state else y
