"""Trajectories of zoo systems: one from a given start, or many from random starts on the attractor.

`trajectory` and `trajectories` check their arguments and ask the system for its samples
(`AbstractSystem.sample`), so a user's system class integrates itself. The built-in samplers
live here: flows are integrated with diffrax (`solve_ode`: Tsit5 with a PID step-size controller
by default; any diffrax solver and controller can be passed in), saving at `t = (transient + k)
dt`; maps are iterated with `lax.scan` (`iterate_map`). Both are jitted and differentiable with
respect to the initial condition and the parameters.
"""

from __future__ import annotations

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .._validation import check_dtype, check_int, check_names, check_positive
from ._base import AbstractSystem


def _default_max_steps(n: int) -> int:
    # a power of two, so that nearby lengths share one compiled solver
    return 1 << (64 * n + 4096 - 1).bit_length()


def _check_count(name: str, value, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {name}={value!r}")
    return int(value)


def _initial_state(system: AbstractSystem, y0) -> Array:
    if y0 is None:
        return jnp.asarray(system.y0)
    where = f"trajectory of {system.name}"
    # Complex states are refused rather than silently losing their imaginary part.
    y0 = check_dtype(where, "y0", y0, cast_integers=True)
    if y0.shape != (system.dimension,):
        raise ValueError(
            f"{system.name}: y0 must have shape ({system.dimension},), got {tuple(y0.shape)}"
        )
    if not jnp.issubdtype(y0.dtype, jnp.floating):
        y0 = y0.astype(jnp.asarray(system.y0).dtype)
    if not isinstance(y0, jax.core.Tracer) and not bool(jnp.all(jnp.isfinite(y0))):
        raise ValueError(f"{where}: y0 contains NaN or inf, got y0={np.asarray(y0)}")
    return y0


def _sampling_step(system: AbstractSystem, dt, dtype) -> Array:
    dt = system.dt if dt is None else dt
    check_positive(f"trajectory of {system.name}", "dt", dt)
    return jnp.asarray(dt, dtype=dtype)


def _check_solve_options(system, args, rtol, atol, max_steps, solver, stepsize_controller):
    """The options shared by `trajectory` and `trajectories`, checked before any tracing."""
    where = f"trajectory of {system.name}"
    if args is not None:
        if not isinstance(args, dict):
            raise TypeError(
                f"{where}: args must be a dict of parameter overrides, got {type(args).__name__}"
            )
        check_names(where, "args", args, system.params)
    check_positive(where, "rtol", rtol)
    check_positive(where, "atol", atol)
    if max_steps is not None:
        check_int(where, "max_steps", max_steps, minimum=1)
    if solver is not None and not isinstance(solver, diffrax.AbstractSolver):
        raise TypeError(f"{where}: solver must be a diffrax solver, got {solver!r}")
    if stepsize_controller is not None and not isinstance(
        stepsize_controller, diffrax.AbstractStepSizeController
    ):
        raise TypeError(
            f"{where}: stepsize_controller must be a diffrax step-size controller, got "
            f"{stepsize_controller!r}"
        )


def _failure_messages(name: str, max_steps: int) -> list[str]:
    """Why a flow's solve stopped early, by the code `_failure_code` computes."""
    head = f"trajectory of {name}: the solver stopped before the last save time"
    return [
        f"{head}: y0 contains NaN or inf.",
        f"{head}: the state became NaN or inf (it blows up, or the parameters in args make "
        "the system unstable); check y0, args and dt.",
        f"{head}: the vector field returned NaN or inf at the state reached (the state itself "
        "is finite); check the parameters in args and that the state stays in the field's "
        "domain.",
        f"{head}: the state is blowing up (|y| grew more than 1000 times its initial size while "
        f"the solver rejected most of its max_steps={max_steps} steps); the solution likely "
        "has a finite-time singularity: check y0 and args.",
        f"{head}: the solver rejected most of its max_steps={max_steps} steps with a finite, "
        "bounded state: the vector field is probably NaN, inf or discontinuous just ahead of "
        "the state reached; check args and the field's domain.",
        f"{head}: the solver used all max_steps={max_steps} steps while the state stayed "
        "finite and bounded; increase max_steps, loosen rtol/atol, or use a stiff solver "
        "(e.g. diffrax.Kvaerno5()); if that does not help, check that the vector field is "
        "finite and smooth just ahead of the state reached.",
        f"{head}: diffrax reported a failure other than running out of steps; try a smaller "
        "dt, other tolerances or another solver.",
    ]


def _failure_code(system, solution, y0, args) -> Array:
    """Index into `_failure_messages` for a failed solve, from the state where it stopped (the
    `t1` save slot, which diffrax fills with the state reached when the solve ends early) and
    the share of rejected steps."""
    reached = jnp.sum(jnp.isfinite(solution.ts)) - 1
    t_end = solution.ts[reached]
    y_end = solution.ys[reached]
    field = system.vector_field(t_end, y_end, args)
    scale = jnp.maximum(jnp.max(jnp.abs(y0)), jnp.ones((), y0.dtype))
    rejected = solution.stats["num_rejected_steps"]
    mostly_rejected = 10 * rejected > 9 * solution.stats["num_steps"]
    max_steps = solution.result == diffrax.RESULTS.max_steps_reached
    conditions = [
        ~jnp.all(jnp.isfinite(y0)),
        ~jnp.all(jnp.isfinite(y_end)),
        ~jnp.all(jnp.isfinite(field)),
        max_steps & mostly_rejected & (jnp.max(jnp.abs(y_end)) > 1e3 * scale),
        max_steps & mostly_rejected,
        max_steps,
    ]
    return jnp.select(conditions, [0, 1, 2, 3, 4, 5], 6)


@eqx.filter_jit
def _solve_flow(system, y0, dt, args, n_points, transient, solver, controller, max_steps, dt0):
    t0 = jnp.zeros((), dtype=y0.dtype)
    ts = (transient + jnp.arange(n_points, dtype=y0.dtype)) * dt
    term = diffrax.ODETerm(system.vector_field)
    solution = diffrax.diffeqsolve(
        term,
        solver,
        t0=t0,
        t1=ts[-1],
        dt0=dt if dt0 is None else dt0,
        y0=y0,
        args=args,
        # t1 as well: when the solve stops early diffrax saves the state it reached there,
        # which tells a blow-up from a stiff system in the error message.
        saveat=diffrax.SaveAt(ts=ts, t1=True),
        stepsize_controller=controller,
        max_steps=max_steps,
        throw=False,
    )
    failed = solution.result != diffrax.RESULTS.successful
    code = _failure_code(system, solution, y0, args)
    ys = solution.ys[:-1]
    return eqx.branched_error_if(ys, failed, code, _failure_messages(system.name, max_steps))


def iterate_map(system, y0, args, n_points, transient):
    """`n_points` iterates of `system.step` after `transient` dropped ones (`Map.sample`).

    An orbit that leaves every bound (an iterate overflows to inf or becomes NaN, e.g. the
    logistic map with r > 4) raises an `EquinoxRuntimeError` naming the first non-finite
    iteration, its value and the last finite state (called under `jit` or `vmap`, the message
    cannot hold run-time values and says so)."""
    ys, first_bad, last_good = _iterate_map(system, y0, args, n_points, transient)
    return _check_bounded_orbit(system, args, ys, first_bad, last_good, transient)


@eqx.filter_jit
def _iterate_map(system, y0, args, n_points, transient):
    """The iterates, the first non-finite iteration (-1: none) and the last finite state."""
    minus_one = jnp.asarray(-1, jnp.int32)

    def body(carry, _):
        y, i, first_bad, last_good = carry
        finite = jnp.all(jnp.isfinite(y))
        fresh = (first_bad < 0) & ~finite
        first_bad = jnp.where(fresh, i, first_bad)
        last_good = jnp.where(finite & (first_bad < 0), y, last_good)
        return (system.step(y, args), i + 1, first_bad, last_good), y

    carry = (y0, jnp.asarray(0, jnp.int32), minus_one, y0)
    if transient:
        carry, _ = jax.lax.scan(body, carry, None, length=transient)
    (_, _, first_bad, last_good), ys = jax.lax.scan(body, carry, None, length=n_points)
    return ys, first_bad, last_good


def _check_bounded_orbit(system, args, ys, first_bad, last_good, transient):
    head = f"trajectory of {system.name}: the orbit left every bound"
    fix = "; check y0 and the parameters in args."
    if isinstance(first_bad, jax.core.Tracer):
        return eqx.error_if(
            ys,
            first_bad >= 0,
            f"{head}: an iterate is NaN or inf{fix} (Called under jit or vmap; call "
            "systems.trajectory outside them for the iteration and the values.)",
        )
    k = int(first_bad)
    if k < 0:
        return ys
    if k == 0:
        return eqx.error_if(ys, True, f"trajectory of {system.name}: y0 contains NaN or inf.")
    # The scan saved row k - transient, or dropped it within the transient: recompute the
    # value from the last finite state (one step) rather than keeping the dropped rows.
    value = np.asarray(system.step(last_good, args))
    where = (
        f"row {k - transient} of the trajectory" if k >= transient else "within the transient"
    )
    msg = (
        f"{head}: iteration {k} from y0 ({where}) is {value.tolist()} (NaN or inf); the last "
        f"finite state, iteration {k - 1}, was {np.asarray(last_good).tolist()}{fix}"
    )
    return eqx.error_if(ys, True, msg)


def trajectory(
    system: AbstractSystem,
    n_points: int,
    *,
    dt: float | Float[ArrayLike, ""] | None = None,
    y0: ArrayLike | None = None,
    transient: int = 0,
    args: dict | None = None,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    max_steps: int | None = None,
    steps_per_delay: int | None = None,
) -> Float[Array, "{n_points} state"]:
    """A trajectory of `system` sampled every `dt`, shape `(n_points, dimension)`.

    Row `k` is the state at time `(transient + k) * dt` from `y0` at time 0 (maps: after
    `transient + k` iterations), so the first row is `y0` itself when `transient == 0`.

    **Arguments:**

    - `system`: a system from `dynlearn.systems.get` or a classic-system constructor.
    - `n_points`: number of saved points.
    - `dt`: sampling step (default `system.dt`; ignored for maps). Use e.g.
      `dt=system.period / 100` for dysts' "100 points per period" convention.
    - `y0`: initial condition of shape `(dimension,)` (default `system.y0`). Its dtype sets
      the dtype of the computation.
    - `transient`: number of leading points (in units of `dt`) integrated and dropped.
    - `args`: optional parameter overrides (dict), passed to `vector_field`.
    - `solver`: a diffrax solver (default `diffrax.Tsit5()`).
    - `stepsize_controller`: a diffrax controller (default `diffrax.PIDController(rtol, atol)`;
      pass `diffrax.ConstantStepSize()` for fixed steps of size `dt`).
    - `rtol`, `atol`: tolerances of the default controller.
    - `max_steps`: solver step budget (default: `64 * (transient + n_points) + 4096` rounded up
      to a power of two).
    - `steps_per_delay`: delay systems only: RK4 steps per delay `tau` (default: at least 400
      and at least one per `dt`). Delay systems ignore `solver`, `stepsize_controller`, `rtol`,
      `atol` and `max_steps`, and their rows are the delay embedding at
      `t = tau + (transient + k) dt` (see `DelayFlow`).

    **Returns:** array of shape `(n_points, dimension)`.

    **Raises:** `ValueError` for a `y0` of the wrong shape or with NaN or inf, non-positive
    sizes, `dt`, `rtol` or `atol`, and parameter names in `args` that the system does not
    have; `TypeError` for a complex `y0` or a solver that is not a diffrax one; an
    `EquinoxRuntimeError` if the solve stops early, saying whether the state became non-finite,
    was blowing up, or stayed bounded (then: increase `max_steps`); for a map, if the orbit
    leaves every bound, naming the first NaN or inf iteration, its value and the last finite
    state.
    """
    n_points = _check_count("n_points", n_points, minimum=1)
    transient = _check_count("transient", transient, minimum=0)
    _check_solve_options(system, args, rtol, atol, max_steps, solver, stepsize_controller)
    y = _initial_state(system, y0)
    if not system.discrete:
        dt = system.dt if dt is None else dt
        check_positive(f"trajectory of {system.name}", "dt", dt)
    return system.sample(
        y,
        n_points,
        dt=dt,
        transient=transient,
        args=args,
        solver=solver,
        stepsize_controller=stepsize_controller,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        steps_per_delay=steps_per_delay,
    )


def solve_ode(
    system: AbstractSystem,
    y0: Array,
    n_points: int,
    *,
    dt,
    transient: int = 0,
    args: dict | None = None,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    max_steps: int | None = None,
) -> Array:
    """Samples of an ODE flow by diffrax (`Flow.sample`, `HamiltonianFlow.sample`)."""
    step = _sampling_step(system, dt, y0.dtype)
    if solver is None:
        solver = diffrax.Tsit5()
    if stepsize_controller is None:
        stepsize_controller = diffrax.PIDController(rtol=rtol, atol=atol)
    if max_steps is None:
        max_steps = _default_max_steps(transient + n_points)
    # transient enters only through the save times, so it is traced (no recompilation)
    transient = jnp.asarray(transient, dtype=y0.dtype)
    return _solve_flow(
        system, y0, step, args, n_points, transient, solver, stepsize_controller, max_steps, None
    )


def trajectories(
    system: AbstractSystem,
    n_trajectories: int,
    n_points: int,
    *,
    key: PRNGKeyArray,
    dt: float | Float[ArrayLike, ""] | None = None,
    transient: int = 0,
    spread: float = 1e-3,
    burn_in: int = 2000,
    args: dict | None = None,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    max_steps: int | None = None,
    steps_per_delay: int | None = None,
    dtype=None,
) -> Float[Array, "{n_trajectories} {n_points} state"]:
    """Many trajectories from random initial conditions on the attractor, in one jitted call.

    A reference orbit of `burn_in` points is run from `system.y0`; each trajectory starts at a
    random point of its second half, perturbed by Gaussian noise of relative size `spread`
    (times the per-coordinate standard deviation of the orbit), and is integrated in parallel
    with `jax.vmap`.

    **Arguments:**

    - `system`: the system.
    - `n_trajectories`: number of trajectories.
    - `n_points`: points per trajectory.
    - `key`: PRNG key (keyword-only).
    - `dt`, `transient`, `args`, `solver`, `stepsize_controller`, `rtol`, `atol`,
      `max_steps`, `steps_per_delay`: as in `trajectory`.
    - `spread`: relative size of the perturbation of the starting points.
    - `burn_in`: length of the reference orbit (the first half is discarded).
    - `dtype`: floating dtype of the computation (default: JAX's default float).

    **Returns:** array of shape `(n_trajectories, n_points, dimension)`.

    **Raises:** as `trajectory`, and `ValueError` for a negative `spread` or a non-floating
    `dtype`.
    """
    n_trajectories = _check_count("n_trajectories", n_trajectories, minimum=1)
    n_points = _check_count("n_points", n_points, minimum=1)
    transient = _check_count("transient", transient, minimum=0)
    burn_in = _check_count("burn_in", burn_in, minimum=2)
    _check_solve_options(system, args, rtol, atol, max_steps, solver, stepsize_controller)
    check_positive(f"trajectories of {system.name}", "spread", spread, allow_zero=True)
    if dtype is not None and not jnp.issubdtype(jnp.dtype(dtype), jnp.floating):
        raise ValueError(
            f"trajectories of {system.name}: dtype must be a real floating dtype, got "
            f"dtype={jnp.dtype(dtype)}"
        )
    dtype = jnp.asarray(0.0).dtype if dtype is None else dtype
    y0 = jnp.asarray(system.y0, dtype=dtype)
    if not system.discrete:
        dt = system.dt if dt is None else dt
        check_positive(f"trajectories of {system.name}", "dt", dt)
    if max_steps is None:
        max_steps = 64 * (transient + max(n_points, burn_in)) + 4096
    options = dict(
        args=args,
        solver=solver,
        stepsize_controller=stepsize_controller,
        rtol=rtol,
        atol=atol,
        max_steps=max_steps,
        steps_per_delay=steps_per_delay,
    )
    orbit = system.sample(y0, burn_in, dt=dt, transient=0, **options)
    starts = _random_starts(orbit, key, n_trajectories, spread)
    run = lambda y: system.sample(y, n_points, dt=dt, transient=transient, **options)
    return jax.vmap(run)(starts)


def _random_starts(orbit, key, n_trajectories, spread):
    half = orbit[orbit.shape[0] // 2 :]
    key_index, key_noise = jax.random.split(key)
    index = jax.random.randint(key_index, (n_trajectories,), 0, half.shape[0])
    scale = jnp.std(half, axis=0) + jnp.asarray(1e-12, dtype=orbit.dtype)
    noise = jax.random.normal(key_noise, (n_trajectories, orbit.shape[1]), dtype=orbit.dtype)
    return half[index] + jnp.asarray(spread, dtype=orbit.dtype) * scale[None, :] * noise


def zoo_trajectories(
    systems: list[AbstractSystem],
    n_points: int,
    *,
    points_per_period: int | None = None,
    transient: int = 0,
    dtype=None,
    solver: diffrax.AbstractSolver | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    max_steps: int | None = None,
) -> list[Float[Array, "{n_points} _"]]:
    """Trajectories of many different flows with a single compilation.

    Each `trajectory` call compiles a solver for its system's equations (seconds per system).
    Here the vector fields of all flows go into one `lax.switch`, states are zero-padded to the
    largest dimension, and one compiled diffrax solve serves every system (the error norm is
    the RMS over each system's own coordinates, so tolerances mean the same as in
    `trajectory`). Other systems (maps, delay equations, a user's own system class) are
    passed on to `trajectory` one by one.

    **Arguments:**

    - `systems`: the systems, e.g. `[get(n) for n in names("flows")]`.
    - `n_points`: points per trajectory, each starting at the system's `y0`.
    - `points_per_period`: sample at `period / points_per_period` (default: each `system.dt`).
    - `transient`: leading points integrated and dropped.
    - `dtype`: floating dtype (default: JAX's default float).
    - `solver`, `rtol`, `atol`, `max_steps`: as in `trajectory` (PID controller).

    **Returns:** a list of arrays of shape `(n_points, system.dimension)`, in input order.
    """
    n_points = _check_count("n_points", n_points, minimum=1)
    transient = _check_count("transient", transient, minimum=0)
    dtype = jnp.asarray(0.0).dtype if dtype is None else dtype
    if max_steps is None:
        max_steps = 64 * (transient + n_points) + 4096
    solver = diffrax.Tsit5() if solver is None else solver

    def sampling(system):
        return system.dt if points_per_period is None else system.period / points_per_period

    flows = [s for s in systems if s._diffrax_ode]
    out: dict[int, Array] = {}
    if flows:
        width = max(s.dimension for s in flows)
        cache_key = (
            tuple(id(s) for s in flows),
            n_points,
            transient,
            jnp.dtype(dtype).name,
            rtol,
            atol,
            max_steps,
            solver,
        )
        if cache_key not in _ZOO_CACHE:
            if len(_ZOO_CACHE) >= 4:
                _ZOO_CACHE.pop(next(iter(_ZOO_CACHE)))
            solve = _zoo_solver(
                flows, width, n_points, transient, dtype, solver, rtol, atol, max_steps
            )
            _ZOO_CACHE[cache_key] = (flows, solve)  # holding `flows` keeps their ids valid
        solve = _ZOO_CACHE[cache_key][1]

        flow_index = 0
        for i, system in enumerate(systems):
            if not system._diffrax_ode:
                continue
            y0 = jnp.pad(jnp.asarray(system.y0, dtype=dtype), (0, width - system.dimension))
            dt = jnp.asarray(sampling(system), dtype=dtype)
            ys = solve(jnp.asarray(flow_index), y0, dt)
            out[i] = ys[:, : system.dimension]
            flow_index += 1
    for i, system in enumerate(systems):
        if i not in out:
            y0 = jnp.asarray(system.y0, dtype=dtype)
            dt = None if system.discrete else sampling(system)
            out[i] = trajectory(system, n_points, dt=dt, y0=y0, transient=transient)
    return [out[i] for i in range(len(systems))]


_ZOO_CACHE: dict = {}


def _zoo_solver(flows, width, n_points, transient, dtype, solver, rtol, atol, max_steps):
    """One jitted diffrax solve whose vector field switches between the given flows."""
    dims = jnp.asarray([s.dimension for s in flows], dtype=dtype)

    def branch(system):
        d = system.dimension
        return lambda t, y: jnp.pad(system.vector_field(t, y[:d]), (0, width - d))

    branches = [branch(s) for s in flows]

    @eqx.filter_jit
    def solve(index, y0, dt):
        dim = dims[index]
        # padded coordinates stay exactly zero, so this is the RMS over the system's own ones
        controller = diffrax.PIDController(
            rtol=rtol, atol=atol, norm=lambda e: jnp.sqrt(jnp.sum(e**2) / dim)
        )
        term = diffrax.ODETerm(lambda t, y, args: jax.lax.switch(index, branches, t, y))
        ts = (transient + jnp.arange(n_points, dtype=dtype)) * dt
        solution = diffrax.diffeqsolve(
            term,
            solver,
            t0=jnp.zeros((), dtype=dtype),
            t1=ts[-1],
            dt0=dt,
            y0=y0,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=controller,
            max_steps=max_steps,
        )
        return solution.ys

    return solve
