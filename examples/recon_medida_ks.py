# %% [markdown]
"""MEDIDA on Kuramoto–Sivashinsky: the missing -0.5 u_xx from observations every solver step.

Mojgani, Chattopadhyay & Hassanzadeh, "Discovery of interpretable structural model errors by
combining Bayesian sparse regression and data assimilation: A chaotic Kuramoto-Sivashinsky test
case" (Chaos 2022). The truth is `u_t = -u u_x - u_xx - u_xxxx` on a periodic domain of length 22
(64 Fourier modes, ETDRK4 from `dynlearn.systems`, step 0.02); the imperfect model has only half
of the anti-diffusion, `-0.5 u_xx`, so the model error to discover is `-0.5 u_xx`. As in the
paper, the state is observed at every solver step and the model is run for one step from each
observed (or analysed) state: the one-step model error `e_k = (u_{k+1} - M(u_k)) / Δt` is
regressed on a library of 10 candidate terms (`u`, derivatives up to fourth order, `u²` and
the products of `u` with the derivatives) by a relevance vector machine (sparse Bayesian
regression with ARD priors, `recon.RVM`, as the paper).

Two cases per seed (each seed: another initial condition, observation noise and ensemble):
*clean*, noise-free observations of the truth used directly; *noisy*, observations with
Gaussian noise (standard deviation 0.05, about 4% of the field's) assimilated by the stochastic
EnKF of `dynlearn.recon` run with the imperfect model, whose analysis states (low-passed to
their first 16 Fourier modes) are regressed. Reported per case: the recovered `u_xx`
coefficient against -0.5, and the largest other coefficient (spurious terms).

What the run shows (numbers in the "Measured" paragraph, from the results file): from noise-free
observations at every step the RVM returns the missing term almost exactly, with one tiny extra
fourth-derivative term; from EnKF analyses of noisy observations it overestimates the term and
adds small spurious terms (`u`, `u_xxxx`), and that case depends on the EnKF and low-pass
settings, which were picked by trial (listed in the results file's differences). The longer
version (`--full`: 150 time units, 100 members; seed 0, 15 s, 17 s of CPU at load 2-3, results
in `docs/reproductions/full/recon_medida_ks.json`) gives the same answer: u_xx -0.503 clean and
-0.543 noisy (default seed medians -0.503 and -0.540), so a longer window and a bigger ensemble
do not remove the noisy case's overestimate; its status reads partial only because it ran one
seed (the status needs three).

Run: `dynlearn reproduce recon_medida_ks [--results-dir DIR]` (3 seeds; `--seeds` to change,
`--full` for a longer window and a bigger ensemble). Writes `DIR/recon_medida_ks.json` and
`./dynlearn-out/recon_medida_ks.png`.
"""

# %%
import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from dynlearn import recon
from dynlearn._ledger import Reproduction

try:
    from dynlearn.systems import etdrk4, periodic_grid
except ImportError:  # until dynlearn.systems re-exports its PDE solvers
    from dynlearn.systems._pde import etdrk4, periodic_grid

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="longer window, bigger ensemble")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
parser.add_argument("--steps", type=int, default=None, help="observed steps")
parser.add_argument("--out", default="dynlearn-out")
cli, _ = parser.parse_known_args()  # a Jupyter kernel adds -f FILE
jax.config.update("jax_enable_x64", True)
start = time.perf_counter()

# %% [markdown]
# ## Truth and the imperfect model

# %%
length, n, dt = 22.0, 64, 0.02  # observations at every solver step dt
n_steps = cli.steps or (7500 if cli.full else 2500)  # 150 or 50 time units
members = 100 if cli.full else 64
obs_std, modes = 0.05, 16
k = 2 * jnp.pi * jnp.fft.rfftfreq(n, d=length / n)
x = periodic_grid(n, length)
wave = 2 * jnp.pi * x / length
features, names = recon.spectral_derivative_library(length)
i_uxx = names.index("u_xx")
config = {
    "full": cli.full,
    "dt": dt,
    "steps": n_steps,
    "members": members,
    "obs_std": obs_std,
    "low_pass_modes": modes,
    "grid": n,
    "length": length,
}


def nonlinear(v):
    u = jnp.fft.irfft(v, n=n)
    return jax.lax.complex(jnp.zeros_like(k), -0.5 * k) * jnp.fft.rfft(u * u)


@jax.jit
def imperfect_step(u):
    """The model over one solver step: KS with -0.5 u_xx instead of -u_xx."""
    w = etdrk4(0.5 * k**2 - k**4, nonlinear, jnp.fft.rfft(u), dt, 1, save_every=1)[-1]
    return jnp.fft.irfft(w, n=n)


def low_pass(u):
    # analysis noise enters the library through up to four derivatives (errors in variables
    # bias the regression towards zero); KS keeps its energy in the lowest modes
    u_hat = jnp.fft.rfft(u, axis=-1)
    keep = (jnp.arange(u_hat.shape[-1]) < modes).astype(u.dtype)
    return jnp.fft.irfft(u_hat * keep, n=n, axis=-1)


ledger = Reproduction(
    "recon_medida_ks",
    paper=(
        "Discovery of interpretable structural model errors by combining Bayesian sparse "
        "regression and data assimilation: A chaotic Kuramoto-Sivashinsky test case"
    ),
    claim=(
        "MEDIDA (one-step model errors from observed or EnKF-analysed states, regressed by a "
        "relevance vector machine) recovers the missing -0.5 u_xx term of an imperfect KS model "
        "as a closed-form term, from noise-free and from noisy observations."
    ),
    paper_figures=[
        {
            "quantity": "discovered model error, KS with half the u_xx term missing",
            "value": "the missing term -0.5 u_xx is found as the model error, from noise-free "
            "and noisy observations (qualitative; the paper's exact coefficients are not quoted "
            "here)",
            "source": "Mojgani, Chattopadhyay & Hassanzadeh, Chaos 32, 061105 (2022), abstract "
            "and KS test cases (arXiv 2110.00546)",
        },
    ],
    config=config,
)
figure_data: dict = {}


# %% [markdown]
# ## One seed: truth, clean regression, EnKF and noisy regression


# %%
def run_seed(seed):
    key = jax.random.key(seed)
    k_ic, k_obs, k_ens, k_filter = jax.random.split(key, 4)
    phases = jax.random.uniform(k_ic, (3,), maxval=2 * jnp.pi)
    u0 = (
        0.6 * jnp.cos(wave + phases[0])
        + 0.4 * jnp.sin(2 * wave + phases[1])
        + 0.3 * jnp.cos(3 * wave + phases[2])
    )
    v = etdrk4(k**2 - k**4, nonlinear, jnp.fft.rfft(u0), dt, n_steps + 2000, save_every=1)
    truth = jnp.fft.irfft(v, n=n)[2000:]  # drop a transient of 40 time units

    clean = recon.discover_model_error(
        truth, imperfect_step, dt, features, names=names, optimizer=recon.RVM()
    )
    obs = truth[1:] + obs_std * jax.random.normal(k_obs, truth[1:].shape, truth.dtype)
    ensemble0 = truth[0][None, :] + 0.3 * jax.random.normal(k_ens, (members, n), truth.dtype)
    t0 = time.perf_counter()
    filtered = recon.ensemble_kalman_filter(
        imperfect_step,
        ensemble0,
        obs,
        observe=jnp.eye(n),
        obs_cov=obs_std**2,
        key=k_filter,
        process_cov=0.02**2,
        inflation=1.05,
    )
    rmse = float(jnp.sqrt(jnp.mean((filtered.mean - truth[1:]) ** 2)))
    t_enkf = time.perf_counter() - t0
    noisy = recon.discover_model_error(
        low_pass(filtered.mean), imperfect_step, dt, features, names=names, optimizer=recon.RVM()
    )
    result = {"analysis_rmse": rmse, "field_std": float(jnp.std(truth)), "enkf_time_s": t_enkf}
    for case, found in (("clean", clean), ("noisy", noisy)):
        coef = np.asarray(found.coefficients)
        others = np.delete(coef, i_uxx)
        result[f"{case}_u_xx"] = float(coef[i_uxx])
        result[f"{case}_max_other"] = float(np.max(np.abs(others)))
        result[f"{case}_n_terms"] = int(np.sum(coef != 0))
        result[f"{case}_terms"] = found.terms()
        print(f"seed {seed} {case}: {found.terms()}", flush=True)
    print(f"seed {seed}: EnKF analysis RMSE {rmse:.3f} (noise {obs_std}) in {t_enkf:.0f} s")
    if not figure_data:
        figure_data.update(
            truth=np.asarray(truth[1:]),
            error=np.asarray(filtered.mean - truth[1:]),
            clean=np.asarray(clean.coefficients),
            noisy=np.asarray(noisy.coefficients),
            rmse=rmse,
        )
    return result


for seed in cli.seeds:
    ledger.seed(seed, run_seed)

# %% [markdown]
# ## The ledger entry

# %%
med = ledger.medians()
n_seeds = len(ledger.per_seed)


def close(case):
    return abs(med[f"{case}_u_xx"] + 0.5) <= 0.05 and med[f"{case}_max_other"] <= 0.05


status = "reproduced" if close("clean") and close("noisy") and n_seeds >= 3 else "partial"
ours = (
    f"median over {n_seeds} seeds, observations every solver step (Δt = {dt}): u_xx coefficient "
    f"{med['clean_u_xx']:.3f} from noise-free observations (largest other term "
    f"{med['clean_max_other']:.3f}, {med['clean_n_terms']:.0f} terms) and "
    f"{med['noisy_u_xx']:.3f} from EnKF analyses of noisy ones (largest other "
    f"{med['noisy_max_other']:.3f}, {med['noisy_n_terms']:.0f} terms; analysis RMSE "
    f"{med['analysis_rmse']:.3f}), against -0.5"
)
gap = "; ".join(
    f"{case}: {'within' if close(case) else 'not within'} 0.05 of -0.5 with no other term "
    f"above 0.05"
    for case in ("clean", "noisy")
)
ledger.finish(
    ours=ours,
    status=status,
    gap=gap,
    differences=[
        f"KS on L = 22 with 64 modes and ETDRK4 step {dt}; the paper's domain, resolution and "
        "step are not checked here",
        f"{n_steps} observed steps ({n_steps * dt:.0f} time units), {members} EnKF members",
        f"noisy case: analysis states low-passed to their first {modes} Fourier modes before "
        "the regression, EnKF process noise 0.02 and inflation 1.05 (our choices, not the "
        "paper's), picked by trial (3 EnKF settings x 4 cut-offs) on a 1000-step window from "
        "another initial condition, over which the recovered coefficient varied strongly: the "
        "noisy case depends on these settings",
        "library of 10 terms (u, u_x..u_xxxx, u^2, u u_x..u u_xxxx) scaled to unit RMS",
    ],
)
print(ours)
print(f"status: {status} ({gap})")

# %%
if not figure_data:
    print("all seeds resumed from saved results: no figure (delete the .seeds folder to draw)")
    raise SystemExit(0)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
t = np.arange(1, n_steps + 1) * dt
kw = dict(aspect="auto", origin="lower", extent=(t[0], t[-1], 0, length), cmap="RdBu_r")
axes[0].imshow(figure_data["truth"].T, vmin=-3, vmax=3, **kw)
axes[0].set_title("Kuramoto–Sivashinsky truth")
axes[1].imshow(figure_data["error"].T, vmin=-0.3, vmax=0.3, **kw)
axes[1].set_title(f"EnKF analysis error (RMSE {figure_data['rmse']:.3f})")
for ax in axes[:2]:
    ax.set_xlabel("time")
    ax.set_ylabel("x")
idx = np.arange(len(names))
axes[2].bar(idx - 0.2, figure_data["clean"], 0.4, label="noise-free observations")
axes[2].bar(idx + 0.2, figure_data["noisy"], 0.4, label="EnKF analysis, noisy")
axes[2].axhline(-0.5, color="k", ls=":", lw=1)
axes[2].set_xticks(idx, names, rotation=60, fontsize=8)
axes[2].set_title("model-error coefficients (RVM), first seed")
axes[2].legend(fontsize=8)
fig.tight_layout()
out = Path(cli.out)
out.mkdir(parents=True, exist_ok=True)
fig.savefig(out / "recon_medida_ks.png", dpi=120)
print(f"wrote {out / 'recon_medida_ks.png'} in {time.perf_counter() - start:.1f} s")
