"""System objects: continuous flows, discrete maps and Hamiltonian flows.

Every system carries its equations as a pure JAX function plus its parameters, a default initial
condition, a sampling step `dt`, a characteristic `period`, its `dimension` and reference
`metadata`, so that `dynlearn.analysis`, `dynlearn.metrics` and the model families can treat the
Lorenz system and a trained model alike: every system implements the dynamical-model contract
(`dynlearn.DynamicalModel`: a flow `vector_field(t, y, args)` or a map `step(y)`, with
`init_state(context)` the context's last row and `observe` the identity).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ._data import lookup_metadata


def cast_params(params: Any, dtype) -> Any:
    """Cast every leaf of a parameter PyTree to `dtype` (so float32/float64 states never mix)."""
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype=dtype), params)


def _as_state(y0) -> np.ndarray:
    return np.atleast_1d(np.asarray(y0, dtype=np.float64))


class AbstractSystem(eqx.Module):
    """A dynamical system from the zoo: a continuous flow or a discrete map.

    **Attributes:**

    - `name`: the registry name (`dynlearn.systems.get(name)` returns this system).
    - `params`: dict of parameter values (floats or arrays); a PyTree leaf, so gradients with
      respect to parameters flow through `vector_field`/`step` and `trajectory`.
    - `y0`: default initial condition, shape `(dimension,)`.
    - `dt`: default sampling step of `trajectory` (maps: 1).
    - `period`: characteristic time scale (dominant period of the attractor; maps: 1).
    - `dimension`: number of state variables.
    - `metadata`: reference data (published Lyapunov spectrum, dimensions, citation, ...).
    - `max_lyapunov`: the reference largest Lyapunov exponent (`None` where none is documented).
    """

    name: eqx.AbstractVar[str]
    params: eqx.AbstractVar[dict]
    y0: eqx.AbstractVar[Any]
    dt: eqx.AbstractVar[float]
    period: eqx.AbstractVar[float]
    dimension: eqx.AbstractVar[int]

    @property
    @abc.abstractmethod
    def discrete(self) -> bool:
        """True for maps, False for flows."""

    @property
    def metadata(self) -> dict:
        """Reference metadata of this system (a fresh dict; empty if none is shipped)."""
        return lookup_metadata(self.name, discrete=self.discrete)

    @property
    def max_lyapunov(self) -> float | None:
        """Reference largest Lyapunov exponent, the one to convert times to Lyapunov times.

        `metadata["max_lyapunov"]`; its origin is `metadata["max_lyapunov_source"]` (for the
        dysts flows, dysts' `maximum_lyapunov_estimated`). `None` where none is documented. It
        refers to the published parameters: `replace(params=...)` does not update it.
        """
        value = self.metadata.get("max_lyapunov")
        return None if value is None else float(value)

    # True where `sample` is a diffrax solve of `vector_field`, so that `zoo_trajectories` may
    # solve many such systems with one compiled solver
    _diffrax_ode = False

    @abc.abstractmethod
    def vector_field(self, t, y, args=None):
        """Flows: the time derivative dy/dt. Maps: the next state."""

    @abc.abstractmethod
    def sample(
        self,
        y0: Float[Array, " state"],
        n_points: int,
        *,
        dt=None,
        transient: int = 0,
        args: dict | None = None,
        **options: Any,
    ) -> Float[Array, "{n_points} state"]:
        """Integrate (or iterate) the system: how `dynlearn.systems.trajectory`, `trajectories`
        and `rollout` get its states. Implement it in your own system class.

        **Arguments:**

        - `y0`: the initial state, shape `(dimension,)`, already checked by `trajectory`; its
          dtype is the dtype of the computation.
        - `n_points`: number of saved states.
        - `dt`: sampling step (flows; `None`: `self.dt`); maps ignore it.
        - `transient`: leading samples computed and dropped.
        - `args`: optional parameter overrides (a dict).
        - `options`: integrator options of `trajectory` (`solver`, `stepsize_controller`,
          `rtol`, `atol`, `max_steps`, `steps_per_delay`); a system uses those that apply
          to it and ignores the others.

        **Returns:** shape `(n_points, dimension)`: row `k` is the state at `t = (transient + k)
        dt` (maps: after `transient + k` iterations).
        """

    def init_state(self, context: Float[ArrayLike, "time state"]) -> Float[Array, " state"]:
        """The state at the end of an observed `context`: its last row (the dynamical-model
        contract, see `dynlearn.DynamicalModel`).

        **Arguments:**

        - `context`: observed states, shape `(time, dimension)`.

        **Returns:** `context[-1]`, shape `(dimension,)`.

        **Raises:** `ValueError` for a context of another shape.
        """
        context = jnp.asarray(context)
        if context.ndim != 2 or context.shape[0] < 1 or context.shape[1] != self.dimension:
            raise ValueError(
                f"{self.name}: context must have shape (time >= 1, {self.dimension}), got "
                f"{tuple(context.shape)}"
            )
        return context[-1]

    def observe(self, state: Float[Array, " state"]) -> Float[Array, " state"]:
        """The observation of a state: the state itself (zoo systems are fully observed).

        **Arguments:**

        - `state`: shape `(dimension,)`.

        **Returns:** `state`.
        """
        return state

    def rollout(
        self, state: Float[Array, " state"], n_steps: int, *, dt=None, key=None
    ) -> Float[Array, "{n_steps} state"]:
        """The `n_steps` states after `state`: `trajectory(self, n_steps + 1, y0=state)[1:]`.

        **Arguments:**

        - `state`: the initial state, shape `(dimension,)`.
        - `n_steps`: number of states.
        - `dt`: sampling step of a flow (default `self.dt`); ignored by maps.
        - `key`: unused (deterministic).

        **Returns:** shape `(n_steps, dimension)`: row `i` is `i + 1` sampling steps (flows,
        integrated as `dynlearn.systems.trajectory` does) or iterations (maps) after `state`.
        """
        del key
        from ._integrate import trajectory

        dt = None if self.discrete else dt
        return trajectory(self, n_steps + 1, dt=dt, y0=state)[1:]

    def replace(self, *, params: dict | None = None, y0=None) -> AbstractSystem:
        """A copy with some parameters or the initial condition changed.

        **Arguments:**

        - `params`: dict of parameter values to override (other parameters are kept).
        - `y0`: a new default initial condition of shape `(dimension,)`.

        **Returns:** the modified system.
        """
        new = self
        if params is not None:
            unknown = sorted(set(params) - set(self.params))
            if unknown:
                raise ValueError(
                    f"{self.name} has no parameters {unknown}; its parameters are "
                    f"{sorted(self.params)}"
                )
            merged = {**self.params, **params}
            new = eqx.tree_at(lambda s: s.params, new, merged)
        if y0 is not None:
            y0 = jnp.asarray(y0) if isinstance(y0, jax.Array) else _as_state(y0)
            if y0.shape != (self.dimension,):
                raise ValueError(
                    f"{self.name}: y0 must have shape ({self.dimension},), got {y0.shape}"
                )
            new = eqx.tree_at(lambda s: s.y0, new, y0)
        return new


def _sample_by_diffrax(
    self,
    y0: Float[Array, " state"],
    n_points: int,
    *,
    dt=None,
    transient: int = 0,
    args: dict | None = None,
    solver=None,
    stepsize_controller=None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    max_steps: int | None = None,
    **options: Any,
) -> Float[Array, "{n_points} state"]:
    """`sample` of the continuous systems: a diffrax solve (see `AbstractSystem.sample`;
    `trajectory` for the options)."""
    from ._integrate import solve_ode

    del options  # steps_per_delay: delay systems only
    return solve_ode(
        self,
        y0,
        n_points,
        dt=self.dt if dt is None else dt,
        transient=transient,
        args=args,
        solver=solver,
        stepsize_controller=stepsize_controller,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
    )


class Flow(AbstractSystem):
    """A continuous-time system `dy/dt = f(t, y; params)`.

    **Arguments:**

    - `name`: registry name.
    - `equation`: pure function `equation(t, y, params) -> dy/dt` written in JAX.
    - `params`: dict of parameter values.
    - `y0`: default initial condition.
    - `dt`: default sampling step.
    - `period`: characteristic period.
    """

    name: str = eqx.field(static=True)
    equation: Callable = eqx.field(static=True)
    params: dict
    y0: Any
    dt: float = eqx.field(static=True)
    period: float = eqx.field(static=True)
    dimension: int = eqx.field(static=True)
    _diffrax_ode = True

    def __init__(self, name: str, equation: Callable, params: dict, y0, dt: float, period: float):
        self.name = name
        self.equation = equation
        self.params = dict(params)
        self.y0 = _as_state(y0)
        self.dt = float(dt)
        self.period = float(period)
        self.dimension = int(self.y0.shape[0])

    @property
    def discrete(self) -> bool:
        return False

    sample = _sample_by_diffrax

    def vector_field(
        self, t: ArrayLike, y: Float[Array, " state"], args: dict | None = None
    ) -> Float[Array, " state"]:
        """The time derivative `dy/dt` (diffrax's `ODETerm` convention).

        **Arguments:**

        - `t`: time (used by non-autonomous systems).
        - `y`: state of shape `(dimension,)`.
        - `args`: optional dict of parameters overriding `params` (None: `params`).

        **Returns:** `dy/dt`, same shape and dtype as `y`.
        """
        params = self.params if args is None else {**self.params, **args}
        params = cast_params(params, y.dtype)
        t = jnp.asarray(t, dtype=y.dtype)
        return jnp.stack(self.equation(t, y, params)).astype(y.dtype).reshape(y.shape)


class Map(AbstractSystem):
    """A discrete-time system `y_{n+1} = F(y_n; params)`.

    **Arguments:**

    - `name`: registry name.
    - `equation`: pure function `equation(y, params) -> next state` written in JAX.
    - `params`: dict of parameter values.
    - `y0`: default initial condition.
    """

    name: str = eqx.field(static=True)
    equation: Callable = eqx.field(static=True)
    params: dict
    y0: Any
    dt: float = eqx.field(static=True)
    period: float = eqx.field(static=True)
    dimension: int = eqx.field(static=True)

    def __init__(self, name: str, equation: Callable, params: dict, y0):
        self.name = name
        self.equation = equation
        self.params = dict(params)
        self.y0 = _as_state(y0)
        self.dt = 1.0
        self.period = 1.0
        self.dimension = int(self.y0.shape[0])

    @property
    def discrete(self) -> bool:
        return True

    def sample(
        self,
        y0: Float[Array, " state"],
        n_points: int,
        *,
        dt=None,
        transient: int = 0,
        args: dict | None = None,
        **options: Any,
    ) -> Float[Array, "{n_points} state"]:
        """Iterates of `step`, in one compiled `lax.scan` (see `AbstractSystem.sample`; `dt`
        and the integrator options do not apply)."""
        from ._integrate import iterate_map

        del dt, options
        return iterate_map(self, y0, args, n_points, transient)

    def step(self, y: Float[Array, " state"], args: dict | None = None) -> Float[Array, " state"]:
        """One iteration of the map.

        **Arguments:**

        - `y`: state of shape `(dimension,)`.
        - `args`: optional dict of parameters overriding `params`.

        **Returns:** the next state, same shape and dtype as `y`.
        """
        params = self.params if args is None else {**self.params, **args}
        params = cast_params(params, y.dtype)
        return jnp.stack(self.equation(y, params)).astype(y.dtype).reshape(y.shape)

    def vector_field(self, t, y: Float[Array, " state"], args: dict | None = None):
        """Same as `step(y, args)`; `t` is ignored (uniform signature with flows)."""
        return self.step(y, args)


class HamiltonianFlow(AbstractSystem):
    """A canonical Hamiltonian system, state `y = (q, p)`, equations from `H` by autodiff.

    `dq/dt = dH/dp`, `dp/dt = -dH/dq`; `energy(y)` evaluates `H`, which the exact flow conserves.

    **Arguments:**

    - `name`: registry name.
    - `hamiltonian`: pure function `hamiltonian(q, p, params) -> scalar`.
    - `params`: dict of parameter values.
    - `y0`: default initial condition `(q..., p...)` of even length.
    - `dt`: default sampling step.
    - `period`: characteristic period.
    """

    name: str = eqx.field(static=True)
    hamiltonian: Callable = eqx.field(static=True)
    params: dict
    y0: Any
    dt: float = eqx.field(static=True)
    period: float = eqx.field(static=True)
    dimension: int = eqx.field(static=True)
    _diffrax_ode = True

    def __init__(
        self, name: str, hamiltonian: Callable, params: dict, y0, dt: float, period: float
    ):
        self.name = name
        self.hamiltonian = hamiltonian
        self.params = dict(params)
        self.y0 = _as_state(y0)
        self.dt = float(dt)
        self.period = float(period)
        self.dimension = int(self.y0.shape[0])
        if self.dimension % 2:
            raise ValueError(f"{name}: a Hamiltonian state (q, p) needs even length, got {y0}")

    @property
    def discrete(self) -> bool:
        return False

    sample = _sample_by_diffrax

    def energy(self, y: Float[Array, "*batch state"], args: dict | None = None) -> Array:
        """The Hamiltonian `H(q, p)`; works on one state or a batch (e.g. a trajectory).

        **Arguments:**

        - `y`: state(s) of shape `(..., dimension)`.
        - `args`: optional dict of parameters overriding `params`.

        **Returns:** the energy, shape `y.shape[:-1]`.
        """
        params = self.params if args is None else {**self.params, **args}
        params = cast_params(params, y.dtype)
        n = self.dimension // 2
        flat = y.reshape(-1, self.dimension)
        energy = jax.vmap(lambda s: self.hamiltonian(s[:n], s[n:], params))(flat)
        return energy.reshape(y.shape[:-1])

    def vector_field(
        self, t: ArrayLike, y: Float[Array, " state"], args: dict | None = None
    ) -> Float[Array, " state"]:
        """Hamilton's equations `(dH/dp, -dH/dq)`; `t` is ignored.

        **Arguments:**

        - `t`: time (unused).
        - `y`: state `(q, p)` of shape `(dimension,)`.
        - `args`: optional dict of parameters overriding `params`.

        **Returns:** `dy/dt`.
        """
        params = self.params if args is None else {**self.params, **args}
        params = cast_params(params, y.dtype)
        n = self.dimension // 2
        dq, dp = jax.grad(self.hamiltonian, argnums=(0, 1))(y[:n], y[n:], params)
        return jnp.concatenate([dp, -dq])
