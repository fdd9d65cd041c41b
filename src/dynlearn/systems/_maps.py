"""The dysts discrete maps, written in JAX.

Equations follow the dysts database (Gilpin, 2021) and the papers it cites; parameter values and
initial conditions come from `data/dysts_maps.json`. Each equation is `F(s, p) -> tuple`.
"""

from __future__ import annotations

import jax.numpy as jnp  # noqa: F401

EQUATIONS = {}


def _eq(fn):
    EQUATIONS[fn.__name__.lstrip("_")] = fn
    return fn


@_eq
def _Henon(s, p):
    x, y = s
    return 1 - p["a"] * x**2 + y, p["b"] * x
