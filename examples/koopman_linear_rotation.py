# %% [markdown]
"""Exact Koopman spectra: EDMD finds 0.9^i 0.5^j for a linear map, e^{ik omega} for a rotation.

Two systems whose Koopman eigenvalues are known in closed form (Williams, Kevrekidis & Rowley's
EDMD; Colbrook & Townsend's ResDMD checks):

- the linear map `x -> diag(0.9, 0.5) x` with monomials up to degree 3: the monomial `x^i y^j`
  is an eigenfunction with eigenvalue `0.9^i 0.5^j`, and every residual vanishes;
- the circle rotation `theta -> theta + omega` with Fourier modes `|k| <= n`: eigenvalues
  `exp(i k omega)`, all on the unit circle.

Run: `python examples/koopman_linear_rotation.py` (seconds on a CPU; `--full` uses larger
dictionaries). Writes `./dynlearn-out/koopman_linear_rotation.png`.
"""

# %%
import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import dynlearn.koopman as dk

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="larger dictionaries")
parser.add_argument("--out", default="dynlearn-out")
cli, _ = parser.parse_known_args()  # a Jupyter kernel adds -f FILE
jax.config.update("jax_enable_x64", True)
degree, n_modes = (6, 20) if cli.full else (3, 8)

# %% [markdown]
# ## Linear map with monomials

# %%
X = jax.random.uniform(jax.random.key(0), (500, 2), minval=-1.0, maxval=1.0, dtype=jnp.float64)
Y = X * jnp.asarray([0.9, 0.5])[None, :]
linear = dk.resdmd(dk.Monomials(degree), X, Y).decomposition()
exact = np.sort([0.9**i * 0.5**j for i, j in dk.multi_indices(2, degree)])
error = np.max(np.abs(np.sort(np.asarray(linear.eigenvalues).real) - exact))
print(
    f"linear map, monomials up to degree {degree}: max eigenvalue error {error:.2e}, "
    f"max residual {float(jnp.max(linear.residuals)):.2e}"
)

# %% [markdown]
# ## Rotation with Fourier modes

# %%
omega = 2 * np.pi * (np.sqrt(5) - 1) / 2 / 10
theta = jnp.linspace(0.0, 2 * np.pi, 4 * n_modes + 2, endpoint=False)[:, None]
rotation = dk.resdmd(dk.Fourier(n_modes), theta, jnp.mod(theta + omega, 2 * np.pi)).decomposition()
modulus_error = float(jnp.max(jnp.abs(jnp.abs(rotation.eigenvalues) - 1)))
expected = np.exp(1j * omega * np.arange(-n_modes, n_modes + 1))
lam = np.asarray(rotation.eigenvalues)
match = np.max(np.min(np.abs(lam[:, None] - expected[None, :]), axis=1))
print(
    f"rotation, Fourier |k| <= {n_modes}: max ||lambda| - 1| = {modulus_error:.2e}, "
    f"max distance to exp(i k omega) = {match:.2e}, "
    f"max residual {float(jnp.max(rotation.residuals)):.2e}"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
axes[0].scatter(exact, np.zeros_like(exact), marker="x", s=60, c="k", label="0.9^i 0.5^j")
axes[0].scatter(
    np.asarray(linear.eigenvalues).real, np.asarray(linear.eigenvalues).imag, s=18, label="EDMD"
)
axes[0].set_title("linear map diag(0.9, 0.5), monomials")
axes[0].legend()
axes[1].plot(circle.real, circle.imag, "k-", lw=0.6)
axes[1].scatter(expected.real, expected.imag, marker="x", s=60, c="k", label="exp(i k omega)")
axes[1].scatter(lam.real, lam.imag, s=18, label="EDMD")
axes[1].set_aspect("equal")
axes[1].set_title("circle rotation, Fourier modes")
axes[1].legend()
out = Path(cli.out)
out.mkdir(parents=True, exist_ok=True)
fig.tight_layout()
fig.savefig(out / "koopman_linear_rotation.png", dpi=120)
print(f"wrote {out / 'koopman_linear_rotation.png'}")
