"""Scans used by the SSM blocks: `dynlearn.kernels` when available, plain `lax` otherwise.

The kernels subpackage owns the fused scans (`linear_scan`, `selective_scan`). This module only
routes to them and keeps a small reference implementation with the same signatures, so the blocks
work (and are tested against) the same semantics either way.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

# Route to the fused kernels (on by default); the reference implementations below have the same
# semantics and serve as the tests' baseline (tests switch this flag to compare both paths).
USE_KERNELS = True

try:  # the kernels subpackage's fused implementation
    from ..kernels import linear_scan as _kernel_linear_scan
    from ..kernels import selective_scan as _kernel_selective_scan
except ImportError:  # pragma: no cover - only before the kernels subpackage exists
    _kernel_linear_scan = None
    _kernel_selective_scan = None


def _fallback_linear_scan(a, b, h0=None):
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
    if USE_KERNELS and _kernel_linear_scan is not None:
        return _kernel_linear_scan(a, b, h0)
    return _fallback_linear_scan(a, b, h0)


def _fallback_selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0):
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
    if USE_KERNELS and _kernel_selective_scan is not None:
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
    y, h_last = _fallback_selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus, h0)
    return (y, h_last) if return_last_state else y
