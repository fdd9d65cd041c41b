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
# # Koopman spectra you can trust: EDMD verified with ResDMD
#
# Extended DMD approximates the Koopman operator on a finite dictionary of observables; its
# eigenvalues can be *spurious* (spectral pollution): artefacts of the truncation with no
# counterpart in the true spectrum. Residual DMD (Colbrook & Townsend) computes, from the same
# snapshot data, the residual `|K g - lambda g| / |g|` of every eigenpair: an eigenvalue with
# residual below `epsilon` is certified to lie within `epsilon` of the spectrum (for a normal
# operator). It also computes pseudospectra, which show where the spectrum can be.
#
# The test case has a known answer. The pendulum `q' = p, p' = -sin q` preserves area, so its
# Koopman operator over a time step is unitary on an invariant measure: its spectrum lies on the
# unit circle, and the `epsilon`-pseudospectrum is the annulus `| |z| - 1 | < epsilon`.
# `DYNLEARN_SMOKE=1` uses a small dictionary and coarse grids.

# %%
import os

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from dynlearn import koopman, plot, systems

jax.config.update("jax_enable_x64", True)  # ResDMD works in float64
SMOKE = os.environ.get("DYNLEARN_SMOKE", "0") not in ("", "0")
max_frequency, degree = (3, 5) if SMOKE else (5, 8)
n_data, n_grid = (30, 24) if SMOKE else (60, 60)
print("smoke setting" if SMOKE else "full setting",
      f"- Fourier modes up to {max_frequency}, Hermite degree {degree}")

# %% [markdown]
# ## Snapshot data
#
# Initial conditions on a grid of angle and momentum, each integrated over one time step
# `dt = 0.5` with diffrax. The quadrature weights are the Boltzmann density `exp(-H / T)` of the
# energy `H`, a function of `H` and so an invariant density.

# %%
pendulum = systems.pendulum(length=1.0, gravity=1.0, mass=1.0)
dt, temperature, momentum_box = 0.5, 0.5, 6.5


@jax.jit
def one_step(y0):
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(pendulum.vector_field), diffrax.Tsit5(), 0.0, dt, 0.01, y0,
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-10),
    )
    return solution.ys[-1]


angles = -np.pi + 2 * np.pi * np.arange(n_data) / n_data
momenta = np.linspace(-momentum_box, momentum_box, n_data)
q, p = np.meshgrid(angles, momenta, indexing="ij")
X = jnp.asarray(np.stack([q.ravel(), p.ravel()], axis=1))
Y = jax.vmap(one_step)(X)
energy = 0.5 * p.ravel() ** 2 - np.cos(q.ravel())
weights = np.exp(-(energy + 1.0) / temperature)
weights = jnp.asarray(weights / weights.sum())
print(f"{X.shape[0]} snapshot pairs")

# %% [markdown]
# ## EDMD eigenvalues and their residuals
#
# The dictionary is Fourier modes in the angle times Hermite polynomials in the momentum.
# `koopman.resdmd` sets up EDMD in the well-conditioned QR form; its decomposition carries a
# residual per eigenpair.

# %%
dictionary = koopman.TensorProduct(
    (koopman.Fourier(max_frequency), koopman.Hermite(degree, 0.0, float(np.sqrt(temperature)))),
    ((0,), (1,)),
)
verified = koopman.resdmd(dictionary, X, Y, weights)
decomposition = verified.decomposition()
epsilon = 0.05
kept = decomposition.filter(epsilon)
lam = np.asarray(decomposition.eigenvalues)
residuals = np.asarray(decomposition.residuals)
distance = np.abs(np.abs(lam) - 1.0)  # exact distance to the spectrum (the unit circle)
print(f"{lam.size} EDMD eigenvalues, {np.asarray(kept.eigenvalues).size} with residual <= "
      f"{epsilon}")
print(f"largest distance to the unit circle: all {distance.max():.3f}, "
      f"kept {distance[residuals <= epsilon].max():.2e}")
print("residual >= distance for every pair:", bool(np.all(residuals >= distance - 1e-8)))

# %% [markdown]
# ## Pseudospectrum
#
# `ResDMD.pseudospectrum` evaluates, on a grid of `z`, the smallest singular value of `K - z`
# restricted to the dictionary; its level sets bound the `epsilon`-pseudospectra from above.
# In the figure the eigenvalues are coloured by residual (hollow: above `epsilon`, i.e.
# spurious), over the computed pseudospectrum boundaries; the dashed line is the unit circle.

# %%
xs = np.linspace(-1.5, 1.5, n_grid)
grid = xs[None, :] + 1j * xs[:, None]
sigma = np.asarray(verified.pseudospectrum(jnp.asarray(grid)))
exact = np.abs(np.abs(grid) - 1.0)
print(f"computed minus exact smallest singular value: min {np.min(sigma - exact):.2e} "
      "(>= 0 up to quadrature error: an upper bound)")
plot.koopman_spectrum(decomposition, pseudospectrum=(grid, sigma), threshold=epsilon)
