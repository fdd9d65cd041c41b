"""A results table (e.g. `benchmarks/forecast.py`'s rows) drawn as a figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import FigureBase

from ._figure import new_figure


def _cell(value, fmt: str | None) -> str:
    if fmt is not None and value is not None and value != "":
        try:
            return format(value, fmt)
        except (TypeError, ValueError):
            pass
    if isinstance(value, float | np.floating):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def benchmark_table(
    rows: Sequence[Mapping],
    columns: Sequence[str] | None = None,
    *,
    formats: Mapping[str, str] | None = None,
    best: Mapping[str, str] | None = None,
    group: str | None = None,
    title: str | None = None,
    fig: FigureBase | None = None,
) -> FigureBase:
    """A table of result rows as a figure, with the best value of chosen columns in bold.

    Made for the rows that `benchmarks/forecast.py` writes (`system`, `model`, `vpt_nrmse`,
    `d_stsp`, ...; read its CSV with `csv.DictReader`), but any list of dicts works.

    **Arguments:**

    - `rows`: a list of mappings, one per table row.
    - `columns`: the fields shown, in order; default the keys of the first row.
    - `formats`: format specs per column, e.g. `{"vpt_nrmse": ".2f"}`; numeric strings (as read
      from a CSV) are converted before formatting.
    - `best`: per column, `"max"` or `"min"`: the best value is drawn bold, within each `group`.
    - `group`: a column whose equal values form the groups for `best` (e.g. `"system"`).
    - `title`: the figure title.
    - `fig`: draw into this figure or subfigure; default a new `matplotlib.figure.Figure`.

    **Returns:** the figure with one axes (axis hidden) holding a `matplotlib.table.Table`.

    **Raises:** `ValueError` for no rows, or a `best` that is not `"max"`/`"min"`.
    """
    rows = [dict(r) for r in rows]
    if not rows:
        raise ValueError("benchmark_table: no rows")
    columns = list(rows[0]) if columns is None else list(columns)
    formats = dict(formats or {})
    best = dict(best or {})
    for column, direction in best.items():
        if direction not in ("max", "min"):
            raise ValueError(f"benchmark_table: best[{column!r}] must be 'max' or 'min'")

    def number(value):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    bold = set()
    for column, direction in best.items():
        groups: dict = {}
        for i, row in enumerate(rows):
            value = number(row.get(column))
            if value is not None and np.isfinite(value):
                groups.setdefault(row.get(group) if group else None, []).append((value, i))
        for members in groups.values():
            pick = max if direction == "max" else min
            bold.add((pick(members)[1], column))

    text = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if column in formats and isinstance(value, str) and number(value) is not None:
                value = number(value)
            cells.append(_cell(value, formats.get(column)))
        text.append(cells)
    fig = new_figure(fig, (max(1.1 * len(columns), 4.0), 0.28 * (len(rows) + 1) + 0.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_axis_off()
    table = ax.table(cellText=text, colLabels=columns, cellLoc="center", bbox=(0, 0, 1, 1))
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (r, c), cell in table.get_celld().items():
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("0.9")
        elif (r - 1, columns[c]) in bold:
            cell.set_text_props(weight="bold")
    if title:
        ax.set_title(title)
    return fig
