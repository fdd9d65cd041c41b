"""Forecast metrics: sMAPE, NRMSE, valid prediction time and n-step prediction error.

The valid prediction time (VPT) has two definitions in the literature, and they differ 2-5x on the
same forecasts, so `valid_prediction_time` names which one it computes:

- `metric="smape"` (default): Gilpin's chaos-forecasting benchmark ("Chaos as an interpretable
  benchmark for forecasting and data-driven modelling", NeurIPS 2021; "Model scale versus domain
  knowledge in statistical forecasting of chaotic systems", 2023). At each lead time t the sMAPE
  of the whole forecast prefix up to t is taken (`dysts.metrics.horizoned_metric` with
  `dysts.metrics.smape`; `smape_rolling` and `vpt` in the benchmark scripts of
  github.com/williamgilpin/dysts_data, `benchmark_results/scripts/`), and the VPT is the first t
  where it exceeds 30.
- `metric="nrmse"`: the pointwise normalised error of the reservoir-computing literature
  (Pathak et al., PRL 2018; Vlachas et al., Neural Networks 2020): the first t where the RMSE
  over dimensions of the error at t alone, divided by the true data's standard deviation per
  dimension, exceeds 0.5.
- `metric="smape_pointwise"`: the pointwise sMAPE at t alone above 30 (not a published protocol;
  kept because earlier dynlearn versions called it "smape").
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .._types import Array, ArrayLike, Float
from .._validation import (
    check_callable,
    check_dtype,
    check_int,
    check_option,
    check_positive,
    check_shape,
    refuse_if,
)
from ._util import as_series_pair

_DEFAULT_THRESHOLD = {"smape": 30.0, "smape_pointwise": 30.0, "nrmse": 0.5}


def _pointwise_smape(true, pred):
    denom = jnp.abs(true) + jnp.abs(pred)
    # both zero counts as no error; NaN (a diverged forecast) must stay NaN
    zero = denom == 0
    ratio = jnp.where(zero, 0, 2 * jnp.abs(true - pred) / jnp.where(zero, 1, denom))
    return 100 * jnp.mean(ratio, axis=-1)


def _scale(true, scale, where):
    """The NRMSE scale per dimension: `scale` checked (finite, positive, scalar or `(dim,)`),
    or the standard deviation of `true`, which must not vanish in any dimension."""
    dim = true.shape[1]
    if scale is None:
        std = jnp.std(true, axis=0)
        return refuse_if(
            std,
            jnp.any(std <= 0),
            f"{where}: true is constant in some dimension (its standard deviation, the default "
            "NRMSE scale, is 0 there), so the normalised error is undefined; pass scale= (e.g. "
            "the training data's standard deviation)",
        )
    if isinstance(scale, int | float):
        check_positive(where, "scale", scale)
    arr = check_dtype(where, "scale", scale, cast_integers=True)
    if arr.shape not in ((), (dim,)):
        raise ValueError(
            f"{where}: scale must be a scalar or have shape ({dim},) (one per dimension of "
            f"true), got shape {tuple(arr.shape)}"
        )
    arr = refuse_if(
        arr,
        jnp.any(~(arr > 0)) | jnp.any(~jnp.isfinite(arr)),
        f"{where}: scale must be finite and positive in every dimension, got scale={scale!r}",
    )
    return jnp.broadcast_to(arr.astype(true.dtype), (dim,))


def _pointwise_nrmse(true, pred, std):
    return jnp.sqrt(jnp.mean(((true - pred) / std[None, :]) ** 2, axis=-1))


def smape(
    true: Float[ArrayLike, "..."],
    pred: Float[ArrayLike, "..."],
    *,
    pointwise: bool = False,
) -> Float[Array, "..."]:
    """Symmetric mean absolute percentage error, in percent (0 to 200).

    `sMAPE = 100 * mean(2 |y - ŷ| / (|y| + |ŷ|))`; entries where both values are zero count as 0.

    **Arguments:**

    - `true`, `pred`: arrays of shape `(time, dim)` (or `(time,)` for a scalar series).
    - `pointwise`: if `True`, return one value per time step (mean over `dim` only).

    **Returns:** a scalar (mean over time and dimensions), or shape `(time,)` if `pointwise`.

    **Raises:** `ValueError` if the shapes differ; `TypeError` for complex or non-numeric input.
    """
    true, pred = as_series_pair(true, pred, "smape")
    if true.shape != pred.shape:
        raise ValueError(
            f"smape: true and pred must have the same shape, got {tuple(true.shape)} and "
            f"{tuple(pred.shape)}"
        )
    per_time = _pointwise_smape(true, pred)
    return per_time if pointwise else jnp.mean(per_time)


def nrmse(
    true: Float[ArrayLike, "..."],
    pred: Float[ArrayLike, "..."],
    *,
    scale: Float[ArrayLike, "..."] | float | None = None,
    pointwise: bool = False,
) -> Float[Array, "..."]:
    """Normalised root-mean-square error.

    Each dimension is divided by its scale (by default the standard deviation of `true` over
    time), then `sqrt(mean((y - ŷ)²))` is taken over dimensions (and time, unless `pointwise`).
    Pass the training data's standard deviation as `scale` to compare forecasts of different
    lengths on the same footing.

    **Arguments:**

    - `true`, `pred`: arrays of shape `(time, dim)` (or `(time,)`).
    - `scale`: per-dimension scale `(dim,)` or a scalar; default `std(true, axis=0)`.
    - `pointwise`: if `True`, return one value per time step.

    **Returns:** a scalar, or shape `(time,)` if `pointwise`.

    **Raises:** `ValueError` if the shapes differ, for a `scale` that is not finite and positive
    (or of the wrong shape), or, without `scale`, a `true` that is constant in some dimension
    (zero standard deviation); `TypeError` for complex or non-numeric input.
    """
    true, pred = as_series_pair(true, pred, "nrmse")
    if true.shape != pred.shape:
        raise ValueError(
            f"nrmse: true and pred must have the same shape, got {tuple(true.shape)} and "
            f"{tuple(pred.shape)}"
        )
    std = _scale(true, scale, "nrmse")
    if pointwise:
        return _pointwise_nrmse(true, pred, std)
    return jnp.sqrt(jnp.mean(((true - pred) / std[None, :]) ** 2))


def valid_prediction_time(
    true: Float[ArrayLike, "..."],
    pred: Float[ArrayLike, "..."],
    *,
    dt: float | int,
    max_lyapunov: float | int | None = None,
    lyapunov_time: float | int | None = None,
    metric: str = "smape",
    threshold: float | int | None = None,
    scale: Float[ArrayLike, "..."] | float | None = None,
) -> Float[Array, ""]:
    """Valid prediction time (VPT): how long a forecast stays within an error threshold.

    `pred[i]` and `true[i]` are the states `i + 1` steps of size `dt` after the shared initial
    condition. With an error curve `e[i]` (below), the VPT is `dt` times the index of the first
    step where `e[i] > threshold` (the number of leading valid steps); a forecast that never
    crosses it scores its whole length. With `max_lyapunov` (λ_max) or `lyapunov_time`
    (1/λ_max) given, the result is in Lyapunov times (`VPT * λ_max`), otherwise in the system's
    time units. Use one λ_max per system for every model (`system.max_lyapunov`).

    The error curve, by `metric`:

    - `"smape"` (default, Gilpin's chaos benchmark): `e[i]` is the sMAPE (0 to 200) of the whole
      prefix `0..i`, over time and dimensions: the running mean of the per-step sMAPE. Follows
      Gilpin, "Model scale versus domain knowledge in statistical forecasting of chaotic systems"
      (2023), as its code computes it: `dysts.metrics.horizoned_metric(true, pred,
      dysts.metrics.smape)` and the first index above 30 (`smape_rolling` and `vpt` in
      github.com/williamgilpin/dysts_data, `benchmark_results/scripts/`). dysts >= 0.9's
      `smape` is half-scale (0 to 100) unless called with `scaled=False`; the paper's threshold 30
      is on the 0-200 scale used here (and by dysts' `smape(..., scaled=False)`).
    - `"nrmse"` (reservoir-computing literature: Pathak et al., PRL 120, 024102, 2018; Vlachas et
      al., Neural Networks 126, 2020): `e[i] = sqrt(mean_d((true[i, d] - pred[i, d])² /
      scale[d]²))`, the error at step `i` alone; threshold 0.5.
    - `"smape_pointwise"`: the sMAPE of step `i` alone (mean over dimensions); threshold 30.
      Not a published protocol; dynlearn 0.1.0 called this `"smape"`.

    Differences from the references: a NaN in `pred` (a diverged model) makes the forecast
    invalid from the first NaN on (in the dysts code a NaN sMAPE never exceeds the threshold);
    entries where both values are exactly zero count as zero error (dysts adds 1e-10 to the
    denominator instead).

    **Arguments:**

    - `true`, `pred`: arrays of shape `(time, dim)` (or `(time,)`).
    - `dt`: time between consecutive points.
    - `max_lyapunov`: the largest Lyapunov exponent (e.g. `dynlearn.systems.get("Lorenz")
      .max_lyapunov`).
    - `lyapunov_time`: or its inverse; give at most one of the two.
    - `metric`: `"smape"`, `"nrmse"` or `"smape_pointwise"` (above).
    - `threshold`: error at which the forecast stops being valid; default 30 for the sMAPE
      variants and 0.5 for NRMSE.
    - `scale`: NRMSE scale per dimension (default `std(true, axis=0)`; pass the training data's
      std to follow Vlachas et al.); ignored for sMAPE.

    **Returns:** a scalar: the VPT in Lyapunov times, or in time units if neither `max_lyapunov`
    nor `lyapunov_time` is given.

    **Raises:** `ValueError` for mismatched shapes, an unknown metric, a `dt`, `max_lyapunov` or
    `lyapunov_time` that is not finite and positive, a negative or NaN `threshold`, both
    Lyapunov arguments, or a bad NRMSE `scale` (as `nrmse`); `TypeError` for complex input.
    """
    true, pred = as_series_pair(true, pred, "valid_prediction_time")
    if true.shape != pred.shape:
        raise ValueError(
            f"valid_prediction_time: true and pred must have the same shape, got "
            f"{tuple(true.shape)} and {tuple(pred.shape)}"
        )
    where = "valid_prediction_time"
    check_option(where, "metric", metric, _DEFAULT_THRESHOLD)
    check_positive(where, "dt", dt)
    if max_lyapunov is not None and lyapunov_time is not None:
        raise ValueError(
            "valid_prediction_time: give max_lyapunov or lyapunov_time, not both "
            f"(got max_lyapunov={max_lyapunov} and lyapunov_time={lyapunov_time})"
        )
    if lyapunov_time is not None:
        rate = 1.0 / float(check_positive(where, "lyapunov_time", lyapunov_time))
    elif max_lyapunov is not None:
        rate = float(check_positive(where, "max_lyapunov", max_lyapunov))
    else:
        rate = 1.0
    if threshold is not None:
        check_positive(where, "threshold", threshold, allow_zero=True)
    if threshold is None:
        threshold = _DEFAULT_THRESHOLD[metric]
    if metric == "smape":
        # the sMAPE of the prefix 0..i over time and dimensions is the running mean of the
        # per-step sMAPE (every step has the same number of dimensions)
        per_step = _pointwise_smape(true, pred)
        steps = jnp.arange(1, per_step.shape[0] + 1, dtype=per_step.dtype)
        err = jnp.cumsum(per_step) / steps
    elif metric == "smape_pointwise":
        err = _pointwise_smape(true, pred)
    else:
        err = _pointwise_nrmse(true, pred, _scale(true, scale, "valid_prediction_time"))
    # NaN forecasts (a diverged model) are invalid from the first NaN on.
    bad = ~(err <= threshold)
    n_valid = jnp.where(jnp.any(bad), jnp.argmax(bad), err.shape[0])
    return n_valid.astype(true.dtype) * (dt * rate)


def n_step_prediction_error(
    step: Callable[[Array], Array],
    trajectory: Float[ArrayLike, "..."],
    n_steps: int,
    *,
    encode: Callable[[Array], Array] | None = None,
    observe: Callable[[Array], Array] | None = None,
) -> Float[Array, ""]:
    """Mean squared n-step-ahead prediction error of a map along a trajectory.

    From every point `x_t` (for which `x_{t+n_steps}` exists) the model is iterated `n_steps` times
    and compared with `x_{t+n_steps}`: `mean_t ||observe(step^n_steps(encode(x_t))) -
    x_{t+n_steps}||² / dim`.

    **Arguments:**

    - `step`: the model's one-step map on its (latent) state, `z -> z'`.
    - `trajectory`: observed data of shape `(time, dim)`, sampled at the model's step.
    - `n_steps`: the prediction horizon in steps (`n_steps >= 1`).
    - `encode`: maps an observation to the model's state (default: identity).
    - `observe`: maps a model state to an observation (default: identity).

    **Returns:** a scalar mean squared error.

    **Raises:** `ValueError` if `n_steps < 1`, the trajectory is not `(time, dim)` or has
    `n_steps` points or fewer, or `step` or `observe` return the wrong shape; `TypeError` for a
    non-integer `n_steps`, a non-callable `step`, `encode` or `observe`, or complex data.
    """
    where = "n_step_prediction_error"
    check_callable(where, "step", step)
    traj = check_dtype(where, "trajectory", trajectory, cast_integers=True)
    traj = check_shape(where, "trajectory", traj, ndim=2, meaning="(time, dim)")
    n_steps = check_int(where, "n_steps", n_steps)
    if traj.shape[0] <= n_steps:
        raise ValueError(
            f"n_step_prediction_error: trajectory of length {traj.shape[0]} is too short for "
            f"n_steps={n_steps}; need more than n_steps points"
        )
    for name, fn in (("encode", encode), ("observe", observe)):
        if fn is not None:
            check_callable(where, name, fn)
    encode = (lambda x: x) if encode is None else encode
    observe = (lambda z: z) if observe is None else observe

    z0 = jax.eval_shape(encode, traj[0])
    z1 = jax.eval_shape(step, z0)
    if jax.tree_util.tree_structure(z1) != jax.tree_util.tree_structure(z0) or any(
        (a.shape, a.dtype) != (b.shape, b.dtype)
        for a, b in zip(jax.tree_util.tree_leaves(z1), jax.tree_util.tree_leaves(z0))
    ):
        raise ValueError(
            f"{where}: step must map a state to a state of the same shape and dtype; the state "
            f"is {jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), z0)} but step returned "
            f"{jax.tree_util.tree_map(lambda a: (a.shape, a.dtype), z1)}"
        )
    seen = jax.eval_shape(observe, z0)
    if getattr(seen, "shape", None) != traj.shape[1:]:
        raise ValueError(
            f"{where}: observe(state) must have shape {traj.shape[1:]} (a row of trajectory), "
            f"got {getattr(seen, 'shape', seen)}"
        )

    def forecast(x0):
        z = jax.lax.fori_loop(0, n_steps, lambda _, z: step(z), encode(x0))
        return observe(z)

    pred = jax.vmap(forecast)(traj[:-n_steps])
    return jnp.mean((pred - traj[n_steps:]) ** 2)
