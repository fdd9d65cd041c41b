"""Fused scan and fixed-step solver kernels with their own derivative rules.

- `linear_scan`: h_t = a_t h_{t-1} + b_t (sequential, associative or chunked).
- `selective_scan`: Mamba's selective scan for one sequence, fused and chunked.
- `odeint_fixed`: explicit Runge-Kutta integration on a fixed grid, one `lax.scan`.
- `iterate`: n iterations of a discrete map.
"""

from ._butcher import ButcherTableau as ButcherTableau
from ._fixed_step import iterate as iterate
from ._fixed_step import odeint_fixed as odeint_fixed
from ._linear_scan import linear_scan as linear_scan
from ._selective_scan import selective_scan as selective_scan
