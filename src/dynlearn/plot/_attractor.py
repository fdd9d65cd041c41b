"""Attractors in state space: the true orbit beside learned ones, on the same axes limits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import FigureBase

from ._figure import as_array, clipped_limits, named, new_figure

_AXIS_NAMES = ("x", "y", "z")


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
    alike, by at most half the true orbit's extent on each side (an orbit that blew up runs off
    its panel, where 3-D panels leave a gap, instead of shrinking the true attractor to a dot);
    non-finite values are gaps.

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
    orbits_list = list(orbits.values())
    try:
        limits = clipped_limits(orbits_list[0], orbits_list[1:], reach=0.5, margin=margin)
    except ValueError:
        raise ValueError("attractor: the true orbit has no finite points") from None
    if three_d:  # 3-D axes do not clip what lies outside their box: leave a gap there instead
        low = np.array([a for a, _ in limits])
        high = np.array([b for _, b in limits])
        inside = {t: np.all((o >= low) & (o <= high), axis=1) for t, o in orbits.items()}
        orbits = {t: np.where(inside[t][:, None], o, np.nan) for t, o in orbits.items()}

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
