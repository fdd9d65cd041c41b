"""Dynamical analysis of flows and maps, given or learned.

Lyapunov spectra (QR/Benettin method with Jacobian-vector products), the Lyapunov time, the
Kaplan–Yorke and correlation (Grassberger–Procaccia) dimensions and power spectra. Every function
that takes a system accepts anything with the flow interface `vector_field(t, y, args)` or the map
interface `step(x)`: a `dynlearn.systems` system, a trained neural ODE, a PLRNN, or an SSM's
hidden-state recurrence; `lyapunov_spectrum` also takes any model of the dynamical-model contract
(`dynlearn.DynamicalModel`) with observed context, in the model's own state space.
"""

from .._dynamics import Flow as Flow
from .._dynamics import Map as Map
from ._dimension import correlation_dimension as correlation_dimension
from ._dimension import correlation_sum as correlation_sum
from ._lyapunov import kaplan_yorke_dimension as kaplan_yorke_dimension
from ._lyapunov import lyapunov_spectrum as lyapunov_spectrum
from ._lyapunov import lyapunov_time as lyapunov_time
from ._lyapunov import max_lyapunov as max_lyapunov
from ._spectrum import power_spectrum as power_spectrum
