"""The dysts discrete maps, written in JAX.

Equations follow the dysts database (Gilpin, 2021) and the papers it cites; parameter values and
initial conditions come from `data/dysts_maps.json`. Each equation is `F(s, p) -> tuple`.

Registered under dysts' names, except the Duffing map, which is `"DuffingMap"` here because
`"Duffing"` names the forced Duffing flow. Left out, with reasons: `EndCap` (metadata only, no
equations in dysts), `Zaslavskii` and `ZeraouliaSprott` (their equations are commented out in
dysts 0.96, so there is no reference to test against), and `BlinkingVortexMap` (stateful: dysts
flips the sign of a parameter on every call and solves Kepler-like root problems, so it is not a
map `F(s)` of the state alone).
"""

from __future__ import annotations

import math

import jax.numpy as jnp

EQUATIONS = {}
PI = math.pi


def _eq(name=None):
    def wrap(fn):
        EQUATIONS[name or fn.__name__.lstrip("_")] = fn
        return fn

    return wrap


@_eq()
def _Logistic(s, p):
    (x,) = s
    return (p["r"] * x * (1 - x),)


@_eq()
def _Ricker(s, p):
    (x,) = s
    return (x * jnp.exp(p["a"] - x),)


@_eq()
def _Tent(s, p):
    (x,) = s
    return (p["mu"] * (1 - 2 * jnp.abs(x - 0.5)),)


@_eq()
def _Gauss(s, p):
    (x,) = s
    return (jnp.exp(-p["a"] * x**2) + p["b"],)


@_eq()
def _Chebyshev(s, p):
    (x,) = s
    return (jnp.cos(p["a"] * jnp.arccos(x)),)


@_eq()
def _Circle(s, p):
    (theta,) = s
    return (theta + p["omega"] + p["k"] / (2 * PI) * jnp.sin(2 * PI * theta),)


@_eq()
def _Bogdanov(s, p):
    x, y = s
    yn = (1 + p["eps"]) * y + p["k"] * x * (x - 1) + p["mu"] * x * y
    return x + yn, yn


@_eq()
def _Baker(s, p):
    x, y = s
    stretch = 2.0 - 1e-10  # slightly below 2 so that x stays in [0, 1) in floating point
    fold = jnp.floor(stretch * x)
    return stretch * x - fold, (p["a"] * y + fold) / 2


@_eq()
def _DeJong(s, p):
    x, y = s
    return jnp.sin(p["a"] * y) - jnp.cos(p["b"] * x), jnp.sin(p["c"] * x) - jnp.cos(p["d"] * y)


@_eq()
def _Svensson(s, p):
    x, y = s
    a, b = p["a"], p["b"]
    return p["d"] * jnp.sin(a * x) - jnp.sin(b * y), p["c"] * jnp.cos(a * x) + jnp.cos(b * y)


@_eq()
def _Bedhead(s, p):
    x, y = s
    a, b = p["a"], p["b"]
    return jnp.sin(x * y / b) * y + jnp.cos(a * x - y), x + jnp.sin(y) / b


@_eq()
def _GumowskiMira(s, p):
    x, y = s
    a, b = p["a"], p["b"]

    def f(u):
        return a * u + 2 * (1 - a) * u**2 / (1 + u**2)

    xn = b * y + f(x)
    return xn, f(xn) - x


@_eq()
def _Hopalong(s, p):
    x, y = s
    a, b, c = p["a"], p["b"], p["c"]
    return y - 1 - jnp.sqrt(jnp.abs(b * x - 1 - c)) * jnp.sign(x - 1), a - x - 1


@_eq()
def _Ikeda(s, p):
    x, y = s
    u = p["u"]
    phase = 0.4 - 6 / (1 + x**2 + y**2)
    c, sn = jnp.cos(phase), jnp.sin(phase)
    return 1 + u * (x * c - y * sn), u * (x * sn + y * c)


@_eq()
def _Tinkerbell(s, p):
    x, y = s
    return x**2 - y**2 + p["a"] * x + p["b"] * y, 2 * x * y + p["c"] * x + p["d"] * y


@_eq()
def _Pickover(s, p):
    x, y = s
    a, b = p["a"], p["b"]
    return (
        jnp.sin(a * y) + p["c"] * jnp.cos(a * x),
        jnp.sin(b * x) + p["d"] * jnp.cos(b * y),
    )


@_eq()
def _MaynardSmith(s, p):
    x, y = s
    return y, p["a"] * y + p["b"] - x**2


@_eq()
def _KaplanYorke(s, p):
    x, y = s
    return jnp.mod(2 * x, 0.99999995), p["alpha"] * y + jnp.cos(4 * PI * x)


@_eq()
def _Gingerbreadman(s, p):
    x, y = s
    return 1 - y + jnp.abs(x), x


@_eq("DuffingMap")
def _duffing_map(s, p):
    x, y = s
    return y, -p["b"] * x + p["a"] * y - y**3


@_eq()
def _Chirikov(s, p):
    momentum, angle = s
    new_momentum = momentum + p["k"] * jnp.sin(angle)
    return new_momentum, angle + new_momentum


@_eq()
def _Henon(s, p):
    x, y = s
    return 1 - p["a"] * x**2 + y, p["b"] * x
