"""The dysts continuous-time chaotic systems, written in JAX.

Equations follow the dysts database (Gilpin, "Chaos as an interpretable benchmark for
forecasting and data-driven modelling", NeurIPS Datasets and Benchmarks 2021) and the papers it
cites; parameter values, initial conditions, dt and period come from the shipped metadata file
(`data/dysts_flows.json`), not from this code. Each equation is `f(t, s, p) -> tuple` with state
`s` and parameter dict `p`. Non-autonomous systems in dysts carry their forcing phase as an extra
state variable (so they are autonomous), and we keep that convention so that dimensions, initial
conditions and reference values agree; `Torus` uses the time argument itself.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

EQUATIONS = {}
PI = math.pi


def _eq(*names):
    """Register an equation under its own name and any aliases (systems sharing equations)."""

    def wrap(fn):
        for name in (fn.__name__.lstrip("_"), *names):
            EQUATIONS[name] = fn
        return fn

    return wrap


def _get(p, names):
    return [p[n] for n in names.split()]


def _step(x):
    """Heaviside step with H(0) = 0."""
    return jnp.where(x > 0, jnp.ones_like(x), jnp.zeros_like(x))


def _protocol(t, tau):
    """Smooth square wave switching between two stirring protocols (period `tau`)."""
    return 0.5 + 0.5 * jnp.tanh(tau * 20 * jnp.sin(2 * PI * t / tau))


# ----------------------------------------------------------------- Lorenz-like and 3D quadratics


@_eq()
def _Lorenz(t, s, p):
    x, y, z = s
    beta, rho, sigma = _get(p, "beta rho sigma")
    return sigma * (y - x), x * (rho - z) - y, x * y - beta * z


@_eq()
def _LorenzBounded(t, s, p):
    x, y, z = s
    beta, r, rho, sigma = _get(p, "beta r rho sigma")
    # the Lorenz field times (1 - |s|^2 / r^2), which confines orbits to the ball of radius r
    damp = 1 - (x**2 + y**2 + z**2) / r**2
    return sigma * (y - x) * damp, (rho * x - x * z - y) * damp, (x * y - beta * z) * damp


@_eq()
def _LorenzCoupled(t, s, p):
    x1, y1, z1, x2, y2, z2 = s
    beta, eps, rho1, rho2, sigma = _get(p, "beta eps rho1 rho2 sigma")
    return (
        sigma * (y1 - x1),
        rho1 * x1 - x1 * z1 - y1,
        x1 * y1 - beta * z1,
        sigma * (y2 - x2) + eps * (x1 - x2),
        rho2 * x2 - x2 * z2 - y2,
        x2 * y2 - beta * z2,
    )


@_eq()
def _Lorenz96(t, s, p):
    return (jnp.roll(s, -1) - jnp.roll(s, 2)) * jnp.roll(s, 1) - s + p["f"]


@_eq()
def _Lorenz84(t, s, p):
    x, y, z = s
    a, b, f, g = _get(p, "a b f g")
    return -a * x - y**2 - z**2 + a * f, -y + x * y - b * x * z + g, -z + b * x * y + x * z


@_eq()
def _Rossler(t, s, p):
    x, y, z = s
    return -y - z, x + p["a"] * y, p["b"] + z * x - p["c"] * z


@_eq("ThomasLabyrinth")
def _Thomas(t, s, p):
    x, y, z = s
    a, b = p["a"], p["b"]
    return -a * x + b * jnp.sin(y), -a * y + b * jnp.sin(z), -a * z + b * jnp.sin(x)


@_eq()
def _GuckenheimerHolmes(t, s, p):
    x, y, z = s
    a, b, c, d, e, f = _get(p, "a b c d e f")
    return (
        a * x - b * y + c * z * x + d * z * (x**2 + y**2),
        a * y + b * x + c * z * y,
        e - z**2 - f * (x**2 + y**2) - a * z**3,
    )


@_eq()
def _Halvorsen(t, s, p):
    x, y, z = s
    a, b = p["a"], p["b"]
    return (
        -a * x - b * (y + z) - y**2,
        -a * y - b * (z + x) - z**2,
        -a * z - b * (x + y) - x**2,
    )


@_eq()
def _Chua(t, s, p):
    x, y, z = s
    alpha, beta, m0, m1 = _get(p, "alpha beta m0 m1")
    diode = m1 * x + 0.5 * (m0 - m1) * (jnp.abs(x + 1) - jnp.abs(x - 1))
    return alpha * (y - x - diode), x - y + z, -beta * y


@_eq()
def _MultiChua(t, s, p):
    x, y, z = s
    m, c = p["m"], p["c"]
    # piecewise-linear diode with five breakpoints c[1..5] and slopes m[0..5]
    kinks = 0.5 * (m[:-1] - m[1:]) * (jnp.abs(x + c[1:]) - jnp.abs(x - c[1:]))
    diode = m[-1] * x + jnp.sum(kinks)
    return p["a"] * (y - diode), x - y + z, -p["b"] * y


@_eq()
def _Duffing(t, s, p):
    x, y, z = s
    alpha, beta, delta, gamma, omega = _get(p, "alpha beta delta gamma omega")
    return y, -delta * y - beta * x - alpha * x**3 + gamma * jnp.cos(z), omega + 0 * z


@_eq()
def _ArnoldBeltramiChildress(t, s, p):
    x, y, z = s
    a, b, c = _get(p, "a b c")
    return (
        a * jnp.sin(z) + c * jnp.cos(y),
        b * jnp.sin(x) + a * jnp.cos(z),
        c * jnp.sin(y) + b * jnp.cos(x),
    )


@_eq()
def _JerkCircuit(t, s, p):
    x, y, z = s
    return y, z, -z - x - p["eps"] * (jnp.exp(y / p["y0"]) - 1)


@_eq()
def _ForcedBrusselator(t, s, p):
    x, y, z = s
    a, b, f, w = _get(p, "a b f w")
    return a + x**2 * y - (b + 1) * x + f * jnp.cos(z), b * x - x**2 * y, w + 0 * z


@_eq()
def _WindmiReduced(t, s, p):
    i, v, q = s
    a1, b1, b2, b3, d1, vsw = _get(p, "a1 b1 b2 b3 d1 vsw")
    return (
        a1 * (vsw - v),
        b1 * i - b2 * q / 2 - b3 * v,
        vsw**2 - q ** (5 / 4) * jnp.sqrt(vsw) * (1 + jnp.tanh(d1 * (i - 1))) / 2,
    )


@_eq()
def _MooreSpiegel(t, s, p):
    x, y, z = s
    a, b, eps = _get(p, "a b eps")
    return y, a * z, -z + eps * y - y * x**2 - b * x


@_eq()
def _CoevolvingPredatorPrey(t, s, p):
    x, y, al = s
    a1, a2, a3, b1, b2, d1, d2, delta, k1, k2, k4, vv = _get(
        p, "a1 a2 a3 b1 b2 d1 d2 delta k1 k2 k4 vv"
    )
    ad = al * delta
    death = d1 * (1 - k2 * (ad**2 - al**2) + k4 * (ad**4 - al**4))
    return (
        x * (-(a3 * y / (1 + b2 * x)) + a1 * al * (1 - k1 * x * (ad - al)) / (1 + b1 * al) - death),
        (-d2 + a2 * x / (1 + b2 * x)) * y,
        vv
        * (
            -(a1 * k1 * x * ad / (1 + b1 * al))
            - d1 * (-2 * k2 * al * delta**2 + 4 * k4 * al**3 * delta**4)
        ),
    )


@_eq()
def _KawczynskiStrizhak(t, s, p):
    x, y, z = s
    beta, gamma, kappa, mu = _get(p, "beta gamma kappa mu")
    return (
        gamma * (y - x**3 + 3 * mu * x),
        -2 * mu * x - y - z + beta,
        kappa * (x - z),
    )


@_eq()
def _BelousovZhabotinsky(t, s, p):
    x, z, v = s
    c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13 = _get(
        p, "c1 c2 c3 c4 c5 c6 c7 c8 c9 c10 c11 c12 c13"
    )
    ci, kf, t0, y0, yb1, yb2, yb3, z0 = _get(p, "ci kf t0 y0 yb1 yb2 yb3 z0")
    ybar = yb1 * z * v / (y0 * (yb2 * x + yb3 + kf))
    x = jnp.maximum(x, jnp.zeros_like(x))
    rf = (ci - z0 * z) * jnp.sqrt(x)
    return (
        t0 * (c1 * x * ybar + c2 * ybar + c3 * x**2 + c4 * rf + c5 * x * z - kf * x),
        t0 * (c6 / z0 * rf + c7 * x * z + c8 * z * v + c9 * z - kf * z),
        t0 * (c10 * x * ybar + c11 * ybar + c12 * x**2 + c13 * z * v - kf * v),
    )


@_eq()
def _IsothermalChemical(t, s, p):
    al, be, ga = s
    delta, kappa, mu, sigma = _get(p, "delta kappa mu sigma")
    return (
        mu * (kappa + ga) - al * be**2 - al,
        (al * be**2 + al - be) / sigma,
        (be - ga) / delta,
    )


@_eq()
def _VallisElNino(t, s, p):
    x, y, z = s
    b, c, q = _get(p, "b c p")
    return b * y - c * (x + q), -y + x * z, -z - x * y + 1


@_eq()
def _RabinovichFabrikant(t, s, p):
    x, y, z = s
    a, g = p["a"], p["g"]
    return (
        y * (z - 1 + x**2) + g * x,
        x * (3 * z + 1 - x**2) + g * y,
        -2 * z * (a + x * y),
    )


@_eq()
def _NoseHoover(t, s, p):
    x, y, z = s
    return y, -x + y * z, p["a"] - y**2


@_eq()
def _Dadras(t, s, p):
    x, y, z = s
    c, e, o, q, r = _get(p, "c e o p r")
    return y - q * x + o * y * z, r * y - x * z + z, c * x * y - e * z


@_eq()
def _RikitakeDynamo(t, s, p):
    x, y, z = s
    a, mu = p["a"], p["mu"]
    return -mu * x + y * z, -mu * y - a * x + x * z, 1 - x * y


@_eq()
def _PehlivanWei(t, s, p):
    x, y, z = s
    return y - y * z, y + y * z - 2 * x, 2 - x * y - y**2


@_eq()
def _SprottTorus(t, s, p):
    x, y, z = s
    return y + 2 * x * y + x * z, 1 - 2 * x**2 + y * z, x - x**2 - y**2


@_eq()
def _SprottJerk(t, s, p):
    x, y, z = s
    return y, z, -x + y**2 - p["mu"] * z


@_eq()
def _SprottA(t, s, p):
    x, y, z = s
    return y, -x + y * z, 1 - y**2


@_eq()
def _SprottB(t, s, p):
    x, y, z = s
    return y * z, x - y, 1 - x * y


@_eq()
def _SprottC(t, s, p):
    x, y, z = s
    return y * z, x - y, 1 - x**2


@_eq()
def _SprottD(t, s, p):
    x, y, z = s
    return -y, x + z, x * z + 3 * y**2


@_eq()
def _SprottE(t, s, p):
    x, y, z = s
    return y * z, x**2 - y, 1 - 4 * x


@_eq()
def _SprottF(t, s, p):
    x, y, z = s
    return y + z, -x + p["a"] * y, x**2 - z


@_eq()
def _SprottG(t, s, p):
    x, y, z = s
    return p["a"] * x + z, x * z - y, -x + y


@_eq()
def _SprottH(t, s, p):
    x, y, z = s
    return -y + z**2, x + p["a"] * y, x - z


@_eq()
def _SprottI(t, s, p):
    x, y, z = s
    return -p["a"] * y, x + z, x + y**2 - z


@_eq()
def _SprottJ(t, s, p):
    x, y, z = s
    return 2 * z, -2 * y + z, -x + y + y**2


@_eq()
def _SprottK(t, s, p):
    x, y, z = s
    return x * y - z, x - y, x + p["a"] * z


@_eq()
def _SprottL(t, s, p):
    x, y, z = s
    return y + p["b"] * z, p["a"] * x**2 - y, 1 - x


@_eq()
def _SprottM(t, s, p):
    x, y, z = s
    a = p["a"]
    return -z, -(x**2) - y, a + a * x + y


@_eq()
def _SprottN(t, s, p):
    x, y, z = s
    return -2 * y, x + z**2, 1 + y - 2 * z


@_eq()
def _SprottO(t, s, p):
    x, y, z = s
    return y, x - z, x + x * z + p["a"] * y


@_eq()
def _SprottP(t, s, p):
    x, y, z = s
    return p["a"] * y + z, -x + y**2, x + y


@_eq()
def _SprottQ(t, s, p):
    x, y, z = s
    return -z, x - y, p["a"] * x + y**2 + p["b"] * z


@_eq()
def _SprottR(t, s, p):
    x, y, z = s
    return p["a"] - y, p["b"] + z, x * y - z


@_eq()
def _SprottS(t, s, p):
    x, y, z = s
    return -x - 4 * y, x + z**2, 1 + x


@_eq()
def _SprottMore(t, s, p):
    x, y, z = s
    return y, -x - jnp.sign(z) * y, y**2 - jnp.exp(-(x**2))


@_eq("Coullet")
def _Arneodo(t, s, p):
    x, y, z = s
    a, b, c, d = _get(p, "a b c d")
    return y, z, -a * x - b * y - c * z + d * x**3


@_eq()
def _Rucklidge(t, s, p):
    x, y, z = s
    a, b = p["a"], p["b"]
    return -a * x + b * y - y * z, x, -z + y**2


@_eq("LiuChen")
def _Sakarya(t, s, p):
    x, y, z = s
    a, b, c, h, q, qq, r, ss = _get(p, "a b c h p q r s")
    return a * x + h * y + ss * y * z, -b * y - q * x + qq * x * z, c * z - r * x * y


@_eq()
def _RayleighBenard(t, s, p):
    x, y, z = s
    a, b, r = _get(p, "a b r")
    return a * (y - x), r * y - x * z, x * y - b * z


@_eq()
def _Finance(t, s, p):
    x, y, z = s
    a, b, c = _get(p, "a b c")
    return (1 / b - a) * x + z + x * y, -b * y - x**2, -x - c * z


@_eq("Bouali")
def _Bouali2(t, s, p):
    x, y, z = s
    a, b, bb, c, g, m, y0 = _get(p, "a b bb c g m y0")
    return (
        a * x * (y0 - y) - b * z,
        g * y * (x**2 - 1),
        -1.5 * m * x + m * bb * x * z - c * z,
    )


@_eq()
def _LuChenCheng(t, s, p):
    x, y, z = s
    a, b, c = _get(p, "a b c")
    return -(a * b) / (a + b) * x - y * z + c, a * y + x * z, b * z + x * y


@_eq()
def _LuChen(t, s, p):
    x, y, z = s
    a, b, c = _get(p, "a b c")
    return a * (y - x), -x * z + c * y, x * y - b * z


@_eq()
def _QiChen(t, s, p):
    x, y, z = s
    a, b, c = _get(p, "a b c")
    return a * (y - x) + y * z, c * x + y - x * z, x * y - b * z


@_eq()
def _ZhouChen(t, s, p):
    x, y, z = s
    a, b, c, d, e = _get(p, "a b c d e")
    return a * x + b * y + y * z, c * y - x * z + d * y * z, e * z - x * y


@_eq()
def _BurkeShaw(t, s, p):
    x, y, z = s
    e, n = p["e"], p["n"]
    return -n * (x + y), y - n * x * z, n * x * y + e


@_eq()
def _Chen(t, s, p):
    x, y, z = s
    a, b, c = _get(p, "a b c")
    return a * (y - x), (c - a) * x - x * z + c * y, x * y - b * z


@_eq()
def _ChenLee(t, s, p):
    x, y, z = s
    a, b, c = _get(p, "a b c")
    return a * x - y * z, b * y + x * z, c * z + x * y / 3


@_eq()
def _WangSun(t, s, p):
    x, y, z = s
    a, b, d, e, f, q = _get(p, "a b d e f q")
    return a * x + q * y * z, b * x + d * y - x * z, e * z + f * x * y


@_eq()
def _YuWang(t, s, p):
    x, y, z = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x), b * x - c * x * z, jnp.exp(x * y) - d * z


@_eq()
def _YuWang2(t, s, p):
    x, y, z = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x), b * x - c * x * z, jnp.cosh(x * y) - d * z


@_eq()
def _SanUmSrisuchinwong(t, s, p):
    x, y, z = s
    return y - x, -z * jnp.tanh(x), -p["a"] + x * y + jnp.abs(y)


@_eq("PanXuZhou", "Tsucs2")
def _DequanLi(t, s, p):
    x, y, z = s
    a, c, d, eps, f, k = _get(p, "a c d eps f k")
    return a * (y - x) + d * x * z, k * x + f * y - x * z, c * z + x * y - eps * x**2


@_eq()
def _NewtonLiepnik(t, s, p):
    x, y, z = s
    a, b = p["a"], p["b"]
    return -a * x + y + 10 * y * z, -x - 0.4 * y + 5 * x * z, b * z - 5 * x * y


@_eq()
def _ShimizuMorioka(t, s, p):
    x, y, z = s
    return y, x - p["a"] * y - x * z, -p["b"] * z + x**2


@_eq()
def _GenesioTesi(t, s, p):
    x, y, z = s
    a, b, c = _get(p, "a b c")
    return y, z, -c * x - b * y - a * z + x**2


@_eq()
def _AtmosphericRegime(t, s, p):
    x, y, z = s
    alpha, beta, mu1, mu2, omega, sigma = _get(p, "alpha beta mu1 mu2 omega sigma")
    return (
        mu1 * x + sigma * x * y,
        mu2 * y + omega * z + alpha * y * z + beta * z**2 - sigma * x**2,
        mu2 * z - omega * y - alpha * y**2 - beta * y * z,
    )


@_eq()
def _Hadley(t, s, p):
    x, y, z = s
    a, b, f, g = _get(p, "a b f g")
    return -(y**2) - z**2 - a * x + a * f, x * y - b * x * z - y + g, b * x * y + x * z - z


@_eq()
def _Laser(t, s, p):
    x, y, z = s
    a, b, c, d, h, k = _get(p, "a b c d h k")
    return a * (y - x) + b * y * z**2, c * x + d * x * z**2, h * z + k * x**2


@_eq()
def _Aizawa(t, s, p):
    x, y, z = s
    a, b, c, d, e, f = _get(p, "a b c d e f")
    r2 = x**2 + y**2
    return (
        x * z - b * x - d * y,
        d * x + y * z - b * y,
        c + a * z - z**3 / 3 - r2 - e * z * r2 + f * z * x**3,
    )


@_eq()
def _AnishchenkoAstakhov(t, s, p):
    x, y, z = s
    mu, eta = p["mu"], p["eta"]
    return mu * x + y - x * z, -x, -eta * z + eta * _step(x) * x**2


@_eq()
def _Colpitts(t, s, p):
    x, y, z = s
    a, b, c, d, e = _get(p, "a b c d e")
    u = z - (e - 1)
    fz = -u * (1 - _step(u))
    return y - a * fz, c - x - b * y - z, y - d * z


@_eq()
def _CellularNeuralNetwork(t, s, p):
    x, y, z = s
    a, b, c, d = _get(p, "a b c d")
    fx, fy, fz = (0.5 * (jnp.abs(v + 1) - jnp.abs(v - 1)) for v in (x, y, z))
    return (
        -x + d * fx - b * fy - b * fz,
        -y - b * fx + c * fy - a * fz,
        -z - b * fx + a * fy + fz,
    )


@_eq()
def _HindmarshRose(t, s, p):
    x, y, z = s
    a, b, c, d, ss, tx, tz = _get(p, "a b c d s tx tz")
    return (
        -x + (y - a * x**3 + b * x**2 + z) / tx,
        -a * x**3 - (d - b) * x**2 + z,
        (-ss * x - z + c) / tz,
    )


# ------------------------------------------------------------------------- 4D and hyperchaotic


@_eq()
def _HyperRossler(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return -y - z, x + a * y + w, b + x * z, -c * z + d * w


@_eq()
def _HyperLorenz(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x) + w, -x * z + c * x - y, -b * z + x * y, d * w - x * z


@_eq()
def _HyperCai(t, s, p):
    x, y, z, w = s
    a, b, c, d, e = _get(p, "a b c d e")
    return a * (y - x), b * x + c * y - x * z + w, -d * z + y**2, -e * x


@_eq()
def _HyperBao(t, s, p):
    x, y, z, w = s
    a, b, c, d, e = _get(p, "a b c d e")
    return a * (y - x) + w, c * y - x * z, x * y - b * z, e * x + d * y * z


@_eq()
def _HyperJha(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x) + w, -x * z + b * x - y, x * y - c * z, -x * z + d * w


@_eq()
def _HyperQi(t, s, p):
    x, y, z, w = s
    a, b, c, d, e, f = _get(p, "a b c d e f")
    return a * (y - x) + y * z, b * (x + y) - x * z, -c * z - e * w + x * y, -d * w + f * z + x * y


@_eq()
def _Qi(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x) + y * z * w, b * (x + y) - x * z * w, -c * z + x * y * w, -d * w + x * y * z


@_eq()
def _LorenzStenflo(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x) + d * w, c * x - x * z - y, x * y - b * z, -x - a * w


@_eq()
def _HyperYangChen(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x), c * x - x * z + w, -b * z + x * y, -d * x


@_eq()
def _HyperYan(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return (
        a * (y - x),
        (c - a) * x - x * z + c * y,
        -b * z + x * y - y * z + x * z - w,
        -d * w + y * z - x * z,
    )


@_eq()
def _HyperXu(t, s, p):
    x, y, z, w = s
    a, b, c, d, e = _get(p, "a b c d e")
    return a * (y - x) + w, b * x + e * x * z, -c * z - x * y, x * z - d * y


@_eq()
def _HyperWang(t, s, p):
    x, y, z, w = s
    a, b, c, d, e = _get(p, "a b c d e")
    return a * (y - x), -x * z + b * x + w, -c * z + e * x**2, -d * x


@_eq()
def _HyperPang(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x), -x * z + c * y + w, x * y - b * z, -d * (x + y)


@_eq()
def _HyperLu(t, s, p):
    x, y, z, w = s
    a, b, c, d = _get(p, "a b c d")
    return a * (y - x) + w, -x * z + c * y, x * y - b * z, d * w + x * z


# ------------------------------------------------------------------------ mechanics, Hamiltonian


@_eq()
def _DoublePendulum(t, s, p):
    # as in dysts, whose h2 term differs from the textbook Hamiltonian (see `double_pendulum`)
    th1, th2, p1, p2 = s
    g, l1, l2, m1, m2 = _get(p, "g l1 l2 m1 m2")
    c, sn = jnp.cos(th1 - th2), jnp.sin(th1 - th2)
    denom = l1 * l2 * (m1 + m2 * sn**2)
    th1dot = (l2 * p1 - l1 * p2 * c) / (l1 * denom)
    th2dot = ((m1 + m2) * l1 * p2 - m2 * l2 * p1 * c) / (m2 * l2 * denom)
    h1 = p1 * p2 * sn / denom
    h2 = m2 * l2 * p1**2 / (2 * l1 * denom**2) + 0.5 * m2 * p2 * l2 * l1 * th2dot / denom
    h2 = h2 * jnp.sin(2 * (th1 - th2))
    return (
        th1dot,
        th2dot,
        -(m1 + m2) * g * l1 * jnp.sin(th1) - h1 + h2,
        -m2 * g * l2 * jnp.sin(th2) + h1 - h2,
    )


@_eq()
def _SwingingAtwood(t, s, p):
    r, th, pr, pth = s
    m1, m2 = p["m1"], p["m2"]
    g = 9.82
    return (
        pr / (m1 + m2),
        pth / (m1 * r**2),
        pth**2 / (m1 * r**3) - m2 * g + m1 * g * jnp.cos(th),
        -m1 * g * r * jnp.sin(th),
    )


@_eq()
def _HenonHeiles(t, s, p):
    x, y, px, py = s
    lam = p["lam"]
    return px, py, -x - 2 * lam * x * y, -y - lam * x**2 + lam * y**2


@_eq()
def _NuclearQuadrupole(t, s, p):
    q1, q2, p1, p2 = s
    a, b, d = _get(p, "a b d")
    r2 = math.sqrt(2)
    return (
        a * p1,
        a * p2,
        -a * q1 + 3 / r2 * b * (q1**2 - q2**2) - d * q1 * (q1**2 + q2**2),
        -a * q2 - 3 * r2 * b * q1 * q2 - d * q2 * (q1**2 + q2**2),
    )


@_eq()
def _ArnoldWeb(t, s, p):
    p1, p2, x1, x2, z = s
    mu, w = p["mu"], p["w"]
    denom = 4 + jnp.cos(z) + jnp.cos(x1) + jnp.cos(x2)
    return -mu * jnp.sin(x1) / denom**2, -mu * jnp.sin(x2) / denom**2, p1, p2, w + 0 * z


@_eq()
def _FluidTrampoline(t, s, p):
    x, y, th = s
    gamma, psi, w = _get(p, "gamma psi w")
    return y, -1 - _step(-x) * (x + psi * y * jnp.abs(y)) + gamma * jnp.cos(th), w + 0 * th


@_eq()
def _StickSlipOscillator(t, s, p):
    x, v, th = s
    a, alpha, b, beta, eps, gamma, t0, vs, w = _get(p, "a alpha b beta eps gamma t0 vs w")
    friction = t0 * jnp.sign(v - vs) - alpha * v + beta * (v - vs) ** 3
    return v, eps * (gamma * jnp.cos(th) - friction) + a * x - b * x**3, w + 0 * th


@_eq()
def _Torus(t, s, p):
    a, n, r = _get(p, "a n r")
    ring = r + a * jnp.cos(n * t)
    return (
        -a * n * jnp.sin(n * t) * jnp.cos(t) - ring * jnp.sin(t),
        -a * n * jnp.sin(n * t) * jnp.sin(t) + ring * jnp.cos(t),
        a * n * jnp.cos(n * t) + 0 * s[0],
    )


# ----------------------------------------------------------------------- forced and fluid flows


@_eq()
def _ForcedVanDerPol(t, s, p):
    x, y, z = s
    a, mu, w = _get(p, "a mu w")
    return y, mu * (1 - x**2) * y - x + a * jnp.sin(z), w + 0 * z


@_eq()
def _ForcedFitzHughNagumo(t, s, p):
    v, w, z = s
    a, b, curr, f, gamma, omega = _get(p, "a b curr f gamma omega")
    return v - v**3 / 3 - w + curr + f * jnp.sin(z), gamma * (v + a - b * w), omega + 0 * z


@_eq()
def _DoubleGyre(t, s, p):
    x, y, z = s
    alpha, eps, omega = _get(p, "alpha eps omega")
    a = eps * jnp.sin(z)
    b = 1 - 2 * eps * jnp.sin(z)
    f = a * x**2 + b * x
    return (
        -alpha * PI * jnp.sin(PI * f) * jnp.cos(PI * y),
        alpha * PI * jnp.cos(PI * f) * jnp.sin(PI * y) * (2 * a * x + b),
        omega + 0 * z,
    )


@_eq()
def _OscillatingFlow(t, s, p):
    x, y, z = s
    b, k, omega, u = _get(p, "b k omega u")
    f = x + b * jnp.sin(z)
    return (
        u * jnp.cos(k * y) * jnp.sin(k * f),
        -u * jnp.sin(k * y) * jnp.cos(k * f),
        omega + 0 * z,
    )


@_eq()
def _BickleyJet(t, s, p):
    # dysts orders the state as (y, x, phase): the cross-stream coordinate comes first
    y, x, z = s
    ell, eps, k, omega, sigma, u = _get(p, "ell eps k omega sigma u")
    sech2 = 1 / jnp.cosh(y / ell) ** 2
    phase = k * (x - z * sigma)
    dy = ell * u * sech2 * jnp.sum(eps * k * jnp.sin(phase))
    dx = u * sech2 * (-1 - 2 * jnp.sum(jnp.cos(phase) * eps) * jnp.tanh(y / ell))
    return dy, dx, omega + 0 * z


def _rotlet(r, th, a, b, bc):
    """Velocity of a rotlet in a circular domain (Meleshko & Aref), polar components."""
    cos = jnp.cos(th)
    kappa = a**2 + b**2 * r**2 / a**2 - 2 * b * r * cos
    gamma = (1 - r**2 / a**2) * (a**2 - b**2 * r**2 / a**2)
    iota = b**2 * r / a**2 - b * cos
    zeta = b**2 + r**2 - 2 * b * r * cos
    nu = a**2 + b**2 - 2 * b**2 * r**2 / a**2
    vr = b * jnp.sin(th) * (-bc * gamma / kappa**2 - 1 / kappa + 1 / zeta)
    vth = (
        bc * gamma * iota / kappa**2
        + bc * r * nu / (a**2 * kappa)
        + iota / kappa
        - (r - b * cos) / zeta
    )
    return vr, vth


@_eq("BlinkingVortex")
def _BlinkingRotlet(t, s, p):
    r, th, tt = s
    a, b, bc, sigma, tau = _get(p, "a b bc sigma tau")
    weight = _protocol(tt, tau)
    vr1, vth1 = _rotlet(r, th, a, b, bc)
    vr2, vth2 = _rotlet(r, th, a, -b, bc)
    dr = weight * vr1 + (1 - weight) * vr2
    dth = (weight * vth1 + (1 - weight) * vth2) / r
    return sigma * dr, sigma * dth, jnp.ones_like(tt)


def _lid(x, y, a, b, u1, u2):
    """Stokes flow in a rectangular cavity driven by its lids (first two modes)."""
    s1, s2 = jnp.sinh(PI * b / a), jnp.sinh(2 * PI * b / a)
    c1, c2 = jnp.cosh(PI * b / a), jnp.cosh(2 * PI * b / a)
    d1 = 2 * b * PI + a * jnp.sinh(2 * PI * b / a)
    d2 = 4 * b * PI + a * jnp.sinh(4 * PI * b / a)
    ky1, ky2 = PI * y / a, 2 * PI * y / a
    vx1 = -b * PI * s1 * jnp.sinh(ky1) + c1 * (PI * y * jnp.cosh(ky1) + a * jnp.sinh(ky1))
    vx2 = -2 * b * PI * s2 * jnp.sinh(ky2) + c2 * (2 * PI * y * jnp.cosh(ky2) + a * jnp.sinh(ky2))
    vx = 2 * u1 * jnp.sin(PI * x / a) / d1 * vx1 + 2 * u2 * jnp.sin(2 * PI * x / a) / d2 * vx2
    vy1 = b * s1 * jnp.cosh(ky1) - c1 * y * jnp.sinh(ky1)
    vy2 = b * s2 * jnp.cosh(ky2) - c2 * y * jnp.sinh(ky2)
    vy = (
        2 * PI * u1 * jnp.cos(PI * x / a) / d1 * vy1
        + 4 * PI * u2 * jnp.cos(2 * PI * x / a) / d2 * vy2
    )
    return vx, vy


@_eq()
def _LidDrivenCavityFlow(t, s, p):
    x, y, tt = s
    a, b, tau, u1, u2 = _get(p, "a b tau u1 u2")
    weight = _protocol(tt, tau)
    vx1, vy1 = _lid(x, y, a, b, u1, u2)
    vx2, vy2 = _lid(x, y, a, b, -u1, u2)
    return (
        weight * vx1 + (1 - weight) * vx2,
        weight * vy1 + (1 - weight) * vy2,
        jnp.ones_like(tt),
    )


@_eq()
def _InteriorSquirmer(t, s, p):
    r, th, tt = s
    tau = p["tau"]
    phase = _protocol(tt, tau)
    a, g = p["a"] * phase, p["g"] * (1 - phase)
    n = jnp.arange(1, a.shape[0] + 1, dtype=r.dtype)
    sin, cos = jnp.sin(th * n), jnp.cos(th * n)
    rn = r**n
    vr = jnp.sum((g * cos + a * sin) * n * rn * (r**2 - 1) / r)
    vth = jnp.sum((2 * r + (r**2 - 1) * n / r) * (a * cos - g * sin) * rn)
    return vr, vth / r, jnp.ones_like(tt)


# ------------------------------------------------------------------ chemistry, biology, ecology


@_eq()
def _GlycolyticOscillation(t, s, p):
    a, b, c = s
    d, k, l1, l2, nu, q1, q2, s1, s2 = _get(p, "d k l1 l2 nu q1 q2 s1 s2")
    phi = a * (1 + a) * (1 + b) ** 2 / (l1 + (1 + a) ** 2 * (1 + b) ** 2)
    eta = b * (1 + d * b) * (1 + c) ** 2 / (l2 + (1 + d * b) ** 2 * (1 + c) ** 2)
    return nu - s1 * phi, q1 * s1 * phi - s2 * eta, q2 * s2 * eta - k * c


@_eq()
def _SaltonSea(t, s, p):
    x, y, z = s
    a, d, k, lam, m, mu, r, th = _get(p, "a d k lam m mu r th")
    return (
        r * x * (1 - (x + y) / k) - lam * x * y,
        lam * x * y - m * y * z / (y + a) - mu * y,
        th * y * z / (y + a) - d * z,
    )


@_eq()
def _ExcitableCell(t, s, p):
    v, n, c = s
    q = p
    alpham = q["ams"] * (q["amvb"] + v) / (1 - jnp.exp(-q["ar"] * v - q["amvo"]))
    betam = q["bms"] * jnp.exp(-q["bmr"] * v - q["bmo"])
    minf = alpham / (alpham + betam)
    alphah = q["ahs"] * jnp.exp(-q["ahr"] * v - q["aho"])
    betah = 1 / (1 + jnp.exp(-q["bhr"] * v - q["bho"]))
    hinf = alphah / (alphah + betah)
    alphan = q["ans"] * (q["anvb"] + v) / (1 - jnp.exp(-q["ar"] * v - q["anvo"]))
    betan = q["bns"] * jnp.exp(-q["bnr"] * v - q["bno"])
    ninf = alphan / (alphan + betan)
    tau = 1 / (q["tscl"] * (alphan + betan))
    ca = c / (1 + c)
    vdot = (
        q["gi"] * minf**3 * hinf * (q["vi"] - v)
        + q["gkv"] * n**4 * (q["vk"] - v)
        + q["gkc"] * ca * (q["vk"] - v)
        + q["gl"] * (q["vl"] - v)
    )
    return vdot, (ninf - n) / tau, q["rho"] * (minf**3 * hinf * (q["vc"] - v) - q["kc"] * c)


def _hill(x, k, n):
    return x**n / (k**n + x**n)


@_eq("CaTwoPlusQuasiperiodic")
def _CaTwoPlus(t, s, p):
    z, y, a = s
    q = p
    v_in = q["V0"] + q["V1"] * q["beta"]
    v2 = q["Vm2"] * _hill(z, q["K2"], 2)
    v3 = q["Vm3"] * _hill(z, q["Kz"], q["m"]) * _hill(y, q["Ky"], 2) * _hill(a, q["Ka"], 4)
    v5 = q["Vm5"] * _hill(a, q["K5"], q["p"]) * _hill(z, q["Kd"], q["n"])
    return (
        v_in - v2 + v3 + q["kf"] * y - q["k"] * z,
        v2 - v3 - q["kf"] * y,
        q["beta"] * q["V4"] - v5 - q["eps"] * a,
    )


@_eq()
def _CellCycle(t, s, p):
    c1, m1, x1, c2, m2, x2 = s
    kk, kc, kd, kim, v2, v4, vm1, vm3, kd1, vd, vi = _get(p, "K Kc Kd1 Kim V2 V4 Vm1 Vm3 kd1 vd vi")

    def cyclin(c, m_other, x):
        return vi * kim / (kim + m_other) - vd * x * c / (kd + c) - kd1 * c

    def switch(rate_up, rate_down, u):
        # Goldbeter–Koshland zero-order ultrasensitive switch
        return rate_up * (1 - u) / (kk + 1 - u) - rate_down * u / (kk + u)

    dm1 = switch(vm1 * c1 / (kc + c1), v2, m1)
    dm2 = switch(vm1 * c2 / (kc + c2), v2, m2)
    dx1 = switch(m1 * vm3, v4, x1)
    dx2 = switch(m2 * vm3, v4, x2)
    return cyclin(c1, m2, x1), dm1, dx1, cyclin(c2, m1, x2), dm2, dx2


@_eq()
def _CircadianRhythm(t, s, p):
    m, fc, fs, fn, th = s
    q = p
    # dysts' form of the light-modulated transcription rate, kept as published
    vs = q["vc"] * (0.5 + 0.5 * jnp.cos(th) + q["vmin"]) * (q["vmax"] - q["vmin"])
    return (
        vs * q["Ki"] ** q["n"] / (q["Ki"] ** q["n"] + fn ** q["n"]) - q["vm"] * m / (q["km"] + m),
        q["ks"] * m - q["k1"] * fc + q["k2"] * fn - q["k"] * fc,
        q["k"] * fc - q["vd"] * fs / (q["kd"] + fs),
        q["k1"] * fc - q["k2"] * fn - q["vdn"] * fn / (q["kdn"] + fn),
        2 * PI / q["ps"] + 0 * th,
    )


@_eq()
def _Blasius(t, s, p):
    x, y, z = s
    a, alpha1, alpha2, b, c, k1, k2, zs = _get(p, "a alpha1 alpha2 b c k1 k2 zs")
    prey = alpha1 * x * y / (1 + k1 * x)
    pred = alpha2 * y * z / (1 + k2 * y)
    return a * x - prey, -b * y + prey - pred, -c * (z - zs) + pred


@_eq()
def _TurchinHanski(t, s, p):
    n, q, z = s
    a, d, e, g, h, lamb, r, ss = _get(p, "a d e g h lamb r s")
    season = 1 - e * jnp.sin(z)
    return (
        r * season * n - r * n**2 - g * n**2 / (n**2 + h**2) - a * n * q / (n + d),
        ss * season * q - ss * q**2 / n,
        2 * PI * lamb + 0 * z,
    )


@_eq()
def _HastingsPowell(t, s, p):
    x, y, z = s
    a1, a2, b1, b2, d1, d2 = _get(p, "a1 a2 b1 b2 d1 d2")
    f1 = a1 * x / (1 + b1 * x)
    f2 = a2 * y / (1 + b2 * y)
    return x * (1 - x) - f1 * y, f1 * y - f2 * z - d1 * y, f2 * z - d2 * z


@_eq()
def _ItikBanksTumor(t, s, p):
    x, y, z = s
    a12, a13, a21, a31, d3, k3, r2, r3 = _get(p, "a12 a13 a21 a31 d3 k3 r2 r3")
    return (
        x * (1 - x) - a12 * x * y - a13 * x * z,
        r2 * y * (1 - y) - a21 * x * y,
        r3 * x * z / (x + k3) - a31 * x * z - d3 * z,
    )


@_eq()
def _BeerRNN(t, s, p):
    activation = 1 / (1 + jnp.exp(-(s + p["theta"])))
    return (-s + p["w"] @ activation) / p["tau"]


@_eq()
def _Hopfield(t, s, p):
    return -s / p["tau"] + (1 + jnp.tanh(p["eps"] * (p["k"] @ s))) / 2 - p["beta"]


@_eq()
def _MacArthur(t, s, p):
    species, resources = s[:5], s[5:]
    # Liebig's law: each species grows at the rate of its most limiting resource
    # k[j, i]: half-saturation of resource j for species i
    monod = resources[:, None] / (p["k"] + resources[:, None])
    growth = jnp.min(p["r"] * monod, axis=0)
    return jnp.concatenate(
        [
            species * (growth - p["m"]),
            p["d"] * (p["s"] - resources) - p["c"] @ (growth * species),
        ]
    )
