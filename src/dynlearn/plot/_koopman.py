"""Koopman eigenvalues coloured by their ResDMD residuals, with pseudospectrum contours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import FigureBase

from ._figure import as_array, new_figure


def koopman_spectrum(
    eigenvalues,
    residuals=None,
    *,
    pseudospectrum: tuple | None = None,
    levels: Sequence[float] | None = None,
    continuous: bool | None = None,
    threshold: float | None = None,
    fig: FigureBase | None = None,
) -> FigureBase:
    """Eigenvalues in the complex plane, coloured by residual, over pseudospectrum contours.

    For a discrete-time operator the unit circle is drawn; for a generator (`continuous`) the
    imaginary axis. Eigenvalues with a residual are coloured on a logarithmic scale (colour bar
    "residual"); with a `threshold`, those above it are drawn hollow (spurious under
    `KoopmanDecomposition.filter(threshold)`).

    **Arguments:**

    - `eigenvalues`: complex eigenvalues `(modes,)`, or a `KoopmanDecomposition` (its
      `eigenvalues`, `residuals` and `continuous` are used unless given here).
    - `residuals`: `(modes,)` residuals, e.g. from `ResDMD.decomposition()`; `None` for none.
    - `pseudospectrum`: `(grid, values)`: complex grid points `z` of shape `(rows, cols)` (as
      passed to `ResDMD.pseudospectrum`) and the values it returned, same shape.
    - `levels`: the epsilons whose pseudospectrum boundaries are drawn; default
      `(0.01, 0.05, 0.1, 0.25)`.
    - `continuous`: draw the imaginary axis instead of the unit circle (default: the
      decomposition's flag, else `False`).
    - `threshold`: residual above which an eigenvalue counts as spurious (drawn hollow).
    - `fig`: draw into this figure or subfigure; default a new `matplotlib.figure.Figure`.

    **Returns:** the figure with one equal-aspect axes (Re on x, Im on y), plus a colour bar
    axes when residuals are given.

    **Raises:** `ValueError` for mismatched shapes.
    """
    if hasattr(eigenvalues, "eigenvalues"):
        decomposition = eigenvalues
        eigenvalues = decomposition.eigenvalues
        if residuals is None:
            residuals = getattr(decomposition, "residuals", None)
        if continuous is None:
            continuous = bool(getattr(decomposition, "continuous", False))
    continuous = bool(continuous)
    lam = as_array("eigenvalues", eigenvalues, (1,)).astype(complex)
    res = None
    if residuals is not None:
        res = np.real(as_array("residuals", residuals, (1,)))
        if res.shape != lam.shape:
            raise ValueError(
                f"koopman_spectrum: residuals shape {res.shape} != eigenvalues shape {lam.shape}"
            )
    fig = new_figure(fig, (5.2, 4.4))
    ax = fig.add_subplot(1, 1, 1)
    if pseudospectrum is not None:
        grid, values = pseudospectrum
        grid = as_array("pseudospectrum grid", grid, (2,)).astype(complex)
        values = np.real(as_array("pseudospectrum values", values, (2,)))
        if grid.shape != values.shape:
            raise ValueError(
                f"koopman_spectrum: pseudospectrum grid {grid.shape} and values {values.shape}"
            )
        levels = sorted(float(v) for v in ((0.01, 0.05, 0.1, 0.25) if levels is None else levels))
        shades = [str(g) for g in np.linspace(0.15, 0.65, len(levels))]
        contours = ax.contour(
            grid.real, grid.imag, values, levels=levels, colors=shades, linewidths=0.8
        )
        ax.clabel(contours, fmt="%.0e", fontsize=6)
    if continuous:
        ax.axvline(0.0, color="0.4", lw=0.8, ls="--")
    else:
        theta = np.linspace(0.0, 2.0 * np.pi, 400)
        ax.plot(np.cos(theta), np.sin(theta), color="0.4", lw=0.8, ls="--")
    if res is None:
        ax.scatter(lam.real, lam.imag, s=18, color="C0", zorder=3)
    else:
        positive = res[res > 0]
        # below 1e-10 residuals are round-off: do not spend the colour scale on them
        floor = max(float(positive.min()), 1e-10) if positive.size else 1e-10
        norm = LogNorm(vmin=floor, vmax=max(float(res.max()), floor * 10.0))
        shown = np.maximum(res, floor)
        spurious = (
            res > threshold if threshold is not None else np.zeros(res.shape, dtype=bool)
        )
        if spurious.any():
            ax.scatter(
                lam.real[spurious], lam.imag[spurious], facecolors="none",
                edgecolors="C3", s=22, zorder=3, label=f"residual > {threshold:g}",
            )
        points = ax.scatter(  # the verified eigenvalues on top
            lam.real[~spurious], lam.imag[~spurious], c=shown[~spurious], cmap="viridis",
            norm=norm, s=30, edgecolors="k", linewidths=0.5, zorder=4,
        )
        if spurious.any():
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.14), frameon=False)
        fig.colorbar(points, ax=ax, label="residual")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    return fig
