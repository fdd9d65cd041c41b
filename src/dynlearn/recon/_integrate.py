"""Fixed-step RK4 integration for learned vector fields (SINDy, MEDIDA), on the kernels' RK4.

The one RK4 of the package is `dynlearn.kernels.odeint_fixed`; this module only fixes its method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._types import Array, Float
from ..kernels import odeint_fixed


def odeint_rk4(
    vector_field: Callable[..., Any],
    y0: Float[Array, " state"],
    ts: Float[Array, " time"],
    args: Any = None,
    *,
    steps_per_interval: int = 1,
) -> Float[Array, "time state"]:
    """States at `ts` of `dy/dt = vector_field(t, y, args)` with classical RK4 steps.

    **Arguments:**

    - `vector_field`: `vector_field(t, y, args) -> dy/dt`.
    - `y0`: the state at `ts[0]`.
    - `ts`: increasing output times.
    - `args`: passed to the vector field.
    - `steps_per_interval`: RK4 steps between consecutive output times.

    **Returns:**

    The states at `ts`, shape `(time, state)`; the first row is `y0`.
    """
    return odeint_fixed(
        vector_field, ts, y0, args, method="rk4", steps_per_interval=steps_per_interval
    )
