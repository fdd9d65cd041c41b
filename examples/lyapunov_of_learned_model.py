# %% [markdown]
"""Lyapunov spectrum of a learned model: a neural ODE trained on Lorenz-63 vs the true system.

A model that forecasts well for a few steps may still have the wrong long-term dynamics. The
invariants of `dynlearn.analysis` measure the dynamics themselves: here a small MLP neural ODE is
trained on Lorenz-63 trajectories (`dynlearn.nde.NeuralODE` on diffrax, `dynlearn.train.fit`),
then its Lyapunov spectrum (QR/Benettin method with Jacobian-vector products), Kaplan–Yorke
dimension, correlation dimension and power spectrum are compared with those of the true system from
`dynlearn.systems`. The same calls work on any model with a `vector_field(t, y, args)` method or
a `step(x)` map (a PLRNN, an SSM's hidden-state recurrence).

Lyapunov exponents do not change under a smooth change of coordinates, so the learned field can
be analysed in the standardized coordinates it was trained in.

Run: `python examples/lyapunov_of_learned_model.py` (a small default, about two minutes on a
CPU) or `--full` (longer training and longer averages). Writes
`./dynlearn-out/lyapunov_of_learned_model.png` and prints the figures.
"""

# %%
import argparse
import time
from pathlib import Path

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from dynlearn import analysis, systems
from dynlearn.nde import NeuralODE
from dynlearn.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="longer training and averages")
parser.add_argument("--steps", type=int, default=None, help="override the training steps")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="dynlearn-out")
cli, _ = parser.parse_known_args()  # a Jupyter kernel adds -f FILE

steps = cli.steps or (8000 if cli.full else 2500)  # training steps
lyap_time = 2000.0 if cli.full else 400.0  # averaging time of the spectra
dt = 0.02  # sampling step of the data and RK4 step of the spectra
window = 10  # steps per training window
jax.config.update("jax_enable_x64", True)  # accurate spectra; training is cheap either way
start = time.perf_counter()

# %% [markdown]
# ## Data: Lorenz-63 trajectories on the attractor, standardized

# %%
lorenz = systems.get("Lorenz").replace(params={"beta": 8.0 / 3.0})
key = jax.random.key(cli.seed)
k_data, k_model, k_fit = jax.random.split(key, 3)
data = np.asarray(systems.trajectories(lorenz, 8, 2000, key=k_data, dt=dt))
mean, std = data.reshape(-1, 3).mean(0), data.reshape(-1, 3).std(0)
data_n = (data - mean) / std
starts = np.arange(0, data_n.shape[1] - window, 2)
windows = np.stack([data_n[:, s : s + window + 1] for s in starts], axis=1).reshape(
    -1, window + 1, 3
)
print(f"data: {data.shape[0]} trajectories of {data.shape[1]} points, {len(windows)} windows")


# %% [markdown]
# ## Model: a `dynlearn.nde.NeuralODE` with an MLP vector field, trained on short rollouts


# %%
class MLPField(eqx.Module):
    """The learned vector field `f(t, y, args)` on standardized coordinates."""

    mlp: eqx.nn.MLP

    def __init__(self, *, key):
        self.mlp = eqx.nn.MLP(3, 3, 64, 2, activation=jax.nn.gelu, key=key)

    def __call__(self, t, y, args):
        return self.mlp(y)


def neural_ode(field, max_steps):
    # Fixed Tsit5 steps of size dt through diffrax; `.vector_field` is what analysis uses.
    return NeuralODE(
        field,
        solver=diffrax.Tsit5(),
        stepsize_controller=diffrax.ConstantStepSize(),
        dt0=dt,
        max_steps=max_steps,
    )


window_times = jnp.arange(window + 1) * dt


def loss(model, batch, *, key):
    predictions = jax.vmap(lambda w: model(window_times, w[0]))(batch)
    return jnp.mean((predictions - batch) ** 2)


field = MLPField(key=k_model)
field = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64) if eqx.is_array(x) else x, field)
model = neural_ode(field, max_steps=window + 1)
schedule = optax.cosine_onecycle_schedule(steps, 3e-3, pct_start=0.1)
model, history = fit(
    model,
    loss,
    jnp.asarray(windows),
    optax.adam(schedule),
    steps=steps,
    batch_size=128,
    key=k_fit,
    steps_per_dispatch=50,
)
print(
    f"final training loss (standardized MSE over {window}-step windows): {history[-1]['loss']:.3g}"
)

# %% [markdown]
# ## Lyapunov spectra: true system vs learned model
# Same call for both: the `NeuralODE` offers `.vector_field`, like the zoo's systems. The learned
# model runs in standardized coordinates.

# %%
n_steps = int(lyap_time / dt)
kwargs = dict(dt=dt, n_steps=n_steps, transient=500, qr_every=5)
t = time.perf_counter()
true_spectrum = analysis.lyapunov_spectrum(lorenz, jnp.asarray(data[0, -1]), **kwargs)
true_seconds = time.perf_counter() - t
learned_spectrum = analysis.lyapunov_spectrum(model, jnp.asarray(data_n[0, -1]), **kwargs)
true_spectrum, learned_spectrum = np.asarray(true_spectrum), np.asarray(learned_spectrum)
published = np.array([0.906, 0.0, -14.57])

# %% [markdown]
# ## Dimensions and power spectra of long free runs

# %%
n_free = 20_000
true_run = np.asarray(systems.trajectory(lorenz, n_free, dt=dt, y0=data[0, -1], transient=500))
long_model = neural_ode(model.vector_field, max_steps=n_free)
free_run = np.asarray(
    eqx.filter_jit(long_model)(jnp.arange(n_free) * dt, jnp.asarray(data_n[0, -1]))
)
free_run = free_run * std + mean
finite = bool(np.all(np.isfinite(free_run)))
theiler = int(round(0.5 / dt))  # half a time unit of temporal neighbours left out
true_d2 = float(analysis.correlation_dimension(true_run, theiler=theiler, max_points=3000))
learned_d2 = (
    float(analysis.correlation_dimension(free_run, theiler=theiler, max_points=3000))
    if finite
    else float("nan")
)
freqs, true_power = analysis.power_spectrum(true_run[:, 0], dt=dt, segment_length=1024)
_, learned_power = analysis.power_spectrum(free_run[:, 0], dt=dt, segment_length=1024)

rows = [
    ("lambda_1", published[0], true_spectrum[0], learned_spectrum[0]),
    ("lambda_2", published[1], true_spectrum[1], learned_spectrum[1]),
    ("lambda_3", published[2], true_spectrum[2], learned_spectrum[2]),
    ("sum (= mean divergence)", published.sum(), true_spectrum.sum(), learned_spectrum.sum()),
    (
        "Kaplan-Yorke dimension",
        float(analysis.kaplan_yorke_dimension(jnp.asarray(published))),
        float(analysis.kaplan_yorke_dimension(jnp.asarray(true_spectrum))),
        float(analysis.kaplan_yorke_dimension(jnp.asarray(learned_spectrum))),
    ),
    ("Lyapunov time", 1 / published[0], 1 / true_spectrum[0], 1 / learned_spectrum[0]),
    ("correlation dimension", 2.05, true_d2, learned_d2),
]
print(f"\n{'':26s}{'published':>11s}{'true':>11s}{'learned':>11s}")
for name, ref, true_value, learned_value in rows:
    print(f"{name:26s}{ref:11.3f}{true_value:11.3f}{learned_value:11.3f}")
print(
    f"(spectra averaged over {lyap_time:g} time units; true-system spectrum took "
    f"{true_seconds:.2f} s including compilation)"
)

# %% [markdown]
# ## Figure

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
axes[0].plot(true_run[:5000, 0], true_run[:5000, 2], "k", lw=0.3, label="true")
if finite:
    axes[0].plot(free_run[:5000, 0], free_run[:5000, 2], "C3", lw=0.3, alpha=0.7, label="learned")
axes[0].set(xlabel="x", ylabel="z", title="attractors (free runs)")
axes[0].legend(loc="upper right", fontsize=8)
index = np.arange(3)
axes[1].bar(index - 0.2, true_spectrum, 0.4, color="k", label="true system")
axes[1].bar(index + 0.2, learned_spectrum, 0.4, color="C3", label="learned model")
for i in index:
    for offset, value in ((-0.2, true_spectrum[i]), (0.2, learned_spectrum[i])):
        axes[1].annotate(
            f"{value:.2f}",
            (i + offset, value),
            ha="center",
            fontsize=7,
            va="bottom" if value >= 0 else "top",
        )
axes[1].axhline(0, color="grey", lw=0.5)
axes[1].set_xticks(index, ["$\\lambda_1$", "$\\lambda_2$", "$\\lambda_3$"])
axes[1].set(title="Lyapunov spectrum", ylabel="exponent (1 / time)")
axes[1].set_ylim(1.15 * min(true_spectrum.min(), learned_spectrum.min()), 2.5)
axes[1].legend(loc="lower left", fontsize=8)
axes[2].semilogy(freqs[1:], true_power[1:], "k", lw=0.8, label="true")
if finite:
    axes[2].semilogy(freqs[1:], learned_power[1:], "C3", lw=0.8, alpha=0.8, label="learned")
shown = (freqs > 0) & (freqs <= 5)
axes[2].set(xlabel="frequency", ylabel="power density of x", title="power spectrum", xlim=(0, 5))
axes[2].set_ylim(0.3 * float(np.min(true_power[shown])), 3 * float(np.max(true_power[shown])))
axes[2].legend(fontsize=8)
fig.tight_layout()
out_dir = Path(cli.out)
out_dir.mkdir(parents=True, exist_ok=True)
figure = out_dir / "lyapunov_of_learned_model.png"
fig.savefig(figure, dpi=120)
print(f"figure: {figure}; total time {time.perf_counter() - start:.0f} s")
