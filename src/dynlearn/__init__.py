"""dynlearn: differentiable dynamical-systems deep learning on JAX.

Subpackages (imported on first attribute access, so `import dynlearn` stays cheap):

- `dynlearn.kernels`: fused scans and fixed-step solvers with custom derivative rules.
- `dynlearn.systems`: the chaotic-systems zoo, classic systems, PDE reference solvers, datasets.
- `dynlearn.analysis`: Lyapunov spectra, dimensions and spectra of flows and maps.
- `dynlearn.metrics`: forecast and attractor metrics.
- `dynlearn.nde`: neural ODEs, SDEs and CDEs.
- `dynlearn.ssm`: HiPPO, S4, S4D, S5, Mamba, attention and the dynamical-systems view.
- `dynlearn.koopman`: Koopman operator learning with verified spectra.
- `dynlearn.pinn`: physics-informed neural networks.
- `dynlearn.recon`: dynamical-systems reconstruction (PLRNN + GTF, reservoirs, SINDy, EnKF).
- `dynlearn.train`: the thin trainer shared by every model family.

Top-level names: `forecast(model, context, n_steps)`, the observations after a context for any
model of the dynamical-model contract, and `DynamicalModel`, the contract itself (see the
"Dynamical models" page of the docs).
"""

import importlib as _importlib
from typing import TYPE_CHECKING

from ._version import __version__ as __version__

if TYPE_CHECKING:  # imported on first access below; listed here for type checkers and the docs
    from ._dynamics import DynamicalModel as DynamicalModel
    from ._forecast import forecast as forecast

_TOP_LEVEL = {"forecast": "._forecast", "DynamicalModel": "._dynamics"}

_SUBPACKAGES = (
    "analysis",
    "kernels",
    "koopman",
    "metrics",
    "nde",
    "pinn",
    "plot",
    "recon",
    "ssm",
    "systems",
    "train",
)


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"{__name__}.{name}")
    if name in _TOP_LEVEL:
        return getattr(_importlib.import_module(_TOP_LEVEL[name], __name__), name)
    raise AttributeError(f"module 'dynlearn' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBPACKAGES) + list(_TOP_LEVEL))
