"""Fused scan and fixed-step solver kernels with their own derivative rules.

- `linear_scan`: h_t = a_t h_{t-1} + b_t (sequential, associative or chunked).
- `selective_scan`: Mamba's selective scan for one sequence, fused and chunked; on x86-64
  CPUs a native kernel (XLA FFI, built at install time) where `native_available()`.
- `odeint_fixed`: fixed-step integration on a grid, one `lax.scan`: explicit Runge-Kutta
  (`ButcherTableau`) in a fused kernel, or any `AbstractFixedStepScheme` (`Leapfrog`,
  `ImplicitMidpoint`, a user's scheme).
- `iterate`: n iterations of a discrete map.
"""

from ._butcher import ButcherTableau as ButcherTableau
from ._fixed_step import iterate as iterate
from ._fixed_step import odeint_fixed as odeint_fixed
from ._linear_scan import linear_scan as linear_scan
from ._native import native_available as native_available
from ._schemes import AbstractFixedStepScheme as AbstractFixedStepScheme
from ._schemes import AbstractSymplecticScheme as AbstractSymplecticScheme
from ._schemes import ImplicitMidpoint as ImplicitMidpoint
from ._schemes import Leapfrog as Leapfrog
from ._selective_scan import selective_scan as selective_scan
