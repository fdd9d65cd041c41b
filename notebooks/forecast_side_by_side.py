# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Forecasting chaos: a reservoir, a PLRNN and an SSM side by side
#
# Three model families learn Lorenz-63 from the same single training trajectory and forecast
# from the same held-out context:
#
# - an **echo state network** (`dynlearn.recon.EchoStateNetwork`): a fixed random reservoir,
#   only its linear readout fitted in closed form;
# - a **shallow PLRNN** trained with generalized teacher forcing (`dynlearn.recon.fit_gtf`);
# - a **state-space model**: an S4D block (`dynlearn.ssm.S4D`) between a linear encoder and
#   decoder, trained one step ahead and run through its recurrent `step` to forecast.
#
# The protocol follows the chaos forecasting benchmark (`benchmarks/forecast.py`): 100 points per
# period, standardized coordinates, forecasts scored by their valid prediction time in Lyapunov
# times. `DYNLEARN_SMOKE=1` shrinks everything to a few seconds of training.

# %%
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynlearn import metrics, plot, recon, systems
from dynlearn.ssm import S4D
from dynlearn.train import fit

SMOKE = os.environ.get("DYNLEARN_SMOKE", "0") not in ("", "0")
NN_STEPS = 60 if SMOKE else 3000
print("smoke setting" if SMOKE else "full setting", f"- {NN_STEPS} gradient steps per network")

# %% [markdown]
# ## Data
#
# One trajectory: a training part, then a context of two periods and the truth to forecast.

# %%
lorenz = systems.get("Lorenz")
dt = lorenz.period / 100
lambda_max = lorenz.max_lyapunov  # the zoo's reference exponent (dysts' estimate)
n_train = (20 if SMOKE else 100) * 100
n_context, horizon = 200, 1000
series = np.asarray(
    systems.trajectory(lorenz, n_train + n_context + horizon, dt=dt, transient=2000), np.float32
)
mean, std = series[:n_train].mean(0), series[:n_train].std(0)
z = (series - mean) / std
train = z[:n_train]
context, truth = z[n_train : n_train + n_context], series[n_train + n_context :]
print(f"dt = {dt:.4f}, lambda_max = {lambda_max:.3f}, {n_train} training points")

# %% [markdown]
# ## Echo state network
#
# Driving the reservoir with the training series and solving one ridge regression is all of
# its training.

# %%
k_esn, k_plrnn, k_ssm = jax.random.split(jax.random.key(0), 3)
esn = recon.EchoStateNetwork(3, 200 if SMOKE else 500, spectral_radius=0.9, input_scaling=0.5,
                             key=k_esn)
esn = recon.fit_readout(esn, jnp.asarray(train), ridge=1e-6)
forecasts = {"echo state network": esn.forecast(jnp.asarray(context), horizon)}

# %% [markdown]
# ## PLRNN with generalized teacher forcing
#
# GTF mixes the model's own latent state with one inferred from the data by a factor `alpha`
# (adapted during training), which keeps gradients bounded on chaotic data.

# %%
plrnn = recon.ShallowPLRNN(3, 20, 100, clipped=True, key=k_plrnn)
plrnn, gtf_history = recon.fit_gtf(
    plrnn, jnp.asarray(train), optax.adam(optax.exponential_decay(1e-3, NN_STEPS, 0.1)),
    steps=NN_STEPS, batch_size=16, sequence_length=50, key=k_plrnn, alpha="adaptive",
    progress=False,
)
forecasts["PLRNN (GTF)"] = plrnn(jnp.asarray(context[-1]), horizon)[1:]

# %% [markdown]
# ## A state-space model
#
# The S4D block reads the whole window in parallel during training (a convolution) and one step
# at a time when forecasting (its recurrence); the two modes compute the same map.


# %%
class SSMForecaster(eqx.Module):
    encoder: eqx.nn.Linear
    block: S4D
    decoder: eqx.nn.Linear

    def __call__(self, xs):
        h = jax.vmap(self.encoder)(xs)
        return xs + jax.vmap(self.decoder)(jax.nn.gelu(self.block(h)) + h)

    def step(self, state, x):
        h = self.encoder(x)
        state, y = self.block.step(state, h)
        return state, x + self.decoder(jax.nn.gelu(y) + h)


k_enc, k_block, k_dec, k_fit = jax.random.split(k_ssm, 4)
ssm = SSMForecaster(eqx.nn.Linear(3, 32, key=k_enc), S4D(32, 64, key=k_block),
                    eqx.nn.Linear(32, 3, key=k_dec))
windows = recon.trajectory_windows(jnp.asarray(train), 65, stride=4)


def one_step_loss(model, batch, *, key):
    return jnp.mean((jax.vmap(model)(batch[:, :-1]) - batch[:, 1:]) ** 2)


ssm, ssm_history = fit(
    ssm, one_step_loss, windows, optax.adam(optax.cosine_decay_schedule(3e-3, NN_STEPS)),
    steps=NN_STEPS, batch_size=32, key=k_fit, steps_per_dispatch=20 if SMOKE else 50,
    progress=False,
)


@eqx.filter_jit
def ssm_forecast(model, context, n_steps):
    state, ys = jax.lax.scan(lambda s, x: model.step(s, x), model.block.init_state(), context)

    def generate(carry, _):
        state, x = carry
        state, y = model.step(state, x)
        return (state, y), y

    _, rest = jax.lax.scan(generate, (state, ys[-1]), None, length=n_steps - 1)
    return jnp.concatenate([ys[-1][None], rest])


# The block saw windows of 64 steps in training: warm it up over as many.
forecasts["S4D state-space model"] = ssm_forecast(ssm, jnp.asarray(context[-64:]), horizon)
plot.history(ssm_history)

# %% [markdown]
# ## Side by side
#
# Forecasts back in the system's coordinates; the valid prediction time uses the normalized
# RMSE threshold 0.5 (one dotted line per model, in its colour).

# %%
predictions = {name: np.asarray(f, np.float64) * std + mean for name, f in forecasts.items()}
vpt = {
    name: float(metrics.valid_prediction_time(truth, p, dt=dt, max_lyapunov=lambda_max,
                                              metric="nrmse", scale=std))
    for name, p in predictions.items()
}
for name, value in vpt.items():
    print(f"{name:24s} VPT {value:5.2f} Lyapunov times")
# Row 0 of the plot is the last context point, so that the forecasts start from it.
start = series[n_train + n_context - 1]
plot.forecast(
    np.concatenate([start[None], truth]),
    {name: np.concatenate([start[None], p]) for name, p in predictions.items()},
    dt=dt, lyapunov_time=1 / lambda_max, valid_time=vpt,
    context=series[n_train : n_train + n_context - 1],
)

# %% [markdown]
# The same comparison as a table figure, in the form the benchmark's results use:

# %%
rows = [{"model": name, "VPT (Lyapunov times)": value} for name, value in vpt.items()]
plot.benchmark_table(rows, formats={"VPT (Lyapunov times)": ".2f"},
                     best={"VPT (Lyapunov times)": "max"}, title="Lorenz-63, one test context")

# %% [markdown]
# Long free runs show whether each model's attractor has the right shape even after the
# forecast has diverged, which is what the valid time cannot tell (the x-z plane: four 3-D
# panels side by side are too small to read on a page).

# %%
n_free = 3000
free = {
    "echo state network": esn.forecast(jnp.asarray(context), n_free),
    "PLRNN (GTF)": plrnn(jnp.asarray(context[-1]), n_free)[1:],
    "S4D state-space model": ssm_forecast(ssm, jnp.asarray(context[-64:]), n_free),
}
free = {name: np.asarray(f, np.float64) * std + mean for name, f in free.items()}
plot.attractor(series[:n_free], free, dims=(0, 2))
