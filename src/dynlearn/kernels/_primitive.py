"""Fused operations: a hand-written backward pass that still supports jvp, vmap and jvp-of-grad.

`jax.custom_vjp` gives a hand-written backward pass but forbids forward mode; `jax.custom_jvp`
allows both, but reverse mode then transposes whatever the tangent computation is, so the
backward pass cannot be chosen. The kernels need both: a fused, memory-lean backward pass for
training and working `jvp` / `jvp(grad)` for everything else.

Three primitives make that possible (the construction lineax uses for linear solves):

- `forward(inputs) -> outputs`, non-linear;
- `tangent(inputs, tangents) -> output tangents`, linear in the tangents; its transpose is
- `backward(inputs, cotangents) -> input cotangents`, linear in the cotangents; its transpose is
  `tangent` again.

The JVP of `forward` emits `tangent`, so `jax.grad` transposes it into `backward`: the
hand-written rule. Second-order rules (the derivative of `tangent` or `backward` with respect to
the primal inputs) differentiate the pure-JAX implementations directly. Batching binds the same
primitive with an op whose rules are vmapped, so `vmap` never falls back to the plain
implementation and later `grad`s still reach the fused backward pass.

Inference pays nothing for the backward pass: an op may give a residual-free `inference`
forward (its outputs without the trailing `residuals`, computed however is fastest). `fused_call`
then binds a fourth primitive, `inference(inputs) -> outputs`, which lowers to that function when
no derivative is taken; its JVP rule binds the residual-producing `forward` and `tangent`, so
`grad`, `jvp` and `vmap` of it reach exactly the rules above.

Each implementation is an ordinary pure-JAX function of arrays, which keeps the public kernels
backend-neutral: a native kernel (XLA FFI on CPU, Pallas on GPU) can later replace any of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.core
import jax.extend.core
import jax.interpreters.ad as ad
import jax.interpreters.batching as batching
import jax.interpreters.mlir as mlir
import jax.numpy as jnp

Arrays = tuple[Any, ...]


@dataclasses.dataclass(frozen=True, eq=False)
class FusedOp:
    """Static description of a fused operation (hashed by identity, so build each one once).

    - `forward(*inputs) -> outputs`;
    - `tangent(inputs, outputs, tangents) -> output tangents` (default: `jax.jvp(forward)`);
    - `backward(inputs, outputs, cotangents) -> input cotangents`;
    - `abstract(*input_structs) -> output ShapeDtypeStructs` (default: `jax.eval_shape` of
      `forward`, which traces it; give it when tracing `forward` is expensive).

    `batch(args, dims)`, if given, is a custom `vmap` rule for the forward operation: it returns
    `(op, args, out_dims)` to bind instead (`out_dims` the batch axis of each output), or `None`
    for the generic rule (every input broadcast to the batch, every rule vmapped).

    With `masked_backward=True`, `backward` takes a fourth argument `needs`: a tuple of bools,
    one per input, False where the caller discards that input's cotangent (its tangent was a
    symbolic zero, e.g. a constant), so the backward pass may skip that work and return zeros.

    All take and return tuples of arrays and are pure JAX. `outputs` are the forward outputs,
    handed to the derivative rules so that they need not be recomputed; an op may return
    residuals (e.g. chunk-boundary states) as extra outputs for its backward pass to use.

    `residuals` is the number of trailing outputs of `forward` that are residuals only:
    `fused_call` does not return them. `inference(*inputs)`, if given, returns the other
    outputs (the same values) without computing residuals; it runs whenever no derivative of
    the call is taken (plain evaluation, `jit`, `vmap`), and differentiation switches to
    `forward` with the rules above.
    """

    name: str
    forward: Callable[..., Arrays]
    backward: Callable[[Arrays, Arrays, Arrays], Arrays]
    tangent: Callable[[Arrays, Arrays, Arrays], Arrays] | None = None
    abstract: Callable[..., Sequence[Any]] | None = None
    masked_backward: bool = False
    batch: Callable[[Arrays, Sequence[Any]], Any] | None = None
    inference: Callable[..., Arrays] | None = None
    residuals: int = 0

    def run_backward(self, inputs: Arrays, outputs: Arrays, cotangents: Arrays, needs) -> Arrays:
        if self.masked_backward:
            if needs is None:
                needs = (True,) * len(inputs)
            return tuple(self.backward(inputs, outputs, cotangents, needs))
        return tuple(self.backward(inputs, outputs, cotangents))

    def jvp_outputs(self, inputs: Arrays, outputs: Arrays, tangents: Arrays) -> Arrays:
        if self.tangent is not None:
            return tuple(self.tangent(inputs, outputs, tangents))
        return tuple(jax.jvp(self.forward, tuple(inputs), tuple(tangents))[1])


def _materialise(values: Sequence[Any]) -> list[Any]:
    return [ad.instantiate_zeros(v) if type(v) is ad.Zero else v for v in values]


def _fill(cts: Sequence[Any], like: Sequence[Any]) -> list[Any]:
    """Cotangents with symbolic zeros (`ad.Zero`, or `None` under vmap) made concrete."""
    return [
        jnp.zeros(x.shape, x.dtype) if ct is None or type(ct) is ad.Zero else ct
        for ct, x in zip(cts, like)
    ]


def _avals(values: Sequence[Any]) -> list[jax.ShapeDtypeStruct]:
    return [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in values]


def _shaped(structs: Sequence[Any]) -> list[jax.core.ShapedArray]:
    return [jax.core.ShapedArray(s.shape, s.dtype) for s in structs]


# --- forward -------------------------------------------------------------------------------


def _forward_impl(*inputs, op):
    return list(op.forward(*inputs))


def _forward_abstract(*inputs, op):
    if op.abstract is not None:
        return _shaped(op.abstract(*_avals(inputs)))
    return _shaped(jax.eval_shape(op.forward, *_avals(inputs)))


def _forward_jvp(primals, tangents, *, op):
    outputs = _forward_p.bind(*primals, op=op)
    sizes = dict(op=op, n_inputs=len(primals), n_outputs=len(outputs))
    output_tangents = _tangent_p.bind(*primals, *outputs, *_materialise(tangents), **sizes)
    return outputs, output_tangents


def _forward_transpose(cts, *inputs, op):
    raise NotImplementedError(f"{op.name} is not linear; it has no transpose.")


def _parts(values, n_inputs, n_outputs):
    return (
        tuple(values[:n_inputs]),
        tuple(values[n_inputs : n_inputs + n_outputs]),
        tuple(values[n_inputs + n_outputs :]),
    )


# --- tangent: inputs + outputs + input tangents, linear in the tangents --------------------


def _tangent_impl(*values, op, n_inputs, n_outputs):
    return list(op.jvp_outputs(*_parts(values, n_inputs, n_outputs)))


def _tangent_abstract(*values, op, n_inputs, n_outputs):
    return _shaped(values[n_inputs : n_inputs + n_outputs])


def _tangent_jvp(primals, tangents, *, op, n_inputs, n_outputs):
    def fn(*values):
        return op.jvp_outputs(*_parts(values, n_inputs, n_outputs))

    out, out_tangent = jax.jvp(fn, tuple(primals), tuple(_materialise(tangents)))
    return list(out), list(out_tangent)


def _tangent_transpose(cts, *values, op, n_inputs, n_outputs):
    inputs, outputs, tangents = _parts(values, n_inputs, n_outputs)
    if any(ad.is_undefined_primal(x) for x in inputs + outputs):
        raise NotImplementedError(f"{op.name}: cannot transpose with respect to primal inputs.")
    needs = tuple(ad.is_undefined_primal(t) for t in tangents)
    sizes = dict(op=op, n_inputs=n_inputs, n_outputs=n_outputs, needs=needs)
    input_cts = _backward_p.bind(*inputs, *outputs, *_fill(cts, outputs), **sizes)
    tangent_cts = [ct if ad.is_undefined_primal(t) else None for t, ct in zip(tangents, input_cts)]
    return [None] * (n_inputs + n_outputs) + tangent_cts


# --- backward: inputs + outputs + output cotangents, linear in the cotangents --------------


def _backward_impl(*values, op, n_inputs, n_outputs, needs=None):
    return list(op.run_backward(*_parts(values, n_inputs, n_outputs), needs))


def _backward_abstract(*values, op, n_inputs, n_outputs, needs=None):
    return _shaped(values[:n_inputs])


def _backward_jvp(primals, tangents, *, op, n_inputs, n_outputs, needs=None):
    def fn(*values):
        return op.run_backward(*_parts(values, n_inputs, n_outputs), needs)

    out, out_tangent = jax.jvp(fn, tuple(primals), tuple(_materialise(tangents)))
    return list(out), list(out_tangent)


def _backward_transpose(cts, *values, op, n_inputs, n_outputs, needs=None):
    inputs, outputs, out_cts = _parts(values, n_inputs, n_outputs)
    if any(ad.is_undefined_primal(x) for x in inputs + outputs):
        raise NotImplementedError(f"{op.name}: cannot transpose with respect to primal inputs.")
    sizes = dict(op=op, n_inputs=n_inputs, n_outputs=n_outputs)
    output_tangents = _tangent_p.bind(*inputs, *outputs, *_fill(cts, inputs), **sizes)
    return [None] * (n_inputs + n_outputs) + [
        t if ad.is_undefined_primal(c) else None for c, t in zip(out_cts, output_tangents)
    ]


def _batched(op: FusedOp) -> FusedOp:
    """`op` with every rule vmapped over a new leading axis of all inputs (built once)."""
    # Cached on the op itself (not in a global dict), so ops built per call, like those of
    # odeint_fixed, are freed with their batched versions.
    batched = op.__dict__.get("_batched")
    if batched is None:

        def forward(*inputs):
            return jax.vmap(op.forward)(*inputs)

        def tangent(inputs, outputs, tangents):
            return jax.vmap(op.jvp_outputs)(inputs, outputs, tangents)

        def backward(inputs, outputs, cotangents, needs=None):
            return jax.vmap(lambda i, o, c: op.run_backward(i, o, c, needs))(
                inputs, outputs, cotangents
            )

        abstract = None
        if op.abstract is not None:

            def abstract(*structs):
                size = structs[0].shape[0]
                unbatched = [jax.ShapeDtypeStruct(s.shape[1:], s.dtype) for s in structs]
                return [
                    jax.ShapeDtypeStruct((size, *s.shape), s.dtype) for s in op.abstract(*unbatched)
                ]

        inference = None
        if op.inference is not None:

            def inference(*inputs):
                return jax.vmap(op.inference)(*inputs)

        batched = FusedOp(
            f"vmap({op.name})",
            forward,
            backward,
            tangent,
            abstract,
            True,
            inference=inference,
            residuals=op.residuals,
        )
        object.__setattr__(op, "_batched", batched)
    return batched


def batch_size(args, dims) -> int:
    """The size of the batch axis of a batching rule's arguments."""
    return next(x.shape[d] for x, d in zip(args, dims) if d is not None)


def batch_first(x, dim, size: int):
    """`x` with its batch axis `dim` moved to the front, or broadcast to one if unbatched."""
    return jnp.broadcast_to(x, (size, *x.shape)) if dim is None else jnp.moveaxis(x, dim, 0)


def _make_batch_rule(primitive):
    def rule(args, dims, *, op, **params):
        if primitive in (_forward_p, _inference_p) and op.batch is not None:
            custom = op.batch(args, dims)
            if custom is not None:
                new_op, new_args, out_dims = custom
                out = primitive.bind(*new_args, op=new_op, **params)
                return out, list(out_dims)[: len(out)]
        # Every input gets a leading batch axis (unbatched ones are broadcast), so all
        # cotangents come back batched and JAX's transpose of the broadcast sums them.
        size = batch_size(args, dims)
        args = [batch_first(x, d, size) for x, d in zip(args, dims)]
        out = primitive.bind(*args, op=_batched(op), **params)
        return out, [0] * len(out)

    return rule


def _primitive(name, impl, abstract, jvp, transpose):
    primitive = jax.extend.core.Primitive(name)
    primitive.multiple_results = True
    primitive.def_impl(impl)
    primitive.def_abstract_eval(abstract)
    ad.primitive_jvps[primitive] = jvp
    ad.primitive_transposes[primitive] = transpose
    batching.primitive_batchers[primitive] = _make_batch_rule(primitive)
    mlir.register_lowering(primitive, mlir.lower_fun(impl, multiple_results=True))
    return primitive


_forward_p = _primitive(
    "dynlearn_fused_forward", _forward_impl, _forward_abstract, _forward_jvp, _forward_transpose
)
_tangent_p = _primitive(
    "dynlearn_fused_tangent", _tangent_impl, _tangent_abstract, _tangent_jvp, _tangent_transpose
)
_backward_p = _primitive(
    "dynlearn_fused_backward",
    _backward_impl,
    _backward_abstract,
    _backward_jvp,
    _backward_transpose,
)


# --- inference: inputs -> outputs without residuals, the forward pass nothing differentiates --


def _inference_impl(*inputs, op):
    return list(op.inference(*inputs))


def _inference_abstract(*inputs, op):
    if op.abstract is not None:
        structs = op.abstract(*_avals(inputs))
        return _shaped(structs[: len(structs) - op.residuals])
    return _shaped(jax.eval_shape(op.inference, *_avals(inputs)))


def _inference_jvp(primals, tangents, *, op):
    # Differentiated: the residual-producing forward pass and its rules take over.
    outputs, output_tangents = _forward_jvp(primals, tangents, op=op)
    kept = len(outputs) - op.residuals
    return list(outputs[:kept]), list(output_tangents[:kept])


def _inference_transpose(cts, *inputs, op):
    raise NotImplementedError(f"{op.name} is not linear; it has no transpose.")


_inference_p = _primitive(
    "dynlearn_fused_inference",
    _inference_impl,
    _inference_abstract,
    _inference_jvp,
    _inference_transpose,
)


def fused_call(op: FusedOp, *inputs) -> Arrays:
    """Apply `op.forward` to array `inputs` with `op`'s derivative rules; returns a tuple.

    The trailing `op.residuals` outputs are left out. With `op.inference` given, a call that
    is not differentiated runs `op.inference` instead of `op.forward`.
    """
    if op.inference is not None:
        return tuple(_inference_p.bind(*inputs, op=op))
    outputs = _forward_p.bind(*inputs, op=op)
    return tuple(outputs[: len(outputs) - op.residuals])
