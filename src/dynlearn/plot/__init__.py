"""Figures of results: attractors, forecasts, spectra, PINN fields, training curves, tables.

Every function takes results (arrays, decompositions, the history of `dynlearn.train.fit`, result
rows) and returns a `matplotlib.figure.Figure`. None of them picks or switches the matplotlib
backend, touches rcParams or registers figures with pyplot: in Jupyter a returned figure shows as
the cell's value, in a script save it with `fig.savefig(path)`, and to get a window from
`plt.show()` pass a pyplot figure in with `fig=plt.figure()`.
"""

from ._attractor import attractor as attractor
from ._forecast import forecast as forecast
from ._history import history as history
from ._koopman import koopman_spectrum as koopman_spectrum
from ._lyapunov import lyapunov_spectrum as lyapunov_spectrum
from ._pinn import pinn_field as pinn_field
from ._table import benchmark_table as benchmark_table
