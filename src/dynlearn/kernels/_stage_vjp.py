"""Vector-field evaluations whose pullbacks are applied later, from saved residuals.

The discrete adjoint of a fixed-step solve (`_rk_adjoint`) recomputes a block of steps and then
runs backwards through it. `StageVjp.record(t, y)` evaluates `k = f(params, t, y)` under
`jax.vjp` and returns `k` with the *dynamic* residuals of its pullback: the leaves of the
pullback that depend on `t` and `y` (the activations), found once by a dependency walk over
the traced program. The residuals that depend only on the parameters (the weights) are not
saved, nor are those that one cheap elementwise operation makes from another saved residual
(`1 - tanh(x)` next to `tanh(x)`): they are redone going backwards. The recomputation stacks
the saved residuals over the block like any scan output.

Going backwards, a pullback is rebuilt by tracing `jax.vjp` at a reference point and
substituting the saved residuals for its dynamic leaves; the reference forward computation is
then dead code, removed by the compiler. So

- `y_cotangent(residuals, ct)` costs the transposed products of one evaluation, and
- `params_cotangent(residuals, cts)` sums the parameter cotangents of many evaluations at once:
  the pullback is transposed back into the parameter-tangent map, which is `vmap`ped over the
  evaluations with the parameter tangent shared and transposed again. Each weight gradient
  becomes one matrix product contracting over all the evaluations (not a batch of small
  products and a sum).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
from jax.extend import core as jex_core


def depends_on_inputs(closed_jaxpr) -> list[bool]:
    """For each output of a closed jaxpr: does it depend on any of the jaxpr's inputs?

    A forward walk over the equations. An equation with a sub-program counts as a whole (its
    outputs depend on the inputs if any operand does), which can only over-approximate."""
    jaxpr = closed_jaxpr.jaxpr
    dynamic = set(jaxpr.invars)
    for eqn in jaxpr.eqns:
        if any(not isinstance(v, jex_core.Literal) and v in dynamic for v in eqn.invars):
            dynamic.update(eqn.outvars)
    return [not isinstance(v, jex_core.Literal) and v in dynamic for v in jaxpr.outvars]


# Elementwise primitives cheap enough to redo in the backward pass rather than save.
_CHEAP = frozenset({"add", "sub", "mul", "neg", "integer_pow", "square", "convert_element_type"})


def derived_outputs(closed_jaxpr, saved: list[bool]) -> dict:
    """Outputs that one cheap elementwise operation computes from other saved outputs.

    Returns `{i: (primitive, params, operands)}`, each operand `("out", j)` (output `j`,
    itself saved and not derived) or `("lit", value)`. Looks through one level of `jit`, as
    the vector field is jitted (e.g. `1 - tanh(x)` next to `tanh(x)`: JAX's derivative of
    `tanh` keeps both)."""
    jaxpr = closed_jaxpr.jaxpr
    producer = {v: eqn for eqn in jaxpr.eqns for v in eqn.outvars}
    position = {v: i for i, v in enumerate(jaxpr.outvars) if not isinstance(v, jex_core.Literal)}
    recipes = {}
    for i, v in enumerate(jaxpr.outvars):
        if not saved[i] or isinstance(v, jex_core.Literal) or v not in producer:
            continue
        eqn = producer[v]
        if eqn.primitive.name in ("jit", "pjit"):
            inner = eqn.params["jaxpr"].jaxpr
            inner_out = inner.outvars[eqn.outvars.index(v)]
            inner_producer = {u: e for e in inner.eqns for u in e.outvars}
            # Inner outputs of this call that are saved outputs of the outer program.
            outer_of = {
                u: position[w]
                for u, w in zip(inner.outvars, eqn.outvars)
                if not isinstance(u, jex_core.Literal) and w in position
            }
            candidate = inner_producer.get(inner_out)
        else:
            outer_of = position
            candidate = eqn
        if candidate is None or candidate.primitive.name not in _CHEAP:
            continue
        operands = []
        for u in candidate.invars:
            if isinstance(u, jex_core.Literal):
                operands.append(("lit", u.val))
            elif u in outer_of and saved[outer_of[u]] and outer_of[u] != i:
                operands.append(("out", outer_of[u]))
            else:
                break
        else:
            recipes[i] = (candidate.primitive, dict(candidate.params), operands)
    # Sources must be recorded themselves, not derived.
    return {
        i: r for i, r in recipes.items() if all(k != "out" or j not in recipes for k, j in r[2])
    }


class StageVjp:
    """Pullbacks of `f_params(params, t, y)` with respect to `y` (and `params` when
    `with_params`), recorded forwards and applied backwards. `t_ref`, `y_ref` fix the types of
    `t` and `y` (any values of those types); `f_params` returns a PyTree like `y`."""

    def __init__(
        self, f_params: Callable[[Any, Any, Any], Any], params, t_ref, y_ref, *, with_params
    ):
        self.f_params = f_params
        self.params = params
        self.with_params = with_params
        self.t_ref, self.y_ref = t_ref, y_ref
        structure = []

        def leaves_of_pullback(t, y):
            _, leaves, treedef = self._split(t, y, check=False)
            structure.append(treedef)
            return leaves

        closed = jax.make_jaxpr(leaves_of_pullback)(t_ref, y_ref)
        self.dynamic = depends_on_inputs(closed)
        self.avals = [(v.aval.shape, v.aval.dtype) for v in closed.jaxpr.outvars]
        # Dynamic leaves recomputed from others in the backward pass instead of being saved.
        self.derived = derived_outputs(closed, self.dynamic)
        self.recorded = [d and i not in self.derived for i, d in enumerate(self.dynamic)]
        # The pullback at the reference point (the traced program evaluated, not traced again):
        # its static leaves (the weights) and its structure serve every rebuilt pullback; its
        # dynamic leaves are dead code.
        self._ref_leaves = jex_core.jaxpr_as_fun(closed)(*jax.tree_util.tree_leaves((t_ref, y_ref)))
        self._treedef = structure[0]
        # The leaves a rebuilt pullback takes from the reference point (None where a saved or
        # derived residual goes).
        self._kept = [
            None if rec or i in self.derived else x
            for i, (x, rec) in enumerate(zip(self._ref_leaves, self.recorded))
        ]
        # Jitted: every stage of a step reuses one trace of the recording and of the pullback,
        # and lowering emits each once (compile time); XLA inlines the calls.
        self._record = jax.jit(self._record_impl)
        self._y_cotangent = jax.jit(
            lambda kept, residuals, ct: self._pullback(residuals, kept)(ct)[-1]
        )

    def _split(self, t, y, check=True, params=None):
        f = self.f_params
        params = self.params if params is None else params
        if self.with_params:
            k, pullback = jax.vjp(lambda p, y_: f(p, t, y_), params, y)
        else:
            k, pullback = jax.vjp(lambda y_: f(params, t, y_), y)
        leaves, treedef = jax.tree_util.tree_flatten(pullback)
        if check:
            got = [(jax.numpy.shape(x), jax.numpy.result_type(x)) for x in leaves]
            if got != self.avals:
                raise RuntimeError(
                    "dynlearn internal error: the vector field's pullback changed structure "
                    f"between traces ({got} vs {self.avals}); please report this."
                )
        return k, leaves, treedef

    def record(self, t, y):
        """`(f_params(params, t, y), residuals)`, residuals a list of arrays."""
        return self._record(self.params, t, y)

    def _record_impl(self, params, t, y):
        k, leaves, _ = self._split(t, y, params=params)
        return k, [x for x, rec in zip(leaves, self.recorded) if rec]

    def _pullback(self, residuals, kept=None):
        kept = self._kept if kept is None else kept
        saved = iter(residuals)
        leaves = [next(saved) if rec else x for x, rec in zip(kept, self.recorded)]
        for i, (primitive, params, operands) in self.derived.items():
            args = [leaves[j] if kind == "out" else j for kind, j in operands]
            leaves[i] = primitive.bind(*args, **params)
        return jax.tree_util.tree_unflatten(self._treedef, leaves)

    def y_cotangent(self, residuals, ct):
        """The cotangent of `y` of one recorded evaluation, given the cotangent of `k`."""
        return self._y_cotangent(self._kept, residuals, ct)

    def params_cotangent(self, residuals, cts):
        """The parameter cotangent summed over recorded evaluations stacked on a leading axis."""
        if not self.with_params:
            raise ValueError("StageVjp(with_params=False) records no parameter pullbacks.")

        def tangent_of_one(res, d_params):
            pull_params = lambda ct: self._pullback(res)(ct)[0]
            (k_tangent,) = jax.linear_transpose(pull_params, self.y_ref)(d_params)
            return k_tangent

        def tangent_map(d_params):
            return jax.vmap(tangent_of_one, in_axes=(0, None))(residuals, d_params)

        (g,) = jax.linear_transpose(tangent_map, self.params)(cts)
        return g
