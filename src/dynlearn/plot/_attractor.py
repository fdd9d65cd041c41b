"""Attractors in state space: the true orbit beside learned ones, on the same axes limits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import FigureBase

from ._figure import as_array, named, new_figure

_AXIS_NAMES = ("x", "y", "z")


def _limits(trajectories: list[np.ndarray], margin: float) -> list[tuple[float, float]]:
    finite = [t[np.all(np.isfinite(t), axis=1)] for t in trajectories]
    if finite[0].size == 0:
        raise ValueError("attractor: the true orbit has no finite points")
    true_low, true_high = finite[0].min(axis=0), finite[0].max(axis=0)
    span = np.where(true_high > true_low, true_high - true_low, 1.0)
    stacked = np.concatenate(finite)
    # Learned orbits widen the limits, but one that blew up must not shrink the true attractor
    # to a dot: at most one true span beyond the true range on each side.
    low = np.maximum(stacked.min(axis=0), true_low - span)
    high = np.minimum(stacked.max(axis=0), true_high + span)
    pad = margin * (high - low)
    return [(float(a), float(b)) for a, b in zip(low - pad, high + pad)]


def attractor(
    true,
    learned=None,
    *,
    dims: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    true_title: str = "true",
    linewidth: float = 0.4,
    margin: float = 0.03,
    panel_size: float = 3.8,
    fig: FigureBase | None = None,
) -> FigureBase:
    """The true attractor beside one or more learned ones, in 2-D or 3-D, on shared axes limits.

    Each trajectory gets its own panel; all panels share the same limits on every axis (taken
    from the finite points of all of them) and the same axis labels, so shapes and sizes can be
    compared by eye. Learned orbits that leave the true range widen the limits of every panel
    alike, by at most the true orbit's own extent on each side (an orbit that blew up runs off
    its panel instead of shrinking the true attractor to a dot); non-finite values are gaps.

    **Arguments:**

    - `true`: the reference orbit, shape `(time, state)`.
    - `learned`: a learned orbit of the same state dimension, or a mapping `{title: orbit}` for
      several models (one panel each, in mapping order); `None` for the true orbit alone.
    - `dims`: the 2 or 3 state coordinates to draw; default the first `min(state, 3)`.
    - `labels`: axis labels for `dims`; default `x, y, z` for states of dimension up to 3,
      else `x[i]`.
    - `true_title`: title of the reference panel.
    - `linewidth`: line width of the orbits.
    - `margin`: fraction of each range added on both sides of the limits.
    - `panel_size`: width and height of one panel in inches.
    - `fig`: draw into this figure or subfigure (e.g. `plt.figure()` for `plt.show()`);
      default a new `matplotlib.figure.Figure`.

    **Returns:** the figure; its `axes` holds one axes per panel, the true orbit first.

    **Raises:** `ValueError` for trajectories that are not `(time, state)` arrays of one state
    dimension, or `dims` that are not 2 or 3 valid coordinates.
    """
    panels = {true_title: as_array("true", true, (2,))}
    for title, orbit in named(learned, "learned").items():
        panels[title] = as_array(f"learned[{title!r}]", orbit, (2,))
    state = panels[true_title].shape[1]
    for title, orbit in panels.items():
        if orbit.shape[1] != state:
            raise ValueError(
                f"attractor: {title!r} has state dimension {orbit.shape[1]}, the true orbit {state}"
            )
    dims = tuple(range(min(state, 3))) if dims is None else tuple(int(d) for d in dims)
    if len(dims) not in (2, 3) or any(not 0 <= d < state for d in dims):
        raise ValueError(f"attractor: dims must be 2 or 3 coordinates in [0, {state}), got {dims}")
    if labels is None:
        labels = [_AXIS_NAMES[d] if state <= 3 else f"x[{d}]" for d in dims]
    if len(labels) != len(dims):
        raise ValueError(f"attractor: {len(dims)} dims but {len(labels)} labels")
    three_d = len(dims) == 3
    orbits = {title: orbit[:, dims] for title, orbit in panels.items()}
    limits = _limits(list(orbits.values()), margin)

    fig = new_figure(fig, (panel_size * len(orbits), panel_size))
    for i, (title, orbit) in enumerate(orbits.items()):
        kwargs = {"projection": "3d"} if three_d else {}
        ax = fig.add_subplot(1, len(orbits), i + 1, **kwargs)
        ax.plot(*orbit.T, lw=linewidth, color="k" if i == 0 else f"C{(i + 2) % 10}")
        ax.set_title(title)
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        if three_d:
            ax.set_zlim(*limits[2])
            ax.set_zlabel(labels[2])
            ax.locator_params(nbins=5)  # 3-D tick labels crowd each other at the default
            # constrained layout does not see 3-D tick labels: shrink the box so none is cut off
            ax.set_box_aspect(None, zoom=0.85)
        else:
            ax.set_aspect("auto")
    return fig
