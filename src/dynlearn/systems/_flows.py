"""The dysts continuous-time chaotic systems, written in JAX.

Equations follow the dysts database (Gilpin, "Chaos as an interpretable benchmark for
forecasting and data-driven modelling", NeurIPS Datasets and Benchmarks 2021) and the papers it
cites; parameter values, initial conditions, dt and period come from the shipped metadata file
(`data/dysts_flows.json`), not from this code. Each equation is `f(t, s, p) -> tuple` with state
`s` and parameter dict `p`. Non-autonomous systems in dysts carry their forcing phase as an extra
state variable (so they are autonomous), and we keep that convention so that dimensions, initial
conditions and reference values agree.
"""

from __future__ import annotations

import jax.numpy as jnp

EQUATIONS = {}


def _eq(fn):
    EQUATIONS[fn.__name__.lstrip("_")] = fn
    return fn


@_eq
def _Lorenz(t, s, p):
    x, y, z = s
    return p["sigma"] * (y - x), x * (p["rho"] - z) - y, x * y - p["beta"] * z


@_eq
def _Rossler(t, s, p):
    x, y, z = s
    return -y - z, x + p["a"] * y, p["b"] + z * x - p["c"] * z


@_eq
def _Thomas(t, s, p):
    x, y, z = s
    a, b = p["a"], p["b"]
    return -a * x + b * jnp.sin(y), -a * y + b * jnp.sin(z), -a * z + b * jnp.sin(x)
