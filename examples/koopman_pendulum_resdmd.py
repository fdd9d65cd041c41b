# %% [markdown]
"""Pendulum: EDMD's spectrum is polluted; ResDMD's residuals certify the right eigenvalues, and
both residuals and pseudospectrum are checked against the exact answer.

The pendulum `q' = p, p' = -sin q` preserves area, so its Koopman operator `K` (time step
`dt = 0.5`) is unitary on `L^2` of an invariant measure, and its spectrum is the whole unit
circle (the rotation frequency varies with the energy). Two exact facts follow, which this
example checks: every eigenpair candidate `(lambda, g)` has residual
`res = |K g - lambda g| / |g| >= dist(lambda, spectrum) = | |lambda| - 1 |`, and the
`epsilon`-pseudospectrum is the annulus `| |z| - 1 | < epsilon`, i.e. the smallest singular value
of `K - z` is exactly `| |z| - 1 |`. EDMD with a finite dictionary nevertheless returns many
eigenvalues well inside the disc (spectral pollution). ResDMD (Colbrook & Townsend, "Rigorous
data-driven computation of spectral properties of Koopman operators for dynamical systems";
Colbrook, Mezic & Stepanenko, "Limits and powers of Koopman learning") computes each pair's
residual from the same data in the well-conditioned QR form and keeps only pairs with residual
at most `epsilon`: each kept eigenvalue is then certified to lie within `epsilon` of the spectrum.

Data: a grid of initial conditions on `[-pi, pi) x [-L, L]` (shifted by a random fraction of a
cell for seeds other than 0), each integrated over one time step with diffrax in float64.
Quadrature weights: the Boltzmann density `exp(-H / T)` of the energy `H = p^2 / 2 - cos q`; a
function of `H` times area is an invariant measure. The box must hold the weighted mass of the
dictionary's highest-degree polynomials, not only of the weights: `L = 6.5` (weights ~1e-18 at
the edge). With `L = 4` (weights ~1e-7 at the edge) the data are no longer unitary for degree-8
Hermite polynomials: `dynlearn reproduce koopman_pendulum_resdmd --momentum-box 4 --seeds 0`
printed a pseudospectrum 7.3e-2 below the exact value near `z = 0` and ResDMD residuals 3.5e-3
away from the directly recomputed ones (at `L = 6.5`: 4.3e-4 above, and 1.0e-9).
Dictionary: Fourier modes in the angle times Hermite polynomials in the momentum
(`TensorProduct`). The residual of every EDMD pair is recomputed independently, as
`|g(F(x)) - lambda g(x)|` on a twice finer grid (the "exact" residual up to quadrature error),
and the pseudospectrum (smallest singular value of `K - z` restricted to the dictionary, an
upper bound of the true one) is compared with `| |z| - 1 |` on a grid for two dictionary sizes.

The longer version (`--full`: dictionaries of 99 and 315 functions, a 150 x 150 data grid;
one grid, 207 s at load 3.4-3.7, timed with `python docs/tools/time_examples.py --full --seeds 0
koopman_pendulum_resdmd`, results in `docs/reproductions/full/`) shows what the default cannot:
the pseudospectrum keeps approaching the exact annulus as the dictionary grows (mean excess
0.108 at 99 functions -> 0.060 at 315), still far from it; every spurious EDMD eigenvalue is
again flagged (291 of 315 spurious, ResDMD keeps 11, none spurious) and the residual bound holds
to rounding.

Run: `dynlearn reproduce koopman_pendulum_resdmd [--results-dir DIR]` (3 grid shifts; `--seeds`
to change, `--full` for larger dictionaries, data and grid). Writes the results file
`DIR/koopman_pendulum_resdmd.json` and `./dynlearn-out/koopman_pendulum_resdmd.png`.
"""

# %%
import argparse
import time
from pathlib import Path

import diffrax
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import dynlearn.koopman as dk
from dynlearn import systems
from dynlearn._ledger import Reproduction

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="larger dictionaries, data and grid")
parser.add_argument("--epsilon", type=float, default=0.05, help="residual tolerance")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="grid shifts")
parser.add_argument("--momentum-box", type=float, default=6.5, help="data on |p| <= L")
parser.add_argument("--out", default="dynlearn-out")
cli, _ = parser.parse_known_args()  # a Jupyter kernel adds -f FILE

jax.config.update("jax_enable_x64", True)  # ResDMD needs float64
# (Fourier max frequency, Hermite degree): the main dictionary, then a smaller one to show how
# the pseudospectrum converges as the dictionary grows.
sizes = [(10, 14), (5, 8)] if cli.full else [(5, 8), (3, 5)]
n_angle, n_momentum = (150, 150) if cli.full else (60, 60)
n_grid = 100 if cli.full else 50
momentum_box, dt, temperature = cli.momentum_box, 0.5, 0.5
config = {
    "full": cli.full,
    "epsilon": cli.epsilon,
    "dictionaries": sizes,
    "data_grid": [n_angle, n_momentum],
    "pseudospectrum_grid": n_grid,
    "momentum_box": momentum_box,
    "dt": dt,
    "temperature": temperature,
}
ledger = Reproduction(
    "koopman_pendulum_resdmd",
    paper="Limits and Powers of Koopman Learning",
    claim=(
        "EDMD's spectrum of the pendulum's (unitary) Koopman operator is polluted by spurious "
        "eigenvalues; ResDMD's residuals, computed from the same data, certify which eigenvalues "
        "are right, and its pseudospectra converge to the true ones from above."
    ),
    paper_figures=[
        {
            "quantity": "spectrum of the pendulum's Koopman operator (dt = 0.5)",
            "value": "the unit circle (exact; unitary operator, energy-dependent frequency)",
            "source": "Colbrook & Townsend, Rigorous data-driven computation of spectral "
            "properties of Koopman operators (CPAM 2024), pendulum example; exact fact",
        },
        {
            "quantity": "EDMD eigenvalues",
            "value": "spurious eigenvalues inside the unit disc, removed by ResDMD's residual "
            "test (qualitative, shown as a figure; figure number not checked here)",
            "source": "Colbrook & Townsend (CPAM 2024), pendulum example",
        },
        {
            "quantity": "residual bound",
            "value": "dist(lambda, spectrum) <= residual for normal operators; computed "
            "pseudospectra converge from above",
            "source": "Colbrook & Townsend (CPAM 2024), theorems on ResDMD; Colbrook, Mezic & "
            "Stepanenko, Limits and powers of Koopman learning",
        },
    ],
    config=config,
)
pendulum = systems.pendulum(length=1.0, gravity=1.0, mass=1.0)  # q' = p, p' = -sin q


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


def snapshots(n_q, n_p, shift):
    """Grid of initial conditions (shifted by `shift` cells), one step of the flow, weights."""
    dq, dp = 2 * np.pi / n_q, 2 * momentum_box / (n_p - 1)
    angles = -np.pi + (np.arange(n_q) + shift[0]) * dq
    momenta = -momentum_box + (np.arange(n_p) + shift[1]) * dp
    q, p = np.meshgrid(angles, momenta, indexing="ij")
    X = jnp.asarray(np.stack([q.ravel(), p.ravel()], axis=1))
    Y = jax.vmap(flow)(X)
    energy = 0.5 * p.ravel() ** 2 - np.cos(q.ravel())
    weights = np.exp(-(energy + 1.0) / temperature)
    return X, Y, jnp.asarray(weights / weights.sum())


def make_dictionary(max_frequency, degree):
    hermite = dk.Hermite(degree, 0.0, float(np.sqrt(temperature)))
    return dk.TensorProduct((dk.Fourier(max_frequency), hermite), ((0,), (1,)))


def direct_residuals(dictionary, lam, coefficients, X, Y, weights):
    """`|g(F(x)) - lambda g(x)| / |g(x)|` by quadrature on other data: no QR form, no EDMD."""
    gx = np.asarray(dictionary.evaluate(X)) @ coefficients
    gy = np.asarray(dictionary.evaluate(Y)) @ coefficients
    w = np.asarray(weights)[:, None]
    num = np.sum(w * np.abs(gy - lam[None, :] * gx) ** 2, axis=0)
    return np.sqrt(num / np.sum(w * np.abs(gx) ** 2, axis=0))


xs = np.linspace(-1.5, 1.5, n_grid)
grid = xs[None, :] + 1j * xs[:, None]
exact_sigma = np.abs(np.abs(grid) - 1.0)  # smallest singular value of K - z, K unitary
figure_data = {}


def run_seed(seed):
    shift = (0.0, 0.0) if seed == 0 else tuple(np.random.default_rng(seed).uniform(0, 1, 2))
    X, Y, weights = snapshots(n_angle, n_momentum, shift)
    Xf, Yf, wf = snapshots(2 * n_angle, 2 * n_momentum, shift)
    result = {"grid_shift_cells": list(shift), "snapshots": int(X.shape[0])}
    for i, (max_frequency, degree) in enumerate(sizes):
        dictionary = make_dictionary(max_frequency, degree)
        verified = dk.resdmd(dictionary, X, Y, weights)
        sigma = np.asarray(jax.block_until_ready(verified.pseudospectrum(jnp.asarray(grid))))
        excess = sigma - exact_sigma
        tag = f"dict{i}"
        result[f"{tag}_size"] = int(verified.triangular.shape[0])
        # computed sigma is an upper bound of | |z| - 1 | (up to quadrature error) ...
        result[f"{tag}_pseudospectrum_min_excess"] = float(excess.min())
        # ... and converges to it as the dictionary grows
        result[f"{tag}_pseudospectrum_mean_excess"] = float(excess.mean())
        result[f"{tag}_pseudospectrum_mean_excess_annulus"] = float(
            excess[np.abs(np.abs(grid) - 1) < 0.25].mean()
        )
        if i > 0:
            continue
        decomposition = verified.decomposition()
        lam = np.asarray(decomposition.eigenvalues)
        res = np.asarray(decomposition.residuals)
        distance = np.abs(np.abs(lam) - 1.0)  # exact distance to the spectrum
        kept = res <= cli.epsilon
        direct = direct_residuals(
            dictionary, lam, np.asarray(decomposition.eigenvectors), Xf, Yf, wf
        )
        result.update(
            eigenvalues=int(lam.size),
            edmd_spurious=int(np.sum(distance > cli.epsilon)),
            edmd_far_inside=int(np.sum(np.abs(lam) < 0.9)),
            resdmd_kept=int(kept.sum()),
            resdmd_kept_spurious=int(np.sum(distance[kept] > cli.epsilon)),
            # exact bound res >= dist(lambda, spectrum): its largest violation (should be <= 0)
            bound_max_violation=float(np.max(distance - res)),
            # ResDMD's residuals against residuals recomputed directly on a twice finer grid
            residual_max_abs_difference=float(np.max(np.abs(res - direct))),
            kept_max_distance_to_circle=float(distance[kept].max()) if kept.any() else 0.0,
        )
        if seed == cli.seeds[0]:
            figure_data.update(lam=lam, res=res, kept=kept, sigma=sigma)
    return result


start = time.perf_counter()
for seed in cli.seeds:
    r = ledger.seed(seed, run_seed)
    print(
        f"seed {seed}: {r['eigenvalues']} EDMD eigenvalues, {r['edmd_spurious']} of them more than "
        f"epsilon = {cli.epsilon} from the unit circle (spurious; {r['edmd_far_inside']} with "
        f"|lambda| < 0.9); ResDMD keeps {r['resdmd_kept']}, of which {r['resdmd_kept_spurious']} "
        f"spurious (max distance to the circle {r['kept_max_distance_to_circle']:.1e})"
    )
    print(
        f"  bound res >= | |lambda| - 1 |: max violation {r['bound_max_violation']:.1e}; "
        f"ResDMD residuals vs direct residuals on a 2x finer grid: max difference "
        f"{r['residual_max_abs_difference']:.1e}"
    )
    print(
        "  pseudospectrum sigma(z) - | |z| - 1 |: "
        + "; ".join(
            f"{r[f'dict{i}_size']} functions: min {r[f'dict{i}_pseudospectrum_min_excess']:.1e}, "
            f"mean {r[f'dict{i}_pseudospectrum_mean_excess']:.3f} "
            f"(within 0.25 of the circle {r[f'dict{i}_pseudospectrum_mean_excess_annulus']:.3f})"
            for i in range(len(sizes))
        )
    )

# %% [markdown]
# ## The ledger entry

# %%
med = ledger.medians()
bound_holds = all(r["bound_max_violation"] <= 1e-6 for r in ledger.per_seed.values())
none_kept_spurious = all(r["resdmd_kept_spurious"] == 0 for r in ledger.per_seed.values())
upper_bound = all(r["dict0_pseudospectrum_min_excess"] >= -1e-6 for r in ledger.per_seed.values())
converging = med["dict0_pseudospectrum_mean_excess"] < med["dict1_pseudospectrum_mean_excess"]
polluted = med["edmd_spurious"] > 0
status = (
    "reproduced"
    if bound_holds and none_kept_spurious and upper_bound and converging and polluted
    else "partial"
)
ours = (
    f"median over {len(ledger.per_seed)} grids: {med['edmd_spurious']:.0f} of "
    f"{med['eigenvalues']:.0f} EDMD eigenvalues are spurious (more than {cli.epsilon} from the "
    f"unit circle), ResDMD keeps {med['resdmd_kept']:.0f} with {med['resdmd_kept_spurious']:.0f} "
    f"spurious; residual bound max violation {med['bound_max_violation']:.1e}; ResDMD vs direct "
    f"residuals max difference {med['residual_max_abs_difference']:.1e}; pseudospectrum minus "
    f"the exact | |z| - 1 |: min {med['dict0_pseudospectrum_min_excess']:.1e}, mean "
    f"{med['dict1_pseudospectrum_mean_excess']:.3f} -> "
    f"{med['dict0_pseudospectrum_mean_excess']:.3f} as the dictionary grows from "
    f"{med['dict1_size']:.0f} to {med['dict0_size']:.0f} functions"
)
gap = (
    "the qualitative claim holds on every grid: every spurious EDMD eigenvalue is flagged (none "
    "kept), the residual bound holds to rounding, and the computed pseudospectrum bounds the "
    "exact annulus from above and approaches it as the dictionary grows; at "
    f"{med['dict0_size']:.0f} functions it is still far from it (mean excess "
    f"{med['dict0_pseudospectrum_mean_excess']:.3f}): pseudospectra converge slowly"
    + (
        " (the paper's dictionaries are larger still)"
        if cli.full
        else ", and the paper's larger dictionaries are only in --full (not run for this entry)"
    )
    if status == "reproduced"
    else "a check failed: see the per-seed numbers"
)
ledger.finish(
    ours=ours,
    status=status,
    gap=gap,
    differences=[
        "grid (trapezoidal) quadrature of one-step snapshot pairs, not trajectory data",
        "seeds are random sub-cell shifts of the data grid (the method itself is deterministic)",
        f"dictionaries of {med['dict1_size']:.0f} and {med['dict0_size']:.0f} functions "
        "(Fourier x Hermite), smaller than in the paper",
        "the paper's figure is compared qualitatively; the checks are against exact facts "
        "(unit-circle spectrum, annulus pseudospectrum)",
    ],
)
print(ours)
print(f"status: {status}")

# %%
if not figure_data:  # the first seed was resumed from an earlier run: nothing to draw
    print("first seed resumed from its saved result: no figure (delete the .seeds folder to draw)")
    raise SystemExit(0)
lam, res, kept, sigma = (figure_data[k] for k in ("lam", "res", "kept", "sigma"))
fig, axes = plt.subplots(1, 2, figsize=(11, 5))
circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
ax = axes[0]
ax.plot(circle.real, circle.imag, "k-", lw=0.8)
sc = ax.scatter(lam.real, lam.imag, c=np.log10(res + 1e-16), cmap="viridis", s=14, vmin=-4, vmax=0)
ax.scatter(
    lam[kept].real,
    lam[kept].imag,
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
levels = [0.05, 0.1, 0.25, 0.5]
cs = ax.contour(xs, xs, sigma, levels=levels, cmap="magma")
ax.clabel(cs, fontsize=7)
for level in levels:
    for radius in (1 - level, 1 + level):
        ax.plot(radius * circle.real, radius * circle.imag, "k:", lw=0.5)
ax.scatter(lam[kept].real, lam[kept].imag, c="r", s=10)
ax.set_title("pseudospectrum level sets (dotted: exact annuli)")
ax.set_aspect("equal")
out = Path(cli.out)
out.mkdir(parents=True, exist_ok=True)
fig.tight_layout()
fig.savefig(out / "koopman_pendulum_resdmd.png", dpi=120)
print(f"wrote {out / 'koopman_pendulum_resdmd.png'} in {time.perf_counter() - start:.1f} s")
