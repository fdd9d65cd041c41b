"""A user's own systems: registered, integrated by the zoo's functions, and analysed like the zoo's.

The user flow is the Stuart-Landau oscillator, whose limit cycle `r = 1` has the Lyapunov
exponents 0 (along the cycle) and `d/dr (mu r - r^3) = mu - 3` (across it). The user system
class is a linear flow that integrates itself exactly with the matrix exponential.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import Array

import dynlearn
import dynlearn.systems as systems
from dynlearn import analysis
from dynlearn.systems import _registry


@pytest.fixture(autouse=True)
def _forget_user_systems():
    yield
    for name in systems.names("user"):
        _registry._FACTORIES.pop(name)
        _registry._CACHE.pop(name, None)


def _stuart_landau(t, y, p):
    x, v = y
    r2 = x**2 + v**2
    return p["mu"] * x - p["omega"] * v - r2 * x, p["omega"] * x + p["mu"] * v - r2 * v


def _make_stuart_landau(name="StuartLandau"):
    params = {"mu": 1.0, "omega": 2.0}
    return systems.Flow(name, _stuart_landau, params, [1.0, 0.0], dt=0.05, period=np.pi)


def test_registered_flow_end_to_end(x64):
    flow = systems.register(_make_stuart_landau())
    assert systems.get("StuartLandau") is flow
    assert systems.names("user") == ["StuartLandau"] and "StuartLandau" in systems.names()
    assert flow.metadata == {} and flow.max_lyapunov is None
    # trajectory: from (0.5, 0) the radius follows r' = r - r^3 exactly, the phase 2 t
    ys = systems.trajectory(flow, 41, y0=jnp.array([0.5, 0.0]), rtol=1e-10, atol=1e-10)
    t = 0.05 * np.arange(41)
    r = 1 / np.sqrt(1 + 3 * np.exp(-2 * t))
    np.testing.assert_allclose(ys, np.stack([r * np.cos(2 * t), r * np.sin(2 * t)], 1), atol=1e-8)
    # forecast: the n_steps states after the context
    context = systems.trajectory(flow, 30, y0=jnp.array([0.5, 0.0]), rtol=1e-10, atol=1e-10)
    pred = dynlearn.forecast(flow, context, 11)
    assert pred.shape == (11, 2)
    np.testing.assert_allclose(pred, ys[30:], atol=1e-6)
    # Lyapunov spectrum on the cycle: (0, mu - 3)
    cycle = systems.trajectory(flow, 20)
    spectrum = analysis.lyapunov_spectrum(flow, cycle, n_steps=4000, dt=0.01, transient=200)
    np.testing.assert_allclose(spectrum, [0.0, -2.0], atol=5e-3)
    # trajectories from random starts on the attractor: all on the unit circle
    many = systems.trajectories(flow, 3, 20, key=jax.random.key(0), spread=0.0, burn_in=200)
    np.testing.assert_allclose(jnp.linalg.norm(many, axis=-1), 1.0, atol=1e-5)


def test_register_a_factory_as_decorator():
    calls = []

    @systems.register
    def StuartLandau():
        calls.append(1)
        return _make_stuart_landau()

    assert StuartLandau is not None and not calls  # built on the first get
    assert systems.get("StuartLandau").params == {"mu": 1.0, "omega": 2.0}
    systems.get("StuartLandau")
    assert calls == [1]

    @systems.register
    def Misnamed():
        return _make_stuart_landau()

    with pytest.raises(ValueError, match="built a system named 'StuartLandau'"):
        systems.get("Misnamed")


def test_register_refuses_taken_and_mismatched_names():
    with pytest.raises(ValueError, match="built-in system"):
        systems.register(_make_stuart_landau("Lorenz"))
    systems.register(_make_stuart_landau())
    with pytest.raises(ValueError, match="overwrite=True"):
        systems.register(_make_stuart_landau())
    replacement = _make_stuart_landau().replace(params={"mu": 0.5})
    systems.register(replacement, overwrite=True)
    assert systems.get("StuartLandau").params["mu"] == 0.5
    with pytest.raises(ValueError, match="differs from the system's own name"):
        systems.register(_make_stuart_landau(), name="Other")
    with pytest.raises(TypeError):  # (beartype, or our message without the import hook)
        systems.register(3.0)


class LinearFlow(systems.AbstractSystem):
    """`dy/dt = A y`, sampled exactly with `expm(A t)`: a system kind of the user's own."""

    name: str = eqx.field(static=True)
    params: dict
    y0: Array
    dt: float = eqx.field(static=True)
    period: float = eqx.field(static=True)
    dimension: int = eqx.field(static=True)

    def __init__(self, name, a, y0, dt):
        self.name = name
        self.params = {"a": jnp.asarray(a)}
        self.y0 = jnp.asarray(y0)
        self.dt = dt
        self.period = 2 * np.pi
        self.dimension = self.y0.shape[0]

    @property
    def discrete(self):
        return False

    def vector_field(self, t, y, args=None):
        params = self.params if args is None else {**self.params, **args}
        return params["a"].astype(y.dtype) @ y

    def sample(self, y0, n_points, *, dt=None, transient=0, args=None, **options):
        params = self.params if args is None else {**self.params, **args}
        a = params["a"].astype(y0.dtype)
        ts = (transient + jnp.arange(n_points, dtype=y0.dtype)) * (self.dt if dt is None else dt)
        return jax.vmap(lambda t: jax.scipy.linalg.expm(a * t) @ y0)(ts)


def test_user_system_class_integrates_itself(x64):
    a = [[-0.1, 1.0], [-1.0, -0.1]]
    flow = systems.register(LinearFlow("DampedRotation", a, [1.0, 0.0], 0.1))
    ys = systems.trajectory(systems.get("DampedRotation"), 50, transient=2)
    t = 0.1 * (2 + np.arange(50))
    exact = np.exp(-0.1 * t)[:, None] * np.stack([np.cos(t), -np.sin(t)], 1)
    np.testing.assert_allclose(ys, exact, rtol=1e-10)
    # the options of other kinds are passed and ignored; zoo_trajectories asks the system too
    solver_ys = systems.trajectory(flow, 50, transient=2, solver=diffrax.Euler())
    np.testing.assert_allclose(solver_ys, exact, rtol=1e-10)
    (zoo,) = systems.zoo_trajectories([flow], 50, transient=2, dtype=jnp.float64)
    np.testing.assert_allclose(zoo, exact, rtol=1e-10)
    # the contract: forecast and the spectrum (-0.1, -0.1)
    np.testing.assert_allclose(dynlearn.forecast(flow, ys[:10], 5), ys[10:15], rtol=1e-10)
    spectrum = analysis.lyapunov_spectrum(flow, ys[:10], n_steps=2000, dt=0.05)
    np.testing.assert_allclose(spectrum, [-0.1, -0.1], atol=1e-6)
