"""Training curves from the history that `dynlearn.train.fit` returns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import FigureBase

from ._figure import new_figure


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def history(
    records: Sequence[dict],
    *,
    keys: Sequence[str] | None = None,
    x: str = "step",
    log: bool = True,
    fig: FigureBase | None = None,
) -> FigureBase:
    """Loss curves (and other logged numbers) against the step.

    Keys whose name contains `"loss"` share the first panel (e.g. `loss` and `val_loss`), on a
    logarithmic scale; every other numeric key gets a panel of its own. Non-finite values are
    left as gaps.

    **Arguments:**

    - `records`: a list of dicts, one per logged step, such as the `History` of
      [`dynlearn.train.fit`][] (each with `step` and `loss`, plus aux values).
    - `keys`: the fields to draw; default every numeric field except `x`, `time`, `seconds` and
      `epoch`, and except fields other than losses whose value never changes.
    - `x`: the field used as horizontal axis.
    - `log`: logarithmic vertical axis for positive loss curves.
    - `fig`: draw into this figure or subfigure; default a new `matplotlib.figure.Figure`.

    **Returns:** the figure, one axes per panel; every line is labelled with its key.

    **Raises:** `ValueError` for an empty history or keys that no record has.
    """
    records = list(records)
    if not records:
        raise ValueError("history: no records (did training log any step?)")
    if keys is None:
        skip = {x, "time", "seconds", "epoch"}
        keys = []
        for record in records:
            keys.extend(
                k for k, v in record.items() if k not in skip and k not in keys and _is_number(v)
            )
        # a field that never changes (a fixed weight, a constant learning rate) says nothing
        keys = [k for k in keys if len({r[k] for r in records if k in r}) > 1 or "loss" in k]
    missing = [k for k in keys if not any(k in r for r in records)]
    if missing or not keys:
        raise ValueError(f"history: no record has the keys {missing or 'to plot'}")
    loss_keys = [k for k in keys if "loss" in k]
    panels = ([loss_keys] if loss_keys else []) + [[k] for k in keys if "loss" not in k]
    fig = new_figure(fig, (4.2 * len(panels), 3.2))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for i, key in enumerate(panel):
            rows = [r for r in records if key in r and _is_number(r[key])]
            steps = [r.get(x, n) for n, r in enumerate(rows)]
            values = np.asarray([float(r[key]) for r in rows])
            ax.plot(steps, values, color=f"C{i}", lw=1.2, label=key)
        values = np.concatenate([ln.get_ydata() for ln in ax.get_lines()])
        finite = values[np.isfinite(values)]
        if log and panel is loss_keys and np.any(finite > 0):
            ax.set_yscale("log")  # values <= 0 (a term that is exactly zero) are left out
        ax.set_xlabel(x)
        ax.set_ylabel(panel[0] if len(panel) == 1 else "loss")
        ax.legend(fontsize=8)
    return fig
