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
# # A causal PINN for the Allen–Cahn equation
#
# Physics-informed networks trained on the whole space-time domain at once can fit the residual
# at late times before the early times are right, and converge to a wrong solution. Causal
# training (Wang, Sankaran & Perdikaris, "Respecting causality is all you need for training
# physics-informed neural networks") weights the residual of each time chunk by
# `exp(-eps * (sum of the losses of earlier chunks))`, so later times only count once earlier
# ones are fitted, and marches through time windows, each starting from the previous one's end.
#
# The equation is `u_t - 1e-4 u_xx + 5 u^3 - 5 u = 0` on `[-1, 1] x [0, 1]`, periodic in `x`,
# `u(x, 0) = x^2 cos(pi x)`; the reference comes from `dynlearn.systems.allen_cahn`
# (pseudo-spectral ETDRK4). This notebook trains a small network on a CPU budget, so its errors
# are far from the paper's long GPU runs. `DYNLEARN_SMOKE=1` trains for a few steps only.

# %%
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynlearn import pinn, plot
from dynlearn.systems import allen_cahn, periodic_grid
from dynlearn.train import fit

SMOKE = os.environ.get("DYNLEARN_SMOKE", "0") not in ("", "0")
n_windows, steps_per_window = (2, 20) if SMOKE else (4, 400)
width, batch, n_chunks, eps = (32 if SMOKE else 64), 128, 8, 10.0
print("smoke setting" if SMOKE else "full setting",
      f"- {n_windows} windows x {steps_per_window} Adam steps")

# %% [markdown]
# ## Reference solution and collocation points
#
# Each window is trained in local time `s` in `[0, 1]`; the residual's time derivative is divided
# by the window length, so every window shares one compiled training step.

# %%
x_ref = periodic_grid(256, 2.0, start=-1.0)
t_ref, u_ref = allen_cahn(x_ref**2 * jnp.cos(jnp.pi * x_ref), dt=1e-3, n_steps=1000,
                          save_every=20)
x_eval = x_ref[::2]
eval_points = pinn.grid_points(x_eval, t_ref)  # (x, t) pairs, x slowest
u_eval_ref = np.asarray(u_ref[:, ::2])  # (time, space)

key = jax.random.key(1)
x_ic = periodic_grid(512, 2.0, start=-1.0)
n_res = 16 * batch
s_res = (jnp.arange(n_res) + jax.random.uniform(key, (n_res,))) / n_res  # stratified in time
x_res = jax.random.uniform(jax.random.fold_in(key, 1), (n_res,), minval=-1.0, maxval=1.0)
residual_points = jnp.stack([x_res, s_res], axis=1)
initial_points = jnp.stack([x_ic, jnp.zeros_like(x_ic)], axis=1)


def allen_cahn_residual(length):
    def residual(field, p):
        u, _, u_xx = pinn.directional_derivatives(field, p, jnp.array([1.0, 0.0], p.dtype), 2)
        u_s = pinn.partial_derivative(field, p, (0, 1))
        return u_s / length - 1e-4 * u_xx + 5 * u**3 - 5 * u

    return residual


def make_loss(length, causal):
    terms = {"residual": pinn.Residual(allen_cahn_residual(length)), "initial": pinn.Observations()}
    weighting = pinn.FixedWeights({"initial": 100.0})
    if not causal:
        return pinn.PINNLoss(terms, weighting=weighting)
    chunks = pinn.CausalWeights(n_chunks=n_chunks, eps=eps, t_range=(0.0, 1.0),
                                initial_term="initial", initial_weight=100.0)
    return pinn.PINNLoss(terms, weighting=weighting, causal=chunks)


def make_network():
    embedding = pinn.PeriodicEmbedding(2, periods=(2.0, None), harmonics=4)
    return pinn.ModifiedMLP(2, "scalar", width=width, depth=3, embedding=embedding,
                            factorization=(0.5, 0.1), key=jax.random.key(0))


optimizers = {}


def train(network, loss, u_initial, steps, fit_key):
    if steps not in optimizers:  # one optimizer per length, so `fit` reuses its compiled step
        optimizers[steps] = optax.adam(optax.exponential_decay(1e-3, max(steps // 5, 1), 0.7))
    data = pinn.collocation_data(residual=residual_points, initial=(initial_points, u_initial))
    return fit(network, loss, data, optimizers[steps], steps=steps, batch_size=batch,
               key=fit_key, progress=False, steps_per_dispatch=min(50, steps))


def evaluate(field):
    pred = np.asarray(jax.jit(jax.vmap(field))(eval_points)).reshape(x_eval.size, t_ref.size).T
    return float(np.linalg.norm(pred - u_eval_ref) / np.linalg.norm(u_eval_ref)), pred


# %% [markdown]
# ## Causal training, window by window

# %%
length = 1.0 / n_windows
causal_loss = make_loss(length, causal=True)
histories = []


def train_window(k, t_start, t_end, previous):
    if previous is None:
        network, u0 = make_network(), x_ic**2 * jnp.cos(jnp.pi * x_ic)
    else:  # warm start from the previous window, from its end state
        network = previous.network
        u0 = jax.vmap(previous)(jnp.stack([x_ic, jnp.full_like(x_ic, t_start)], axis=1))
    network, history = train(network, causal_loss, u0, steps_per_window, jax.random.fold_in(key, k))
    histories.append(history)
    return pinn.TimeWindow(network, t_start, t_end)


causal_field = pinn.time_marching(train_window, np.linspace(0.0, 1.0, n_windows + 1))
causal_error, causal_pred = evaluate(causal_field)
print(f"causal PINN: relative L2 error {causal_error:.3e}")
plot.history(histories[0])

# %% [markdown]
# ## The same budget without causality
#
# The same network, batch and total number of Adam steps on the whole domain at once.

# %%
u0 = x_ic**2 * jnp.cos(jnp.pi * x_ic)
plain, _ = train(make_network(), make_loss(1.0, causal=False), u0, n_windows * steps_per_window,
                 jax.random.fold_in(key, 100))
plain_error, plain_pred = evaluate(plain)
print(f"plain PINN:  relative L2 error {plain_error:.3e}")

# %% [markdown]
# ## Fields and errors
#
# Time runs to the right, space upwards; the title of each error panel gives the relative L2
# error over the whole domain.

# %%
plot.pinn_field(causal_pred, u_eval_ref, t=np.asarray(t_ref), x=np.asarray(x_eval))

# %%
plot.pinn_field(plain_pred, u_eval_ref, t=np.asarray(t_ref), x=np.asarray(x_eval))
