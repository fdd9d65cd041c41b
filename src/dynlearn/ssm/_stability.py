"""Stability analysis of sequence blocks: Lyapunov exponents of the hidden-state dynamics and
the divergence between full- and low-precision runs.

"Mamba State-Space Models Are Lyapunov-Stable Learners" (Halloran, Gulati, Roysdon, 2024).
Given an input, a block's hidden state evolves as the linear time-varying system
`h_t = A_t h_{t-1} + B_t u_t` of its dynamical-systems view, so the Lyapunov exponents of the
hidden-state dynamics are those of the product `A_t ... A_1` (QR / Benettin method; exact time
averages of `log |A_t|` for diagonal transitions). Mamba's `Delta > 0` and `A < 0` give
`|A_bar| < 1`: every exponent is negative, so perturbations such as rounding errors are damped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._types import Array, Float, Key
from .._validation import check_int
from ._dsf import LinearSystem


def lyapunov_exponents(
    system: LinearSystem, k: int = 1, *, key: Key | None = None
) -> Float[Array, " k"]:
    """The `k` largest Lyapunov exponents (per token) of `h_t = A_t h_{t-1}` along a sequence.

    Diagonal transitions give them exactly as the time averages of `log |A_t|`; dense ones use
    the QR (Benettin) method with `k` tangent vectors re-orthonormalized every step.

    **Arguments:**

    - `system`: a [`dynlearn.ssm.LinearSystem`][], e.g. from a block's `dynamical_system(xs)`.
    - `k`: number of exponents (at most the state size).
    - `key`: PRNG key for the initial tangent basis of dense systems (default: a fixed key).

    **Returns:**

    The exponents in decreasing order, shape `(k,)`, per token (natural log).
    """
    if not isinstance(system, LinearSystem):
        raise TypeError(
            "lyapunov_exponents: system must be a dynlearn.ssm.LinearSystem (e.g. from "
            f"block.dynamical_system(xs)), got {type(system).__name__}."
        )
    L, n, _ = system.B.shape
    k = check_int("lyapunov_exponents", "k", k)
    if k > n:
        raise ValueError(f"lyapunov_exponents: k must be in 1..{n} (the state size), got k={k}.")
    if system.diagonal:
        logs = jnp.mean(jnp.log(jnp.abs(system.A)), axis=0)
        return jnp.sort(logs)[::-1][:k]
    key = jax.random.key(0) if key is None else key
    dtype = system.A.dtype
    q0 = jax.random.normal(key, (n, k), jnp.real(system.A).dtype).astype(dtype)
    q0, _ = jnp.linalg.qr(q0)

    def body(q, A_t):
        q, r = jnp.linalg.qr(A_t @ q)
        return q, jnp.log(jnp.abs(jnp.diagonal(r)))

    _, logs = lax.scan(body, q0, system.A)
    return jnp.sort(jnp.mean(logs, axis=0))[::-1]


def hidden_state_lyapunov(block: Any, xs: Float[Array, "L d"], k: int = 1) -> Float[Array, " k"]:
    """The largest Lyapunov exponents of a block's hidden-state dynamics driven by `xs`.

    **Arguments:**

    - `block`: any block with `dynamical_system(xs)`: every built-in block (Mamba, S4, S4D, S5,
      RG-LRU, attention), a user's [`dynlearn.ssm.AbstractSequenceBlock`][] that defines it, or
      `model.mixers[i]` of a [`dynlearn.ssm.SequenceModel`][] (driven by the `i`-th output of
      its `intermediates`).
    - `xs`: the driving input `(L, d_model)`.
    - `k`: number of exponents.

    **Returns:**

    The `k` largest exponents per token, shape `(k,)`.
    """
    k = check_int("hidden_state_lyapunov", "k", k)
    if not callable(getattr(block, "dynamical_system", None)):
        raise TypeError(
            f"hidden_state_lyapunov: {type(block).__name__} has no dynamical_system(xs); a block "
            "that is a linear time-varying system can define it (see AbstractSequenceBlock)"
        )
    system, _ = block.dynamical_system(xs)
    return lyapunov_exponents(system, k)


def _cast(tree, dtype):
    return jax.tree.map(lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x, tree)


def precision_divergence(
    fn: Callable[[Any, Array], Array],
    model: Any,
    xs: Array,
    *,
    low_dtype=jnp.bfloat16,
) -> Float[Array, "..."]:
    """Relative divergence of a model's outputs between full precision and a low precision.

    Runs `fn(model, xs)` once as given and once with every floating array of `model` and `xs`
    cast to `low_dtype`, then compares `|y - y_low| / |y|` with Euclidean norms over the last
    (feature) axis, so an output `(L, d)` gives one value per position and `(layers, L, d)` one per
    layer and position. Halloran et al. use this to show Mamba's bounded divergence under mixed
    precision.

    **Arguments:**

    - `fn`: `fn(model, xs) -> ys` with `ys` of shape `(..., features)`.
    - `model`: a PyTree of parameters (e.g. an `eqx.Module`).
    - `xs`: the input (float or integer tokens).
    - `low_dtype`: the reduced precision (default bfloat16).

    **Returns:**

    The relative divergence, shape `ys.shape[:-1]`, in the full-precision dtype.
    """
    if not callable(fn):
        raise TypeError(f"precision_divergence: fn must be callable fn(model, xs), got {fn!r}.")
    if xs is None:
        raise TypeError("precision_divergence: xs must be an array (or a PyTree), got None.")
    ys = fn(model, xs)
    ys_low = fn(_cast(model, low_dtype), _cast(xs, low_dtype)).astype(ys.dtype)
    scale = jnp.maximum(jnp.linalg.norm(ys, axis=-1), jnp.finfo(ys.dtype).tiny)
    return jnp.linalg.norm(ys - ys_low, axis=-1) / scale
