"""The flow-or-map protocol every analysis function accepts.

A dynamical system, given or learned, is either a *flow* with a vector field
`vector_field(t, y, args) -> dy/dt` or a *map* with a step `step(x) -> x_next`. The analysis
functions accept:

- a callable, flagged with `kind="flow"` or `kind="map"` (or inferred from its number of
  required positional parameters: three for a flow, one for a map);
- any object with a `.vector_field` attribute (a flow), such as a `dynlearn.systems` flow or a
  trained neural ODE;
- any object with a `.step` attribute (a map), such as a `dynlearn.systems` map or a PLRNN.

An object with both attributes is a map if its `discrete` attribute is `True` (as on
`dynlearn.systems` maps, whose `vector_field` is an alias of `step`), a flow if it is `False`;
otherwise pass `kind`.

A recurrence with inputs, such as an SSM block's `step(state, x)`, is wrapped by the caller into
a map that returns the next state only: `lambda h: block.step(h, x_const)[0]` for a constant
input, or `lambda h, u: block.step(h, u)[0]` driven by a sequence (`inputs=` of
`lyapunov_spectrum`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

from .._types import Array

Kind = Literal["flow", "map"]


@runtime_checkable
class Flow(Protocol):
    """A continuous-time system: anything with `vector_field(t, y, args) -> dy/dt`.

    `dynlearn.systems` flows and trained neural ODEs satisfy it; so does any object with a
    `vector_field` attribute, for example a small wrapper class around an `eqx.Module`.
    """

    def vector_field(self, t: Any, y: Array, args: Any) -> Array: ...


@runtime_checkable
class Map(Protocol):
    """A discrete-time system: anything with `step(x) -> x_next`.

    `dynlearn.systems` maps and PLRNNs satisfy it. An SSM block's recurrence `step(state, x)`
    becomes a map once its input is fixed: `lambda h: block.step(h, x)[0]`.
    """

    def step(self, x: Array) -> Array: ...


def _required_positional(fn: Callable) -> int | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return None
        if (
            p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            and p.default is inspect.Parameter.empty
        ):
            count += 1
    return count


def resolve_dynamics(
    system: Any, kind: str | None, caller: str, *, driven: bool = False
) -> tuple[Kind, Callable]:
    """Return `("flow", vector_field)` or `("map", step)` for `system` (see the module docs).

    `driven` says that inputs are given, so a two-parameter callable is a map `step(x, u)`.
    """
    if kind is not None and kind not in ("flow", "map"):
        raise ValueError(f"{caller}: kind must be 'flow', 'map' or None, got {kind!r}")
    has_vf = hasattr(system, "vector_field") and callable(system.vector_field)
    has_step = hasattr(system, "step") and callable(system.step)
    if kind == "flow" and has_vf:
        return "flow", system.vector_field
    if kind == "map" and has_step:
        return "map", system.step
    if kind is None:
        # A `discrete` flag (as on `dynlearn.systems` objects, whose maps also offer
        # `vector_field` as an alias of `step`) settles ties.
        discrete = getattr(system, "discrete", None)
        if has_vf and has_step and isinstance(discrete, bool):
            return ("map", system.step) if discrete else ("flow", system.vector_field)
        if has_vf and not has_step:
            return "flow", system.vector_field
        if has_step and not has_vf:
            return "map", system.step
        if has_vf and has_step:
            raise ValueError(
                f"{caller}: {type(system).__name__} has both `vector_field` and `step`; pass "
                "kind='flow' or kind='map'"
            )
    if callable(system):
        if kind is not None:
            return kind, system
        n = _required_positional(system)
        if n == 3:
            return "flow", system
        if n == 1 or (driven and n == 2):
            return "map", system
        raise ValueError(
            f"{caller}: cannot tell whether {system!r} is a flow or a map ({n} required positional "
            "parameters); pass kind='flow' for vector_field(t, y, args) or kind='map' for step(x)"
        )
    raise TypeError(
        f"{caller}: expected a callable vector_field(t, y, args) / step(x) or an object with a "
        f"`.vector_field` or `.step` attribute, got {type(system).__name__}"
        + (f" (kind={kind!r} asked for the missing attribute)" if kind is not None else "")
    )
