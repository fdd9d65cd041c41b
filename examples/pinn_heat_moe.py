"""Heat equation with a hard-constrained mixture of experts: constraints hold to solver tolerance.

Follows Chalapathi et al., "Scaling physics-informed hard constraints with mixture-of-experts"
(ICLR 2024): u_t = k u_xx on [0, 1] x [0, 1] with k = 0.1, u(x, 0) = sin(pi x), u(0, t) =
u(1, t) = 0 (exact solution exp(-k pi^2 t) sin(pi x)). A network gives 32 basis functions;
4 experts split x into subdomains; in each, Levenberg–Marquardt finds the basis coefficients for
which the PDE, initial and boundary conditions hold at the expert's constraint points, and the
basis is trained through the solves by the implicit function theorem on the residual at fresh
points. Prints the relative L2 error, the constraint violation, and a soft-constrained PINN with
the same network and steps for comparison.
"""

# %%
import argparse
import time
from pathlib import Path

import equinox as eqx
import jax

jax.config.update("jax_enable_x64", True)  # the least-squares solves need float64 tolerances
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
import optimistix as optx

from dynlearn import pinn
from dynlearn.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="more experts and steps")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="dynlearn-out")
args, _ = parser.parse_known_args()  # a Jupyter kernel adds -f FILE
kappa = 0.1
n_experts, steps = (8, 3000) if args.full else (4, 400)
n_basis, n_int, n_ic, n_bc = 32, 16, 6, 4


def exact(p):
    return jnp.exp(-kappa * np.pi**2 * p[1]) * jnp.sin(jnp.pi * p[0])


def heat(u, p):
    return pinn.partial_derivative(u, p, (0, 1)) - kappa * pinn.partial_derivative(u, p, (2, 0))


def equations(u, pts):
    interior, initial, boundary, mask = pts
    res = jax.vmap(lambda p: heat(u, p))(interior)
    ic = jax.vmap(u)(initial) - jnp.sin(jnp.pi * initial[:, 0])
    bc = mask * jax.vmap(u)(boundary)  # only experts touching x = 0 or x = 1 have boundary rows
    return jnp.concatenate([res, ic, bc])


# %% Constraint points per expert (leading axis: experts).
key = jax.random.key(args.seed)
k_pts, k_net, k_fit, k_eval = jax.random.split(key, 4)
edges = np.linspace(0.0, 1.0, n_experts + 1)
lo, width = jnp.asarray(edges[:-1])[:, None], 1.0 / n_experts
u1 = jax.random.uniform(k_pts, (n_experts, n_int, 2))
interior = jnp.stack([lo + width * u1[..., 0], u1[..., 1]], axis=-1)
xi = lo + width * jnp.linspace(0.0, 1.0, n_ic)[None]
initial = jnp.stack([xi, jnp.zeros_like(xi)], axis=-1)
tb = jnp.linspace(0.0, 1.0, n_bc)[None]
side = jnp.where(jnp.arange(n_experts) == 0, 0.0, 1.0)[:, None]
boundary = jnp.stack([jnp.broadcast_to(side, (n_experts, n_bc)),
                      jnp.broadcast_to(tb, (n_experts, n_bc))], axis=-1)
mask = jnp.broadcast_to(
    ((jnp.arange(n_experts) == 0) | (jnp.arange(n_experts) == n_experts - 1))[:, None]
    .astype(jnp.float64), (n_experts, n_bc))
constraint_points = (interior, initial, boundary, mask)

# %% Train the basis through the per-expert least-squares solves.
basis = pinn.MLP(2, n_basis, width=32, depth=2, key=k_net)
# a freshly initialised basis is very ill-conditioned (singular values from 1 down to 1e-14),
# so Levenberg-Marquardt may need a few hundred iterations; we check the violation below.
layer = pinn.MixtureOfExpertsLSQ(basis, equations, edges, coordinate=0, max_steps=1000,
                                 solver=optx.LevenbergMarquardt(rtol=1e-7, atol=1e-7),
                                 throw=False)
fresh = pinn.uniform_points(4096, [0.0, 0.0], [1.0, 1.0], key=k_fit)


def moe_loss(layer, batch, *, key):
    field = layer.field(layer.solve(constraint_points))
    res = jax.vmap(lambda p: heat(field, p))(batch)
    return jnp.mean(res**2)


t0 = time.perf_counter()
layer, hist = fit(layer, moe_loss, fresh, optax.adam(1e-3), steps=steps, batch_size=256,
                  key=k_fit, progress=False)
coeffs = eqx.filter_jit(layer.solve)(constraint_points)
moe_field = layer.field(coeffs)
violation = max(
    float(jnp.max(jnp.abs(equations(lambda p, k=k: jnp.dot(coeffs[k], layer.basis(p)),
                                    jax.tree_util.tree_map(lambda a, k=k: a[k],
                                                           constraint_points)))))
    for k in range(n_experts)
)
moe_time = time.perf_counter() - t0

# %% Soft-constrained PINN baseline: same network and steps.
t0 = time.perf_counter()
soft = pinn.MLP(2, "scalar", width=32, depth=2, key=k_net)
soft_loss = pinn.PINNLoss({
    "residual": pinn.Residual(heat),
    "initial": pinn.InitialCondition(lambda p: jnp.sin(jnp.pi * p[0])),
    "boundary": pinn.Dirichlet(lambda p: jnp.zeros((), p.dtype)),
})
bx = jnp.where(jnp.arange(4096) % 2 == 0, 0.0, 1.0)
soft_data = {"residual": fresh, "initial": fresh.at[:, 1].set(0.0),
             "boundary": fresh.at[:, 0].set(bx)}
soft, _ = fit(soft, soft_loss, soft_data, optax.adam(1e-3), steps=steps, batch_size=256,
              key=k_fit, progress=False)
soft_time = time.perf_counter() - t0

# %% Errors.
xs, ts = jnp.linspace(0, 1, 101), jnp.linspace(0, 1, 101)
grid = pinn.grid_points(xs, ts)
ref = jax.vmap(exact)(grid)
moe_pred = jax.jit(jax.vmap(moe_field))(grid)
soft_pred = jax.vmap(soft)(grid)
moe_err = float(pinn.relative_l2(moe_pred, ref))
soft_err = float(pinn.relative_l2(soft_pred, ref))
print(f"hard-constrained MoE ({n_experts} experts, {steps} steps): relative L2 = {moe_err:.3e}, "
      f"max constraint violation = {violation:.1e}  ({moe_time:.0f} s)")
print(f"soft-constrained PINN (same network and steps): relative L2 = {soft_err:.3e}  "
      f"({soft_time:.0f} s)")

# %% Figure.
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
fig, axes = plt.subplots(1, 3, figsize=(15, 3.5))
panels = [("exact", ref), (f"MoE hard constraints ({moe_err:.2e})", moe_pred),
          ("|MoE - exact|", abs(moe_pred - ref))]
for ax, (title, v) in zip(axes, panels):
    im = ax.imshow(np.asarray(v).reshape(101, 101), extent=[0, 1, 0, 1], aspect="auto",
                   origin="lower")
    ax.set_title(title)
    ax.set_xlabel("t")
    fig.colorbar(im, ax=ax)
axes[0].set_ylabel("x")
for e in edges[1:-1]:
    axes[2].axhline(e, color="w", lw=0.5)
fig.tight_layout()
fig.savefig(out / "pinn_heat_moe.png", dpi=120)
print(f"wrote {out / 'pinn_heat_moe.png'}")
