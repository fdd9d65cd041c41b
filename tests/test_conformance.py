"""Conformance suite of the dynamical-model contract: every family, the same checks.

Each family is built, fitted briefly on tiny Lorenz-63 data (`train.fit` for the gradient-trained
ones, the closed-form fits for reservoirs and SINDy) and then put through the same calls:
`dynlearn.forecast` (shape, row convention against an independent reference, the prefix
invariant), the forecast metrics, and `analysis.lyapunov_spectrum(model, context)`. Zoo systems
(a flow, a Hamiltonian flow, a delay flow and a map) go through the same checks without fitting.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dynlearn
from dynlearn import analysis, koopman, metrics, nde, recon, ssm, systems, train

DT = 0.02  # sampling step of the tiny Lorenz data
CONTEXT = 100  # rows of context (the reservoir washes out its initial state on them)
N_STEPS = 24
EXTRA = 8  # the prefix invariant compares N_STEPS rows of an (N_STEPS + EXTRA)-step forecast


def _lorenz_numpy(n_points, dt, substeps=4, transient=200):
    # RK4 in NumPy: tiny data without compiling a solver
    def field(y):
        x, v, z = y
        return np.array([10.0 * (v - x), x * (28.0 - z) - v, x * v - 8.0 / 3.0 * z])

    y, h, out = np.array([1.0, 1.0, 20.0]), dt / substeps, []
    for i in range(transient + n_points):
        if i >= transient:
            out.append(y)
        for _ in range(substeps):
            k1 = field(y)
            k2 = field(y + h / 2 * k1)
            k3 = field(y + h / 2 * k2)
            k4 = field(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.stack(out)


@functools.cache
def lorenz_data():
    """Standardised Lorenz-63 sampled every DT: 700 rows to fit on, then the test rows."""
    traj = _lorenz_numpy(900, DT)
    traj = (traj - traj.mean(axis=0)) / traj.std(axis=0)
    traj = jnp.asarray(traj, jnp.float32)
    return traj[:700], traj[700:]


def _fit(model, loss, windows, key, steps=4):
    model, history = train.fit(
        model,
        loss,
        windows,
        optax.adam(1e-3),
        steps=steps,
        batch_size=8,
        key=key,
        steps_per_dispatch=steps,
        progress=False,
        mesh=None,
    )
    assert len(history) == steps
    return model


class _Field(eqx.Module):
    mlp: eqx.nn.MLP

    def __call__(self, t, y, args):
        return self.mlp(y)


def _windows(length=8):
    fit, _ = lorenz_data()
    return recon.trajectory_windows(fit, length, stride=4)


def _ode_loss(model, batch, *, key):
    ts = jnp.arange(batch.shape[1], dtype=batch.dtype) * DT
    return jnp.mean(jax.vmap(lambda ys: nde.trajectory_mse(model, ts, ys))(batch))


def _sde_loss(model, batch, *, key):
    # Euler-Maruyama regression of the drift on the increments (no SDE solve to compile)
    ys = batch[:, :-1].reshape(-1, batch.shape[2])
    rates = (batch[:, 1:] - batch[:, :-1]).reshape(-1, batch.shape[2]) / DT
    drift = jax.vmap(lambda y: model.drift(0.0, y, None))(ys)
    return jnp.mean((drift - rates) ** 2)


class _Diffusion(eqx.Module):
    log_scale: jax.Array

    def __call__(self, t, y, args):
        return jnp.exp(self.log_scale) * jnp.ones_like(y)


def build_neural_ode():
    key = jax.random.key(1)
    field = _Field(eqx.nn.MLP(3, 3, 16, 1, activation=jnp.tanh, key=key))
    model = nde.NeuralODE(field, solver=nde.FixedGrid("rk4"))  # the fast path for regular data
    return _fit(model, _ode_loss, _windows(), jax.random.key(2))


def build_neural_sde():
    key = jax.random.key(3)
    drift = _Field(eqx.nn.MLP(3, 3, 16, 1, activation=jnp.tanh, key=key))
    model = nde.NeuralSDE(drift, _Diffusion(jnp.asarray(-3.0)), dt0=DT / 2)
    return _fit(model, _sde_loss, _windows(), jax.random.key(4))


def build_plrnn():
    model = recon.ShallowPLRNN(3, 6, 16, clipped=True, key=jax.random.key(5))
    loss = functools.partial(recon.gtf_loss, alpha=0.2)
    return _fit(model, loss, _windows(), jax.random.key(6))


def build_esn():
    fit, _ = lorenz_data()
    esn = recon.EchoStateNetwork(3, 60, spectral_radius=0.8, key=jax.random.key(7))
    return recon.fit_readout(esn, fit, ridge=1e-5, washout=50)


def build_nvar():
    fit, _ = lorenz_data()
    return recon.fit_readout(recon.NVAR(3, delays=2), fit, ridge=1e-5)


def build_sindy():
    fit, _ = lorenz_data()
    return recon.fit_sindy(fit, dt=DT)


def build_koopman_autoencoder():
    model = koopman.KoopmanAutoencoder(3, 4, 16, 1, key=jax.random.key(8))
    return _fit(model, koopman.koopman_autoencoder_loss, _windows(), jax.random.key(9))


def build_koopman_vae():
    model = koopman.KoopmanVAE(3, 4, 8, 16, 1, key=jax.random.key(10))
    return _fit(model, koopman.kvae_loss, _windows(), jax.random.key(11))


class _EMA(ssm.AbstractSequenceBlock):
    """A user-written sequence block: a per-channel exponential moving average."""

    logit: jax.Array
    d_model: int = eqx.field(static=True)

    def __init__(self, d_model, *, key):
        self.logit = jax.random.normal(key, (d_model,))
        self.d_model = d_model

    def __call__(self, xs, *, key=None):
        return jax.lax.scan(lambda h, x: self.step(h, x), self.init_state(), xs)[1]

    def init_state(self):
        return jnp.zeros(self.d_model)

    def step(self, state, x):
        a = jax.nn.sigmoid(self.logit)
        state = a * state + (1 - a) * x
        return state, state


def _next_step_loss(model, batch, *, key):
    return jnp.mean((jax.vmap(model)(batch[:, :-1]) - batch[:, 1:]) ** 2)


def build_sequence_model(mixer):
    model = ssm.SequenceModel(mixer, 8, 1, 3, d_in=3, key=jax.random.key(12))
    return _fit(model, _next_step_loss, _windows(), jax.random.key(13))


@dataclass(frozen=True)
class Family:
    name: str
    build: object  # () -> model
    dt: float | None = None  # the `dt=` a flow without its own sampling step needs
    stochastic: bool = False
    exact_prefix: bool = True  # False for adaptive solvers (the last step is clipped at t1)
    zoo: bool = False


FAMILIES = [
    Family("NeuralODE", build_neural_ode, dt=DT, exact_prefix=False),
    Family("NeuralSDE", build_neural_sde, dt=DT, stochastic=True),
    Family("ShallowPLRNN", build_plrnn),
    Family("EchoStateNetwork", build_esn),
    Family("NVAR", build_nvar),
    Family("SINDy", build_sindy),
    Family("KoopmanAutoencoder", build_koopman_autoencoder),
    Family("KoopmanVAE", build_koopman_vae),
    Family("SequenceModel (s4d)", lambda: build_sequence_model("s4d")),
    Family("SequenceModel (user block)", lambda: build_sequence_model(_EMA)),
    Family("zoo Flow (Lorenz)", lambda: systems.get("Lorenz"), zoo=True, exact_prefix=False),
    Family(
        "zoo HamiltonianFlow", lambda: systems.harmonic_oscillator(), zoo=True, exact_prefix=False
    ),
    Family("zoo DelayFlow (MackeyGlass)", lambda: systems.get("MackeyGlass"), zoo=True),
    Family("zoo Map (Henon)", lambda: systems.get("Henon"), zoo=True),
]
IDS = [f.name for f in FAMILIES]


@functools.cache
def fitted(name):
    family = next(f for f in FAMILIES if f.name == name)
    return family.build()


@functools.cache
def data_for(name):
    """`(context, truth)`: CONTEXT rows ending where the forecast starts, then the truth."""
    family = next(f for f in FAMILIES if f.name == name)
    if not family.zoo:
        _, test = lorenz_data()
        return test[:CONTEXT], test[CONTEXT : CONTEXT + N_STEPS]
    system = fitted(name)
    traj = systems.trajectory(system, CONTEXT + N_STEPS, transient=50)
    return traj[:CONTEXT], traj[CONTEXT:]


def _forecast(family, model, n_steps, key=None):
    context, _ = data_for(family.name)
    kwargs = {}
    if family.dt is not None:
        kwargs["dt"] = family.dt
    if family.stochastic:
        kwargs["key"] = jax.random.key(0) if key is None else key
    return dynlearn.forecast(model, context, n_steps, **kwargs)


def _reference(family, model, context, n_steps):
    """The forecast the row convention promises, computed without `dynlearn.forecast`."""
    x0 = context[-1]
    ts = jnp.arange(n_steps + 1, dtype=context.dtype) * DT
    if family.zoo:
        return systems.trajectory(model, n_steps + 1, y0=x0)[1:]
    if family.name == "NeuralODE":
        return model(ts, x0)[1:]
    if family.name == "NeuralSDE":
        # one solve per sampling interval, with the Brownian motion of fold_in(key, i)
        solve = eqx.filter_jit(lambda y, interval, k: model(interval, y, key=k)[1])
        out, y = [], x0
        for i in range(n_steps):
            y = solve(y, ts[i : i + 2], jax.random.fold_in(jax.random.key(0), i))
            out.append(y)
        return jnp.stack(out)
    if family.name == "ShallowPLRNN":
        # A one-row context starts from encode(x0), as model(x0, n_steps) does.
        return model(x0, n_steps)[1:]
    if family.name == "EchoStateNetwork":
        return _esn_by_hand(model, context, n_steps)
    if family.name == "NVAR":
        return _nvar_by_hand(model, context, n_steps)
    if family.name == "SINDy":
        return model.simulate(ts, x0)[1:]
    if family.name == "KoopmanAutoencoder":
        return model.predict(x0, n_steps)[1:]
    if family.name == "KoopmanVAE":
        times = jnp.arange(context.shape[0], dtype=context.dtype)
        future = context.shape[0] + jnp.arange(n_steps, dtype=context.dtype)
        return model.forecast(context, times, future)
    if family.name.startswith("SequenceModel"):
        return _teacher_forced(model, context, n_steps)
    raise AssertionError(family.name)


def _teacher_forced(model, context, n_steps):
    # The parallel call over the context followed by the forecast: output t predicts input t + 1,
    # so the closed-loop forecast must be reproduced from its own rows (step == parallel call).
    pred = dynlearn.forecast(model, context, n_steps)
    inputs = jnp.concatenate([context, pred[:-1]])
    return model(inputs)[context.shape[0] - 1 :]


def _esn_by_hand(esn, context, n_steps):
    """Closed-loop ESN in NumPy float64 from the published update and readout equations."""
    w, w_in, b = (np.asarray(a, np.float64) for a in (esn.w, esn.w_in, esn.bias))
    w_out, leak = np.asarray(esn.w_out, np.float64), esn.leak_rate

    def update(r, u):
        return (1 - leak) * r + leak * np.tanh(w @ r + w_in @ u + b)

    def readout(r, u):
        return w_out @ np.concatenate([[1.0], u, r, r**2])

    r = np.zeros(w.shape[0])
    for u in np.asarray(context, np.float64):
        r = update(r, u)
    u = np.asarray(context[-1], np.float64)
    out = []
    for _ in range(n_steps):
        u = readout(r, u)
        r = update(r, u)
        out.append(u)
    return np.stack(out)


def _nvar_by_hand(nvar, context, n_steps):
    """Closed-loop NVAR in NumPy float64: constant, delays and their unique quadratic monomials."""
    w_out = np.asarray(nvar.w_out, np.float64)
    hist = [np.asarray(u, np.float64) for u in context[-nvar.window :]]
    out = []
    for _ in range(n_steps):
        lin = np.concatenate([hist[-1 - j * nvar.skip] for j in range(nvar.delays)])
        quad = [lin[i] * lin[j] for i in range(lin.size) for j in range(i, lin.size)]
        u = hist[-1] + w_out @ np.concatenate([[1.0], lin, quad])
        hist = hist[1:] + [u]
        out.append(u)
    return np.stack(out)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_forecast_shape_rows_and_prefix(family):
    model = fitted(family.name)
    # the contract's state interface (a sequence model is adapted into its closed loop)
    assert isinstance(model, dynlearn.DynamicalModel) != isinstance(model, ssm.SequenceModel)
    context, truth = data_for(family.name)
    pred = _forecast(family, model, N_STEPS)
    assert pred.shape == (N_STEPS, context.shape[1]) == truth.shape
    assert bool(jnp.all(jnp.isfinite(pred)))

    # the row convention: row i is i + 1 steps after context[-1], which is never repeated
    if family.name == "ShallowPLRNN":
        got = dynlearn.forecast(model, context[-1:], N_STEPS)
    else:
        got = pred
    if isinstance(model, systems.DelayFlow):
        # the embedding is read as a spline history on [-tau, 0]; the continued trajectory
        # differs from it by the interpolation error only
        reference, tol = truth, 1e-2
    else:
        reference = _reference(family, model, context, N_STEPS)
        tol = 1e-4 if family.name in ("EchoStateNetwork", "NVAR", "SINDy") else 1e-5
    np.testing.assert_allclose(got, reference, rtol=tol, atol=tol)
    assert not np.allclose(pred[0], context[-1])

    # prefix invariant: the first n rows of an (n + m)-step forecast are the n-step forecast
    longer = _forecast(family, model, N_STEPS + EXTRA)
    if family.exact_prefix:
        np.testing.assert_array_equal(longer[:N_STEPS], pred)
    else:
        np.testing.assert_allclose(longer[:N_STEPS], pred, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_metrics_and_lyapunov_spectrum(family):
    model = fitted(family.name)
    context, truth = data_for(family.name)
    pred = _forecast(family, model, N_STEPS)
    dt = DT if family.dt is not None or not family.zoo else model.dt
    vpt = metrics.valid_prediction_time(truth, pred, dt=dt)
    assert vpt.shape == () and 0 <= float(vpt) <= N_STEPS * dt * (1 + 1e-6)
    divergence = metrics.state_space_divergence(truth, pred)
    assert divergence.shape == ()
    if family.zoo:  # the forecast is the true continuation: the whole horizon is valid
        np.testing.assert_allclose(vpt, N_STEPS * dt, rtol=1e-6)
        np.testing.assert_allclose(divergence, 0.0, atol=1e-3)

    kwargs = {} if family.dt is None else {"dt": family.dt}
    spectrum = analysis.lyapunov_spectrum(model, context, n_steps=200, **kwargs)
    assert spectrum.shape == (context.shape[1],)
    assert bool(jnp.all(jnp.isfinite(spectrum)))
    assert bool(jnp.all(spectrum[:-1] >= spectrum[1:]))


@pytest.mark.parametrize("mixer", ["mamba", "s4", "s5", "rglru", "linear_attention", "attention"])
def test_sequence_model_built_in_blocks(mixer):
    # Every other built-in block, untrained (training is checked above with S4D and a user's
    # block): the closed loop matches the parallel call, and its spectrum is that of the closed
    # loop. Softmax attention's state is a key/value cache filled up to an integer position (a
    # system that changes with every token, bounded by max_len): no Lyapunov spectrum for it.
    model = ssm.SequenceModel(mixer, 8, 1, 3, d_in=3, key=jax.random.key(14))
    context = lorenz_data()[1][:20]
    pred = dynlearn.forecast(model, context, 6)
    assert pred.shape == (6, 3)
    np.testing.assert_allclose(pred, _teacher_forced(model, context, 6), rtol=1e-4, atol=1e-4)
    if mixer != "attention":
        spectrum = analysis.lyapunov_spectrum(model, context, n_steps=50)
        assert spectrum.shape == (3,) and bool(jnp.all(jnp.isfinite(spectrum)))


def test_zoo_forecast_continues_the_trajectory():
    # Against independent references: the closed-form harmonic oscillator, and Lorenz-63
    # integrated in one piece rather than restarted at the end of the context.
    oscillator = systems.harmonic_oscillator()
    context, truth = data_for("zoo HamiltonianFlow")
    q0, p0 = (float(v) for v in context[-1])
    t = oscillator.dt * np.arange(1, N_STEPS + 1)
    exact = np.stack([q0 * np.cos(t) + p0 * np.sin(t), p0 * np.cos(t) - q0 * np.sin(t)], axis=1)
    np.testing.assert_allclose(dynlearn.forecast(oscillator, context, N_STEPS), exact, atol=1e-4)
    np.testing.assert_allclose(truth, exact, atol=1e-4)

    lorenz = systems.get("Lorenz")
    context, truth = data_for("zoo Flow (Lorenz)")
    np.testing.assert_allclose(dynlearn.forecast(lorenz, context, N_STEPS), truth, atol=1e-3)


def test_stochastic_forecast_is_one_sample_path_per_key():
    family = FAMILIES[IDS.index("NeuralSDE")]
    model = fitted(family.name)
    a = _forecast(family, model, N_STEPS, key=jax.random.key(0))
    b = _forecast(family, model, N_STEPS, key=jax.random.key(1))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, _forecast(family, model, N_STEPS, key=jax.random.key(0)))
    with pytest.raises(ValueError, match="key"):
        dynlearn.forecast(model, data_for(family.name)[0], N_STEPS, dt=DT)


def test_latent_exponents_match_a_closed_form():
    # A Koopman autoencoder is linear in its latent state: its exponents are log|eig(K)|, the
    # leading `dim` of them by default, whatever the encoder and decoder.
    model = fitted("KoopmanAutoencoder")
    context, _ = data_for("KoopmanAutoencoder")
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(np.asarray(model.operator.matrix())))))
    spectrum = analysis.lyapunov_spectrum(model, context, n_steps=1000, transient=200)
    np.testing.assert_allclose(spectrum, expected[::-1][:3], atol=2e-3)
    full = analysis.lyapunov_spectrum(model, context, n_steps=1000, transient=200, k=4)
    np.testing.assert_allclose(full, expected[::-1], atol=2e-3)


def test_exponents_per_unit_time_of_a_model_with_a_sampling_step():
    # SINDy records the sampling step of its data: its flow's RK4 step defaults to it, and the
    # exponents are per unit time (the same as an explicit dt).
    model = fitted("SINDy")
    context, _ = data_for("SINDy")
    assert model.dt == DT
    default = analysis.lyapunov_spectrum(model, context, n_steps=200)
    explicit = analysis.lyapunov_spectrum(model, model.init_state(context), n_steps=200, dt=DT)
    np.testing.assert_allclose(default, explicit, rtol=1e-6)


def test_bad_calls():
    lorenz = systems.get("Lorenz")
    context, _ = data_for("zoo Flow (Lorenz)")
    with pytest.raises(TypeError, match="contract"):
        dynlearn.forecast(lambda x: x, context, 3)
    with pytest.raises((ValueError, TypeError), match="context"):  # TypeError: jaxtyping hook
        dynlearn.forecast(lorenz, context[0], 3)
    with pytest.raises(ValueError, match="n_steps"):
        dynlearn.forecast(lorenz, context, 0)
    with pytest.raises(ValueError, match="dt"):
        dynlearn.forecast(fitted("NeuralODE"), context, 3)
    henon = systems.get("Henon")
    np.testing.assert_array_equal(  # a map steps once per row, whatever dt says
        dynlearn.forecast(henon, jnp.zeros((2, 2)), 3, dt=0.1),
        dynlearn.forecast(henon, jnp.zeros((2, 2)), 3),
    )
    with pytest.raises(ValueError, match="shorter than the delay window"):
        dynlearn.forecast(recon.NVAR(3, delays=3), jnp.zeros((2, 3)), 3)


def _docs_example() -> str:
    text = (Path(__file__).parents[1] / "docs" / "analysis.md").read_text()
    section = text.split("## One interface", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_docs_composability_example():
    # The "One interface" example of docs/analysis.md (and the README) runs as written.
    namespace: dict = {}
    exec(compile(_docs_example(), "docs/analysis.md", "exec"), namespace)
    results = namespace["results"]
    assert set(results) == {"NeuralODE", "ShallowPLRNN", "EchoStateNetwork"}
    for name, (vpt, divergence, spectrum) in results.items():
        assert math.isfinite(vpt) and math.isfinite(divergence), name
        assert spectrum.shape == (3,) and bool(jnp.all(jnp.isfinite(spectrum))), name
