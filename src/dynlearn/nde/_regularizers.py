"""Regularizers that make neural ODEs cheap to solve.

- Local regularization (Pal, Edelman, Rackauckas, ICML 2023, "Locally Regularized Neural
  Differential Equations"): one differentiable step of the embedded Runge–Kutta pair at a random
  time, penalising the error estimate `EEst * dt`; unbiased (time uniform in the interval) or
  biased (a random accepted step) sampling.
- The global variant (Ghosh et al. 2020 / Pal et al. 2021, "Opening the blackbox"): the sum of
  `EEst * dt` over all accepted steps.
- RNODE (Finlay et al. 2020, "How to train your neural ODE"): kinetic energy `∫ |f|^2 dt` and
  Jacobian Frobenius norm `∫ |df/dy|_F^2 dt`, integrated alongside the state.
"""

from __future__ import annotations

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Key
from .._validation import check_dtype, check_positive, check_shape
from ._ode import FixedGrid, NeuralODE, ODESolution, _stats, check_field, check_times


def _tolerances(model: NeuralODE) -> tuple[float, float]:
    ctrl = model.stepsize_controller
    if isinstance(ctrl, dfx.PIDController):
        return float(ctrl.rtol), float(ctrl.atol)
    return 1e-3, 1e-6


def _error_solver(model: NeuralODE):
    solver = model.solver
    if isinstance(solver, dfx.AbstractAdaptiveSolver) and isinstance(solver, dfx.AbstractERK):
        return solver
    return dfx.Tsit5()


def step_error(
    model: NeuralODE,
    t: Float[Array, ""],
    y: Float[Array, " state"],
    dt: Float[Array, ""],
    args=None,
) -> Float[Array, ""]:
    """`EEst * dt` of one step of the embedded Runge–Kutta pair from `(t, y)` with step `dt`.

    `EEst` is the RMS over components of `err / (atol + rtol * max(|y|, |y_next|))`, with the
    tolerances of `model`'s `PIDController` (1e-3 / 1e-6 otherwise) and `model`'s solver when it
    has an error estimate (Tsit5 otherwise). `y` is the (augmented) state the vector field sees.

    **Returns:** a scalar, differentiable in the model, `y` and `dt`.
    """
    if not isinstance(model, NeuralODE):
        raise TypeError(f"step_error: model must be a NeuralODE, got {type(model).__name__}.")
    check_positive("step_error", "dt", dt)
    y = check_dtype("step_error", "y", y, cast_integers=True)
    check_shape("step_error", "y", y, ndim=1, meaning="(state,)")
    check_field("step_error", "vector_field", model.vector_field, t, y, args, [y.shape])
    rtol, atol = _tolerances(model)
    solver = _error_solver(model)
    terms = dfx.ODETerm(model.vector_field)
    state = solver.init(terms, t, t + dt, y, args)
    y1, y_err, _, _, _ = solver.step(terms, t, t + dt, y, args, state, made_jump=False)
    scale = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y1))
    eest = jnp.sqrt(jnp.mean((y_err / scale) ** 2))
    return eest * dt


def _solve_with_steps(model: NeuralODE, ts, y0, args, extra_ts=None):
    if not isinstance(model, NeuralODE):
        raise TypeError(f"model must be a NeuralODE, got {type(model).__name__}.")
    if isinstance(model.solver, FixedGrid):
        raise ValueError(
            "error-estimate regularizers need an adaptive diffrax solver, got FixedGrid"
        )
    if isinstance(model.adjoint, dfx.BacksolveAdjoint):
        raise ValueError(
            "error-estimate regularizers save every step, which BacksolveAdjoint does not "
            "support; use RecursiveCheckpointAdjoint"
        )
    ts, y0a = model._check(ts, y0, args)
    subs = [dfx.SubSaveAt(ts=ts), dfx.SubSaveAt(steps=True)]
    if extra_ts is not None:
        subs.append(dfx.SubSaveAt(ts=extra_ts))
    sol = dfx.diffeqsolve(
        dfx.ODETerm(model.vector_field),
        model.solver,
        ts[0],
        ts[-1],
        model.dt0,
        y0a,
        args,
        saveat=dfx.SaveAt(subs=subs),
        stepsize_controller=model.stepsize_controller,
        adjoint=model.adjoint,
        max_steps=model.max_steps,
        throw=False,
    )
    ys = sol.ys[0]
    if model.throw:
        ys = eqx.error_if(
            ys,
            sol.result != dfx.RESULTS.successful,
            f"regularized solve failed (max_steps={model.max_steps} reached or step size "
            "collapsed); increase max_steps or loosen rtol/atol",
        )
    # Step i runs from starts[i] to ends[i]; unused slots (index >= n) are padded with inf.
    n = sol.stats["num_accepted_steps"]
    # Step times are the controller's choices: constants for the penalty (as in Pal et al.),
    # which also keeps gradients from flowing through the step-size controller.
    ends = jax.lax.stop_gradient(sol.ts[1])
    ys_end = sol.ys[1]
    index = jnp.arange(ends.shape[0])
    valid = index < n
    starts = jnp.concatenate([ts[:1], ends[:-1]])
    ys_start = jnp.concatenate([y0a[None], ys_end[:-1]], axis=0)
    safe_t = jnp.where(valid, starts, ts[0])
    safe_dt = jnp.where(valid, ends - starts, 1.0)
    safe_y = jnp.where(valid[:, None], ys_start, y0a[None])
    d_obs = y0a.shape[0] - model.augment_dim
    solution = ODESolution(ts, ys[:, :d_obs], _stats(model.solver, sol.stats), sol.result)
    extra = sol.ys[2] if extra_ts is not None else None
    return solution, (safe_t, safe_y, safe_dt, valid, n, ends), extra


def local_regularization(
    model: NeuralODE,
    ts: Float[Array, " time"],
    y0: Float[Array, " state"],
    args=None,
    *,
    key: Key,
    biased: bool = False,
    differentiate_state: bool = False,
) -> tuple[ODESolution, Float[Array, ""]]:
    """Solve `model` and return the local regularization penalty of Pal et al. (2023).

    Unbiased sampling draws `t_s ~ U(ts[0], ts[-1])`, takes `y(t_s)` from the solve and the
    step size `dt` of the accepted step containing `t_s` (the controller's step there); biased
    sampling picks one accepted step uniformly. The penalty is `EEst * dt` of one differentiable
    step of the embedded pair from there (see `step_error`). Add `weight * penalty` to the loss.

    As in the paper only that one step is differentiated: `y(t_s)` and `dt` are constants for
    the penalty's gradient, which then reaches the parameters through the vector field alone
    (cheap, and it does not fight the task loss along the whole trajectory).

    **Arguments:**

    - `model`: a `NeuralODE` with an adaptive diffrax solver (not `BacksolveAdjoint`).
    - `ts`, `y0`, `args`: as in `NeuralODE.solve`.
    - `key`: PRNG key for the sampled time.
    - `biased`: sample accepted steps instead of uniform times.
    - `differentiate_state`: also backpropagate the penalty through the solve up to `y(t_s)`.

    **Returns:** `(solution, penalty)`, the `ODESolution` and a scalar.
    """
    ts = check_times("local_regularization", ts)
    t_s = jax.lax.stop_gradient(
        jax.random.uniform(key, (1,), dtype=ts.dtype, minval=ts[0], maxval=ts[-1])
    )
    solution, (t, y, dt, valid, n, ends), y_s = _solve_with_steps(
        model, ts, y0, args, extra_ts=None if biased else t_s
    )
    state = (lambda v: v) if differentiate_state else jax.lax.stop_gradient
    if biased:
        i = jax.random.randint(key, (), 0, jnp.maximum(n, 1))
        penalty = step_error(model, t[i], state(y[i]), dt[i], args)
    else:
        i = jnp.minimum(jnp.searchsorted(ends, t_s[0]), jnp.maximum(n - 1, 0))
        penalty = step_error(model, t_s[0], state(y_s[0]), dt[i], args)
    return solution, penalty


def global_error_regularization(
    model: NeuralODE,
    ts: Float[Array, " time"],
    y0: Float[Array, " state"],
    args=None,
) -> tuple[ODESolution, Float[Array, ""]]:
    """Solve `model` and return the sum of `EEst * dt` over all accepted steps.

    The error estimates are recomputed differentiably from the saved step boundaries (one
    vmapped embedded-pair step per slot of `max_steps`, so keep `max_steps` modest).

    **Arguments:** `model`, `ts`, `y0`, `args` as in `local_regularization`.

    **Returns:** `(solution, penalty)`.
    """
    solution, (t, y, dt, valid, _, _), _ = _solve_with_steps(model, ts, y0, args)
    errs = jax.vmap(lambda ti, yi, dti: step_error(model, ti, yi, dti, args))(t, y, dt)
    return solution, jnp.sum(jnp.where(valid, errs, 0.0))


def kinetic_jacobian_regularization(
    model: NeuralODE,
    ts: Float[Array, " time"],
    y0: Float[Array, " state"],
    args=None,
    *,
    key: Key | None = None,
) -> tuple[ODESolution, Float[Array, ""], Float[Array, ""]]:
    """RNODE: solve `model` with the kinetic energy and Jacobian Frobenius norm integrated along.

    `kinetic = ∫ |f(t, y)|^2 dt` and `jacobian = ∫ |∂f/∂y|_F^2 dt` over `[ts[0], ts[-1]]`. With a
    `key`, the Frobenius norm uses Hutchinson's estimator `|e^T ∂f/∂y|^2` with one Gaussian `e`
    per solve (as in Finlay et al.); without, the exact Jacobian (fine for small states).

    **Arguments:**

    - `model`, `ts`, `y0`, `args`: as in `NeuralODE.solve` (any solver, including `FixedGrid`).
    - `key`: PRNG key for the Hutchinson probe, or `None` for the exact norm.

    **Returns:** `(solution, kinetic, jacobian)`.
    """
    if not isinstance(model, NeuralODE):
        raise TypeError(
            f"kinetic_jacobian_regularization: model must be a NeuralODE, got "
            f"{type(model).__name__}."
        )
    ts, y0a = model._check(ts, y0, args)
    d = y0a.shape[0]
    d_obs = d - model.augment_dim
    probe = None if key is None else jax.random.normal(key, (d,), y0a.dtype)
    f = model.vector_field

    def augmented(t, z, args):
        y = z[:d]
        if probe is None:
            dy, jac = f(t, y, args), jax.jacfwd(lambda yy: f(t, yy, args))(y)
            frob = jnp.sum(jac**2)
        else:
            dy, vjp = jax.vjp(lambda yy: f(t, yy, args), y)
            frob = jnp.sum(vjp(probe)[0] ** 2)
        return jnp.concatenate([dy, jnp.stack([jnp.sum(dy**2), frob])])

    inner = NeuralODE(
        augmented,
        solver=model.solver,
        stepsize_controller=model.stepsize_controller,
        adjoint=model.adjoint,
        dt0=model.dt0,
        max_steps=model.max_steps,
        throw=model.throw,
    )
    # The inner solve sees the augmented state; the original dims are the first `y0.shape[0]`.
    sol = inner.solve(ts, jnp.concatenate([y0a, jnp.zeros((2,), y0a.dtype)]), args)
    solution = ODESolution(ts, sol.ys[:, :d_obs], sol.stats, sol.result)
    return solution, sol.ys[-1, d], sol.ys[-1, d + 1]
