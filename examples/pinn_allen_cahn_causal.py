"""Allen–Cahn: causal PINN training beats plain PINN training against an ETDRK4 reference.

Reproduces the headline experiment of Wang, Sankaran & Perdikaris, "Respecting causality is all
you need for training physics-informed neural networks": u_t - 1e-4 u_xx + 5u^3 - 5u = 0 on
[-1, 1] x [0, 1], u(x, 0) = x^2 cos(pi x), periodic in x. Both runs use the same network (a
modified MLP on a periodic embedding of x), the same points, optimizer and step budget; the only
difference is the causal weighting of the residual over time chunks with an annealed eps.
The paper reports relative L2 errors 4.98e-1 (plain) and 1.39e-4 (causal) after long GPU
training; the small default here is a CPU-sized version of the same comparison.
"""

# %%
import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dynlearn import pinn
from dynlearn.systems._pde import allen_cahn, periodic_grid
from dynlearn.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="larger network and longer training")
parser.add_argument("--steps", type=int, default=None, help="Adam steps per run")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="dynlearn-out")
args = parser.parse_args()

width, depth = (128, 4) if args.full else (64, 3)
steps = args.steps or (40000 if args.full else 4000)
batch = 2048 if args.full else 512
n_chunks = 32 if args.full else 16
eps_schedule = (1e-2, 1e-1, 1.0, 1e1, 1e2)

# %% Reference solution (Fourier pseudo-spectral + ETDRK4).
x_ref = periodic_grid(512, 2.0, start=-1.0)
t_ref, u_ref = allen_cahn(x_ref**2 * jnp.cos(jnp.pi * x_ref), dt=1e-3, n_steps=1000, save_every=10)
eval_points = pinn.grid_points(x_ref[::4], t_ref)  # (x, t) pairs, x slowest
u_eval_ref = u_ref[:, ::4].T.ravel()


# %% The PDE, the loss terms and the data.
def allen_cahn_residual(field, p):
    ex = jnp.zeros_like(p).at[0].set(1)
    u, _, u_xx = pinn.directional_derivatives(field, p, ex, 2)
    u_t = jax.jvp(field, (p,), (jnp.zeros_like(p).at[1].set(1),))[1]
    return u_t - 1e-4 * u_xx + 5 * u**3 - 5 * u


def initial(p):
    return p[0] ** 2 * jnp.cos(jnp.pi * p[0])


key = jax.random.key(args.seed)
k_res, k_ic, k_net, k_fit = jax.random.split(key, 4)
n_res = 20 * batch
data = pinn.collocation_data(
    residual=pinn.uniform_points(n_res, [-1.0, 0.0], [1.0, 1.0], key=k_res),
    initial=pinn.uniform_points(n_res, [-1.0, 0.0], [1.0, 0.0], key=k_ic),
)
terms = {"residual": pinn.Residual(allen_cahn_residual), "initial": pinn.InitialCondition(initial)}
weights = pinn.FixedWeights({"initial": 100.0})


def make_field():
    # periodic in x (period 2) by construction; time passes through
    embed = pinn.PeriodicEmbedding(2, periods=(2.0, None), harmonics=10)
    return pinn.ModifiedMLP(2, "scalar", width=width, depth=depth, embedding=embed, key=k_net)


def error(field):
    pred = jax.jit(jax.vmap(field))(eval_points)
    return float(pinn.relative_l2(pred, u_eval_ref)), pred


schedule = optax.exponential_decay(1e-3, transition_steps=max(steps // 10, 1), decay_rate=0.8)

# %% Plain PINN.
t0 = time.perf_counter()
plain_loss = pinn.PINNLoss(terms, weighting=weights)
plain, plain_hist = fit(
    make_field(), plain_loss, data, optax.adam(schedule), steps=steps, batch_size=batch,
    key=k_fit, progress=False,
)
plain_err, plain_pred = error(plain)
print(f"plain PINN : relative L2 = {plain_err:.3e}  ({time.perf_counter() - t0:.0f} s)")

# %% Causal PINN.
t0 = time.perf_counter()
causal_loss = pinn.PINNLoss(
    terms, weighting=weights,
    causal=pinn.CausalWeights(n_chunks=n_chunks, eps=eps_schedule[0], t_range=(0.0, 1.0)),
)
causal, causal_hist = pinn.fit_causal(
    # the first (small-eps) stages stop within one dispatch, so budget the steps over ~3 stages
    make_field(), causal_loss, data, optax.adam(schedule), steps_per_eps=steps // 3,
    batch_size=batch, key=k_fit, eps_schedule=eps_schedule, progress=False,
)
causal_err, causal_pred = error(causal)
print(f"causal PINN: relative L2 = {causal_err:.3e}  ({time.perf_counter() - t0:.0f} s)")
print(f"improvement: {plain_err / causal_err:.1f}x (paper: 4.98e-1 vs 1.39e-4)")

# %% Figure: reference, both predictions and their errors.
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
shape = (x_ref[::4].shape[0], t_ref.shape[0])
ext = [0, 1, -1, 1]
fig, axes = plt.subplots(1, 5, figsize=(20, 3.5))
panels = [
    ("ETDRK4 reference", u_eval_ref),
    (f"plain PINN ({plain_err:.2e})", plain_pred),
    (f"causal PINN ({causal_err:.2e})", causal_pred),
    ("|plain - ref|", jnp.abs(plain_pred - u_eval_ref)),
    ("|causal - ref|", jnp.abs(causal_pred - u_eval_ref)),
]
for ax, (title, values) in zip(axes, panels):
    im = ax.imshow(np.asarray(values).reshape(shape), extent=ext, aspect="auto", origin="lower")
    ax.set_title(title)
    ax.set_xlabel("t")
    fig.colorbar(im, ax=ax)
axes[0].set_ylabel("x")
fig.tight_layout()
fig.savefig(out / "pinn_allen_cahn_causal.png", dpi=120)
print(f"wrote {out / 'pinn_allen_cahn_causal.png'}")
