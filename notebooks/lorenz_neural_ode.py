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
# # Learn Lorenz-63 with a neural ODE, then analyse what was learned
#
# A neural ODE learns the vector field of Lorenz-63 from short trajectory windows. We then ask
# the questions of dynamical-systems reconstruction rather than of curve fitting: how long does a
# forecast stay valid (in Lyapunov times), does a long free run stay on an attractor of the right
# shape, and does the learned flow have the right Lyapunov spectrum?
#
# `DYNLEARN_SMOKE=1` in the environment makes every notebook of this set run in seconds (CI runs
# them that way); the figures in the docs come from the full setting.

# %%
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynlearn import analysis, metrics, plot, systems
from dynlearn.nde import FixedGrid, NeuralODE
from dynlearn.train import fit

SMOKE = os.environ.get("DYNLEARN_SMOKE", "0") not in ("", "0")
STEPS = 100 if SMOKE else 3000
print("smoke setting" if SMOKE else "full setting", f"- {STEPS} training steps")

# %% [markdown]
# ## Data
#
# Trajectories from random points on the attractor, sampled every `dt = 0.02`; the model works
# in standardized coordinates.

# %%
dt = 0.02
lorenz = systems.get("Lorenz")
key = jax.random.key(0)
k_train, k_test, k_model, k_fit = jax.random.split(key, 4)
train = np.asarray(systems.trajectories(lorenz, 4 if SMOKE else 8, 2000, key=k_train, dt=dt))
test = np.asarray(systems.trajectories(lorenz, 4, 600, key=k_test, dt=dt))
mean, std = train.reshape(-1, 3).mean(0), train.reshape(-1, 3).std(0)
train_z, test_z = (train - mean) / std, (test - mean) / std

window = 12
starts = np.arange(0, train_z.shape[1] - window, 2)
windows = np.stack([train_z[:, s : s + window + 1] for s in starts], 1).reshape(-1, window + 1, 3)
print(f"{windows.shape[0]} training windows of {window} steps")

# %% [markdown]
# ## Model and training
#
# The vector field is an MLP; the solver is fixed-step RK4 on the sampling grid. The loss is the
# mean squared error of the integrated windows, and `dynlearn.train.fit` runs the optimisation.


# %%
class VectorField(eqx.Module):
    mlp: eqx.nn.MLP

    def __call__(self, t, y, args):
        return self.mlp(y)


model = NeuralODE(
    VectorField(eqx.nn.MLP(3, 3, 64, 2, activation=jax.nn.gelu, key=k_model)),
    solver=FixedGrid("rk4"),
)
ts_window = jnp.arange(window + 1, dtype=jnp.float32) * dt


def loss(model, batch, *, key):
    pred = jax.vmap(lambda w: model(ts_window, w[0]))(batch)
    return jnp.mean((pred - batch) ** 2)


schedule = optax.cosine_onecycle_schedule(STEPS, 3e-3, pct_start=0.1)
model, history = fit(
    model, loss, jnp.asarray(windows), optax.adamw(schedule, weight_decay=1e-5),
    steps=STEPS, batch_size=128, key=k_fit, steps_per_dispatch=50, progress=False,
)
plot.history(history)

# %% [markdown]
# ## Forecasts and their valid prediction time
#
# From held-out initial conditions, the valid prediction time (VPT) is how long the forecast's
# normalized error stays below 0.5, in Lyapunov times `1 / lambda_max`, with the zoo's reference
# exponent `lorenz.max_lyapunov` (dysts' estimate, the convention of every dynlearn benchmark).

# %%
LAMBDA_MAX = lorenz.max_lyapunov
print(f"lambda_max = {LAMBDA_MAX:.3f}")
ts_test = jnp.arange(test.shape[1], dtype=jnp.float32) * dt
preds_z = eqx.filter_jit(jax.vmap(lambda y0: model(ts_test, y0)))(jnp.asarray(test_z[:, 0]))
preds = np.asarray(preds_z) * std + mean
vpts = [
    float(metrics.valid_prediction_time(t[1:], p[1:], dt=dt, max_lyapunov=LAMBDA_MAX,
                                        metric="nrmse", scale=std))
    for t, p in zip(test, preds)
]
print("VPT (Lyapunov times) per test trajectory:", np.round(vpts, 2))
plot.forecast(test[0], preds[0], dt=dt, lyapunov_time=1 / LAMBDA_MAX, valid_time=vpts[0])

# %% [markdown]
# ## The learned attractor
#
# A long free run of the learned flow beside the true attractor, on the same axes. The state
# space divergence `D_stsp` (Hess et al., 2023) compares how the two orbits fill state space;
# it is printed with its true-vs-true floor at the same length.

# %%
n_long = 2000 if SMOKE else 10000
ts_long = jnp.arange(n_long + 1, dtype=jnp.float32) * dt
free_run = np.asarray(eqx.filter_jit(model)(ts_long, jnp.asarray(test_z[0, 0]))) * std + mean
true_long = np.asarray(systems.trajectory(lorenz, 2 * n_long, dt=dt, transient=1000))
d_stsp = float(metrics.state_space_divergence(true_long[:n_long], free_run[1:]))
floor = float(metrics.state_space_divergence(true_long[:n_long], true_long[n_long:]))
print(f"D_stsp learned vs true: {d_stsp:.3f}   true vs true (floor): {floor:.3f}")
plot.attractor(true_long[:n_long], {"learned neural ODE": free_run})

# %% [markdown]
# ## Lyapunov spectrum of the learned flow
#
# `dynlearn.analysis.lyapunov_spectrum` takes the trained model as it takes the true system
# (both offer a vector field). Exponents are invariant under the standardization, so the two
# spectra are directly comparable; the crosses are the published values.

# %%
n_lyap = 2000 if SMOKE else 20000
spectrum_true = analysis.lyapunov_spectrum(lorenz, jnp.asarray(true_long[0]), n_steps=n_lyap,
                                           dt=0.01, transient=500)
spectrum_learned = analysis.lyapunov_spectrum(model, jnp.asarray(test_z[0, 0]), n_steps=n_lyap,
                                              dt=dt, transient=500)
print("true:   ", np.round(np.asarray(spectrum_true), 3))
print("learned:", np.round(np.asarray(spectrum_learned), 3))
plot.lyapunov_spectrum(
    {"true system": spectrum_true, "learned neural ODE": spectrum_learned},
    reference=[0.906, 0.0, -14.572], reference_label="published",
)
