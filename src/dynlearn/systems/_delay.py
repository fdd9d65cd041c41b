"""Scalar delay differential equations `x'(t) = f(x(t), x(t - tau))` from the dysts database.

Mackey–Glass, Ikeda, Sprott, Voss, scroll and piecewise-circuit delay equations. A delay equation
is infinite-dimensional; as in dysts, a system is observed through its delay embedding
`y(t) = (x(t), x(t - h), ..., x(t - tau))` with `h = tau / (dimension - 1)` (dimension 10), so
`trajectory` returns `(n_points, 10)` arrays whose first column is `x(t)`.

Integration is the method of steps: classical RK4 (the kernels' `rk_step` with the RK4 tableau)
with a step `h_int = tau / steps_per_delay`, so that the delayed value at every grid point is an
earlier grid value held in a ring buffer; the delayed values at RK4 stage times come from cubic
Hermite interpolation of the buffer (values and derivatives), which keeps the scheme fourth
order. Outputs are interpolated from the grid the same
way. The initial state `y0` is read as the history on `[-tau, 0]` (interpolated through the
embedding coordinates by a C^1 cubic spline); dysts instead holds `x` constant at `y0[0]`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..kernels._butcher import RK4
from ..kernels._rk_xla import rk_step
from ._base import AbstractSystem, _as_state, cast_params

EQUATIONS: dict[str, Callable] = {}


def _eq(*names):
    def wrap(fn):
        for name in (fn.__name__.lstrip("_"), *names):
            EQUATIONS[name] = fn
        return fn

    return wrap


@_eq()
def _MackeyGlass(t, x, xd, p):
    return p["beta"] * xd / (1 + xd ** p["n"]) - p["gamma"] * x


@_eq("SprottDelay")
def _IkedaDelay(t, x, xd, p):
    return p["mu"] * jnp.sin(xd - p["x0"]) - p["c"] * x


@_eq()
def _VossDelay(t, x, xd, p):
    # cubic nonlinearity of Voss's electronic delay circuit
    f = -10.44 * xd**3 - 13.95 * xd**2 - 3.63 * xd + 0.85
    return -p["alpha"] * x + f


@_eq()
def _ScrollDelay(t, x, xd, p):
    # as in dysts, the linear decay acts on the delayed value
    return -p["alpha"] * xd + p["beta"] * jnp.tanh(10 * xd)


@_eq()
def _PiecewiseCircuit(t, x, xd, p):
    u = xd / p["c"]
    return -p["alpha"] * xd + p["beta"] * (-(u**3) + 3 * u)


class DelayFlow(AbstractSystem):
    """A scalar delay differential equation `x'(t) = f(t, x(t), x(t - tau))`, delay-embedded.

    **Arguments:**

    - `name`: registry name.
    - `equation`: pure function `equation(t, x, x_delayed, params) -> dx/dt` on scalars.
    - `params`: dict of parameters; `params["tau"]` is the delay.
    - `y0`: initial embedding `(x(0), x(-h), ..., x(-tau))`, read as the history.
    - `dt`: default sampling step; `period`: characteristic period.
    """

    name: str = eqx.field(static=True)
    equation: Callable = eqx.field(static=True)
    params: dict
    y0: Any
    dt: float = eqx.field(static=True)
    period: float = eqx.field(static=True)
    dimension: int = eqx.field(static=True)

    def __init__(self, name: str, equation: Callable, params: dict, y0, dt: float, period: float):
        self.name = name
        self.equation = equation
        self.params = dict(params)
        if "tau" not in self.params:
            raise ValueError(f"{name}: a delay system needs a 'tau' parameter, got {params}")
        self.y0 = _as_state(y0)
        self.dt = float(dt)
        self.period = float(period)
        self.dimension = int(self.y0.shape[0])
        if self.dimension < 2:
            raise ValueError(f"{name}: the delay embedding needs at least 2 coordinates")

    @property
    def discrete(self) -> bool:
        return False

    def sample(
        self,
        y0: Float[Array, " state"],
        n_points: int,
        *,
        dt=None,
        transient: int = 0,
        args: dict | None = None,
        steps_per_delay: int | None = None,
        **options: Any,
    ) -> Float[Array, "{n_points} state"]:
        """Delay embeddings at `t = tau + (transient + k) dt` by the method of steps (see
        `AbstractSystem.sample`); of the options only `steps_per_delay` applies (RK4 steps per
        delay, default: at least 450 and at least one per `dt`). `dt` must be concrete."""
        del options  # diffrax's solver, controller, tolerances and max_steps do not apply
        dt = self.dt if dt is None else dt
        if isinstance(dt, jax.core.Tracer):
            raise ValueError(
                f"{self.name}: a delay system needs a concrete (Python float) sampling step, got "
                "a traced one"
            )
        return delay_trajectory(
            self,
            n_points,
            dt=float(dt),
            y0=y0,
            transient=transient,
            args=args,
            steps_per_delay=steps_per_delay,
        )

    @property
    def delay(self) -> float:
        """The delay `tau`."""
        return float(self.params["tau"])

    def delayed_vector_field(
        self, t, x: Float[ArrayLike, ""], x_delayed: Float[ArrayLike, ""], args: dict | None = None
    ) -> Float[Array, ""]:
        """The right-hand side `f(t, x(t), x(t - tau))` of the delay equation.

        **Arguments:**

        - `t`: time.
        - `x`: current value `x(t)` (a scalar).
        - `x_delayed`: delayed value `x(t - tau)`.
        - `args`: optional dict of parameters overriding `params`.

        **Returns:** `dx/dt`, a scalar.
        """
        x = jnp.asarray(x)
        params = self.params if args is None else {**self.params, **args}
        params = cast_params(params, x.dtype)
        t = jnp.asarray(t, dtype=x.dtype)
        return self.equation(t, x, jnp.asarray(x_delayed, dtype=x.dtype), params)

    def vector_field(
        self, t, y: Float[Array, " state"], args: dict | None = None
    ) -> Float[Array, " state"]:
        """A finite-dimensional approximation on the embedding coordinates (method of lines).

        With `y = (x(t), x(t - h), ..., x(t - tau))`: `dy_0/dt = f(y_0, y_last)` exactly, and the
        history is transported by upwind differences `dy_j/dt = (y_{j-1} - y_j) / h`. This
        linear-chain ODE converges to the delay equation only as the number of coordinates
        grows; with the default 10 it is coarse. Use `trajectory` for accurate solutions.

        **Arguments:**

        - `t`: time.
        - `y`: embedding state, shape `(dimension,)`.
        - `args`: optional parameter overrides.

        **Returns:** `dy/dt`, shape `(dimension,)`.
        """
        params = self.params if args is None else {**self.params, **args}
        params = cast_params(params, y.dtype)
        h = params["tau"] / (self.dimension - 1)
        head = self.equation(jnp.asarray(t, dtype=y.dtype), y[0], y[-1], params)
        return jnp.concatenate([head[None], (y[:-1] - y[1:]) / h])

    def rollout(
        self, state: Float[Array, " state"], n_steps: int, *, dt=None, key=None
    ) -> Float[Array, "{n_steps} state"]:
        """The `n_steps` delay embeddings after `state`, by the method of steps.

        `state = (x(0), x(-h), ..., x(-tau))` is read as the history on `[-tau, 0]` (as by
        `trajectory`); row `i` is the embedding at `t = (i + 1) dt`, whose lagged coordinates
        still inside `[-tau, 0]` come from that history.

        **Arguments:**

        - `state`: the embedding at the end of the context, shape `(dimension,)`.
        - `n_steps`: number of embeddings.
        - `dt`: sampling step (default `self.dt`).
        - `key`: unused (deterministic).

        **Returns:** shape `(n_steps, dimension)`.
        """
        del key
        dt = self.dt if dt is None else dt
        if isinstance(dt, jax.Array):
            raise ValueError(
                f"{self.name}: a delay system needs a concrete (Python float) sampling step, got "
                "a traced one"
            )
        return delay_trajectory(
            self,
            n_steps,
            dt=float(dt),
            y0=jnp.asarray(state),
            transient=1,
            args=None,
            steps_per_delay=None,
            start=0.0,
        )


def _hermite(x0, x1, f0, f1, h, theta):
    """Cubic Hermite interpolation on [0, h] at relative position theta in [0, 1]."""
    t2, t3 = theta**2, theta**3
    return (
        (2 * t3 - 3 * t2 + 1) * x0
        + (t3 - 2 * t2 + theta) * h * f0
        + (-2 * t3 + 3 * t2) * x1
        + (t3 - t2) * h * f1
    )


def _smooth_history(y0, tau):
    """C^1 history on [-tau, 0] through `x(-j tau / (d - 1)) = y0[j]` (Catmull–Rom spline).

    A continuous derivative matters: the integrator interpolates the history with values and
    derivatives, and a kink (as in piecewise-linear history) would cost two orders of accuracy.
    """
    values = y0[::-1]  # knots in increasing time: -tau, ..., 0
    d = values.shape[0]
    spacing = tau / (d - 1)
    inner = (values[2:] - values[:-2]) / (2 * spacing)
    slopes = jnp.concatenate(
        [
            ((values[1] - values[0]) / spacing)[None],
            inner,
            ((values[-1] - values[-2]) / spacing)[None],
        ]
    )

    def history(t):
        u = (t + tau) / spacing
        k = jnp.clip(jnp.floor(u).astype(jnp.int32), 0, d - 2)
        theta = u - k.astype(u.dtype)
        return _hermite(values[k], values[k + 1], slopes[k], slopes[k + 1], spacing, theta)

    return history


def default_steps_per_delay(system: DelayFlow, dt: float) -> int:
    """Integration steps per delay: a multiple of `dimension - 1` (so the knots of the history
    fall on the grid), at least 450 and at least one per sampling step."""
    knots = system.dimension - 1
    steps = max(450, math.ceil(system.delay / dt))
    return knots * math.ceil(steps / knots)


@eqx.filter_jit
def _solve_delay(system, y0, dt, args, n_points, transient, steps_per_delay, n_steps, start=None):
    """Method of steps; returns the sampled delay embedding, shape (n_points, dimension).

    Samples at `t = start + (transient + k) dt` (default `start = tau`); lagged times before 0
    are read from the initial history."""
    dtype = y0.dtype
    params = system.params if args is None else {**system.params, **args}
    tau = jnp.asarray(params["tau"], dtype=dtype)
    m = steps_per_delay
    h = tau / m
    lags = tau * jnp.arange(system.dimension, dtype=dtype) / (system.dimension - 1)

    history = _smooth_history(y0, tau)

    hist_times = (jnp.arange(m, dtype=dtype) - m) * h
    ring_x = jax.vmap(history)(hist_times)
    ring_f = jax.vmap(jax.grad(history))(hist_times)
    history_slope_at_zero = jax.grad(history)(jnp.zeros((), dtype=dtype))

    def f(t, x, xd):
        return system.delayed_vector_field(t, x, xd, args)

    def step(carry, n):
        x, rx, rf = carry
        t = n.astype(dtype) * h
        i, j = n % m, (n + 1) % m
        xa, fa, xb, fb = rx[i], rf[i], rx[j], rf[j]
        # x' jumps at t = 0: the last history interval needs the history's own slope at 0
        fb = jnp.where(n == m - 1, history_slope_at_zero, fb)

        def stage(s, x_stage):
            # the delayed value at the stage time s in [t, t + h]: Hermite interpolation of the
            # grid one delay earlier (exactly xa at s = t and xb at s = t + h)
            xd = _hermite(xa, xb, fa, fb, h, (s - t) / h)
            k = f(s, x_stage, xd)
            return k, k

        # one classical RK4 step of the kernels' Butcher machinery; the stage values come back
        # as records, the first (k1 = x'(t)) kept for the interpolation of later delays
        x_next, ks = rk_step(RK4, stage, t, h, x, record=True)
        k1 = ks[0]
        rx, rf = rx.at[i].set(x), rf.at[i].set(k1)
        return (x_next, rx, rf), (x, k1)

    init = (y0[0], ring_x, ring_f)
    (_, _, _), (xs, fs) = jax.lax.scan(step, init, jnp.arange(n_steps))
    # sample times: the embedding at t needs x on [t - tau, t]; start at t = tau as dysts does
    first = tau if start is None else jnp.asarray(start, dtype=dtype)
    ts = first + (transient + jnp.arange(n_points, dtype=dtype)) * dt
    query = ts[:, None] - lags[None, :]
    index = jnp.clip(jnp.floor(query / h).astype(jnp.int32), 0, n_steps - 2)
    theta = query / h - index.astype(dtype)
    out = _hermite(xs[index], xs[index + 1], fs[index], fs[index + 1], h, theta)
    if start is None:
        return out
    past = jax.vmap(jax.vmap(history))(jnp.minimum(query, 0))
    return jnp.where(query < 0, past, out)


def delay_trajectory(
    system: DelayFlow,
    n_points: int,
    *,
    dt: float,
    y0: Array,
    transient: int,
    args: dict | None,
    steps_per_delay: int | None,
    start: float | None = None,
) -> Float[Array, "{n_points} state"]:
    """Embedding samples at `t = tau + (transient + k) dt`; see `trajectory` for the arguments.

    `start` replaces `tau` as the time of the first sample (lagged values before `t = 0` come
    from the history `y0`)."""
    if steps_per_delay is None:
        steps_per_delay = default_steps_per_delay(system, float(dt))
    if not isinstance(steps_per_delay, int) or steps_per_delay < 2:
        raise ValueError(f"steps_per_delay must be an int >= 2, got {steps_per_delay!r}")
    tau = float((system.params if args is None else {**system.params, **args})["tau"])
    h = tau / steps_per_delay
    first = tau if start is None else float(start)
    t_end = first + (transient + n_points - 1) * float(dt)
    n_steps = int(np.ceil(t_end / h)) + 2
    dt = jnp.asarray(dt, dtype=y0.dtype)
    return _solve_delay(system, y0, dt, args, n_points, transient, steps_per_delay, n_steps, start)
