# %% [markdown]
"""Pendulum: ResDMD removes EDMD's spurious eigenvalues and computes the pseudospectrum.

The pendulum `q' = p, p' = -sin q` preserves area, so its Koopman operator (time step
`dt = 0.5`) is unitary: its spectrum lies on the unit circle. EDMD with a finite dictionary
nevertheless produces many eigenvalues inside the disc. ResDMD (Colbrook & Townsend, "Rigorous
data-driven computation of spectral properties of Koopman operators for dynamical systems";
Colbrook, Mezic & Stepanenko, "Limits and powers of Koopman learning") computes the residual of
every candidate eigenpair in the well-conditioned QR form: for a unitary operator a residual is at
least the distance `1 - |lambda|` to the spectrum, and eigenpairs with a residual above `epsilon`
are discarded. The approximate pseudospectrum is computed on a grid.

Data: a grid of initial conditions on `[-pi, pi) x [-L, L]`, each integrated over one time step
with diffrax in float64. Quadrature weights: the Boltzmann density `exp(-H / T)` of the energy
`H = p^2 / 2 - cos q` on the grid. A function of `H` times area is an invariant measure of the
flow, so the Koopman operator is unitary on `L^2` of it, and the weights decay (to ~1e-7 at
`|p| = L`) before the grid's edge, where equal weights would let trajectories leave the box and
break unitarity on the data. Dictionary: Fourier modes in the angle times Hermite polynomials in
the momentum, orthogonal for the weights' Gaussian momentum marginal (`TensorProduct`).

Run: `python examples/koopman_pendulum_resdmd.py` (small default, about a minute on a CPU) or
`--full` (larger dictionary and grids). Writes `./dynlearn-out/koopman_pendulum_resdmd.png`.
"""

# %%
import argparse
import time
from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import dynlearn.koopman as dk
from dynlearn import systems

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="larger dictionary, data and grid")
parser.add_argument("--epsilon", type=float, default=0.05, help="residual tolerance")
parser.add_argument("--out", default="dynlearn-out")
cli = parser.parse_args()

jax.config.update("jax_enable_x64", True)  # ResDMD needs float64
max_frequency, degree = (10, 14) if cli.full else (5, 8)
n_angle, n_momentum = (150, 150) if cli.full else (60, 60)
n_grid = 100 if cli.full else 50
momentum_box, dt, temperature = 4.0, 0.5, 0.5
start = time.perf_counter()

# %% [markdown]
# ## Data: one time step from a grid of initial conditions

# %%
pendulum = systems.pendulum(length=1.0, gravity=1.0, mass=1.0)  # q' = p, p' = -sin q
angles = np.linspace(-np.pi, np.pi, n_angle, endpoint=False)
momenta = np.linspace(-momentum_box, momentum_box, n_momentum)
q, p = np.meshgrid(angles, momenta, indexing="ij")
X = jnp.asarray(np.stack([q.ravel(), p.ravel()], axis=1))


@jax.jit
def flow(y0):
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(pendulum.vector_field),
        diffrax.Tsit5(),
        0.0,
        dt,
        0.01,
        y0,
        stepsize_controller=diffrax.PIDController(rtol=1e-11, atol=1e-11),
    )
    return sol.ys[-1]


Y = jax.vmap(flow)(X)
energy = 0.5 * p.ravel() ** 2 - np.cos(q.ravel())
weights = np.exp(-(energy - energy.min()) / temperature)
weights = jnp.asarray(weights / weights.sum())
print(f"data: {X.shape[0]} snapshot pairs, dt = {dt}, Boltzmann weights at T = {temperature}")

# %% [markdown]
# ## EDMD versus ResDMD

# %%
dictionary = dk.TensorProduct(
    (dk.Fourier(max_frequency), dk.Hermite(degree, 0.0, float(np.sqrt(temperature)))), ((0,), (1,))
)
verified = dk.resdmd(dictionary, X, Y, weights)
decomposition = verified.decomposition()
lam = np.asarray(decomposition.eigenvalues)
residuals = np.asarray(decomposition.residuals)
kept = decomposition.filter(cli.epsilon)
lam_kept = np.asarray(kept.eigenvalues)
print(f"dictionary size: {lam.size}")
print(
    "EDMD eigenvalues with |lambda| < 0.9 (spurious for a unitary operator): "
    f"{(np.abs(lam) < 0.9).sum()}"
)
print(
    f"residual >= 1 - |lambda| for every pair: {bool(np.all(residuals >= 1 - np.abs(lam) - 1e-8))}"
)
print(f"ResDMD keeps {lam_kept.size} of {lam.size} eigenvalues at epsilon = {cli.epsilon}")
print(f"max | |lambda| - 1 | over kept eigenvalues: {np.max(np.abs(np.abs(lam_kept) - 1)):.2e}")
print(
    "angles of kept eigenvalues / dt (rad per time; small-oscillation frequency 1):",
    np.round(np.unique(np.round(np.angle(lam_kept) / dt, 4)), 3),
)

# %% [markdown]
# ## Pseudospectrum on a grid

# %%
xs = np.linspace(-1.5, 1.5, n_grid)
grid = xs[None, :] + 1j * xs[:, None]
t0 = time.perf_counter()
sigma = np.asarray(jax.block_until_ready(verified.pseudospectrum(jnp.asarray(grid))))
print(f"pseudospectrum on a {n_grid}x{n_grid} grid: {time.perf_counter() - t0:.2f} s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 5))
circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
ax = axes[0]
ax.plot(circle.real, circle.imag, "k-", lw=0.8)
sc = ax.scatter(
    lam.real, lam.imag, c=np.log10(residuals + 1e-16), cmap="viridis", s=14, vmin=-4, vmax=0
)
ax.scatter(
    lam_kept.real,
    lam_kept.imag,
    facecolors="none",
    edgecolors="r",
    s=40,
    label=f"kept (res <= {cli.epsilon})",
)
fig.colorbar(sc, ax=ax, label="log10 residual")
ax.set_title("EDMD eigenvalues coloured by ResDMD residual")
ax.set_aspect("equal")
ax.legend(loc="lower left", fontsize=8)
ax = axes[1]
levels = [0.01, 0.05, 0.1, 0.25, 0.5]
cs = ax.contour(xs, xs, sigma, levels=levels, cmap="magma")
ax.clabel(cs, fontsize=7)
ax.plot(circle.real, circle.imag, "k--", lw=0.6)
ax.scatter(lam_kept.real, lam_kept.imag, c="r", s=10)
ax.set_title("approximate pseudospectrum (level sets of sigma_min)")
ax.set_aspect("equal")
out = Path(cli.out)
out.mkdir(parents=True, exist_ok=True)
fig.tight_layout()
fig.savefig(out / "koopman_pendulum_resdmd.png", dpi=120)
print(f"wrote {out / 'koopman_pendulum_resdmd.png'} in {time.perf_counter() - start:.1f} s")
