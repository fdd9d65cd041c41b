"""Classic textbook systems that the examples and tests use.

Harmonic oscillator, pendulum, double pendulum and Hénon–Heiles are `HamiltonianFlow`s (their
equations come from the Hamiltonian by autodiff, and `energy` is conserved); Duffing (forced,
time as an input), Van der Pol, Lotka–Volterra, FitzHugh–Nagumo and Lorenz-96 (any dimension)
are plain `Flow`s. Each constructor takes the physical parameters as keywords.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from ._base import Flow, HamiltonianFlow


def _harmonic_hamiltonian(q, p, params):
    m, w = params["mass"], params["omega"]
    return jnp.sum(p**2) / (2 * m) + m * w**2 * jnp.sum(q**2) / 2


def harmonic_oscillator(omega: float = 1.0, mass: float = 1.0, *, y0=(1.0, 0.0)) -> HamiltonianFlow:
    """The harmonic oscillator `H = p^2 / (2m) + m omega^2 q^2 / 2`, state `(q, p)`.

    **Arguments:**

    - `omega`: angular frequency.
    - `mass`: mass.
    - `y0`: initial `(q, p)`.

    **Returns:** a `HamiltonianFlow` named `"HarmonicOscillator"`; exact solution
    `q(t) = q0 cos(omega t) + p0 / (m omega) sin(omega t)`.
    """
    period = 2 * math.pi / omega
    return HamiltonianFlow(
        "HarmonicOscillator",
        _harmonic_hamiltonian,
        {"mass": mass, "omega": omega},
        y0,
        dt=period / 100,
        period=period,
    )


def _pendulum_hamiltonian(q, p, params):
    m, l, g = params["mass"], params["length"], params["gravity"]
    return jnp.sum(p**2) / (2 * m * l**2) + m * g * l * jnp.sum(1 - jnp.cos(q))


def pendulum(
    length: float = 1.0, gravity: float = 9.81, mass: float = 1.0, *, y0=(1.0, 0.0)
) -> HamiltonianFlow:
    """The simple pendulum `H = p^2 / (2 m l^2) + m g l (1 - cos q)`, state `(angle, momentum)`.

    **Arguments:**

    - `length`, `gravity`, `mass`: physical constants.
    - `y0`: initial `(angle, angular momentum)`.

    **Returns:** a `HamiltonianFlow` named `"Pendulum"`.
    """
    period = 2 * math.pi * math.sqrt(length / gravity)
    return HamiltonianFlow(
        "Pendulum",
        _pendulum_hamiltonian,
        {"gravity": gravity, "length": length, "mass": mass},
        y0,
        dt=period / 100,
        period=period,
    )


def double_pendulum_hamiltonian(q, p, params):
    """Hamiltonian of the planar double pendulum in angles and canonical momenta."""
    m1, m2, l1, l2, g = params["m1"], params["m2"], params["l1"], params["l2"], params["g"]
    th1, th2 = q[0], q[1]
    p1, p2 = p[0], p[1]
    delta = th1 - th2
    kinetic = (
        m2 * l2**2 * p1**2 + (m1 + m2) * l1**2 * p2**2 - 2 * m2 * l1 * l2 * p1 * p2 * jnp.cos(delta)
    ) / (2 * m2 * l1**2 * l2**2 * (m1 + m2 * jnp.sin(delta) ** 2))
    potential = -(m1 + m2) * g * l1 * jnp.cos(th1) - m2 * g * l2 * jnp.cos(th2)
    return kinetic + potential


def double_pendulum(
    m1: float = 1.0,
    m2: float = 1.0,
    l1: float = 1.0,
    l2: float = 1.0,
    g: float = 9.81,
    *,
    y0=(2.0, 1.5, 0.0, 0.0),
) -> HamiltonianFlow:
    """The planar double pendulum, state `(theta1, theta2, p1, p2)` (canonical momenta).

    **Arguments:**

    - `m1`, `m2`: bob masses; `l1`, `l2`: rod lengths; `g`: gravity.
    - `y0`: initial state (default: a chaotic, high-energy start).

    **Returns:** a `HamiltonianFlow` named `"DoublePendulumClassic"` (same equations as the
    zoo's `"DoublePendulum"`, with your parameters).
    """
    period = 2 * math.pi * math.sqrt(l1 / g)
    return HamiltonianFlow(
        "DoublePendulumClassic",
        double_pendulum_hamiltonian,
        {"g": g, "l1": l1, "l2": l2, "m1": m1, "m2": m2},
        y0,
        dt=period / 100,
        period=period,
    )


def henon_heiles_hamiltonian(q, p, params):
    """`H = (px^2 + py^2)/2 + (x^2 + y^2)/2 + lam (x^2 y - y^3 / 3)`."""
    x, y = q[0], q[1]
    lam = params["lam"]
    return (p[0] ** 2 + p[1] ** 2) / 2 + (x**2 + y**2) / 2 + lam * (x**2 * y - y**3 / 3)


def henon_heiles(lam: float = 1.0, *, y0=(0.0, -0.1, 0.45, 0.0)) -> HamiltonianFlow:
    """The Hénon–Heiles system as a `HamiltonianFlow`, state `(x, y, px, py)`.

    **Arguments:**

    - `lam`: strength of the cubic coupling.
    - `y0`: initial state (default: energy ~0.107, in the mixed regular/chaotic range).

    **Returns:** a `HamiltonianFlow` named `"HenonHeilesHamiltonian"` with the same equations as
    the zoo's `"HenonHeiles"` flow plus `energy`.
    """
    return HamiltonianFlow(
        "HenonHeilesHamiltonian",
        henon_heiles_hamiltonian,
        {"lam": lam},
        y0,
        dt=2 * math.pi / 100,
        period=2 * math.pi,
    )


def _duffing(t, s, p):
    x, v = s
    force = p["gamma"] * jnp.cos(p["omega"] * t)
    return v, -p["delta"] * v - p["alpha"] * x - p["beta"] * x**3 + force


def duffing(
    alpha: float = -1.0,
    beta: float = 1.0,
    delta: float = 0.3,
    gamma: float = 0.5,
    omega: float = 1.2,
    *,
    y0=(1.0, 0.0),
) -> Flow:
    """The forced Duffing oscillator `x'' + delta x' + alpha x + beta x^3 = gamma cos(omega t)`.

    Non-autonomous: time enters as the `t` argument of `vector_field` (the zoo's `"Duffing"` is
    dysts' autonomous form with the forcing phase as a third state variable).

    **Arguments:**

    - `alpha`, `beta`, `delta`, `gamma`, `omega`: coefficients (defaults: the chaotic
      double-well regime).
    - `y0`: initial `(x, x')`.

    **Returns:** a `Flow` named `"DuffingOscillator"`.
    """
    period = 2 * math.pi / omega
    params = {"alpha": alpha, "beta": beta, "delta": delta, "gamma": gamma, "omega": omega}
    return Flow("DuffingOscillator", _duffing, params, y0, dt=period / 100, period=period)


def _van_der_pol(t, s, p):
    x, y = s
    return y, p["mu"] * (1 - x**2) * y - x


def van_der_pol(mu: float = 1.0, *, y0=(2.0, 0.0)) -> Flow:
    """The Van der Pol oscillator `x'' - mu (1 - x^2) x' + x = 0`, state `(x, x')`.

    **Arguments:**

    - `mu`: nonlinearity and damping strength.
    - `y0`: initial `(x, x')`.

    **Returns:** a `Flow` named `"VanDerPol"` with a stable limit cycle.
    """
    period = 2 * math.pi if mu < 1 else (3 - 2 * math.log(2)) * mu + 2 * math.pi / mu
    return Flow("VanDerPol", _van_der_pol, {"mu": mu}, y0, dt=period / 100, period=period)


def _lotka_volterra(t, s, p):
    x, y = s
    return p["alpha"] * x - p["beta"] * x * y, p["delta"] * x * y - p["gamma"] * y


def lotka_volterra(
    alpha: float = 2 / 3,
    beta: float = 4 / 3,
    gamma: float = 1.0,
    delta: float = 1.0,
    *,
    y0=(1.0, 1.0),
) -> Flow:
    """Lotka–Volterra predator–prey `x' = alpha x - beta x y`, `y' = delta x y - gamma y`.

    Conserves `V = delta x - gamma log x + beta y - alpha log y` (see `lotka_volterra_invariant`).

    **Arguments:**

    - `alpha`, `beta`, `gamma`, `delta`: rates.
    - `y0`: initial `(prey, predator)`.

    **Returns:** a `Flow` named `"LotkaVolterra"`.
    """
    period = 2 * math.pi / math.sqrt(alpha * gamma)
    params = {"alpha": alpha, "beta": beta, "delta": delta, "gamma": gamma}
    return Flow("LotkaVolterra", _lotka_volterra, params, y0, dt=period / 100, period=period)


def lotka_volterra_invariant(system: Flow, y):
    """The conserved quantity of a Lotka–Volterra system at state(s) `y` (shape `(..., 2)`).

    **Arguments:**

    - `system`: a system made by `lotka_volterra`.
    - `y`: state(s), shape `(..., 2)`.

    **Returns:** `delta x - gamma log x + beta y - alpha log y`, shape `y.shape[:-1]`.
    """
    p = {k: jnp.asarray(v, dtype=y.dtype) for k, v in system.params.items()}
    x, z = y[..., 0], y[..., 1]
    return p["delta"] * x - p["gamma"] * jnp.log(x) + p["beta"] * z - p["alpha"] * jnp.log(z)


def _fitzhugh_nagumo(t, s, p):
    v, w = s
    return v - v**3 / 3 - w + p["current"], (v + p["a"] - p["b"] * w) / p["tau"]


def fitzhugh_nagumo(
    a: float = 0.7, b: float = 0.8, tau: float = 12.5, current: float = 0.5, *, y0=(-1.0, 1.0)
) -> Flow:
    """FitzHugh–Nagumo `v' = v - v^3/3 - w + I`, `w' = (v + a - b w) / tau`.

    **Arguments:**

    - `a`, `b`, `tau`: recovery coefficients; `current`: the external current `I`.
    - `y0`: initial `(v, w)`.

    **Returns:** a `Flow` named `"FitzHughNagumo"` (a relaxation limit cycle by default).
    """
    period = 36.0
    params = {"a": a, "b": b, "current": current, "tau": tau}
    return Flow("FitzHughNagumo", _fitzhugh_nagumo, params, y0, dt=period / 100, period=period)


def _lorenz96(t, s, p):
    return (jnp.roll(s, -1) - jnp.roll(s, 2)) * jnp.roll(s, 1) - s + p["forcing"]


def lorenz96(dimension: int = 40, forcing: float = 8.0, *, y0=None) -> Flow:
    """Lorenz-96 `dx_i/dt = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + F` on a ring of any size.

    **Arguments:**

    - `dimension`: number of variables (at least 4).
    - `forcing`: the constant forcing `F` (chaotic for `F = 8` and `dimension >= 7` or so).
    - `y0`: initial state; default `F` everywhere with `x_0` nudged by 0.01.

    **Returns:** a `Flow` named `"Lorenz96_<dimension>"` (the zoo's `"Lorenz96"` is dysts'
    4-variable instance with `F = 20`).
    """
    if not isinstance(dimension, int) or dimension < 4:
        raise ValueError(f"lorenz96: dimension must be an int >= 4, got {dimension!r}")
    if y0 is None:
        y0 = np.full(dimension, float(forcing))
        y0[0] += 0.01
    y0 = np.asarray(y0, dtype=np.float64)
    if y0.shape != (dimension,):
        raise ValueError(f"lorenz96: y0 must have shape ({dimension},), got {y0.shape}")
    return Flow(f"Lorenz96_{dimension}", _lorenz96, {"forcing": forcing}, y0, dt=0.01, period=1.0)
