"""Figure plumbing shared by every `dynlearn.plot` function.

Figures are made as `matplotlib.figure.Figure` objects, not through pyplot: no backend is picked
or switched, no figure is registered with pyplot's global list, and rcParams are only read. A
caller who wants a pyplot-managed figure (for `plt.show()`) passes one in as `fig=plt.figure()`.
In Jupyter a returned figure shows as the cell's value through its `_repr_png_`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure, FigureBase


class _DisplayedFigure(Figure):
    """A `Figure` that Jupyter shows as the value of a cell, whether or not pyplot was imported.

    IPython shows a bare `Figure` as a PNG only once pyplot's inline backend has registered its
    formatter; `_repr_png_` does it without pyplot. Where that formatter is registered, IPython
    uses it instead (one image, not two).
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def new_figure(fig: FigureBase | None, figsize: tuple[float, float]) -> FigureBase:
    """The caller's figure or subfigure (panels are added to it), or a new constrained figure."""
    if fig is None:
        return _DisplayedFigure(figsize=figsize, layout="constrained")
    if not isinstance(fig, FigureBase):
        raise TypeError(
            f"fig must be a matplotlib Figure, a SubFigure or None, got {type(fig).__name__}"
        )
    return fig


def as_array(name: str, value: Any, ndim: tuple[int, ...]) -> np.ndarray:
    """`value` as a float or complex numpy array with one of the allowed numbers of dimensions."""
    array = np.asarray(value)
    if array.ndim not in ndim:
        allowed = " or ".join(str(n) for n in ndim)
        raise ValueError(f"{name} must have {allowed} dimensions, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.inexact) and not np.all(np.isfinite(array)):
        array = np.where(np.isfinite(array), array, np.nan)  # a diverged model: gaps, no warnings
    return array


def named(value: Any, default: str) -> dict[str, Any]:
    """A mapping `{label: value}` from either one value (labelled `default`) or a mapping."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    return {default: value}


def clipped_limits(
    reference: np.ndarray, others: list[np.ndarray], reach: float, margin: float
) -> list[tuple[float, float]]:
    """Per-column limits over `reference` and `others`, at most `reach` spans beyond `reference`.

    Other series (learned models, forecasts) may widen the limits, so that a model whose orbit is
    too large is seen as such, but one that blew up must not shrink the reference to a line:
    beyond `reach` times the reference's own range on either side it runs off the axes.
    """
    ref = reference[np.all(np.isfinite(reference), axis=1)]
    if ref.size == 0:
        raise ValueError("no finite points in the reference series")
    ref_low, ref_high = ref.min(axis=0), ref.max(axis=0)
    span = np.where(ref_high > ref_low, ref_high - ref_low, 1.0)
    low, high = ref_low.copy(), ref_high.copy()
    for other in others:
        finite = other[np.all(np.isfinite(other), axis=1)]
        if finite.size:
            low, high = np.minimum(low, finite.min(axis=0)), np.maximum(high, finite.max(axis=0))
    low = np.maximum(low, ref_low - reach * span)
    high = np.minimum(high, ref_high + reach * span)
    pad = margin * (high - low)
    return [(float(a), float(b)) for a, b in zip(low - pad, high + pad)]
