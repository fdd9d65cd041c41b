"""A forecast against the truth, coordinate by coordinate, with the valid prediction time marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import FigureBase

from ._figure import as_array, clipped_limits, named, new_figure


def forecast(
    truth,
    prediction,
    *,
    dt: float = 1.0,
    lyapunov_time: float | None = None,
    valid_time=None,
    context=None,
    components: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    fig: FigureBase | None = None,
) -> FigureBase:
    """Forecast(s) against the true continuation, one panel per state coordinate.

    Row `i` of `truth` and of each prediction is the state `i` steps of size `dt` after the
    forecast's start (row 0 is the shared initial condition, if the caller includes it). The
    horizontal axis is time, in Lyapunov times when `lyapunov_time` is given, so that a VPT
    from [`dynlearn.metrics.valid_prediction_time`][] in Lyapunov times is marked where it
    belongs. With a `context`, the observed history is drawn before time 0 in grey. The vertical
    range covers the truth and the forecasts, but at most half the truth's range beyond it on
    either side: a forecast that blew up runs off the panel rather than flattening the truth.

    **Arguments:**

    - `truth`: the true continuation, shape `(time, state)` (or `(time,)` for one coordinate).
    - `prediction`: the forecast of the same shape, or a mapping `{name: forecast}` for several
      models drawn on the same panels (legend outside the data, to the right).
    - `dt`: time between rows.
    - `lyapunov_time`: `1 / lambda_max`; when given, time is shown in Lyapunov times.
    - `valid_time`: a valid prediction time in the units of the horizontal axis, drawn as a
      vertical dotted line on every panel; a mapping `{name: time}` for several forecasts (one
      line each, in the colour of that forecast).
    - `context`: observations before the forecast start, shape `(context_time, state)`, drawn at
      negative times ending one step before 0.
    - `components`: the state coordinates to draw; default all (at most 6).
    - `labels`: panel labels for `components`; default `x, y, z` up to 3-D, else `x[i]`.
    - `fig`: draw into this figure or subfigure; default a new `matplotlib.figure.Figure`.

    **Returns:** the figure, with one axes per component; the valid-time lines carry the label
    `"valid time"` (or `"valid time (name)"`) and their x position is the given time.

    **Raises:** `ValueError` for shapes that do not match, or a `valid_time` mapping with names
    that are not forecasts.
    """
    truth = as_array("truth", truth, (1, 2))
    truth = truth[:, None] if truth.ndim == 1 else truth
    forecasts = {}
    for name, pred in named(prediction, "forecast").items():
        pred = as_array(f"prediction[{name!r}]", pred, (1, 2))
        pred = pred[:, None] if pred.ndim == 1 else pred
        if pred.shape != truth.shape:
            raise ValueError(
                f"forecast: prediction {name!r} has shape {pred.shape}, truth {truth.shape}"
            )
        forecasts[name] = pred
    if not forecasts:
        raise ValueError("forecast: no prediction given")
    if isinstance(valid_time, Mapping):
        unknown = set(valid_time) - set(forecasts)
        if unknown:
            raise ValueError(f"forecast: valid_time names {sorted(unknown)} are not forecasts")
        valid_times = {name: float(v) for name, v in valid_time.items()}
    elif valid_time is not None:
        valid_times = {next(iter(forecasts)): float(valid_time)}
    else:
        valid_times = {}
    state = truth.shape[1]
    if components is None:
        components = range(min(state, 6))
    components = [int(c) for c in components]
    if any(not 0 <= c < state for c in components):
        raise ValueError(f"forecast: components must lie in [0, {state}), got {components}")
    if labels is None:
        labels = [("x", "y", "z")[c] if state <= 3 else f"x[{c}]" for c in components]
    unit = dt if lyapunov_time is None else dt / lyapunov_time
    times = np.arange(truth.shape[0]) * unit
    ctx = None
    if context is not None:
        ctx = as_array("context", context, (1, 2))
        ctx = ctx[:, None] if ctx.ndim == 1 else ctx
        if ctx.shape[1] != state:
            raise ValueError(f"forecast: context has {ctx.shape[1]} coordinates, truth {state}")

    observed = truth if ctx is None else np.concatenate([ctx, truth])
    limits = clipped_limits(observed, list(forecasts.values()), reach=0.5, margin=0.05)
    fig = new_figure(fig, (8.0, 1.7 * len(components) + 0.6))
    axes = fig.subplots(len(components), 1, sharex=True, squeeze=False)[:, 0]
    colours = {name: f"C{(i + 3) % 10}" for i, name in enumerate(forecasts)}
    for ax, c, label in zip(axes, components, labels):
        if ctx is not None:
            ctx_times = -np.arange(ctx.shape[0], 0, -1) * unit
            ax.plot(ctx_times, ctx[:, c], color="0.6", lw=1.0, label="context")
        ax.plot(times, truth[:, c], color="k", lw=1.2, label="true")
        for name, pred in forecasts.items():
            ax.plot(times, pred[:, c], color=colours[name], lw=1.0, ls="--", label=name)
        for name, vt in valid_times.items():
            tag = "valid time" if len(valid_times) == 1 else f"valid time ({name})"
            ax.axvline(vt, color=colours[name], ls=":", lw=1.2, label=tag)
        ax.set_ylabel(label)
        ax.set_ylim(*limits[c])
    axes[-1].set_xlabel("Lyapunov times" if lyapunov_time is not None else "time")
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig
