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
"""

import importlib as _importlib

from ._version import __version__ as __version__

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
    raise AttributeError(f"module 'dynlearn' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBPACKAGES))
