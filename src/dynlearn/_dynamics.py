"""The dynamical-model contract shared by the zoo, the model families and the analysis tools.

A dynamical system, given or learned, is a *map* or a *flow* in its own state (latent or
observed), together with a way to get that state from observed context and to read observations
from it:

- `init_state(context) -> state`: the state at the last row of the observed `context`, an array
  `(time, dim)`. An ODE or a zoo system takes the last row; a reservoir, a PLRNN, an SSM stack
  or a Koopman VAE warms up on the whole context.
- `observe(state) -> observation`, shape `(dim,)`.
- The transition: `step(state) -> state` for a map (one sampling step), or
  `vector_field(t, state, args) -> d state / dt` for a flow.
- Optionally `dt`, the sampling step of a map or the default forecast step of a flow, where the
  model has one (`None` or absent otherwise), `discrete` (`True` for maps) to settle objects
  that have both a `step` and a `vector_field`, and `rollout(state, n_steps, *, dt, key)`, the
  model's own integrator or sampler, returning the `n_steps` states after `state`.

Anything with these methods works with `dynlearn.forecast`, `dynlearn.analysis` and
`dynlearn.metrics`; no base class is needed. This module imports nothing from the model families,
so every layer may use it. The `Flow` and `Map` protocols (the transition alone) are what the
analysis functions need when they are given a state rather than observed context.

A recurrent sequence model (`init_state()` without arguments and `step(state, x) -> (state, y)`,
such as `dynlearn.ssm.SequenceModel` on real inputs, whose output `y` predicts the next input)
is adapted on the fly into a closed-loop map (`ClosedLoop`): its state is the stack's state
together with the current observation, and each step feeds the prediction back as the next input.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

Kind = Literal["flow", "map"]


@runtime_checkable
class Flow(Protocol):
    """A continuous-time system: anything with `vector_field(t, y, args) -> dy/dt`.

    `dynlearn.systems` flows, `dynlearn.nde.NeuralODE`, `dynlearn.nde.NeuralSDE` (its drift) and
    `dynlearn.recon.SINDy` satisfy it; so does any object with a `vector_field` attribute.
    """

    def vector_field(self, t: Any, y: Array, args: Any) -> Array: ...


@runtime_checkable
class Map(Protocol):
    """A discrete-time system: anything with `step(x) -> x_next`.

    `dynlearn.systems` maps, PLRNNs, reservoirs (`EchoStateNetwork`, `NVAR`) and Koopman models
    satisfy it. An SSM block's recurrence `step(state, x)` becomes a map once its input is fixed:
    `lambda h: block.step(h, x)[0]`.
    """

    def step(self, x: Array) -> Array: ...


@runtime_checkable
class DynamicalModel(Protocol):
    """The contract every zoo system and every model family implements (see `docs/dynamics.md`).

    Besides the two methods below, a model has the transition of a [`dynlearn.analysis.Map`][]
    (`step(state)`) or of a [`dynlearn.analysis.Flow`][] (`vector_field(t, state, args)`), and
    optionally `dt` (its sampling step), `discrete` and `rollout(state, n_steps, *, dt, key)`
    (its own integrator or sampler). `isinstance(model, DynamicalModel)` checks the two methods.
    """

    def init_state(self, context: Float[Array, "time dim"]) -> PyTree:
        """The model's state at the last row of the observed `context`, shape `(time, dim)`."""
        ...

    def observe(self, state: PyTree) -> Float[Array, " dim"]:
        """The observation read from a state."""
        ...


def is_dynamical_model(model: Any) -> bool:
    """Whether `model` offers `init_state` and `observe` (the contract's state interface)."""
    return callable(getattr(model, "init_state", None)) and callable(
        getattr(model, "observe", None)
    )


class ClosedLoop(eqx.Module):
    """A recurrent sequence model run in closed loop, as a map of the contract.

    The wrapped `model` has `init_state()` and `step(state, x) -> (state, y)`, and its output `y`
    at input `x_t` predicts `x_{t+1}`. The closed-loop state is `(s, u)`: the model's state after
    the inputs before `u`, and the current observation `u`; `step((s, u)) = model.step(s, u)`
    feeds each prediction back as the next input, so forecasting costs one step per row.

    **Arguments:**

    - `model`: the sequence model (e.g. a `dynlearn.ssm.SequenceModel` with real inputs and
      `d_out == d_in`).
    """

    model: Any

    def init_state(self, context: Float[Array, "time dim"]) -> tuple[PyTree, Float[Array, " dim"]]:
        """`(s, context[-1])`, with `s` the model's state after stepping through `context[:-1]`.

        **Arguments:**

        - `context`: observed inputs, shape `(time, dim)`.

        **Returns:** the closed-loop state.
        """
        context = jnp.asarray(context)

        def feed(state, x):
            return self.model.step(state, x)[0], None

        state, _ = jax.lax.scan(feed, self.model.init_state(), context[:-1])
        return state, context[-1]

    def step(self, state: tuple[PyTree, Array]) -> tuple[PyTree, Array]:
        """One closed-loop step: the model reads the current observation and predicts the next."""
        inner, u = state
        inner, y = self.model.step(inner, u)
        return inner, y.astype(u.dtype)

    def observe(self, state: tuple[PyTree, Array]) -> Array:
        """The current observation of a closed-loop state."""
        return state[1]


def is_sequence_model(model: Any) -> bool:
    """Whether `model` is a recurrent sequence model (`init_state()`, `step(state, x)`) rather
    than a model of the contract."""
    init, step = getattr(model, "init_state", None), getattr(model, "step", None)
    return (
        callable(init)
        and callable(step)
        and _required_positional(init) == 0
        and _required_positional(step) == 2
    )


def as_dynamical_model(model: Any) -> Any:
    """`model` itself, or `ClosedLoop(model)` for a recurrent sequence model."""
    return ClosedLoop(model) if is_sequence_model(model) else model


def sampling_step(model: Any) -> float | None:
    """The model's own sampling step `dt`, or `None` where it has none."""
    dt = getattr(model, "dt", None)
    if dt is None or callable(dt):
        return None
    return dt


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
    """Return `("flow", vector_field)` or `("map", step)` for `system`.

    Accepted: a callable, flagged with `kind` or inferred from its number of required positional
    parameters (three for a flow, one for a map, two for a map driven by inputs when `driven`);
    an object with a `.vector_field` (a flow) or a `.step` (a map) attribute; an object with both
    is a map if its `discrete` attribute is `True`, a flow if `False`, otherwise `kind` decides.
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
        f"{caller}: system must be a callable vector_field(t, y, args) / step(x) or an object "
        f"with a `.vector_field` or `.step` attribute, got system={system!r:.80} of type "
        f"{type(system).__name__}"
        + (f" (kind={kind!r} asked for the missing attribute)" if kind is not None else "")
    )
