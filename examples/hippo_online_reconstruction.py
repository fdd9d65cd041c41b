"""HiPPO online reconstruction: LegS/LegT/FouT memories of a streamed signal, error vs state size.

"HiPPO: Recurrent Memory with Optimal Polynomial Projections" (Gu et al., 2020) and "How to Train
Your HiPPO" (Gu et al., 2022). A band-limited random signal is streamed sample by sample into the
HiPPO state `c_k` (LegS: the whole history with scaled Legendre; LegT: a sliding window with
Legendre; FouT: a sliding window with a truncated Fourier basis). At the end the state is decoded
back into the remembered signal, and the reconstruction error is measured against the truth as
the state size N grows.
"""

# %%
import argparse
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import dynlearn.ssm as ssm

# %%
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="longer signal and larger states")
args, _ = parser.parse_known_args()
L = 20000 if args.full else 4000
sizes = (8, 16, 32, 64, 128, 256) if args.full else (8, 16, 32, 64, 128)
T, window = 4.0, 1.0
dt = T / L

# %%
rng = np.random.default_rng(0)
t = np.arange(1, L + 1) * dt
freqs = rng.uniform(0.5, 6.0, 12)
phases = rng.uniform(0, 2 * np.pi, 12)
amps = rng.normal(size=12) / np.sqrt(12)
signal = np.sum(
    amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]), 0
)

s = np.linspace(0.02, 0.98, 400)  # relative position in the memory (0 oldest, 1 now)
truth = {
    "legs": np.interp(s * T, t, signal),
    "legt": np.interp(T - window + s * window, t, signal),
    "fout": np.interp(T - window + s * window, t, signal),
}
errors = {kind: [] for kind in truth}
recon = {}
for kind in truth:
    for n in sizes:
        c = ssm.hippo_project(jnp.asarray(signal), kind, n, dt=dt, window=window)
        r = np.asarray(ssm.hippo_reconstruct(c[-1], kind, jnp.asarray(s)))
        errors[kind].append(float(np.sqrt(np.mean((r - truth[kind]) ** 2))))
        if n == 64:
            recon[kind] = r
    print(kind, " ".join(f"N={n}: {e:.2e}" for n, e in zip(sizes, errors[kind])))

# %%
out = Path("dynlearn-out")
out.mkdir(exist_ok=True)
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
axes[0].plot(s * T, truth["legs"], "k", lw=1, label="signal")
axes[0].plot(s * T, recon["legs"], "C0--", label="LegS, N=64")
axes[0].set_title("LegS remembers the whole history")
axes[0].set_xlabel("time")
axes[0].legend()
tw = T - window + s * window
axes[1].plot(tw, truth["legt"], "k", lw=1, label="signal")
axes[1].plot(tw, recon["legt"], "C1--", label="LegT, N=64")
axes[1].plot(tw, recon["fout"], "C2:", label="FouT, N=64")
axes[1].set_title(f"LegT / FouT remember the last {window:g} time units")
axes[1].set_xlabel("time")
axes[1].legend()
for i, kind in enumerate(truth):
    axes[2].loglog(sizes, errors[kind], "o-", color=f"C{i}", label=kind)
axes[2].set_xlabel("state size N")
axes[2].set_ylabel("RMS reconstruction error")
axes[2].set_title("Error vs state size")
axes[2].legend()
fig.tight_layout()
fig.savefig(out / "hippo_online_reconstruction.png", dpi=120)
print(f"wrote {out / 'hippo_online_reconstruction.png'}")
