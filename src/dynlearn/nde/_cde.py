"""`NeuralCDE`: neural controlled differential equations for irregular, partially observed series.

Follows Kidger, Morrill, Foster, Lyons (2020), "Neural Controlled Differential Equations for
Irregular Time Series", and the interpolation study of Morrill et al. (2021), "Neural CDEs for
Online Prediction Tasks": the data `(t_i, x_i)` (NaN = missing) become a continuous control path
`X` (linear, Hermite cubic with backward differences, or rectilinear), and the hidden state solves
`dz = f(z) dX`, `z(t_0) = ζ(x_0)`. Time is always a channel of `X`; cumulative observation counts
can be appended so that missingness itself is informative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, Float, Key
from .._validation import check_dtype, check_int, check_positive
from ._ode import check_times


def _zero_leading_nans(xs):
    # Values missing before a channel's first observation become 0 (diffrax's
    # `replace_nans_at_start` also overwrites observed first values, so we do it here).
    seen = jnp.cumsum(~jnp.isnan(xs), axis=0) > 0
    return jnp.where(seen, xs, 0.0)


class AbstractControl(eqx.Module):
    """How the observations become a continuous control path.

    `path(ts, xs)` returns `(path, s)`: a diffrax path over the integration variable and the
    knots `s` at which each observation has been fully read (equal to `ts` except for the
    rectilinear scheme, which integrates over a virtual index).
    """

    def path(self, ts, xs) -> tuple[Any, Array]:
        raise NotImplementedError


class LinearControl(AbstractControl):
    """Piecewise-linear interpolation; missing values are filled linearly (forward at the end,
    with zeros before the first observation). Not causal: the path between `t_i` and `t_{i+1}`
    already moves towards `x_{i+1}`."""

    def path(self, ts, xs):
        filled = dfx.linear_interpolation(ts, _zero_leading_nans(xs), fill_forward_nans_at_end=True)
        return dfx.LinearInterpolation(ts, filled), ts


class HermiteCubicControl(AbstractControl):
    """Hermite cubic splines with backward differences (Morrill et al. 2021): smooth, so adaptive
    solvers take few steps, and causal up to one observation. The recommended default."""

    def path(self, ts, xs):
        coeffs = dfx.backward_hermite_coefficients(
            ts, _zero_leading_nans(xs), fill_forward_nans_at_end=True
        )
        return dfx.CubicInterpolation(ts, coeffs), ts


class RectilinearControl(AbstractControl):
    """Rectilinear interpolation (Morrill et al. 2021): first advance time holding the data, then
    jump the data holding time; fully causal, for online prediction. Integrates over a virtual
    index `s = 0 .. 2T-2`; observation `i` has been read at `s = 2i`."""

    def path(self, ts, xs):
        # Time is channel 0 of xs here: forward-fill the data, then interleave.
        new_ts, new_xs = dfx.rectilinear_interpolation(ts, _zero_leading_nans(xs))
        new_xs = new_xs.at[:, 0].set(new_ts.astype(new_xs.dtype))
        s = jnp.arange(new_xs.shape[0], dtype=ts.dtype)
        return dfx.LinearInterpolation(s, new_xs), s[::2]


class _CDEField(eqx.Module):
    mlp: eqx.nn.MLP
    hidden_size: int = eqx.field(static=True)
    control_size: int = eqx.field(static=True)

    def __call__(self, t, z, args):
        return self.mlp(z).reshape(self.hidden_size, self.control_size)


class NeuralCDE(eqx.Module):
    """A neural CDE `dz = f(z) dX(t)` with a readout, for one irregularly sampled series.

    **Arguments:**

    - `data_size`: data channels (time is added as an extra channel automatically).
    - `hidden_size`: size of the hidden state `z`.
    - `out_size`: size of the readout (number of classes for classification, or targets).
    - `width`, `depth`: of the MLP vector field (tanh on the output keeps it bounded).
    - `key`: PRNG key for the initialisation.
    - `control`: `HermiteCubicControl()` (default), `LinearControl()` or `RectilinearControl()`.
    - `observation_counts`: append the cumulative number of observations of each channel to
      the control (lets the model use informative missingness).
    - `solver`, `stepsize_controller`, `adjoint`, `dt0`, `max_steps`: as in `NeuralODE`.

    `model(ts, xs)` returns the readout of the final state (classification logits or
    regression outputs); `model.sequence(ts, xs)` returns the readout after each observation.
    `xs` has shape `(time, data_size)` with NaN marking missing values.
    """

    initial: Callable
    vector_field: Callable
    readout: Callable
    control: AbstractControl
    solver: Any
    stepsize_controller: Any
    adjoint: Any
    data_size: int = eqx.field(static=True)
    observation_counts: bool = eqx.field(static=True)
    dt0: float | None = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        hidden_size: int,
        out_size: int,
        *,
        width: int = 64,
        depth: int = 2,
        key: Key,
        control: AbstractControl | None = None,
        observation_counts: bool = False,
        solver=None,
        stepsize_controller=None,
        adjoint=None,
        dt0: float | None = None,
        max_steps: int = 4096,
    ):
        data_size = check_int("NeuralCDE", "data_size", data_size)
        hidden_size = check_int("NeuralCDE", "hidden_size", hidden_size)
        out_size = check_int("NeuralCDE", "out_size", out_size)
        width = check_int("NeuralCDE", "width", width)
        depth = check_int("NeuralCDE", "depth", depth, minimum=0)
        max_steps = check_int("NeuralCDE", "max_steps", max_steps)
        if dt0 is not None:
            check_positive("NeuralCDE", "dt0", dt0)
        control_size = 1 + data_size * (2 if observation_counts else 1)
        k1, k2, k3 = jax.random.split(key, 3)
        self.initial = eqx.nn.Linear(control_size, hidden_size, key=k1)
        self.vector_field = _CDEField(
            eqx.nn.MLP(
                hidden_size,
                hidden_size * control_size,
                width,
                depth,
                activation=jax.nn.softplus,
                final_activation=jnp.tanh,
                key=k2,
            ),
            hidden_size,
            control_size,
        )
        self.readout = eqx.nn.Linear(hidden_size, out_size, key=k3)
        self.control = HermiteCubicControl() if control is None else control
        if not isinstance(self.control, AbstractControl):
            raise TypeError(f"NeuralCDE: control must be an AbstractControl, got {control!r}")
        self.solver = dfx.Tsit5() if solver is None else solver
        self.stepsize_controller = (
            dfx.PIDController(rtol=1e-3, atol=1e-6)
            if stepsize_controller is None
            else stepsize_controller
        )
        self.adjoint = dfx.RecursiveCheckpointAdjoint() if adjoint is None else adjoint
        self.data_size = data_size
        self.observation_counts = observation_counts
        self.dt0 = dt0
        self.max_steps = max_steps

    def _control_data(self, ts, xs):
        ts = check_times("NeuralCDE", ts)
        xs = check_dtype("NeuralCDE", "xs", xs, cast_integers=True)
        if xs.ndim != 2 or xs.shape != (ts.shape[0], self.data_size):
            raise ValueError(
                f"NeuralCDE: xs must have shape (time, {self.data_size}) with time matching "
                f"len(ts) = {ts.shape[0]}; got ts of shape {tuple(ts.shape)} and xs of shape "
                f"{tuple(xs.shape)}."
            )
        if not isinstance(xs, jax.core.Tracer):
            x = np.asarray(xs)
            if np.isinf(x).any():
                first = tuple(int(i) for i in np.argwhere(np.isinf(x))[0])
                raise ValueError(
                    f"NeuralCDE: xs contains inf (first at index {first}); NaN marks a missing "
                    "value, inf is not allowed."
                )
            if np.isnan(x).all():
                raise ValueError(
                    f"NeuralCDE: xs has no observed value (all {x.size} entries are NaN, which "
                    "marks missing values); a series needs at least one observation."
                )
        parts = [ts[:, None].astype(xs.dtype), xs]
        if self.observation_counts:
            parts.append(jnp.cumsum(~jnp.isnan(xs), axis=0).astype(xs.dtype))
        return ts, jnp.concatenate(parts, axis=1)

    def _solve(self, ts, xs, saveat):
        ts, data = self._control_data(ts, xs)
        path, knots = self.control.path(ts, data)
        term = dfx.ControlTerm(self.vector_field, path).to_ode()
        z0 = self.initial(path.evaluate(knots[0]))
        sol = dfx.diffeqsolve(
            term,
            self.solver,
            knots[0],
            knots[-1],
            self.dt0,
            z0,
            saveat=saveat(knots),
            stepsize_controller=self.stepsize_controller,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
            throw=False,
        )
        xs = jnp.asarray(xs)
        bad_data = jnp.any(jnp.isinf(xs)) | jnp.all(jnp.isnan(xs))
        failed = sol.result != dfx.RESULTS.successful
        return eqx.branched_error_if(
            sol.ys,
            bad_data | failed,
            jnp.where(bad_data, 0, 1),
            [
                "NeuralCDE: xs contains inf, or has no observed value (all NaN, which marks "
                "missing values)",
                f"NeuralCDE: the solve failed (max_steps={self.max_steps} reached or step size "
                "collapsed); increase max_steps, loosen rtol/atol or use HermiteCubicControl",
            ],
        )

    def __call__(self, ts: Array, xs: Array) -> Float[Array, " out"]:
        """Readout of the hidden state after the last observation.

        **Arguments:** `ts` of shape `(time,)`, `xs` of shape `(time, data_size)`, NaN = missing.

        **Returns:** shape `(out_size,)`: logits (use `optax.softmax_cross_entropy`) or outputs.
        """
        zs = self._solve(ts, xs, lambda knots: dfx.SaveAt(t1=True))
        return self.readout(zs[-1])

    def sequence(self, ts: Array, xs: Array) -> Float[Array, "time out"]:
        """Readout after each observation, shape `(time, out_size)` (sequence regression)."""
        zs = self._solve(ts, xs, lambda knots: dfx.SaveAt(ts=knots))
        return jax.vmap(self.readout)(zs)
