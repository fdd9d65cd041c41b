"""Figure plumbing shared by every `dynlearn.plot` function.

Figures are made as `matplotlib.figure.Figure` objects, not through pyplot: no backend is picked
or switched, no figure is registered with pyplot's global list, and rcParams are only read. A
caller who wants a pyplot-managed figure (for `plt.show()`) passes one in as `fig=plt.figure()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure, FigureBase


def new_figure(fig: FigureBase | None, figsize: tuple[float, float]) -> FigureBase:
    """The caller's figure or subfigure (panels are added to it), or a new constrained figure."""
    if fig is None:
        return Figure(figsize=figsize, layout="constrained")
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
    return array


def named(value: Any, default: str) -> dict[str, Any]:
    """A mapping `{label: value}` from either one value (labelled `default`) or a mapping."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    return {default: value}
