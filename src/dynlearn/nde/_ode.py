"""`NeuralODE`: a learned vector field integrated by diffrax or by the fused fixed-grid kernels.

Follows Chen et al. (2018), "Neural Ordinary Differential Equations", and Kidger (2021), "On
Neural Differential Equations" (chapter 2): any `eqx.Module` `f(t, y, args)` is a vector field;
augmented neural ODEs (Dupont et al. 2019) pad the state with zeros. Solvers, step-size
controllers and adjoints are diffrax objects passed in, or `FixedGrid` for a fixed-step solve.
Unlike diffrax, the returned statistics include the number of vector-field evaluations (NFE).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, Float, Int
from .._validation import check_dtype, check_int, check_option, check_positive, check_shape
from ..kernels import AbstractFixedStepScheme, ButcherTableau, odeint_fixed

# Vector-field evaluations (per step, once at the start). The last stage of a first-same-as-last
# method is the next step's first, which the fused kernel evaluates there: s - 1 per step.
_FIXED_METHODS = {
    "euler": (1, 0),
    "midpoint": (2, 0),
    "heun": (2, 0),
    "rk4": (4, 0),
    "tsit5": (6, 0),
    "dopri5": (6, 0),
}


class FixedGrid(eqx.Module):
    """Fixed-step integration on the grid of output times, through `dynlearn.kernels`.

    Each interval `[ts[i], ts[i+1]]` is split into `steps_per_interval` equal steps of `method`,
    through [`dynlearn.kernels.odeint_fixed`][]. This is the fast path for training on regularly
    sampled data: with an explicit Runge–Kutta method the kernel fuses the whole solve into one
    scan with its own derivative rule.

    **Arguments:**

    - `method`: a [`dynlearn.kernels.ButcherTableau`][] (any explicit Runge–Kutta method, e.g. one
      a user writes down), any other fixed-step scheme object
      ([`dynlearn.kernels.AbstractFixedStepScheme`][]: `kernels.ImplicitMidpoint()`, a user's
      scheme), or the name of a built-in tableau as a shortcut: `"euler"`, `"midpoint"`,
      `"heun"`, `"rk4"`, `"tsit5"` or `"dopri5"` (the fifth-order weights at a fixed step).
    - `steps_per_interval`: solver steps between consecutive output times.
    """

    method: str | ButcherTableau | AbstractFixedStepScheme = eqx.field(static=True, default="rk4")
    steps_per_interval: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        if not isinstance(self.method, ButcherTableau | AbstractFixedStepScheme):
            check_option("FixedGrid", "method", self.method, _FIXED_METHODS)
        check_int("FixedGrid", "steps_per_interval", self.steps_per_interval)

    def _evaluations(self) -> tuple[int, int]:
        if isinstance(self.method, ButcherTableau):
            return self.method.evaluations, 0
        if isinstance(self.method, AbstractFixedStepScheme):
            per_step = self.method.evaluations
            return (-1, -1) if per_step is None else (per_step, 0)
        return _FIXED_METHODS[self.method]

    @property
    def stages(self) -> int:
        """Vector-field evaluations per step (`-1` for a scheme that does not say)."""
        return self._evaluations()[0]

    def nfe(self, steps):
        """Vector-field evaluations of `steps` steps (`-1` for a scheme that does not say)."""
        per_step, at_start = self._evaluations()
        if per_step < 0:
            return -1 + 0 * steps
        return steps * per_step + at_start


def nfe_per_step(solver) -> tuple[int, int]:
    """Vector-field evaluations of a diffrax solver: `(per_step, at_start)`.

    Explicit Runge–Kutta methods with `s` stages cost `s` evaluations per step attempt (accepted
    or rejected), or `s - 1` plus one at the start when first-same-as-last (FSAL). Returns
    `(-1, -1)` when the count of `solver` is unknown (implicit or stochastic solvers).
    """
    if isinstance(solver, dfx.Euler):
        return 1, 0
    tableau = getattr(solver, "tableau", None)
    if isinstance(solver, dfx.AbstractERK) and tableau is not None:
        stages = len(tableau.c) + 1
        if tableau.fsal:
            return stages - 1, 1
        return stages, 0
    return -1, -1


class ODESolution(eqx.Module):
    """The output of `NeuralODE.solve`.

    **Fields:**

    - `ts`: the output times, shape `(time,)`.
    - `ys`: the state at `ts`, shape `(time, state)` (augmented dimensions removed).
    - `stats`: a dict of integer scalars: `num_steps`, `num_accepted_steps`,
      `num_rejected_steps` and `nfe`, the number of vector-field evaluations (`-1` where the
      solver's count is unknown).
    - `result`: a `diffrax.RESULTS` value; not `successful` only when `throw=False`.
    """

    ts: Float[Array, " time"]
    ys: Float[Array, "time state"]
    stats: dict[str, Int[Array, ""]]
    result: Any


class NeuralODE(eqx.Module):
    """A neural ODE `dy/dt = f(t, y, args)` solved from `y0` and saved at `ts`.

    **Arguments:**

    - `vector_field`: any callable `f(t, y, args) -> dy/dt` (usually an `eqx.Module`).
    - `solver`: a diffrax solver (default `diffrax.Tsit5()`) or `FixedGrid(...)`.
    - `stepsize_controller`: a diffrax controller (default `PIDController(rtol=1e-3, atol=1e-6)`);
      with `diffrax.ConstantStepSize()` pass `dt0`.
    - `adjoint`: a diffrax adjoint: `RecursiveCheckpointAdjoint()` (default, discretise-then-
      optimise), `BacksolveAdjoint()` (continuous adjoint) or `DirectAdjoint()`.
    - `dt0`: initial (or constant) step size; `None` lets the controller choose.
    - `max_steps`: the solve fails (or is flagged, with `throw=False`) past this many steps.
    - `augment_dim`: zeros appended to the state (augmented neural ODE); the vector field sees
      `state + augment_dim` dimensions and outputs drop them.
    - `throw`: raise on bad inputs or solver failure (default, through `eqx.error_if`), or
      check nothing at run time: a failed diffrax solve is flagged in `ODESolution.result`, a
      NaN or inf `y0` or a blow-up gives non-finite outputs (which `dynlearn.train.fit`'s
      non-finite guard reports). With `throw=False` and `FixedGrid` the compiled program has
      no host callbacks, so JAX's persistent compilation cache can store it (a training step
      with `throw=True` is compiled again in every new process; diffrax's own solve keeps
      input checks of its own).

    Call `model(ts, y0)` for the trajectory, `model.solve(ts, y0)` for trajectory and statistics.
    """

    vector_field: Callable
    solver: Any
    stepsize_controller: Any
    adjoint: Any
    dt0: float | None = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    augment_dim: int = eqx.field(static=True)
    throw: bool = eqx.field(static=True)

    def __init__(
        self,
        vector_field: Callable,
        *,
        solver=None,
        stepsize_controller=None,
        adjoint=None,
        dt0: float | None = None,
        max_steps: int = 4096,
        augment_dim: int = 0,
        throw: bool = True,
    ):
        if not callable(vector_field):
            raise TypeError(f"NeuralODE: vector_field must be callable, got {type(vector_field)}")
        self.vector_field = vector_field
        self.solver = dfx.Tsit5() if solver is None else solver
        if stepsize_controller is None:
            stepsize_controller = dfx.PIDController(rtol=1e-3, atol=1e-6)
        self.stepsize_controller = stepsize_controller
        self.adjoint = dfx.RecursiveCheckpointAdjoint() if adjoint is None else adjoint
        if dt0 is not None:
            check_positive("NeuralODE", "dt0", dt0)
        self.dt0 = dt0
        self.max_steps = check_int("NeuralODE", "max_steps", max_steps)
        self.augment_dim = check_int("NeuralODE", "augment_dim", augment_dim, minimum=0)
        if not isinstance(throw, bool):
            raise TypeError(f"NeuralODE: throw must be a bool, got throw={throw!r}.")
        self.throw = throw
        if not isinstance(self.solver, FixedGrid | dfx.AbstractSolver):
            raise TypeError(
                f"NeuralODE: solver must be a diffrax solver or FixedGrid, got {type(solver)}"
            )
        if (
            not isinstance(self.solver, FixedGrid)
            and isinstance(self.stepsize_controller, dfx.ConstantStepSize)
            and dt0 is None
        ):
            raise ValueError("NeuralODE: ConstantStepSize needs dt0 (the step size); pass dt0=...")

    def _check(self, ts, y0, args, check_values: bool = True):
        ts = check_times("NeuralODE", ts)
        y0 = check_dtype("NeuralODE", "y0", y0, cast_integers=True)
        if y0.ndim != 1:
            raise ValueError(
                f"NeuralODE: y0 must be one state of shape (state,), got shape {tuple(y0.shape)}; "
                "batch with jax.vmap"
            )
        if check_values:
            y0 = eqx.branched_error_if(y0, *_bad_inputs(ts, y0), _INPUT_ERRORS)
        if self.augment_dim:
            y0 = jnp.concatenate([y0, jnp.zeros((self.augment_dim,), y0.dtype)])
        self._check_field(ts, y0, args)
        return ts, y0

    def _check_field(self, ts, y0a, args) -> None:
        """Trace the vector field once on `y0` (no run-time cost) so that a state of the wrong
        size is reported here, not as a matrix-product error deep inside the solver."""
        aug = f" (with augment_dim={self.augment_dim} zeros appended)" if self.augment_dim else ""
        field = self.vector_field
        check_field("NeuralODE", "vector_field", field, ts[0], y0a, args, [y0a.shape], aug)

    def solve(self, ts: Array, y0: Array, args=None) -> ODESolution:
        """Solve from `y0` at `ts[0]` and save at every time in `ts`.

        **Arguments:**

        - `ts`: strictly increasing output times, shape `(time,)`; the solve starts at `ts[0]`.
        - `y0`: the initial state, shape `(state,)`; NaN or inf raise an error.
        - `args`: passed to the vector field.

        **Returns:** an `ODESolution` with `ys` of shape `(time, state)` and the statistics.
        """
        fixed = isinstance(self.solver, FixedGrid)
        # diffrax path: the input checks join the result check after the solve (one error check
        # in all, as in raw diffrax; a NaN y0 makes the solve fail, and the NaN message wins)
        ts, y0a = self._check(ts, y0, args, check_values=fixed and self.throw)
        return self._solve(ts, y0a, args, y0a.shape[0] - self.augment_dim)

    def _solve(self, ts, y0a, args, d) -> ODESolution:
        # `y0a` is the state in the vector field's space (augmented); outputs keep `d` coordinates
        fixed = isinstance(self.solver, FixedGrid)
        y0 = y0a[:d]
        if fixed:
            ys = odeint_fixed(
                self.vector_field,
                ts,
                y0a,
                args,
                method=self.solver.method,
                steps_per_interval=self.solver.steps_per_interval,
                throw=self.throw,
            )
            steps = jnp.asarray((ts.shape[0] - 1) * self.solver.steps_per_interval, jnp.int32)
            stats = {
                "num_steps": steps,
                "num_accepted_steps": steps,
                "num_rejected_steps": jnp.asarray(0, jnp.int32),
                "nfe": self.solver.nfe(steps),
            }
            return ODESolution(ts, ys[:, :d], stats, dfx.RESULTS.successful)
        sol = dfx.diffeqsolve(
            dfx.ODETerm(self.vector_field),
            self.solver,
            ts[0],
            ts[-1],
            self.dt0,
            y0a,
            args,
            saveat=dfx.SaveAt(ts=ts),
            stepsize_controller=self.stepsize_controller,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            throw=False,
        )
        stats = _stats(self.solver, sol.stats)
        if not self.throw:  # flagged in `result`; no run-time check (no host callback)
            return ODESolution(ts, sol.ys[:, :d], stats, sol.result)
        bad_input, input_index = _bad_inputs(ts, y0)
        failed = sol.result != dfx.RESULTS.successful
        max_steps = sol.result == dfx.RESULTS.max_steps_reached
        ys = eqx.branched_error_if(
            sol.ys,
            bad_input | failed,
            jnp.where(bad_input, input_index, jnp.where(max_steps, 2, 3)),
            [
                *_INPUT_ERRORS,
                f"NeuralODE: the solver reached max_steps={self.max_steps}; increase "
                "max_steps, loosen rtol/atol, use a stiff (implicit) solver, or pass "
                "throw=False to get a flagged result",
                "NeuralODE: the solve failed (step size collapsed or non-finite values); "
                "check the vector field for blow-up, lower the learning rate, or enable "
                "float64",
            ],
        )
        return ODESolution(ts, ys[:, :d], stats, sol.result)

    def __call__(self, ts: Array, y0: Array, args=None) -> Float[Array, "time state"]:
        """The trajectory `ys` of shape `(time, state)`; see `solve` for statistics."""
        return self.solve(ts, y0, args).ys

    def init_state(self, context: Float[Array, "time state"]) -> Float[Array, " state_aug"]:
        """The state at the end of an observed `context` (the dynamical-model contract): its last
        row, padded with `augment_dim` zeros.

        **Arguments:**

        - `context`: observations, shape `(time, state)`.

        **Returns:** shape `(state + augment_dim,)`.
        """
        context = check_dtype("NeuralODE.init_state", "context", context, cast_integers=True)
        if context.ndim != 2 or context.shape[0] < 1:
            raise ValueError(
                "NeuralODE.init_state: context must have shape (time >= 1, state), got shape "
                f"{tuple(context.shape)}."
            )
        y0 = context[-1]
        if self.augment_dim:
            y0 = jnp.concatenate([y0, jnp.zeros((self.augment_dim,), y0.dtype)])
        return y0

    def observe(self, y: Float[Array, " state_aug"]) -> Float[Array, " state"]:
        """The observation of a state: the state without its `augment_dim` augmented coordinates.

        **Arguments:**

        - `y`: shape `(state + augment_dim,)`.

        **Returns:** shape `(state,)`.
        """
        return y[: y.shape[0] - self.augment_dim]

    def rollout(
        self, y: Float[Array, " state_aug"], n_steps: int, *, dt, key=None
    ) -> Float[Array, "{n_steps} state_aug"]:
        """The `n_steps` states after `y`, `dt` apart, with the model's own solver.

        **Arguments:**

        - `y`: the state (augmented coordinates included), shape `(state + augment_dim,)`.
        - `n_steps`: number of states.
        - `dt`: the sampling step (a neural ODE has none of its own).
        - `key`: unused (deterministic).

        **Returns:** shape `(n_steps, state + augment_dim)`; row `i` is the state at
        `(i + 1) dt`.
        """
        del key
        if dt is None:
            raise ValueError("NeuralODE.rollout: pass dt (the sampling step)")
        check_positive("NeuralODE.rollout", "dt", dt)
        n_steps = check_int("NeuralODE.rollout", "n_steps", n_steps)
        y = check_dtype("NeuralODE.rollout", "y", y, cast_integers=True)
        y = check_shape("NeuralODE.rollout", "y", y, ndim=1, meaning="(state + augment_dim,)")
        ts = jnp.arange(n_steps + 1, dtype=y.dtype) * jnp.asarray(dt, y.dtype)
        return self._solve(ts, y, None, y.shape[0]).ys[1:]


_INPUT_ERRORS = (
    "NeuralODE: y0 contains NaN or inf; clean the data (for missing values in a time series use "
    "NeuralCDE, where NaN means missing)",
    "NeuralODE: ts must be finite and strictly increasing",
)


def _bad_inputs(ts, y0):
    """`(pred, index)` for `eqx.branched_error_if` with `_INPUT_ERRORS`: one check, two causes."""
    bad_y0 = ~jnp.all(jnp.isfinite(y0))
    bad_ts = jnp.any(ts[1:] <= ts[:-1]) | ~jnp.all(jnp.isfinite(ts))
    return bad_y0 | bad_ts, jnp.where(bad_y0, 0, 1)


def check_field(where, name, fn, t, y, args, shapes, note: str = "") -> tuple:
    """Trace `fn(t, y, args)` once (`jax.eval_shape`: no run-time cost) and refuse a failure or
    an output shape not in `shapes`, naming `y`'s shape: a state of the wrong size is reported
    here rather than as a matrix-product error deep inside a solver. Returns the output shape."""
    try:
        out = jax.eval_shape(fn, t, y, args)
    except Exception as err:  # the field's own error, e.g. a dot_general shape mismatch
        first = str(err).splitlines()[0] if str(err) else ""
        raise ValueError(
            f"{where}: {name}(t, y, args) fails on y0 of shape {tuple(y.shape)}{note}; is y0 the "
            f"size the {name} expects? It raised {type(err).__name__}: {first}"
        ) from err
    shape = getattr(out, "shape", None)
    if shape not in [tuple(s) for s in shapes]:
        want = " or ".join(str(tuple(s)) for s in shapes)
        raise ValueError(
            f"{where}: {name}(t, y, args) must return shape {want} for y0 of shape "
            f"{tuple(y.shape)}{note}, got {shape if shape is not None else type(out).__name__}."
        )
    return shape


def check_times(where: str, ts, name: str = "ts") -> Array:
    """`ts` as a real 1-D array of at least two times; concrete times must also be finite and
    strictly increasing (traced ones are checked at run time where the caller can)."""
    ts = check_dtype(where, name, ts, cast_integers=True)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(
            f"{where}: {name} must be 1-D with at least 2 times, got shape {tuple(ts.shape)}."
        )
    if not isinstance(ts, jax.core.Tracer):
        t = np.asarray(ts)
        if not np.all(np.isfinite(t)):
            raise ValueError(f"{where}: {name} must be finite, got {name}={t}.")
        down = np.flatnonzero(np.diff(t) <= 0)
        if down.size:
            i = int(down[0])
            raise ValueError(
                f"{where}: {name} must be strictly increasing, got {name}[{i}]={t[i]} and "
                f"{name}[{i + 1}]={t[i + 1]}."
            )
    return ts


def _stats(solver, raw) -> dict:
    per_step, start = nfe_per_step(solver)
    steps = jnp.asarray(raw["num_steps"], jnp.int32)
    nfe = steps * per_step + start if per_step >= 0 else jnp.asarray(-1, jnp.int32)
    return {
        "num_steps": steps,
        "num_accepted_steps": jnp.asarray(raw["num_accepted_steps"], jnp.int32),
        "num_rejected_steps": jnp.asarray(raw["num_rejected_steps"], jnp.int32),
        "nfe": jnp.asarray(nfe, jnp.int32),
    }


def trajectory_mse(model: NeuralODE, ts: Array, ys: Array, args=None) -> Float[Array, ""]:
    """Mean squared error of `model` started at `ys[0]` against the observed trajectory `ys`.

    **Arguments:**

    - `model`: a `NeuralODE`.
    - `ts`: observation times, shape `(time,)`.
    - `ys`: observations, shape `(time, state)`, with `ys[0]` the initial condition.
    - `args`: passed to the vector field.

    **Returns:** a scalar. Raises `ValueError` when `ts` and `ys` disagree in length.
    """
    ts = check_dtype("trajectory_mse", "ts", ts, cast_integers=True)
    ys = check_dtype("trajectory_mse", "ys", ys, cast_integers=True)
    if ys.ndim != 2 or ts.ndim != 1 or ys.shape[0] != ts.shape[0]:
        raise ValueError(
            f"trajectory_mse: ys must have shape (len(ts), state) = ({ts.shape[0]}, state); got "
            f"ts {ts.shape} and ys {ys.shape}"
        )
    pred = model(ts, ys[0], args)
    return jnp.mean((pred - ys) ** 2)
