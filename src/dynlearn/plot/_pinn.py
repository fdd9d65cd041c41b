"""A PINN's field beside the reference solution and the pointwise error."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import FigureBase

from ._figure import as_array, new_figure


def pinn_field(
    prediction,
    reference=None,
    *,
    t=None,
    x=None,
    labels: Sequence[str] = ("t", "x"),
    cmap: str = "RdBu_r",
    fig: FigureBase | None = None,
) -> FigureBase:
    """A space-time field `u(t, x)` learned by a PINN, the reference, and the pointwise error.

    Time runs along the horizontal axis and space up the vertical one. The prediction and the
    reference share one colour scale (and colour bar); the error panel has its own, and its title
    gives the relative L2 error `||u - u_ref|| / ||u_ref||`.

    **Arguments:**

    - `prediction`: the field on a grid, shape `(time, space)`: `prediction[i, j] = u(t_i, x_j)`.
    - `reference`: the reference solution on the same grid (e.g. from
      `dynlearn.systems.allen_cahn`); `None` to draw the prediction alone.
    - `t`, `x`: the grid coordinates, shapes `(time,)` and `(space,)` (uniformly spaced);
      default the indices.
    - `labels`: axis labels for time and space.
    - `cmap`: colour map of the field panels (the error uses `magma`).
    - `fig`: draw into this figure or subfigure; default a new `matplotlib.figure.Figure`.

    **Returns:** the figure with one axes per panel (prediction, reference, error) followed by
    the colour-bar axes.

    **Raises:** `ValueError` for mismatched shapes.
    """
    u = np.real(as_array("prediction", prediction, (2,)))
    ref = None if reference is None else np.real(as_array("reference", reference, (2,)))
    if ref is not None and ref.shape != u.shape:
        raise ValueError(f"pinn_field: reference shape {ref.shape} != prediction shape {u.shape}")
    t = np.arange(u.shape[0], dtype=float) if t is None else as_array("t", t, (1,))
    x = np.arange(u.shape[1], dtype=float) if x is None else as_array("x", x, (1,))
    if t.shape != (u.shape[0],) or x.shape != (u.shape[1],):
        raise ValueError(
            f"pinn_field: t {t.shape} and x {x.shape} do not match the field's shape {u.shape}"
        )
    extent = (float(t[0]), float(t[-1]), float(x[0]), float(x[-1]))
    panels = [("prediction", u)] if ref is None else [("prediction", u), ("reference", ref)]
    low = min(float(np.nanmin(p)) for _, p in panels)
    high = max(float(np.nanmax(p)) for _, p in panels)
    n_panels = len(panels) + (ref is not None)
    fig = new_figure(fig, (3.6 * n_panels + 0.8, 3.2))
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    image = None
    for ax, (title, values) in zip(axes, panels):
        image = ax.imshow(
            values.T, extent=extent, origin="lower", aspect="auto", cmap=cmap, vmin=low, vmax=high
        )
        ax.set_title(title)
    fig.colorbar(image, ax=list(axes[: len(panels)]), label="u")
    if ref is not None:
        error = np.abs(u - ref)
        relative = float(np.linalg.norm(u - ref) / max(np.linalg.norm(ref), 1e-300))
        err_image = axes[-1].imshow(error.T, extent=extent, origin="lower", aspect="auto",
                                    cmap="magma")
        axes[-1].set_title(f"|error|, relative L2 {relative:.2e}")
        fig.colorbar(err_image, ax=axes[-1])
    for ax in axes:
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    return fig
