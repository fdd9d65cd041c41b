"""Lyapunov spectra side by side, with their Kaplan–Yorke dimensions."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import FigureBase

from ._figure import as_array, named, new_figure


def lyapunov_spectrum(
    exponents,
    *,
    reference=None,
    reference_label: str = "reference",
    kaplan_yorke: bool = True,
    fig: FigureBase | None = None,
) -> FigureBase:
    """One or more Lyapunov spectra against the exponent index, with a zero line.

    Spectra are sorted decreasingly before drawing (as [`dynlearn.analysis.lyapunov_spectrum`][]
    returns them) and drawn as markers joined by lines, slightly offset sideways so that equal
    values stay visible. The legend gives each spectrum's Kaplan–Yorke dimension
    ([`dynlearn.analysis.kaplan_yorke_dimension`][]).

    **Arguments:**

    - `exponents`: a spectrum, shape `(k,)`, or a mapping `{name: spectrum}` (e.g. the true
      system and several learned models); spectra may have different lengths.
    - `reference`: published values to compare with, shape `(k,)`, drawn as black crosses.
    - `reference_label`: legend label of `reference`.
    - `kaplan_yorke`: add `D_KY` to each legend entry.
    - `fig`: draw into this figure or subfigure; default a new `matplotlib.figure.Figure`.

    **Returns:** the figure with one axes: exponent index (1-based) on x, exponent on y.

    **Raises:** `ValueError` if a spectrum is not 1-D or empty.
    """
    from ..analysis import kaplan_yorke_dimension

    spectra = {
        name: np.sort(np.real(as_array(f"exponents[{name!r}]", value, (1,))))[::-1]
        for name, value in named(exponents, "spectrum").items()
    }
    if reference is not None:
        reference = np.sort(as_array("reference", reference, (1,)))[::-1]
    for name, spectrum in spectra.items():
        if spectrum.size == 0:
            raise ValueError(f"lyapunov_spectrum: spectrum {name!r} is empty")
    fig = new_figure(fig, (5.5, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.3
    offsets = np.linspace(-width / 2, width / 2, len(spectra)) if len(spectra) > 1 else [0.0]
    for i, ((name, spectrum), offset) in enumerate(zip(spectra.items(), offsets)):
        label = name
        if kaplan_yorke:
            label += f" (D_KY = {float(kaplan_yorke_dimension(spectrum)):.2f})"
        index = np.arange(1, spectrum.size + 1) + offset
        ax.plot(index, spectrum, marker="o", ms=5, lw=1.0, color=f"C{i}", label=label)
    if reference is not None:
        label = reference_label
        if kaplan_yorke:
            label += f" (D_KY = {float(kaplan_yorke_dimension(reference)):.2f})"
        index = np.arange(1, reference.size + 1)
        ax.plot(index, reference, "kx", ms=8, mew=1.5, label=label)
    ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
    longest = max(max(s.size for s in spectra.values()), 0 if reference is None else reference.size)
    ax.set_xticks(np.arange(1, longest + 1))
    ax.set_xlabel("exponent index")
    ax.set_ylabel("Lyapunov exponent")
    ax.legend(fontsize=8, loc="best")
    return fig
