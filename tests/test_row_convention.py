"""The row convention (docs/conventions.md, "Row conventions"), checked on every rollout function.

Given an initial state, row 0 is that state (a model that encodes returns `decode(encode(x0))`)
and row `k` is `k` steps (or `ts[k]`) later; given a context, `dynlearn.forecast` returns only
the rows after it. Each reference below is a plain Python loop or a closed form.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import dynlearn
from dynlearn import kernels, koopman, nde, recon, systems

N_STEPS = 5


def _loop(step, x0, n_steps):
    """`[x0, step(x0), step(step(x0)), ...]`: `n_steps + 1` rows, by a Python loop."""
    rows = [x0]
    for _ in range(n_steps):
        rows.append(step(rows[-1]))
    return jnp.stack(rows)


def test_iterate_starts_with_x0():
    x0 = jnp.array([0.2, 0.3])
    step = lambda x: jnp.array([1.0 - 1.4 * x[0] ** 2 + x[1], 0.3 * x[0]])  # noqa: E731
    out = kernels.iterate(step, x0, N_STEPS)
    assert out.shape == (N_STEPS + 1, 2)
    np.testing.assert_array_equal(out[0], x0)
    np.testing.assert_allclose(out, _loop(step, x0, N_STEPS), rtol=1e-6)


def test_odeint_fixed_starts_with_y0():
    ts = jnp.linspace(0.0, 1.0, N_STEPS + 1)
    y0 = jnp.array([1.0, 2.0])
    out = kernels.odeint_fixed(lambda t, y, args: -y, ts, y0, steps_per_interval=8)
    assert out.shape == (N_STEPS + 1, 2)
    np.testing.assert_array_equal(out[0], y0)
    np.testing.assert_allclose(out, jnp.exp(-ts)[:, None] * y0[None, :], rtol=1e-5)


def test_neural_ode_starts_with_y0():
    ts = jnp.linspace(0.0, 1.0, N_STEPS + 1)
    y0 = jnp.array([1.0, 2.0])
    linear = eqx.nn.Linear(2, 2, use_bias=False, key=jax.random.key(0))
    a = linear.weight
    field = lambda t, y, args: linear(y)  # noqa: E731
    for model in (nde.NeuralODE(field, solver=nde.FixedGrid("rk4", steps_per_interval=8)),
                  nde.NeuralODE(field)):
        out = model(ts, y0)
        assert out.shape == (N_STEPS + 1, 2)
        np.testing.assert_allclose(out[0], y0, rtol=1e-6)
        exact = jnp.stack([jax.scipy.linalg.expm(a * t) @ y0 for t in ts])
        np.testing.assert_allclose(out, exact, rtol=1e-3, atol=1e-4)


def test_sindy_simulate_starts_with_y0():
    # dy/dt = (y1, -y0) on the features [1, y0, y1]: a rotation
    coefficients = jnp.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    model = recon.SINDy(recon.PolynomialLibrary(1), coefficients)
    ts = jnp.linspace(0.0, 1.0, N_STEPS + 1)
    y0 = jnp.array([1.0, 0.0])
    out = model.simulate(ts, y0, steps_per_interval=8)
    assert out.shape == (N_STEPS + 1, 2)
    np.testing.assert_array_equal(out[0], y0)
    np.testing.assert_allclose(out, jnp.stack([jnp.cos(ts), -jnp.sin(ts)], 1), atol=1e-5)


def test_plrnn_starts_with_x0():
    model = recon.ShallowPLRNN(2, 4, 8, key=jax.random.key(1))
    x0 = jnp.array([0.3, -0.1])
    out = model(x0, N_STEPS)
    assert out.shape == (N_STEPS + 1, 2)
    np.testing.assert_array_equal(out[0], x0)
    latents = _loop(model.step, model.encode(x0), N_STEPS)
    np.testing.assert_allclose(out, jax.vmap(model.observe)(latents), rtol=1e-6)


def test_koopman_predict_starts_with_reconstruction_of_x0():
    model = koopman.KoopmanAutoencoder(2, 3, 8, 1, key=jax.random.key(2))
    x0 = jnp.array([0.3, -0.1])
    out = model.predict(x0, N_STEPS)
    assert out.shape == (N_STEPS + 1, 2)
    latents = _loop(model.step, model.encode(x0), N_STEPS)
    np.testing.assert_allclose(out[0], model.decode(model.encode(x0)), rtol=1e-6)
    np.testing.assert_allclose(out, jax.vmap(model.decode)(latents), rtol=1e-5, atol=1e-6)


def test_hamiltonian_ode_starts_with_y0():
    h = nde.SeparableHamiltonian(lambda p: 0.5 * p @ p, lambda q: 0.5 * q @ q)
    ts = jnp.linspace(0.0, 1.0, N_STEPS + 1)
    y0 = jnp.array([1.0, 0.0])
    out = nde.HamiltonianODE(h, steps_per_interval=50)(ts, y0)
    assert out.shape == (N_STEPS + 1, 2)
    np.testing.assert_array_equal(out[0], y0)
    np.testing.assert_allclose(out, jnp.stack([jnp.cos(ts), -jnp.sin(ts)], 1), atol=1e-4)


def test_systems_trajectory_starts_with_y0():
    henon = systems.get("Henon")
    y0 = jnp.asarray(henon.y0)
    out = systems.trajectory(henon, N_STEPS + 1, y0=y0)
    assert out.shape == (N_STEPS + 1, 2)
    np.testing.assert_array_equal(out[0], y0)
    np.testing.assert_allclose(out, _loop(henon.step, y0, N_STEPS), rtol=1e-6)
    lorenz = systems.get("Lorenz")
    y0 = jnp.asarray(lorenz.y0)
    out = systems.trajectory(lorenz, N_STEPS + 1, y0=y0)
    assert out.shape == (N_STEPS + 1, 3)
    np.testing.assert_allclose(out[0], y0, rtol=1e-6)


def test_forecast_returns_only_the_rows_after_the_context():
    henon = systems.get("Henon")
    context = systems.trajectory(henon, 10)
    out = dynlearn.forecast(henon, context, N_STEPS)
    assert out.shape == (N_STEPS, 2)
    np.testing.assert_allclose(out, _loop(henon.step, context[-1], N_STEPS)[1:], rtol=1e-5)
    # a rollout from the context's last row, without its row 0, is the forecast
    plrnn = recon.ShallowPLRNN(2, 4, 8, key=jax.random.key(3))
    x0 = jnp.array([0.3, -0.1])
    np.testing.assert_allclose(
        dynlearn.forecast(plrnn, x0[None], N_STEPS), plrnn(x0, N_STEPS)[1:], rtol=1e-6
    )
    linear = eqx.nn.Linear(2, 2, use_bias=False, key=jax.random.key(4))
    model = nde.NeuralODE(lambda t, y, args: linear(y), solver=nde.FixedGrid("rk4"))
    ts = jnp.arange(N_STEPS + 1, dtype=x0.dtype) * 0.1
    np.testing.assert_allclose(
        dynlearn.forecast(model, x0[None], N_STEPS, dt=0.1), model(ts, x0)[1:], rtol=1e-5
    )
