# %% [markdown]
"""Gauss iterated map: ResDMD verifies EDMD eigenvalues and draws the pseudospectrum.

The Gauss iterated map `x -> exp(-alpha x^2) + beta` on `[-1, 0]` (`alpha = 2`,
`beta = -1 - exp(-alpha)`) is a test case of Colbrook & Townsend's ResDMD: its Koopman operator is
not normal, EDMD's eigenvalues depend on the dictionary, and only eigenvalues with small residuals
are trustworthy. Data are Gauss-Legendre quadrature nodes with their weights (so the inner
products are integrals against Lebesgue measure up to exponentially small error); the dictionary is
Legendre polynomials on `[-1, 0]` of growing degree. For each size we print how many EDMD
eigenvalues ResDMD verifies (residual below `epsilon`) and draw the pseudospectrum of the largest.

Run: `python examples/koopman_gauss_map.py` (seconds on a CPU) or `--full`. Writes
`./dynlearn-out/koopman_gauss_map.png`.
"""

# %%
import argparse
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import dynlearn.koopman as dk
from dynlearn import systems

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="larger dictionaries and grid")
parser.add_argument("--epsilon", type=float, default=1e-3)
parser.add_argument("--out", default="dynlearn-out")
cli, _ = parser.parse_known_args()  # a Jupyter kernel adds -f FILE

jax.config.update("jax_enable_x64", True)
degrees = (10, 20, 40, 60) if cli.full else (10, 20, 30)
n_quadrature = 400 if cli.full else 200
n_grid = 100 if cli.full else 60
start = time.perf_counter()

# %%
alpha = 2.0
gauss = systems.get("Gauss").replace(params={"a": alpha, "b": -1.0 - math.exp(-alpha)})
nodes, weights = np.polynomial.legendre.leggauss(n_quadrature)
X = jnp.asarray((nodes - 1.0) / 2.0)[:, None]  # nodes on [-1, 0]
w = jnp.asarray(weights / 2.0)
Y = jax.vmap(gauss.step)(X)

# %%
results = {}
for degree in degrees:
    verified = dk.resdmd(dk.Legendre(degree, -1.0, 0.0), X, Y, w)
    dec = verified.decomposition()
    good = dec.filter(cli.epsilon)
    results[degree] = (verified, dec, good)
    top = np.asarray(good.eigenvalues[:4])
    print(
        f"degree {degree:3d}: {dec.eigenvalues.shape[0]} EDMD eigenvalues, "
        f"{good.eigenvalues.shape[0]} with residual <= {cli.epsilon:g}; leading verified: "
        + ", ".join(f"{v.real:+.6f}{v.imag:+.6f}j" for v in top)
    )

# %%
verified, dec, good = results[degrees[-1]]
xs = np.linspace(-1.2, 1.2, n_grid)
grid = xs[None, :] + 1j * xs[:, None]
t0 = time.perf_counter()
sigma = np.asarray(jax.block_until_ready(verified.pseudospectrum(jnp.asarray(grid))))
print(f"pseudospectrum {n_grid}x{n_grid}: {time.perf_counter() - t0:.2f} s")

fig, axes = plt.subplots(1, 2, figsize=(11, 5))
for degree, (_, d, _) in results.items():
    axes[0].scatter(
        np.asarray(d.eigenvalues).real,
        np.asarray(d.eigenvalues).imag,
        s=8,
        label=f"EDMD, degree {degree}",
    )
lam = np.asarray(good.eigenvalues)
axes[0].scatter(
    lam.real, lam.imag, facecolors="none", edgecolors="k", s=60, label="ResDMD verified"
)
axes[0].set_title("Gauss map: EDMD eigenvalues and verified ones")
axes[0].legend(fontsize=7)
axes[0].set_aspect("equal")
cs = axes[1].contour(xs, xs, np.log10(sigma), levels=np.arange(-6, 0), cmap="viridis")
axes[1].clabel(cs, fontsize=7)
axes[1].scatter(lam.real, lam.imag, c="r", s=10)
axes[1].set_title(f"log10 pseudospectrum, degree {degrees[-1]}")
axes[1].set_aspect("equal")
out = Path(cli.out)
out.mkdir(parents=True, exist_ok=True)
fig.tight_layout()
fig.savefig(out / "koopman_gauss_map.png", dpi=120)
print(f"wrote {out / 'koopman_gauss_map.png'} in {time.perf_counter() - start:.1f} s")
