"""`dynlearn.forecast`: the observations after a context, for every model of the contract.

One row convention for the whole package: row `i` of a forecast is the observation `i + 1`
sampling steps after the last row of the context; the context's last row is never repeated. The
model's state comes from `init_state(context)` (see `dynlearn._dynamics`), is advanced by the
model's own `rollout` where it has one, else by iterating its `step` (a map) or by integrating its
`vector_field` with the package's fixed-step RK4 kernel (a flow), and is read out with `observe`.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._dynamics import as_dynamical_model, is_dynamical_model, resolve_dynamics, sampling_step
from ._types import Array, ArrayLike, Float, Key, ScalarLike
from .kernels import odeint_fixed


def forecast(
    model: Any,
    context: Float[ArrayLike, "time dim"],
    n_steps: int,
    *,
    key: Key | None = None,
    dt: ScalarLike | None = None,
    steps_per_interval: int = 1,
) -> Float[Array, "{n_steps} dim"]:
    """The `n_steps` observations after `context`, predicted by `model`.

    Works the same for a zoo system, a neural ODE or SDE, a PLRNN, a reservoir, a SINDy model, a
    Koopman model or an SSM stack: anything that implements the dynamical-model contract
    ([`dynlearn.DynamicalModel`][]), and any recurrent sequence model (`init_state()`,
    `step(state, x) -> (state, y)` with `y` predicting the next input, such as a
    `dynlearn.ssm.SequenceModel` on real inputs), run in closed loop at one step per row. The
    state at the end of the context is `model.init_state(context)` (an ODE or a zoo system takes
    the last row; a reservoir, a PLRNN or an SSM stack warms up on the whole context); it is
    advanced by the model's own `rollout` where it
    has one (a zoo flow's adaptive solver, a neural ODE's solver, an SDE's sample path), by
    iterating `step` for a map, or by integrating `vector_field` with fixed-step classical RK4
    ([`dynlearn.kernels.odeint_fixed`][]) for a flow; `observe` reads each state. For a flow,
    time is measured from the context's last row (`t = 0` there).

    **Arguments:**

    - `model`: the model or system.
    - `context`: observed history, shape `(time, dim)`, ending at the forecast's initial
      condition (a single row `x0[None]` is enough for an ODE or a zoo system; a reservoir needs
      enough rows to wash out its initial state).
    - `n_steps`: number of observations to predict, `>= 1`.
    - `key`: PRNG key, for stochastic models (a `NeuralSDE` draws one sample path per key).
    - `dt`: the sampling step, the time between two rows of the context. A flow is integrated
      over it (default: the model's own `dt`; required for a flow without one, such as a
      `NeuralODE`). A map advances one step per row whatever `dt` says, so the same call
      serves every family.
    - `steps_per_interval`: RK4 steps per sampling step for a flow integrated here (ignored when
      the model has its own `rollout`).

    **Returns:** the forecast, shape `(n_steps, dim)`: row `i` is the observation `i + 1`
    sampling steps after `context[-1]`. The first `n` rows of an `(n + m)`-step forecast are an
    `n`-step forecast (exactly for maps and fixed-step integration, to the solver's tolerance
    for adaptive solvers).

    **Raises:** `TypeError` for a model without `init_state`/`observe` or without a transition;
    `ValueError` for a context that is not `(time, dim)`, `n_steps < 1`, a flow without a
    sampling step, or observations whose size is not `dim`.
    """
    caller = "forecast"
    model = as_dynamical_model(model)
    if not is_dynamical_model(model):
        raise TypeError(
            f"{caller}: {type(model).__name__} does not implement the dynamical-model contract "
            "(init_state(context) and observe(state)); see dynlearn.DynamicalModel"
        )
    kind, _ = resolve_dynamics(model, None, caller)
    context = jnp.asarray(context)
    if not jnp.issubdtype(context.dtype, jnp.inexact):
        context = context.astype(jnp.result_type(float))
    if context.ndim != 2 or context.shape[0] < 1 or context.shape[1] < 1:
        raise ValueError(
            f"{caller}: context must have shape (time >= 1, dim >= 1), got {tuple(context.shape)}"
        )
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 1:
        raise ValueError(f"{caller}: n_steps must be an integer >= 1, got {n_steps!r}")
    if (
        isinstance(steps_per_interval, bool)
        or not isinstance(steps_per_interval, int | np.integer)
        or steps_per_interval < 1
    ):
        raise ValueError(
            f"{caller}: steps_per_interval must be an integer >= 1, got {steps_per_interval!r}"
        )
    if kind == "map":
        step_size = None  # one step per row; a `dt` given for a map only names that step
    else:
        step_size = sampling_step(model) if dt is None else dt
        if step_size is None:
            raise ValueError(
                f"{caller}: {type(model).__name__} is a flow without its own sampling step; "
                "pass dt= (the time between two rows of the context)"
            )
        if not isinstance(step_size, jax.Array):
            # a Python float stays static under jit: solvers that need a concrete step (a delay
            # system's method of steps) get one
            if not step_size > 0:
                raise ValueError(f"{caller}: dt must be positive, got {step_size!r}")
            step_size = float(step_size)
    out = _forecast(model, kind, context, int(n_steps), step_size, key, int(steps_per_interval))
    if out.shape != (n_steps, context.shape[1]):
        raise ValueError(
            f"{caller}: {type(model).__name__} produced observations of shape {out.shape[1:]} "
            f"for a context of dimension {context.shape[1]}; observe(state) must return the "
            "observed dimension"
        )
    return out


@eqx.filter_jit
def _forecast(model, kind, context, n_steps, dt, key, steps_per_interval):
    state = model.init_state(context)
    rollout = getattr(model, "rollout", None)
    if callable(rollout):
        states = rollout(state, n_steps, dt=dt, key=key)
    elif kind == "map":

        def body(s, _):
            s = model.step(s)
            return s, s

        _, states = jax.lax.scan(body, state, None, length=n_steps)
    else:
        ts = jnp.arange(n_steps + 1, dtype=context.dtype) * dt
        states = odeint_fixed(
            model.vector_field,
            ts,
            state,
            None,
            method="rk4",
            steps_per_interval=steps_per_interval,
        )
        states = jax.tree_util.tree_map(lambda a: a[1:], states)
    return jax.vmap(model.observe)(states)
