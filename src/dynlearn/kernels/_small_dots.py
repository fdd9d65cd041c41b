"""Matrix products with a tiny contraction, written out as sums of elementwise products.

A neural vector field usually starts with a layer that reads a low-dimensional state: for an MLP
on a 4-dimensional state under `vmap`, a `(64, 4) x (4, 32)` product. On CPUs such a product is
a library call whose fixed cost is larger than its arithmetic, and it keeps the bias and the
activation that follow in a kernel of their own. Written as `sum_k x[:, k] * w[k, :]` (at most
`MAX_CONTRACTION` terms), XLA fuses the product, the bias and the activation into one loop.

`unroll_small_contractions(fn)` evaluates `fn`'s program with every such `dot_general` replaced
(and a `transpose` that is the product's only use folded into it, as `vmap` of a linear layer
produces `W @ x` and then transposes). Only the forward values are computed this way: the
derivative rules of the replacement are the original products (`jax.custom_jvp`), so the
backward pass of a solve keeps its large, library-friendly products. Values agree with the
original program to rounding (the sum is taken in another order).

XLA would also fuse whatever computes the product's input into the written-out product: in a
Runge-Kutta step, each stage's combination `y + dt * sum_j a_ij k_j`, making one kernel per
stage. `_rk_xla.rk_step` keeps the stage values apart when the field has such products
(`Schedule.isolate_stages`, set from `jaxpr_has_small_contractions`).

Measured (2-core CPU, 500 Euler steps of a 3-layer tanh MLP `K -> H -> H -> K`): batch 64,
H = 32, K = 2, 4: 20% faster; batch 256 and 1024 (H = 64, 256): within noise for K <= 4, while
K = 8 was up to 7% slower at the largest size, hence the limit of 4.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.extend import core as jex_core

# Largest contraction (product of the contracted dimensions) written out as a sum.
MAX_CONTRACTION = 4


def _is_small(eqn) -> bool:
    (lhs_contract, rhs_contract), (lhs_batch, _) = eqn.params["dimension_numbers"]
    lhs, rhs = (v.aval for v in eqn.invars)
    if lhs_batch or not lhs_contract:
        return False
    if lhs.dtype != rhs.dtype or not jnp.issubdtype(lhs.dtype, jnp.inexact):
        return False
    size = math.prod(lhs.shape[d] for d in lhs_contract)
    return size <= MAX_CONTRACTION


def _product_order(lhs, rhs, dimension_numbers):
    """The free dimensions of `lhs` and `rhs` in `dot_general`'s output order."""
    (lhs_contract, rhs_contract), _ = dimension_numbers
    lhs_free = [d for d in range(lhs.ndim) if d not in lhs_contract]
    rhs_free = [d for d in range(rhs.ndim) if d not in rhs_contract]
    return lhs_free, rhs_free


def _take(x, dims, index):
    """`x` at `index` along `dims`, those dimensions dropped (the others keep their order)."""
    for d, i in sorted(zip(dims, index), reverse=True):
        x = lax.index_in_dim(x, i, d, keepdims=False)
    return x


def _sum_of_products(lhs, rhs, dimension_numbers, permutation, preferred):
    """`transpose(dot_general(lhs, rhs), permutation)` as a sum of broadcast products."""
    (lhs_contract, rhs_contract), _ = dimension_numbers
    lhs_free, rhs_free = _product_order(lhs, rhs, dimension_numbers)
    if preferred is not None:
        lhs, rhs = lhs.astype(preferred), rhs.astype(preferred)
    product_shape = [lhs.shape[d] for d in lhs_free] + [rhs.shape[d] for d in rhs_free]
    n_lhs = len(lhs_free)
    # Output position of each dot_general output dimension after the permutation.
    position = list(range(len(product_shape)))
    if permutation is not None:
        position = [permutation.index(i) for i in range(len(product_shape))]
    out_shape = tuple(product_shape[p] for p in permutation) if permutation else product_shape
    lhs_dims = tuple(position[i] for i in range(n_lhs))
    rhs_dims = tuple(position[n_lhs + i] for i in range(len(rhs_free)))
    total = None
    for index in itertools.product(*(range(lhs.shape[d]) for d in lhs_contract)):
        lhs_part = _take(lhs, lhs_contract, index)
        rhs_part = _take(rhs, rhs_contract, index)
        term = lax.mul(
            lax.broadcast_in_dim(lhs_part, out_shape, lhs_dims),
            lax.broadcast_in_dim(rhs_part, out_shape, rhs_dims),
        )
        total = term if total is None else lax.add(total, term)
    return total


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _unrolled_dot(lhs, rhs, dimension_numbers, permutation, preferred):
    return _sum_of_products(lhs, rhs, dimension_numbers, permutation, preferred)


def _dot(lhs, rhs, dimension_numbers, permutation, preferred):
    out = lax.dot_general(lhs, rhs, dimension_numbers, preferred_element_type=preferred)
    return out if permutation is None else lax.transpose(out, permutation)


@functools.partial(_unrolled_dot.defjvp, symbolic_zeros=True)
def _unrolled_dot_jvp(dimension_numbers, permutation, preferred, primals, tangents):
    lhs, rhs = primals
    d_lhs, d_rhs = tangents
    out = _sum_of_products(lhs, rhs, dimension_numbers, permutation, preferred)
    parts = []
    if not isinstance(d_lhs, jax.custom_derivatives.SymbolicZero):
        parts.append(_dot(d_lhs, rhs, dimension_numbers, permutation, preferred))
    if not isinstance(d_rhs, jax.custom_derivatives.SymbolicZero):
        parts.append(_dot(lhs, d_rhs, dimension_numbers, permutation, preferred))
    if not parts:
        return out, jnp.zeros_like(out)
    tangent = parts[0] if len(parts) == 1 else lax.add(parts[0], parts[1])
    return out, tangent


def _eval(jaxpr, consts, args):
    """Evaluate `jaxpr`, replacing small products; `jit` calls are inlined and rewritten too."""
    env = {}

    def read(v):
        return v.val if isinstance(v, jex_core.Literal) else env[v]

    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    for v, x in zip(jaxpr.invars, args):
        env[v] = x
    uses: dict = {}
    for eqn in jaxpr.eqns:
        for v in eqn.invars:
            if not isinstance(v, jex_core.Literal):
                uses.setdefault(v, []).append(eqn)
    for v in jaxpr.outvars:
        if not isinstance(v, jex_core.Literal):
            uses.setdefault(v, []).append(None)
    folded = set()
    for eqn in jaxpr.eqns:
        if id(eqn) in folded:
            continue
        invals = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name == "dot_general" and _is_small(eqn):
            outvar, permutation = eqn.outvars[0], None
            users = uses.get(outvar, [])
            if len(users) == 1 and users[0] is not None and users[0].primitive.name == "transpose":
                folded.add(id(users[0]))
                outvar, permutation = users[0].outvars[0], tuple(users[0].params["permutation"])
            preferred = eqn.params.get("preferred_element_type")
            out = _unrolled_dot(*invals, eqn.params["dimension_numbers"], permutation, preferred)
            env[outvar] = out.astype(outvar.aval.dtype)
            continue
        if name in ("pjit", "jit"):
            closed = eqn.params["jaxpr"]
            outs = _eval(closed.jaxpr, closed.consts, invals)
        else:
            with eqn.ctx.manager:
                outs = _bind(eqn.primitive, invals, eqn.params)
            if not eqn.primitive.multiple_results:
                outs = [outs]
        for v, x in zip(eqn.outvars, outs):
            env[v] = x
    return [read(v) for v in jaxpr.outvars]


def _bind(primitive, invals, params):
    """Re-bind one equation. `get_bind_params` returns the parameters (JAX >= 0.7) or a pair
    (sub-functions, parameters) (earlier releases, down to the declared minimum)."""
    bind_params = primitive.get_bind_params(params)
    if isinstance(bind_params, tuple):
        subfuns, bind_params = bind_params
        return primitive.bind(*subfuns, *invals, **bind_params)
    return primitive.bind(*invals, **bind_params)


def jaxpr_has_small_contractions(jaxpr) -> bool:
    """Whether the program `jaxpr` (looking inside `jit` calls) has a product to write out."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general" and _is_small(eqn):
            return True
        if eqn.primitive.name in ("pjit", "jit"):
            if jaxpr_has_small_contractions(eqn.params["jaxpr"].jaxpr):
                return True
    return False


def has_small_contractions(fn: Callable, *args) -> bool:
    """Whether `unroll_small_contractions(fn)(*args)` writes out any product."""
    return jaxpr_has_small_contractions(jax.make_jaxpr(fn)(*args).jaxpr)


def unroll_small_contractions(fn: Callable, traced=None) -> Callable:
    """`fn` with its small-contraction products written out as sums (see the module).

    `traced`, if given, is `jax.make_jaxpr(fn, return_shape=True)(*example)`: calls whose
    arguments have the example's structure, shapes and dtypes evaluate it instead of tracing
    `fn` again."""

    def wrapped(*args):
        leaves, structure = jax.tree_util.tree_flatten(args)
        avals = [(jnp.shape(x), jnp.result_type(x)) for x in leaves]
        if traced is not None and avals == [
            (v.aval.shape, v.aval.dtype) for v in traced[0].jaxpr.invars
        ]:
            closed, out_shape = traced
        else:
            closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*args)
        if not jaxpr_has_small_contractions(closed.jaxpr):
            return fn(*args)
        outs = _eval(closed.jaxpr, closed.consts, leaves)
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(out_shape), outs)

    return wrapped
