"""`NeuralSDE`: learned drift and diffusion, Itô or Stratonovich, diagonal or general noise.

Follows Kidger (2021), "On Neural Differential Equations" (chapter 4), and Kidger et al. (2021),
"Neural SDEs as Infinite-Dimensional GANs". The interpretation is a property of the model, the
solver is an object: when they differ (an Itô model solved with a Stratonovich solver such as
Heun, or the reverse), the drift is converted with the Itô–Stratonovich correction
`c_i = 1/2 Σ_jk g_kj ∂g_ij/∂y_k`, so any diffrax SDE solver gives the model's solution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx

from .._types import Array, Float, Key
from .._validation import check_dtype, check_int, check_option, check_positive
from ._ode import check_field, check_times

_INTERPRETATIONS = ("ito", "stratonovich")
_NOISES = ("diagonal", "general")


def ito_stratonovich_correction(diffusion: Callable, t, y, args, diagonal: bool) -> Array:
    """`1/2 Σ_jk g_kj ∂g_ij/∂y_k`: Itô drift = Stratonovich drift + this correction.

    **Arguments:** `diffusion(t, y, args)` returning `(state,)` (diagonal) or
    `(state, noise)` (general); the time, state, args; whether the noise is diagonal.

    **Returns:** shape `(state,)`.
    """
    if not callable(diffusion):
        raise TypeError(
            f"ito_stratonovich_correction: diffusion must be callable, got {diffusion!r}."
        )
    g = lambda yy: diffusion(t, yy, args)  # noqa: E731
    gy = g(y)
    if diagonal:
        # column j has the single entry g_j at row j: Σ_k g_kj ∂g_ij/∂y_k = g_i ∂g_i/∂y_i
        _, dg = jax.jvp(g, (y,), (gy,))
        diag_jac = jax.vmap(lambda e: jax.jvp(g, (y,), (e,))[1])(jnp.eye(y.shape[0], dtype=y.dtype))
        return 0.5 * gy * jnp.diagonal(diag_jac)
    # general: for each noise column j, the directional derivative of g[:, j] along g[:, j]
    cols = jax.vmap(lambda v: jax.jvp(g, (y,), (v,))[1], in_axes=1, out_axes=2)(gy)
    return 0.5 * jnp.einsum("ijj->i", cols)


class NeuralSDE(eqx.Module):
    """An SDE `dy = f(t, y) dt + g(t, y) dW` with learned `f` and `g`.

    **Arguments:**

    - `drift`: `f(t, y, args) -> (state,)`.
    - `diffusion`: `g(t, y, args)`, shape `(state,)` for diagonal noise or `(state, noise)` for
      general noise.
    - `noise`: `"diagonal"` (default) or `"general"`.
    - `noise_size`: Brownian dimension for general noise (ignored for diagonal).
    - `interpretation`: `"ito"` (default) or `"stratonovich"`.
    - `solver`: a diffrax SDE solver, default `diffrax.Euler()` (Itô) or `diffrax.Heun()`
      (Stratonovich); a mismatched one is corrected for automatically.
    - `dt0`: the step size (fixed steps).
    - `brownian_tol`: resolution of the `VirtualBrownianTree` (default `dt0 / 4`).
    - `adjoint`: a diffrax adjoint (default `RecursiveCheckpointAdjoint()`).
    - `max_steps`: upper bound on steps.

    `model(ts, y0, key=key)` returns one sample path at `ts`, shape `(time, state)`.
    """

    drift: Callable
    diffusion: Callable
    solver: Any
    adjoint: Any
    noise: str = eqx.field(static=True)
    noise_size: int = eqx.field(static=True)
    interpretation: str = eqx.field(static=True)
    dt0: float = eqx.field(static=True)
    brownian_tol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        drift: Callable,
        diffusion: Callable,
        *,
        noise: str = "diagonal",
        noise_size: int | None = None,
        interpretation: str = "ito",
        solver=None,
        dt0: float = 0.01,
        brownian_tol: float | None = None,
        adjoint=None,
        max_steps: int = 16384,
    ):
        for name, fn in (("drift", drift), ("diffusion", diffusion)):
            if not callable(fn):
                raise TypeError(f"NeuralSDE: {name} must be callable f(t, y, args), got {fn!r}.")
        check_option("NeuralSDE", "noise", noise, _NOISES)
        check_option("NeuralSDE", "interpretation", interpretation, _INTERPRETATIONS)
        if noise == "general":
            if noise_size is None:
                raise ValueError("NeuralSDE: general noise needs noise_size, got noise_size=None.")
            noise_size = check_int("NeuralSDE", "noise_size", noise_size)
        check_positive("NeuralSDE", "dt0", dt0)
        if brownian_tol is not None:
            check_positive("NeuralSDE", "brownian_tol", brownian_tol)
        max_steps = check_int("NeuralSDE", "max_steps", max_steps)
        self.drift = drift
        self.diffusion = diffusion
        self.noise = noise
        self.noise_size = 0 if noise == "diagonal" else int(noise_size)
        self.interpretation = interpretation
        if solver is None:
            solver = dfx.Euler() if interpretation == "ito" else dfx.Heun()
        self.solver = solver
        self.dt0 = float(dt0)
        self.brownian_tol = float(dt0 / 4 if brownian_tol is None else brownian_tol)
        self.adjoint = dfx.RecursiveCheckpointAdjoint() if adjoint is None else adjoint
        self.max_steps = max_steps

    def _solver_interpretation(self) -> str:
        if isinstance(self.solver, dfx.AbstractItoSolver):
            return "ito"
        if isinstance(self.solver, dfx.AbstractStratonovichSolver):
            return "stratonovich"
        return self.interpretation  # e.g. additive-noise solvers: both agree

    def terms(self, t0, t1, y0, *, key: Key):
        """The diffrax terms (drift converted if needed) and Brownian motion on `[t0, t1]`."""
        diagonal = self.noise == "diagonal"
        shape = y0.shape if diagonal else (self.noise_size,)
        bm = dfx.VirtualBrownianTree(t0, t1, tol=self.brownian_tol, shape=shape, key=key)
        sign = {("ito", "stratonovich"): -1.0, ("stratonovich", "ito"): 1.0}.get(
            (self.interpretation, self._solver_interpretation()), 0.0
        )
        drift, diffusion = self.drift, self.diffusion

        def converted_drift(t, y, args):
            out = drift(t, y, args)
            if sign:
                out = out + sign * ito_stratonovich_correction(diffusion, t, y, args, diagonal)
            return out

        if diagonal:
            vf = lambda t, y, args: lx.DiagonalLinearOperator(diffusion(t, y, args))  # noqa: E731
        else:
            vf = diffusion
        return dfx.MultiTerm(dfx.ODETerm(converted_drift), dfx.ControlTerm(vf, bm))

    def __call__(
        self, ts: Array, y0: Float[Array, " state"], args=None, *, key: Key
    ) -> Float[Array, "time state"]:
        """One sample path at `ts` (strictly increasing, shape `(time,)`) from `y0`.

        **Returns:** shape `(time, state)`.
        """
        ts = check_times("NeuralSDE", ts)
        y0 = check_dtype("NeuralSDE", "y0", y0, cast_integers=True)
        if y0.ndim != 1:
            raise ValueError(
                f"NeuralSDE: y0 must be one state of shape (state,), got shape {tuple(y0.shape)}; "
                "batch with jax.vmap"
            )
        if key is None:
            raise TypeError("NeuralSDE: key must be a PRNG key (one sample path), got None.")
        check_field("NeuralSDE", "drift", self.drift, ts[0], y0, args, [y0.shape])
        g_shape = [y0.shape] if self.noise == "diagonal" else [(y0.shape[0], self.noise_size)]
        check_field("NeuralSDE", "diffusion", self.diffusion, ts[0], y0, args, g_shape)
        y0 = eqx.error_if(y0, ~jnp.all(jnp.isfinite(y0)), "NeuralSDE: y0 contains NaN or inf")
        terms = self.terms(ts[0], ts[-1], y0, key=key)
        sol = dfx.diffeqsolve(
            terms,
            self.solver,
            ts[0],
            ts[-1],
            self.dt0,
            y0,
            args,
            saveat=dfx.SaveAt(ts=ts),
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            throw=False,
        )
        return eqx.error_if(
            sol.ys,
            sol.result != dfx.RESULTS.successful,
            f"NeuralSDE: the solve failed; (t1 - t0) / dt0 must stay below max_steps="
            f"{self.max_steps}: increase max_steps or dt0",
        )

    def vector_field(self, t, y: Float[Array, " state"], args=None) -> Float[Array, " state"]:
        """The drift `f(t, y, args)`: the deterministic skeleton of the SDE, which
        `dynlearn.analysis` sees as the model's flow (the dynamical-model contract)."""
        return self.drift(t, y, args)

    def init_state(self, context: Float[Array, "time state"]) -> Float[Array, " state"]:
        """The state at the end of an observed `context`: its last row.

        **Arguments:**

        - `context`: observations, shape `(time, state)`.

        **Returns:** `context[-1]`.
        """
        context = check_dtype("NeuralSDE.init_state", "context", context, cast_integers=True)
        if context.ndim != 2 or context.shape[0] < 1:
            raise ValueError(
                "NeuralSDE.init_state: context must have shape (time >= 1, state), got shape "
                f"{tuple(context.shape)}."
            )
        return context[-1]

    def observe(self, y: Float[Array, " state"]) -> Float[Array, " state"]:
        """The observation of a state: the state itself."""
        return y

    def rollout(
        self, y: Float[Array, " state"], n_steps: int, *, dt, key: Key | None
    ) -> Float[Array, "{n_steps} state"]:
        """One sample path: the `n_steps` states after `y`, `dt` apart.

        Sampling interval `i` is solved on its own, with the Brownian motion of key
        `jax.random.fold_in(key, i)`, so that a longer forecast with the same key extends the
        same path (one Brownian tree over the whole horizon would change with the horizon).

        **Arguments:**

        - `y`: the initial state.
        - `n_steps`: number of states.
        - `dt`: the sampling step (the solver step is `dt0`).
        - `key`: PRNG key of the Brownian path (required).

        **Returns:** shape `(n_steps, state)`; row `i` is the state at `(i + 1) dt`.
        """
        if key is None:
            raise ValueError("NeuralSDE: a forecast is one sample path; pass key=")
        if dt is None:
            raise ValueError("NeuralSDE.rollout: pass dt (the sampling step)")
        check_positive("NeuralSDE.rollout", "dt", dt)
        n_steps = check_int("NeuralSDE.rollout", "n_steps", n_steps)
        y = check_dtype("NeuralSDE.rollout", "y", y, cast_integers=True)
        dt = jnp.asarray(dt, y.dtype)

        def interval(state, i):
            ts = jnp.stack([i.astype(y.dtype) * dt, (i + 1).astype(y.dtype) * dt])
            state = self(ts, state, key=jax.random.fold_in(key, i))[1]
            return state, state

        return jax.lax.scan(interval, y, jnp.arange(n_steps))[1]
