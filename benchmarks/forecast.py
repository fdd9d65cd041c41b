"""Chaos forecasting benchmark: VPT, D_stsp and D_H of model families on dysts systems.

Follows the protocol of Gilpin, "Model scale versus domain knowledge in statistical forecasting
of chaotic systems" (Phys. Rev. Research 5, 043252, 2023; arXiv:2303.08011), whose evaluation
code is dysts' `benchmarks/` folder (github.com/williamgilpin/dysts). Each choice and its source:

- sampling: 100 points per dominant period, `dt = system.period / 100` (the paper's datasets
  `test_multivariate__pts_per_period_100__periods_{12,60}`; `system.period` is dysts' period);
- training data, two regimes (`--regime`, recorded in every cell and table):
  `full`: 10 periods = 1000 points (`compute_benchmarks_multivariate.py` with `LONG = True`
  trains on the first 1/6 of the 60-period series); `limited`: the last 1 period = 100 points of
  that series (`multivariate_data_limited.py` trains on ever shorter tails of the training
  series, down to 101 points, to measure the data-limited regime);
- test: the paper forecasts the 50 periods after the training series (60-period series, split
  at 1/6); here `--n-tests` held-out windows follow the training series, each forecast from a
  context of two periods over `--horizon-lyapunov` Lyapunov times (default 25, so that the
  paper's VPTs of ~24 can be measured; at least 6 and at most `--max-horizon-periods` periods,
  the horizon is in the table);
- standardization: ours (dysts' trajectory generators and loaders default to
  `standardize=False`); the models here are fit to the training series standardized by its own
  mean and standard deviation (in both regimes), and the metrics compare forecasts with the
  truth in the original coordinates;
- VPT: in Lyapunov times of the system's reference largest exponent `system.max_lyapunov`
  (dysts' `maximum_lyapunov_estimated`), by both definitions: Gilpin's (the first time the sMAPE
  of the forecast prefix exceeds 30, dysts' `metrics.horizoned_metric`; `metric="smape"`) and
  the pointwise NRMSE < 0.5 of the reservoir-computing literature;
- not the paper's: its darts models are tuned per system by a hyperparameter search
  (`find_hyperparameters_multivariate.py`); here every family has one fixed configuration, and
  the trained families train for `--nn-steps` optimizer steps only (CPU scale).

A free run of ten periods from the first test point is compared with the true orbit by D_stsp
and D_H (the GTF paper's code definitions), each next to its noise floor: the same metric
between the true orbit and an independent true orbit of the same length (the next ten periods
of the reference trajectory).

Models: `linear` (linear VAR, ridge), `nvar`, `esn`, `sindy`, `plrnn_gtf` (clipped shPLRNN with
adaptive GTF) — always; `neural_ode` (dynlearn.nde), `s4d` and `mamba` (dynlearn.ssm: encoder,
one block, decoder, trained one step ahead, forecasting through the block's recurrent `step`),
`transformer` (a small causal Transformer from dynlearn.ssm's SoftmaxAttention, forecasting over
a sliding 64-point window) and `koopman_ae` (dynlearn.koopman) when their subpackages are
importable, else reported as 'not available'.

Each (system, model, seed, regime) cell is written to its own file in
`benchmarks/results/forecast_cells/`
as soon as it finishes; a rerun with the same arguments skips finished cells (`--overwrite`
recomputes them), `--shard I/N` runs the I-th of N disjoint parts of the cells (a cluster job
array, or N processes), and `--merge` builds the tables from the cell files. Every cell's PRNG
key depends on (system, model, seed) only, so sharded and unsharded runs give the same numbers.
`--medium` is the committed run (see `medium_systems` for its rule): its tables go to
docs/benchmarks/forecast_medium.{csv,md}, its figure to docs/figures/benchmark_forecast_medium.png.
Writes benchmarks/results/forecast.csv, forecast.md and forecast.png (`--name` changes the stem).
Fit times are wall-clock and include compilation (the machine is shared: compare ratios, not
absolute seconds). `--full` is every dysts flow of the zoo: 129 ODEs and 6 delay equations.

    python benchmarks/forecast.py                          # small default, a few minutes
    python benchmarks/forecast.py --quick                  # smoke run
    python benchmarks/forecast.py --systems Lorenz Rossler --models esn nvar sindy
    python benchmarks/forecast.py --medium --shard 0/2 &   # the committed medium run, in two
    python benchmarks/forecast.py --medium --shard 1/2 &   # processes, then
    python benchmarks/forecast.py --medium --merge         # docs/benchmarks/forecast_medium.md
    python benchmarks/forecast.py --regime full limited    # both training-data regimes
    python benchmarks/forecast.py --full                   # all 135 dysts flows of the zoo
    python benchmarks/forecast.py --full --dry-run         # list them, run nothing
    python benchmarks/forecast.py --floors                 # noise floors of D_stsp and D_H
    python benchmarks/forecast.py --vpt-definitions        # the VPT definitions side by side
    python benchmarks/forecast.py --full --n-seeds 3 --shard 0/8   # one of 8 parts (I = 0..7)
    python benchmarks/forecast.py --full --n-seeds 3 --merge       # tables from all parts
"""

import os

# On a shared, oversubscribed machine multithreaded OpenBLAS spins: a 3000x28 float64 matmul then
# takes 0.4 s instead of 0.1 ms. One BLAS thread for every library alike (set before numpy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import csv
import importlib
import json
import math
import time
import traceback
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynlearn import recon, systems
from dynlearn.kernels import odeint_fixed
from dynlearn.metrics import (
    noise_floor,
    power_spectrum_distance,
    state_space_divergence,
    valid_prediction_time,
)

CLOSED_FORM = ["linear", "nvar", "esn", "sindy"]
TRAINED = ["plrnn_gtf", "neural_ode", "s4d", "mamba", "transformer", "koopman_ae"]
ALL_MODELS = CLOSED_FORM + TRAINED
DEFAULT_SYSTEMS = ["Lorenz", "Rossler", "Thomas"]
PPP = 100  # points per period (dysts' benchmark datasets: `pts_per_period_100`)
# Training-data regimes, in periods of training series right before the test data (dysts'
# benchmarks/compute_benchmarks_multivariate.py: 10 periods; benchmarks/multivariate_data_limited.py
# truncates them down to ~1 period, 101 points, its shortest training series)
REGIMES = {"full": 10, "limited": 1}
# --medium: the closed-form families on every MEDIUM_EVERY-th ODE flow by name (22, less the
# quasi-periodic Torus: 21 systems), the trained ones on every 4th of those from the 4th on (5
# systems, Lorenz among them), 3 seeds, both regimes, training budgets cut to CPU scale
# (MEDIUM_NN_STEPS optimizer steps)
MEDIUM_EVERY = 6
MEDIUM_NN_STEPS = 200
# Left out of --medium after the every-6th rule: not chaotic, so no Lyapunov time to measure VPT
# in (dysts' metadata: "a minimal quasiperiodic flow on a torus. All lyapunov exponents ... are
# zero"; its 60-period test windows also exhaust the reference solver's max_steps)
MEDIUM_NOT_CHAOTIC = ("Torus",)


def medium_systems():
    """The --medium systems: (closed-form families' systems, trained families' systems)."""
    every = systems.names("flows")[::MEDIUM_EVERY]
    closed = [n for n in every if n not in MEDIUM_NOT_CHAOTIC]
    return closed, closed[3::4]


def medium_cells(seeds, regimes):
    """The --medium cells: closed-form families on 21 flows, trained families on 5 of them."""
    closed, trained = medium_systems()
    return all_cells(closed, CLOSED_FORM, seeds, regimes) + all_cells(trained, TRAINED, seeds,
                                                                      regimes)


# ----------------------------------------------------------------------------------- data


def horizon_steps(system, dt, horizon_lyapunov, min_periods, max_periods):
    """Test-window length: `horizon_lyapunov` Lyapunov times, within [min, max] periods."""
    lyap = system.max_lyapunov
    wanted = math.ceil(horizon_lyapunov / (lyap * dt)) if lyap else 0
    return int(min(max(wanted, min_periods * PPP), max_periods * PPP))


def make_data(name, train_periods, n_tests, context_periods, horizon_lyapunov=25.0,
              min_horizon_periods=6, max_horizon_periods=60):
    system = systems.get(name)
    dt = system.period / PPP
    n_context = context_periods * PPP
    horizon = horizon_steps(system, dt, horizon_lyapunov, min_horizon_periods,
                            max_horizon_periods)
    n_train = train_periods * PPP
    n_long = 10 * PPP
    # two stretches of n_long + 1 points at the end: the long truth and an independent one
    total = n_train + n_tests * (n_context + horizon) + 2 * (n_long + 1)
    traj = np.asarray(systems.trajectory(system, total, dt=dt, transient=20 * PPP), np.float64)
    if not np.all(np.isfinite(traj)):
        raise FloatingPointError("non-finite reference trajectory")
    mean, std = traj[:n_train].mean(0), traj[:n_train].std(0)
    std = np.where(std > 0, std, 1.0)
    tests = []
    s = n_train
    for _ in range(n_tests):
        tests.append((traj[s : s + n_context], traj[s + n_context : s + n_context + horizon]))
        s += n_context + horizon
    long_true = traj[s : s + n_long + 1]
    long_other = traj[s + n_long + 1 : s + 2 * (n_long + 1)]
    lyap = system.max_lyapunov
    if lyap is None or not lyap > 0:
        raise ValueError(f"{name} has no reference largest Lyapunov exponent")
    return dict(system=system, dt=dt, train=traj[:n_train], tests=tests, long=long_true,
                long_other=long_other, mean=mean, std=std, lyap=float(lyap),
                horizon_lt=horizon * dt * float(lyap))


def regime_data(data, train_periods):
    """`data` with its training series cut to the last `train_periods` periods (the stretch right
    before the test data, as dysts' data-limited sweep cuts it) and standardized by its own mean
    and standard deviation (what a user holding only that series can do)."""
    train = data["train"][-train_periods * PPP :]
    mean, std = train.mean(0), train.std(0)
    return dict(data, train=train, mean=mean, std=np.where(std > 0, std, 1.0))


# ---------------------------------------------------------------------------- model adapters
# Each adapter: fit(train_z, dt, key, cfg) -> forecast(context_z, n_steps) -> (n_steps, dim)


def _stride(train, stride):
    """Window stride: `stride` on the full training series, 1 on a data-limited one."""
    return stride if train.shape[0] >= 10 * PPP else 1


def fit_linear(train, dt, key, cfg):
    model = recon.fit_readout(recon.NVAR(train.shape[1], delays=2, quadratic=False), train,
                              ridge=1e-6)
    return model.forecast


def fit_nvar(train, dt, key, cfg):
    model = recon.fit_readout(recon.NVAR(train.shape[1], delays=2, skip=1), train, ridge=1e-6)
    return model.forecast


def fit_esn(train, dt, key, cfg):
    esn = recon.EchoStateNetwork(train.shape[1], cfg["esn_size"], spectral_radius=0.9,
                                 input_scaling=0.5, key=key)
    washout = min(100, train.shape[0] // 4)  # a data-limited series is ~100 points long
    return recon.fit_readout(esn, train, ridge=1e-6, washout=washout).forecast


def fit_sindy(train, dt, key, cfg):
    model = recon.fit_sindy(train, dt=dt, library=recon.PolynomialLibrary(2),
                            optimizer=recon.STLSQ(0.05))

    # throw=False: a diverging forecast is scored (non-finite rows), not an error
    run = jax.jit(lambda y0, ts: odeint_fixed(model.vector_field, ts, y0, None, method="rk4",
                                              steps_per_interval=2, throw=False))

    def forecast(context, n_steps):
        ts = jnp.arange(n_steps + 1, dtype=context.dtype) * dt
        return run(context[-1], ts)[1:]

    return forecast


def fit_plrnn_gtf(train, dt, key, cfg):
    k_model, k_fit = jax.random.split(key)
    dim = train.shape[1]
    init = recon.ShallowPLRNN(dim, max(20, 2 * dim), 100, clipped=True, key=k_model)
    steps = cfg["nn_steps"]
    model, _ = recon.fit_gtf(init, train, optax.adam(optax.exponential_decay(1e-3, steps, 0.1)),
                             steps=steps, batch_size=16, sequence_length=50, key=k_fit,
                             alpha="adaptive")

    def forecast(context, n_steps):
        return model(context[-1], n_steps)[1:]

    return forecast


def fit_neural_ode(train, dt, key, cfg):
    import equinox as eqx

    from dynlearn.nde import FixedGrid, NeuralODE
    from dynlearn.train import fit

    dim = train.shape[1]

    class Field(eqx.Module):
        mlp: eqx.nn.MLP

        def __call__(self, t, y, args):
            return self.mlp(y)

    k_model, k_fit = jax.random.split(key)
    model = NeuralODE(Field(eqx.nn.MLP(dim, dim, 64, 2, activation=jax.nn.gelu, key=k_model)),
                      solver=FixedGrid("rk4"), throw=False)  # score a diverging forecast
    window = 10
    windows = recon.trajectory_windows(train, window + 1, stride=_stride(train, 2))
    ts = jnp.arange(window + 1, dtype=train.dtype) * dt

    def loss(m, batch, *, key):
        pred = jax.vmap(lambda w: m(ts, w[0]))(batch)
        return jnp.mean((pred - batch) ** 2)

    steps = cfg["nn_steps"]
    model, _ = fit(model, loss, windows, optax.adam(optax.cosine_decay_schedule(3e-3, steps)),
                   steps=steps, batch_size=min(64, windows.shape[0]), key=k_fit, progress=False,
                   mesh=None, steps_per_dispatch=50)
    run = eqx.filter_jit(lambda m, y0, t: m(t, y0))

    def forecast(context, n_steps):
        t = jnp.arange(n_steps + 1, dtype=context.dtype) * dt
        return run(model, context[-1], t)[1:]

    return forecast


def _ssm_forecaster(make_block):
    """One-step-ahead SSM forecaster: encoder, one SSM block, decoder, residual on the state."""

    def fit_ssm(train, dt, key, cfg):
        import equinox as eqx

        from dynlearn.train import fit

        dim, width = train.shape[1], 32
        k_enc, k_block, k_dec, k_fit = jax.random.split(key, 4)

        class Forecaster(eqx.Module):
            enc: eqx.nn.Linear
            block: eqx.Module
            dec: eqx.nn.Linear

            def __call__(self, xs):
                h = jax.vmap(self.enc)(xs)
                y = jax.nn.gelu(self.block(h)) + h
                return xs + jax.vmap(self.dec)(y)

            def step(self, state, x):
                h = self.enc(x)
                state, y = self.block.step(state, h)
                return state, x + self.dec(jax.nn.gelu(y) + h)

        model = Forecaster(eqx.nn.Linear(dim, width, key=k_enc), make_block(width, k_block),
                           eqx.nn.Linear(width, dim, key=k_dec))
        windows = recon.trajectory_windows(train, 65, stride=_stride(train, 4))

        def loss(m, batch, *, key):
            return jnp.mean((jax.vmap(m)(batch[:, :-1]) - batch[:, 1:]) ** 2)

        steps = cfg["nn_steps"]
        model, _ = fit(model, loss, windows, optax.adam(optax.cosine_decay_schedule(3e-3, steps)),
                       steps=steps, batch_size=min(32, windows.shape[0]), key=k_fit,
                       progress=False, mesh=None, steps_per_dispatch=50)

        @eqx.filter_jit
        def run(m, context, n_steps):
            def warm(state, x):
                return m.step(state, x)

            state, ys = jax.lax.scan(warm, m.block.init_state(), context)

            def gen(carry, _):
                state, x = carry
                state, y = m.step(state, x)
                return (state, y), y

            _, rest = jax.lax.scan(gen, (state, ys[-1]), None, length=n_steps - 1)
            return jnp.concatenate([ys[-1][None], rest], axis=0)

        # warm up over one training-window length only: the block never saw longer histories
        return lambda context, n_steps: run(model, context[-64:], n_steps)

    return fit_ssm


def _s4d_block(width, key):
    from dynlearn.ssm import S4D

    return S4D(width, 64, key=key)


def _mamba_block(width, key):
    from dynlearn.ssm import Mamba

    return Mamba(width, 16, key=key)


def fit_transformer(train, dt, key, cfg):
    """A small causal Transformer (dynlearn.ssm.SoftmaxAttention), one step ahead.

    Encoder with learned positions, one attention block and one MLP (pre-norm residuals),
    decoder; trained on windows of 64 points; it forecasts over a sliding window of the last 64
    points (the length it was trained on), so the context it attends to never grows.
    """
    import equinox as eqx

    from dynlearn.ssm import SoftmaxAttention
    from dynlearn.train import fit

    dim, width, length = train.shape[1], 32, 64
    keys = jax.random.split(key, 6)

    class Transformer(eqx.Module):
        enc: eqx.nn.Linear
        pos: jax.Array
        norm1: eqx.nn.LayerNorm
        attn: SoftmaxAttention
        norm2: eqx.nn.LayerNorm
        mlp: eqx.nn.MLP
        dec: eqx.nn.Linear

        def __call__(self, xs):
            h = jax.vmap(self.enc)(xs) + self.pos[: xs.shape[0]]
            h = h + self.attn(jax.vmap(self.norm1)(h))
            h = h + jax.vmap(self.mlp)(jax.vmap(self.norm2)(h))
            return xs + jax.vmap(self.dec)(h)

    model = Transformer(
        eqx.nn.Linear(dim, width, key=keys[0]),
        0.02 * jax.random.normal(keys[1], (length, width)),
        eqx.nn.LayerNorm(width),
        SoftmaxAttention(width, 4, key=keys[2]),
        eqx.nn.LayerNorm(width),
        eqx.nn.MLP(width, width, 2 * width, 1, activation=jax.nn.gelu, key=keys[3]),
        eqx.nn.Linear(width, dim, key=keys[4]),
    )
    windows = recon.trajectory_windows(train, length + 1, stride=_stride(train, 4))

    def loss(m, batch, *, key):
        return jnp.mean((jax.vmap(m)(batch[:, :-1]) - batch[:, 1:]) ** 2)

    steps = cfg["nn_steps"]
    model, _ = fit(model, loss, windows, optax.adam(optax.cosine_decay_schedule(3e-3, steps)),
                   steps=steps, batch_size=min(32, windows.shape[0]), key=keys[5],
                   progress=False, mesh=None, steps_per_dispatch=50)

    @eqx.filter_jit
    def run(m, window, n_steps):
        def gen(window, _):
            y = m(window)[-1]
            return jnp.concatenate([window[1:], y[None]]), y

        return jax.lax.scan(gen, window, None, length=n_steps)[1]

    def forecast(context, n_steps):
        if context.shape[0] < length:  # pad a short context by repeating its first point
            pad = jnp.repeat(context[:1], length - context.shape[0], axis=0)
            context = jnp.concatenate([pad, context])
        return run(model, context[-length:], n_steps)

    return forecast


def fit_koopman_ae(train, dt, key, cfg):
    import equinox as eqx

    from dynlearn.koopman import KoopmanAutoencoder, koopman_autoencoder_loss
    from dynlearn.train import fit

    k_model, k_fit = jax.random.split(key)
    model = KoopmanAutoencoder(train.shape[1], 16, 64, 2, key=k_model)
    windows = recon.trajectory_windows(train, 21, stride=_stride(train, 2))
    steps = cfg["nn_steps"]
    model, _ = fit(model, koopman_autoencoder_loss, windows,
                   optax.adam(optax.cosine_decay_schedule(3e-3, steps)), steps=steps,
                   batch_size=min(64, windows.shape[0]), key=k_fit, progress=False, mesh=None,
                   steps_per_dispatch=50)

    @eqx.filter_jit
    def run(m, context, n_steps):
        def gen(z, _):
            z = m.operator(z)
            return z, m.decode(z)

        return jax.lax.scan(gen, m.encode(context[-1]), None, length=n_steps)[1]

    return lambda context, n_steps: run(model, context, n_steps)


ADAPTERS = {
    "linear": fit_linear,
    "nvar": fit_nvar,
    "esn": fit_esn,
    "sindy": fit_sindy,
    "plrnn_gtf": fit_plrnn_gtf,
    "neural_ode": fit_neural_ode,
    "s4d": _ssm_forecaster(_s4d_block),
    "mamba": _ssm_forecaster(_mamba_block),
    "transformer": fit_transformer,
    "koopman_ae": fit_koopman_ae,
}
REQUIRES = {
    "neural_ode": ("dynlearn.nde", ("NeuralODE", "FixedGrid")),
    "s4d": ("dynlearn.ssm", ("S4D",)),
    "mamba": ("dynlearn.ssm", ("Mamba",)),
    "transformer": ("dynlearn.ssm", ("SoftmaxAttention",)),
    "koopman_ae": ("dynlearn.koopman", ("KoopmanAutoencoder", "koopman_autoencoder_loss")),
}


def available(model):
    """Whether the subpackage a model family needs can be imported (and has the names)."""
    if model not in REQUIRES:
        return True
    module, names = REQUIRES[model]
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return False
    return all(hasattr(mod, n) for n in names)


# ------------------------------------------------------------------------------ evaluation


def evaluate(data, forecast):
    dt, lyap, mean, std = data["dt"], data["lyap"], data["mean"], data["std"]
    vpt_s, vpt_n = [], []
    for context, truth in data["tests"]:
        cz = jnp.asarray((context - mean) / std, jnp.float32)
        pred = np.asarray(forecast(cz, truth.shape[0]), np.float64) * std + mean
        vpt_s.append(float(valid_prediction_time(truth, pred, dt=dt, max_lyapunov=lyap)))
        vpt_n.append(float(valid_prediction_time(truth, pred, dt=dt, max_lyapunov=lyap,
                                                 metric="nrmse", scale=std)))
    long_true = (data["long"] - mean) / std
    start = jnp.asarray(long_true[:PPP], jnp.float32)
    free = np.asarray(forecast(start, long_true.shape[0] - PPP), np.float64)
    truth = long_true[PPP:]

    if np.all(np.isfinite(free)) and np.max(np.abs(free)) < 1e6:
        d_stsp = float(state_space_divergence(truth, free))
        d_h = float(power_spectrum_distance(truth, free))
    else:
        d_stsp, d_h = math.inf, 1.0
    return vpt_s, vpt_n, d_stsp, d_h


def floors(data):
    """D_stsp and D_H of the true free-run stretch against an independent true stretch."""
    mean, std = data["mean"], data["std"]
    truth = ((data["long"] - mean) / std)[PPP:]
    other = ((data["long_other"] - mean) / std)[PPP:]
    return (float(noise_floor(state_space_divergence, truth, other)),
            float(noise_floor(power_spectrum_distance, truth, other)))


def floor_table(name="Lorenz", lengths=(1000, 4000, 10000, 40000), n_pairs=3, seed=0):
    """Noise floors of D_stsp and D_H vs length: independent true orbits of one system.

    Pairs of non-overlapping stretches of one long trajectory at 100 points per period (Lorenz:
    dt = 0.015), standardised with the first stretch's statistics; prints min-max over pairs.
    """
    system = systems.get(name)
    dt = system.period / PPP
    total = 2 * n_pairs * max(lengths)
    traj = np.asarray(systems.trajectory(system, total, dt=dt, transient=20 * PPP), np.float64)
    print(f"{name}, dt = {dt:.4g}, {n_pairs} pairs of independent stretches per length")
    print("| length | D_stsp bins (gtf box) | D_stsp bins (legacy box) | D_stsp GMM | D_H |")
    print("|---|---|---|---|---|")
    key = jax.random.key(seed)
    for n in lengths:
        vals = {k: [] for k in ("gtf", "legacy", "gmm", "dh")}
        for i in range(n_pairs):
            a = traj[2 * i * max(lengths):][:n]
            b = traj[(2 * i + 1) * max(lengths):][:n]
            mean, std = a.mean(0), a.std(0)
            a, b = (a - mean) / std, (b - mean) / std
            vals["gtf"].append(float(noise_floor(state_space_divergence, a, b)))
            vals["legacy"].append(float(noise_floor(state_space_divergence, a, b, box="legacy")))
            vals["gmm"].append(float(noise_floor(state_space_divergence, a, b, method="gmm",
                                                 key=jax.random.fold_in(key, i))))
            vals["dh"].append(float(noise_floor(power_spectrum_distance, a, b)))
        cells = [f"{min(v):.3f}-{max(v):.3f}" for v in vals.values()]
        print(f"| {n} | " + " | ".join(cells) + " |")


# ------------------------------------------------------------------------------ cells
# One (system, model, seed) cell is one result file, written as soon as it finishes: an
# interrupted run continues where it stopped, and `--shard I/N` runs disjoint parts of the
# cells on as many machines or processes as wanted; `--merge` builds the tables from them.


def all_cells(names, models, seeds, regimes=("full",)):
    """Every (system, model, seed, regime) cell, in table order."""
    return [(n, m, s, r) for n in names for r in regimes for m in models for s in seeds]


def parse_shard(text):
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must be I/N with integers, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard I/N needs N >= 1 and 0 <= I < N, got {text!r}")
    return i, n


def shard_cells(cells, shard):
    """Cells of shard `I/N`: every N-th cell from the I-th, so systems spread over the shards."""
    if shard is None:
        return list(cells)
    i, n = parse_shard(shard)
    return [c for k, c in enumerate(cells) if k % n == i]


def cell_path(cell_dir, system, model, seed, regime="full"):
    return Path(cell_dir) / f"{system}__{model}__seed{seed}__{regime}.json"


def write_cell(cell_dir, cell, row):
    path = cell_path(cell_dir, *cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(row, indent=1, sort_keys=True))
    os.replace(tmp, path)  # atomic: a killed run leaves no half-written cell


def load_cells(cell_dir, cells):
    """The finished cells among `cells`, in their order."""
    rows = []
    for cell in cells:
        path = cell_path(cell_dir, *cell)
        if path.exists():
            rows.append(json.loads(path.read_text()))
    return rows


def cell_key(system, model, seed, regime=None):
    """A PRNG key that depends on the cell only (not on which shard or in which order it ran).

    The same in both regimes, so that they differ by their training data only."""
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(f"{system}/{model}".encode()))


def run_cell(cell, data, train_z, cfg, floor_values):
    name, model, seed, regime = cell
    t_cell, cpu_cell = time.perf_counter(), time.process_time()
    row = dict(system=name, model=model, seed=seed, regime=regime,
               train_points=int(data["train"].shape[0]), nn_steps=cfg["nn_steps"],
               status="ok", horizon_lt=data["horizon_lt"], fit_s=float("nan"),
               cell_s=float("nan"), cpu_s=float("nan"),
               vpt_smape=float("nan"), vpt_nrmse=float("nan"), d_stsp=float("nan"),
               d_h=float("nan"), d_stsp_floor=floor_values[0], d_h_floor=floor_values[1],
               vpts_nrmse="")
    if not available(model):
        row["status"] = "not available"
        return row
    try:
        t0 = time.perf_counter()
        forecast = ADAPTERS[model](train_z, data["dt"], cell_key(*cell), cfg)
        row["fit_s"] = time.perf_counter() - t0
        vs, vn, d_stsp, d_h = evaluate(data, forecast)
        row.update(vpt_smape=float(np.median(vs)), vpt_nrmse=float(np.median(vn)),
                   d_stsp=d_stsp, d_h=d_h, vpts_nrmse=" ".join(f"{v:.3f}" for v in vn))
    except Exception as err:  # noqa: BLE001 - one failing model must not stop the study
        row["status"] = f"failed: {type(err).__name__}"
        traceback.print_exc(limit=2)
    row["cell_s"] = time.perf_counter() - t_cell
    row["cpu_s"] = time.process_time() - cpu_cell  # CPU time: less dependent on the load
    return row


def vpt_definitions(name="Lorenz", n_pairs=5, perturbation=1e-4):
    """The VPT definitions on the same forecasts: orbits from nearby initial conditions.

    The 'forecast' is the true system started `perturbation` away from the truth's initial
    condition (a perfect model with a small state error); VPT in Lyapunov times of
    `system.max_lyapunov`, by each `metric` of `valid_prediction_time`.
    """
    system = systems.get(name)
    dt = system.period / PPP
    n = 30 * PPP
    starts = np.asarray(systems.trajectory(system, n_pairs * n, dt=dt, transient=20 * PPP))[::n]
    vpts = {m: [] for m in ("smape", "smape_pointwise", "nrmse")}
    for y0 in starts:
        truth = systems.trajectory(system, n, dt=dt, y0=y0)
        pred = systems.trajectory(system, n, dt=dt, y0=y0 + perturbation)
        for m in vpts:
            vpts[m].append(float(valid_prediction_time(truth, pred, dt=dt,
                                                       max_lyapunov=system.max_lyapunov,
                                                       metric=m)))
    print(f"{name}: VPT (Lyapunov times) of {n_pairs} orbits started {perturbation:g} apart")
    print("| metric | median | values |")
    print("|---|---|---|")
    for m, v in vpts.items():
        print(f"| {m} | {np.median(v):.2f} | {' '.join(f'{x:.2f}' for x in v)} |")


def full_systems():
    """Every dysts flow of the zoo: the 129 ODEs and the 6 delay equations (135 systems)."""
    return systems.names("flows") + systems.names("delay")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", default=None,
                        help="system names (space or comma separated); default Lorenz Rossler "
                        "Thomas")
    parser.add_argument("--models", nargs="+", default=None,
                        help=f"models (default all): {', '.join(ALL_MODELS)}")
    parser.add_argument("--regime", nargs="+", default=["full"], choices=list(REGIMES),
                        help="training-data regimes: full (10 periods, the paper's) and/or "
                        "limited (1 period, its data-limited extreme); default full")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--medium", action="store_true",
                        help="the committed medium run: closed-form families on every 6th ODE "
                        "flow but Torus (21), trained families on 5 of them, 3 seeds, both "
                        "regimes, "
                        f"{MEDIUM_NN_STEPS} training steps; tables in docs/benchmarks/")
    parser.add_argument("--full", action="store_true",
                        help="all 135 dysts flows of the zoo (129 ODEs, 6 delay equations)")
    parser.add_argument("--floors", action="store_true",
                        help="print the noise floors of D_stsp and D_H on Lorenz, run nothing else")
    parser.add_argument("--vpt-definitions", action="store_true",
                        help="print the VPT of each definition on the same Lorenz forecasts")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved systems and models, run nothing")
    parser.add_argument("--name", default=None,
                        help="results file stem (default forecast, forecast_medium with --medium)")
    parser.add_argument("--train-periods", type=int, default=None,
                        help="training periods of the full regime (default 10)")
    parser.add_argument("--n-tests", type=int, default=None)
    parser.add_argument("--nn-steps", type=int, default=None,
                        help="optimizer steps of the trained families")
    parser.add_argument("--horizon-lyapunov", type=float, default=25.0,
                        help="test-window length in Lyapunov times of system.max_lyapunov, so "
                        "that VPTs of 20+ can be measured (default 25; at least 6 periods)")
    parser.add_argument("--max-horizon-periods", type=int, default=60,
                        help="cap on the test window in periods, for systems whose Lyapunov time "
                        "is many periods long (default 60); the table reports the horizon")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--n-seeds", type=int, default=None,
                        help="seeds per (system, model) cell: seed, seed + 1, ... (default 1, "
                        "3 with --medium)")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="run only part I of N (0 <= I < N) of the cells; merge with --merge")
    parser.add_argument("--merge", action="store_true",
                        help="build the tables from the cell files written so far, run nothing")
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute cells whose result file exists (default: resume)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"),
                        help="cell files and tables (default benchmarks/results; --medium writes "
                        "its tables to docs/benchmarks and its figure to docs/figures)")
    args = parser.parse_args()

    if args.floors:
        floor_table()
        return
    if args.vpt_definitions:
        vpt_definitions()
        return
    if args.shard is not None:
        try:
            parse_shard(args.shard)
        except ValueError as err:
            parser.error(str(err))
    n_seeds = args.n_seeds or (3 if args.medium else 1)
    seeds = list(range(args.seed, args.seed + n_seeds))
    regimes = list(REGIMES) if args.medium else list(dict.fromkeys(args.regime))
    split = lambda xs: [s for x in xs for s in x.split(",") if s]
    models = split(args.models) if args.models else list(ALL_MODELS)
    unknown = [m for m in models if m not in ADAPTERS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {ALL_MODELS}")
    if args.medium:
        if args.systems or args.models or args.full or args.quick:
            parser.error("--medium fixes the systems and models; drop --systems/--models/--full/"
                         "--quick")
        names = list(dict.fromkeys(medium_systems()[0]))
    elif args.systems:
        names = split(args.systems)
    elif args.full:
        names = full_systems()
    else:
        names = list(DEFAULT_SYSTEMS)
    if args.quick:
        names = names[:1] if not args.systems else names
    cfg = dict(
        train_periods=args.train_periods or REGIMES["full"],
        n_tests=args.n_tests or (2 if args.quick else 5),
        nn_steps=args.nn_steps or (200 if args.quick else MEDIUM_NN_STEPS if args.medium
                                   else 4000 if args.full else 1500),
        esn_size=200 if args.quick else 400,
        horizon_lyapunov=args.horizon_lyapunov,
        max_horizon_periods=args.max_horizon_periods,
    )
    train_periods = {"full": cfg["train_periods"], "limited": REGIMES["limited"]}
    if args.medium:
        cells = medium_cells(seeds, regimes)
        # deterministic given the data: one seed (the seed would change nothing)
        cells = [c for c in cells if c[1] not in DETERMINISTIC or c[2] == seeds[0]]
    else:
        cells = all_cells(names, models, seeds, regimes)
    print(f"systems ({len(names)}): {', '.join(names)}")
    if args.medium:
        print(f"trained families on ({len(medium_systems()[1])}): "
              f"{', '.join(medium_systems()[1])}")
    print(f"models: {', '.join(models)}; regimes: "
          + ", ".join(f"{r} ({train_periods[r]} periods)" for r in regimes)
          + f" at {PPP} points per period; {cfg['n_tests']} test windows of "
          f"{cfg['horizon_lyapunov']:g} Lyapunov times (6 to {cfg['max_horizon_periods']} "
          f"periods); {cfg['nn_steps']} training steps; seeds {seeds}; {len(cells)} cells")
    if args.dry_run:
        missing = [n for n in names if n not in systems.names()]
        print(f"unknown systems: {missing}" if missing else "all systems resolve in the zoo")
        print("not available: " + (", ".join(m for m in models if not available(m)) or "none"))
        return

    name = args.name or ("forecast_medium" if args.medium else "forecast")
    out = Path(args.out)
    cell_dir = out / f"{name}_cells"
    tables = out
    figure = None
    if args.medium and args.out == parser.get_default("out"):
        root = Path(__file__).resolve().parents[1]
        tables, figure = root / "docs" / "benchmarks", root / "docs" / "figures"
    if args.merge:
        rows = load_cells(cell_dir, cells)
        print(f"merged {len(rows)} of {len(cells)} cells from {cell_dir}")
        write_results(rows, models, tables, name, figure_dir=figure, n_cells=len(cells))
        return
    todo = shard_cells(cells, args.shard)
    pending = [c for c in todo if args.overwrite or not cell_path(cell_dir, *c).exists()]
    print(f"cells: {len(todo)} in this shard, {len(todo) - len(pending)} already done "
          f"(in {cell_dir})", flush=True)
    # seed-major order: an interrupted (partial) run has every cell of its first seeds
    order = {s: i for i, s in enumerate(seeds)}
    pending.sort(key=lambda c: order.get(c[2], len(seeds)))
    data_cache, regime_cache = {}, {}
    for cell in pending:
        sys_name, regime = cell[0], cell[3]
        if sys_name not in data_cache:
            try:
                data_cache[sys_name] = make_data(sys_name, cfg["train_periods"], cfg["n_tests"],
                                                 2, cfg["horizon_lyapunov"], 6,
                                                 cfg["max_horizon_periods"])
            except Exception as err:  # noqa: BLE001 - report and continue with the next system
                print(f"{sys_name}: data generation failed ({type(err).__name__}: {err})")
                data_cache[sys_name] = None
        if data_cache[sys_name] is None:
            continue
        if (sys_name, regime) not in regime_cache:
            rdata = regime_data(data_cache[sys_name], train_periods[regime])
            train_z = jnp.asarray((rdata["train"] - rdata["mean"]) / rdata["std"], jnp.float32)
            regime_cache[sys_name, regime] = rdata, train_z, floors(rdata)
        rdata, train_z, (d_stsp_floor, d_h_floor) = regime_cache[sys_name, regime]
        row = run_cell(cell, rdata, train_z, cfg, (d_stsp_floor, d_h_floor))
        write_cell(cell_dir, cell, row)
        print(f"{sys_name:12s} {regime:7s} {row['model']:11s} seed {row['seed']} "
              f"{row['status']:8s} fit {row['fit_s']:6.1f} s cell {row['cell_s']:6.1f} s "
              f"cpu {row['cpu_s']:6.1f} s  VPT sMAPE {row['vpt_smape']:5.2f}  "
              f"VPT NRMSE {row['vpt_nrmse']:5.2f}  "
              f"D_stsp {row['d_stsp']:7.3f} (floor {d_stsp_floor:.3f})  "
              f"D_H {row['d_h']:.3f} (floor {d_h_floor:.3f})", flush=True)
    if args.shard is not None:
        print(f"shard {args.shard} done; build the tables with the same arguments and --merge")
        return
    write_results(load_cells(cell_dir, cells), models, tables, name, figure_dir=figure,
                  n_cells=len(cells))


DETERMINISTIC = ("linear", "nvar", "sindy")  # no random initialization: the seed has no effect
FIELDS = ["system", "model", "seed", "regime", "train_points", "nn_steps", "status", "horizon_lt",
          "fit_s", "cell_s", "cpu_s", "vpt_smape", "vpt_nrmse", "d_stsp", "d_stsp_floor", "d_h",
          "d_h_floor", "vpts_nrmse"]


def _median(values):
    """Median over the values that are not NaN (a diverged free run's inf D_stsp counts)."""
    values = [v for v in values if not np.isnan(v)]
    return float(np.median(values)) if values else float("nan")


def write_results(rows, models, out, stem="forecast", figure_dir=None, n_cells=None):
    """The cell table (csv and markdown), per-(regime, model) medians, per-system VPT; figure."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"{stem}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    regimes = list(dict.fromkeys(r["regime"] for r in rows))
    models = [m for m in models if any(r["model"] == m for r in rows)] or list(models)
    done = f"{len(rows)} of {n_cells} cells" if n_cells is not None else f"{len(rows)} cells"
    lines = [f"# Forecast benchmark ({stem}: {done})", "",
             "Median over test windows of the valid prediction time in Lyapunov times of "
             "`system.max_lyapunov` (sMAPE<30: Gilpin's prefix sMAPE; NRMSE<0.5: pointwise); "
             "D_stsp and D_H of a 10-period free run (standardized coordinates, GTF-paper "
             "definitions) with their noise floors (true orbit against an independent true orbit "
             "of the same length). Fit time includes compilation; cell time also the evaluation.",
             "", "## Per regime and model (median over cells: systems and seeds)", "",
             "| regime | model | cells | failed | VPT sMAPE<30 | VPT NRMSE<0.5 | D_stsp | D_H | "
             "fit s | cell s |", "|---|---|---|---|---|---|---|---|---|---|"]
    summary = {}
    for regime in regimes:
        for m in models:
            cells = [r for r in rows if r["model"] == m and r["regime"] == regime]
            ok = [r for r in cells if r["status"] == "ok"]
            if not ok:
                status = cells[0]["status"] if cells else "not run"
                lines.append(f"| {regime} | {m} | {len(cells)} | {len(cells)} | {status} "
                             "| | | | | |")
                continue
            med = {k: _median([r[k] for r in ok]) for k in
                   ("vpt_smape", "vpt_nrmse", "d_stsp", "d_h", "fit_s", "cell_s")}
            summary[regime, m] = ok
            lines.append(f"| {regime} | {m} | {len(cells)} | {len(cells) - len(ok)} | "
                         f"{med['vpt_smape']:.2f} | {med['vpt_nrmse']:.2f} | "
                         f"{med['d_stsp']:.3f} | {med['d_h']:.3f} | {med['fit_s']:.1f} | "
                         f"{med['cell_s']:.1f} |")
    # the same comparison on the systems that every family ran (the trained families' systems)
    shared = [n for n in dict.fromkeys(r["system"] for r in rows)
              if all(any(r["system"] == n and r["model"] == m for r in rows) for m in models)]
    if shared and len(shared) < len(set(r["system"] for r in rows)):
        lines += ["", f"## Per regime and model on the systems every family ran ({len(shared)}: "
                  f"{', '.join(shared)})", "",
                  "| regime | model | cells | failed | VPT sMAPE<30 | VPT NRMSE<0.5 | D_stsp | "
                  "D_H |", "|---|---|---|---|---|---|---|---|"]
        for regime in regimes:
            for m in models:
                cells = [r for r in rows if r["model"] == m and r["regime"] == regime
                         and r["system"] in shared]
                ok = [r for r in cells if r["status"] == "ok"]
                med = {k: _median([r[k] for r in ok]) for k in
                       ("vpt_smape", "vpt_nrmse", "d_stsp", "d_h")}
                lines.append(f"| {regime} | {m} | {len(cells)} | {len(cells) - len(ok)} | "
                             f"{med['vpt_smape']:.2f} | {med['vpt_nrmse']:.2f} | "
                             f"{med['d_stsp']:.3f} | {med['d_h']:.3f} |")
    n_summary = len(lines)
    lines += ["", "## VPT sMAPE<30 per system (median over seeds; - not run)", ""]
    systems_ = list(dict.fromkeys(r["system"] for r in rows))
    for regime in regimes:
        lines += [f"### {regime} regime", "",
                  "| system | horizon | " + " | ".join(models) + " |",
                  "|---|---|" + "---|" * len(models)]
        for name in systems_:
            here = [r for r in rows if r["system"] == name and r["regime"] == regime]
            if not here:
                continue
            cells = []
            for m in models:
                v = [r["vpt_smape"] for r in here if r["model"] == m and r["status"] == "ok"]
                cells.append(f"{_median(v):.2f}" if v else "-")
            lines.append(f"| {name} | {here[0]['horizon_lt']:.1f} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Cells", "",
              "| system | regime | model | seed | status | horizon (Lyapunov times) | fit s | "
              "VPT sMAPE<30 | VPT NRMSE<0.5 | D_stsp (floor) | D_H (floor) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['regime']} | {r['model']} | {r['seed']} | "
                     f"{r['status']} | {r['horizon_lt']:.1f} | {r['fit_s']:.2f} | "
                     f"{r['vpt_smape']:.2f} | {r['vpt_nrmse']:.2f} | "
                     f"{r['d_stsp']:.3f} ({r['d_stsp_floor']:.3f}) | "
                     f"{r['d_h']:.3f} ({r['d_h_floor']:.3f}) |")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:n_summary]))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if summary:
        fig, axes = plt.subplots(1, len(regimes), figsize=(6.5 * len(regimes), 4), squeeze=False,
                                 sharey=True)
        for ax, regime in zip(axes[0], regimes):
            names = [m for m in models if (regime, m) in summary]
            vpts = [[r["vpt_smape"] for r in summary[regime, m]] for m in names]
            ax.boxplot(vpts)
            ax.set_xticks(range(1, len(names) + 1), names, rotation=30)
            ax.set_title(f"{regime} regime")
        axes[0][0].set_ylabel("VPT, prefix sMAPE < 30 (Lyapunov times)")
        fig.tight_layout()
        figure_dir = Path(figure_dir) if figure_dir is not None else out
        figure_dir.mkdir(parents=True, exist_ok=True)
        png = figure_dir / (f"benchmark_{stem}.png" if figure_dir != out else f"{stem}.png")
        fig.savefig(png, dpi=110)
        plt.close(fig)
        print(f"wrote {png}")
    print(f"wrote {out / stem}.csv, .md")


if __name__ == "__main__":
    main()
