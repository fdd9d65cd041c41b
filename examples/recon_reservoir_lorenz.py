# %% [markdown]
"""Echo state network and NVAR forecast Lorenz-63 for several Lyapunov times (VPT reported).

Reservoir computers are fitted in closed form: the echo state network (Jaeger 2001; Pathak et al.
2018) drives a fixed random reservoir with the data and fits a ridge readout, and the
next-generation reservoir computer / NVAR (Gauthier et al. 2021) regresses the next increment on
delayed copies of the state and their quadratic monomials. Both forecast in closed loop from
many test initial conditions; the valid prediction time (VPT) is reported in Lyapunov times
with both thresholds of `dynlearn.metrics.valid_prediction_time`: NRMSE < 0.5 and sMAPE < 30.

Run: `python examples/recon_reservoir_lorenz.py` (about a minute) or `--full` (larger
reservoir, more data and test windows). Writes `./dynlearn-out/recon_reservoir_lorenz.png`.
"""

# %%
import argparse
import time
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

from dynlearn import recon, systems
from dynlearn.metrics import valid_prediction_time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="larger reservoir, more data")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="dynlearn-out")
cli, _ = parser.parse_known_args()  # a Jupyter kernel adds -f FILE
start = time.perf_counter()

# %% [markdown]
# ## Data: Lorenz-63 sampled every 0.01 time units, standardized for the models

# %%
dt = 0.01
n_train = 20000 if cli.full else 6000
n_tests, horizon, warmup = (50 if cli.full else 16), 1500, 200
lorenz = systems.get("Lorenz").replace(params={"beta": 8.0 / 3.0, "rho": 28.0, "sigma": 10.0})
lyap = lorenz.max_lyapunov  # the zoo's reference exponent (dysts' estimate), for Lyapunov times
data = np.asarray(systems.trajectory(lorenz, n_train + n_tests * horizon + warmup, dt=dt,
                                     transient=1000))
mean, std = data[:n_train].mean(0), data[:n_train].std(0)
z = ((data - mean) / std).astype(np.float32)
train = z[:n_train]

# %% [markdown]
# ## Fit the readouts (one ridge regression each)

# %%
key = jax.random.key(cli.seed)
models = {
    "ESN": recon.EchoStateNetwork(3, 1000 if cli.full else 400, spectral_radius=0.9,
                                  input_scaling=0.5, key=key),
    "NVAR": recon.NVAR(3, delays=2, skip=1),
}
ridges = {"ESN": 1e-6, "NVAR": 1e-6}
fitted, fit_seconds = {}, {}
for name, model in models.items():
    t0 = time.perf_counter()
    fitted[name] = recon.fit_readout(model, train, ridge=ridges[name])
    fit_seconds[name] = time.perf_counter() - t0

# %% [markdown]
# ## Closed-loop forecasts from test initial conditions

# %%
vpts = {name: {"nrmse": [], "smape": []} for name in fitted}
examples = {}
for i in range(n_tests):
    s = n_train + i * horizon
    context = z[s : s + warmup]
    truth = data[s + warmup : s + warmup + horizon]
    for name, model in fitted.items():
        pred = np.asarray(model.forecast(context, horizon)) * std + mean
        for metric in ("nrmse", "smape"):
            vpts[name][metric].append(float(valid_prediction_time(
                truth, pred, dt=dt, max_lyapunov=lyap, metric=metric, scale=std)))
        if i == 0:
            examples[name] = (truth, pred)

for name in fitted:
    print(f"{name:5s} fit {fit_seconds[name]:.2f} s | median VPT (Lyapunov times): "
          f"NRMSE<0.5 {np.median(vpts[name]['nrmse']):.2f}, "
          f"sMAPE<30 {np.median(vpts[name]['smape']):.2f}  ({n_tests} test windows)")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
t_lyap = np.arange(1, horizon + 1) * dt * lyap
truth = examples["ESN"][0]
axes[0].plot(t_lyap, truth[:, 0], "k", lw=1.2, label="Lorenz-63")
for c, name in zip(("C0", "C3"), fitted):
    axes[0].plot(t_lyap, examples[name][1][:, 0], c, ls="--", lw=1, label=name)
axes[0].set_xlim(0, 10)
axes[0].set_xlabel("time (Lyapunov times)")
axes[0].set_ylabel("x")
axes[0].legend(fontsize=8)
axes[1].boxplot([vpts[n]["nrmse"] for n in fitted] + [vpts[n]["smape"] for n in fitted])
axes[1].set_xticks(range(1, 5), [f"{n}\nNRMSE" for n in fitted] + [f"{n}\nsMAPE" for n in fitted])
axes[1].set_ylabel("VPT (Lyapunov times)")
fig.tight_layout()
out = Path(cli.out)
out.mkdir(parents=True, exist_ok=True)
fig.savefig(out / "recon_reservoir_lorenz.png", dpi=120)
print(f"wrote {out / 'recon_reservoir_lorenz.png'} in {time.perf_counter() - start:.1f} s")
