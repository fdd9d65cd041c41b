"""Butcher tableaux of the explicit Runge-Kutta methods used by `odeint_fixed`.

Coefficients: Euler, explicit midpoint, Heun (trapezoid) and classical RK4 from Hairer,
Norsett & Wanner, "Solving Ordinary Differential Equations I" (1993), Section II.1;
Dormand & Prince (1980), "A family of embedded Runge-Kutta formulae", J. Comput. Appl. Math. 6;
Tsitouras (2011), "Runge-Kutta pairs of order 5(4) satisfying only the first column
simplifying assumption", Comput. Math. Appl. 62. Only the propagating (higher-order) weights
are kept: at a fixed step the embedded error estimate is not needed.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class ButcherTableau:
    """An explicit Runge-Kutta method: stage times `c`, stage matrix `a` (strictly lower
    triangular, row `i` has `i` entries), weights `b`, and its classical `order`.

    `fsal` ("first same as last") marks methods whose last stage is evaluated at
    `(t + dt, y_next)` with weight `b[-1] = 0`: it is the first stage of the next step, so a
    step takes `stages - 1` evaluations (`evaluations`).
    """

    name: str
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    order: int
    fsal: bool = False

    def __post_init__(self):
        stages = len(self.c)
        if len(self.b) != stages or len(self.a) != stages - 1:
            raise ValueError(
                f"tableau {self.name!r}: len(c)={len(self.c)}, len(b)={len(self.b)} and "
                f"len(a)={len(self.a)} do not describe the same number of stages."
            )
        for i, row in enumerate(self.a):
            if len(row) != i + 1:
                raise ValueError(f"tableau {self.name!r}: row {i + 1} of a has {len(row)} entries.")
            if not np.isclose(sum(row), self.c[i + 1], atol=1e-12):
                raise ValueError(f"tableau {self.name!r}: row {i + 1} of a does not sum to c.")
        if self.fsal and (self.c[-1] != 1 or tuple(self.a[-1]) != tuple(self.b[:-1])):
            raise ValueError(f"tableau {self.name!r} is marked fsal but its last row is not b.")
        if self.fsal and self.b[-1] != 0:
            raise ValueError(
                f"tableau {self.name!r} is marked fsal but b[-1]={self.b[-1]} is not 0 (the "
                "last stage is evaluated at y_next, so y_next cannot depend on it)."
            )

    @property
    def stages(self) -> int:
        """Stages of the method (rows of the tableau)."""
        return len(self.c)

    def step(self, vector_field, t, y, args, dt):
        """One step of the method: the interface of a fixed-step scheme
        ([`dynlearn.kernels.AbstractFixedStepScheme.step`][]), for use outside `odeint_fixed`
        (which runs a tableau in its fused kernel instead).

        **Arguments:** `vector_field(t, y, args)`, the time `t`, the state `y` (a PyTree),
        `args`, the step size `dt`.

        **Returns:** the state at `t + dt`.
        """
        from ._rk_xla import rk_step

        dt = jnp.asarray(dt)
        return rk_step(self, lambda s, z: vector_field(s, z, args), jnp.asarray(t), dt, y)[0]

    @property
    def evaluations(self) -> int:
        """Vector-field evaluations per step, which is also the number of stage values a step
        combines (a first-same-as-last method's last stage is the next step's first)."""
        return self.stages - 1 if self.fsal else self.stages


EULER = ButcherTableau("euler", c=(0.0,), a=(), b=(1.0,), order=1)
MIDPOINT = ButcherTableau("midpoint", c=(0.0, 0.5), a=((0.5,),), b=(0.0, 1.0), order=2)
HEUN = ButcherTableau("heun", c=(0.0, 1.0), a=((1.0,),), b=(0.5, 0.5), order=2)
RK4 = ButcherTableau(
    "rk4",
    c=(0.0, 0.5, 0.5, 1.0),
    a=((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
    order=4,
)
_DOPRI5_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
DOPRI5 = ButcherTableau(
    "dopri5",
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=(
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        _DOPRI5_B,
    ),
    b=_DOPRI5_B + (0.0,),
    order=5,
    fsal=True,
)
_TSIT5_B = (
    0.09646076681806523,
    0.01,
    0.4798896504144996,
    1.379008574103742,
    -3.290069515436081,
    2.324710524099774,
)
TSIT5 = ButcherTableau(
    "tsit5",
    c=(0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0),
    a=(
        (0.161,),
        (-0.008480655492356989, 0.335480655492357),
        (2.897153057105493, -6.359448489975075, 4.3622954328695815),
        (5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525),
        (
            5.86145544294642,
            -12.92096931784711,
            8.159367898576159,
            -0.071584973281401,
            -0.028269050394068383,
        ),
        _TSIT5_B,
    ),
    b=_TSIT5_B + (0.0,),
    order=5,
    fsal=True,
)

TABLEAUX = {t.name: t for t in (EULER, MIDPOINT, HEUN, RK4, TSIT5, DOPRI5)}
