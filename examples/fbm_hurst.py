"""The Hurst index of fractional Brownian motion is recovered within 0.05 (median over seeds) by
fitting a Markov-approximate fBM (learnable H, closed-form weights) to exact fBM paths.

Daems, Opper, Crevecoeur, Birdal (ICLR 2024), "Variational Inference for SDEs Driven by
Fractional Noise". Data: exact Riemann–Liouville fBM paths (covariance by quadrature, Cholesky
sampling) observed with small noise at 24 times in (0, 1], for H = 0.3 and H = 0.7. Model:
`MarkovFBM` with K = 5 OU processes, a scale and an observation noise, trained with `fit` on the
Gaussian log-likelihood of the Markov approximation (closed-form covariance
`ω(H)^T Cov(Y(s), Y(t)) ω(H)`); the gradient reaches `H` through the closed-form weights. This fits
the driving noise directly; `examples/fbm_latent_sde.py` learns H through the latent-SDE ELBO
instead.

Each seed draws new data for both H. Beside the fitted estimate, each seed also prints the
maximum-likelihood H under the exact Riemann–Liouville covariance (a grid over H and the scale,
the observation noise known): the best any estimator of H can do on that seed's paths. A seed
that misses the target while this oracle is close to the truth fails through the Markov
approximation or the optimization; a seed where the oracle misses too fails through its data.
The target (|error| < 0.05) is judged on the median over seeds.

What the runs show: at the default (128 paths, 400 steps, 5 seeds) the medians are 0.343 for
H = 0.3 and 0.704 for H = 0.7, both inside the target, with the H = 0.3 estimate biased up by
about +0.05 against the exact-covariance MLE on every seed. The longer version (`--full`: 512
paths, 1500 steps; seed 0, 36 s at load 5.6, timed with `python docs/tools/time_examples.py
--full --seeds 0 fbm_hurst`, results in `docs/reproductions/full/fbm_hurst.json`) removes most
of that bias: 0.311 and 0.700 (exact-covariance MLE 0.295 and 0.701), where seed 0 of the
default gave 0.346 and 0.721; so the default's bias at H = 0.3 is a budget effect (one seed).

Run: `dynlearn reproduce fbm_hurst [--results-dir DIR]` (5 seeds; `--seeds` to change, `--full`
for more paths and steps). Writes the results file `DIR/fbm_hurst.json` and
`./dynlearn-out/fbm_hurst.png`.
"""

# %%
import argparse
import os

import jax

jax.config.update("jax_enable_x64", True)  # the weights' linear system is badly conditioned
import equinox as eqx
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from dynlearn._ledger import Reproduction
from dynlearn.nde import MarkovFBM, riemann_liouville_covariance
from dynlearn.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="more paths and steps")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
args, _ = parser.parse_known_args()
n_paths = 512 if args.full else 128
steps = 1500 if args.full else 400
ts = np.linspace(1 / 24, 1.0, 24)
NOISE = 0.01
HURSTS = (0.3, 0.7)
TARGET = 0.05
K, RATIO = 5, 10.0

ledger = Reproduction(
    "fbm_hurst",
    paper="Variational Inference for SDEs Driven by Fractional Noise",
    claim="The Hurst index of fractional noise is learnable through the closed-form optimal "
    "weights of the Markov approximation (MA-fBM) of fBM.",
    paper_figures=[
        {
            "quantity": "learned Hurst index on synthetic fBM data",
            "value": "H is learned (recovered) from data generated with known H; the paper's "
            "figure shows the estimate converging to the true H (values not tabulated)",
            "source": "Daems et al., ICLR 2024, section 5 (synthetic fBM experiment, figure); "
            "the 0.05 target is this project's, not the paper's",
        },
    ],
    config={
        "full": args.full,
        "n_paths": n_paths,
        "steps": steps,
        "noise": NOISE,
        "K": K,
        "ratio": RATIO,
        "times": len(ts),
    },
)


class Model(eqx.Module):
    fbm: MarkovFBM
    log_scale: jax.Array
    log_noise: jax.Array

    def covariance(self):
        t = jnp.asarray(ts)
        c = jax.vmap(jax.vmap(self.fbm.covariance, (None, 0)), (0, None))(t, t)
        return jnp.exp(2 * self.log_scale) * c + jnp.exp(2 * self.log_noise) * jnp.eye(len(ts))


def loss_fn(model, batch, *, key):
    chol = jnp.linalg.cholesky(model.covariance())
    z = jax.scipy.linalg.solve_triangular(chol, batch.T, lower=True)
    logdet = 2 * jnp.sum(jnp.log(jnp.diag(chol)))
    nll = 0.5 * jnp.mean(jnp.sum(z**2, axis=0)) + 0.5 * logdet
    return nll / len(ts), {"hurst": model.fbm.hurst}


# %% The oracle: maximum likelihood of H under the exact covariance, on a grid.
H_GRID = np.round(np.arange(0.1, 0.905, 0.02), 3)
LOG_SCALES = np.linspace(-0.7, 0.7, 57)
RL = {h: riemann_liouville_covariance(h, ts) for h in H_GRID}


def oracle_hurst(data):
    """Grid MLE of H (parabolic refinement), profiling the scale; the noise is known."""
    s = data.T @ data / data.shape[0]  # sample second moment (zero-mean model)
    best = []
    for h in H_GRID:
        cov = np.exp(2 * LOG_SCALES)[:, None, None] * RL[h] + NOISE**2 * np.eye(len(ts))
        _, logdet = np.linalg.slogdet(cov)
        quad = np.einsum("kij,ji->k", np.linalg.inv(cov), s)
        best.append(np.min(0.5 * (logdet + quad)))
    best = np.asarray(best)
    i = int(np.clip(np.argmin(best), 1, len(H_GRID) - 2))
    a, b, c = best[i - 1 : i + 2]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) > 0 else 0.0
    return float(H_GRID[i] + np.clip(shift, -1, 1) * (H_GRID[1] - H_GRID[0]))


histories = {}


def run_seed(seed):
    rng = np.random.default_rng(seed)
    result = {}
    for h_true in HURSTS:
        chol = np.linalg.cholesky(
            riemann_liouville_covariance(h_true, ts) + 1e-12 * np.eye(len(ts))
        )
        data = (chol @ rng.standard_normal((len(ts), n_paths))).T
        data = data + NOISE * rng.standard_normal(data.shape)
        model = Model(MarkovFBM(0.5, n_processes=K, ratio=RATIO), jnp.zeros(()), jnp.log(0.05))
        model, history = fit(
            model,
            loss_fn,
            jnp.asarray(data),
            optax.adam(2e-2),
            steps=steps,
            batch_size=64,
            key=jax.random.key(seed),
            progress=False,
        )
        h_fit, h_oracle = float(model.fbm.hurst), oracle_hurst(data)
        histories[(seed, h_true)] = [float(r["hurst"]) for r in history]
        tag = f"H{h_true}"
        result[f"{tag}_estimate"] = h_fit
        result[f"{tag}_error"] = h_fit - h_true
        result[f"{tag}_oracle_estimate"] = h_oracle
        result[f"{tag}_oracle_error"] = h_oracle - h_true
    return result


for seed in args.seeds:
    r = ledger.seed(seed, run_seed)
    print(
        f"seed {seed}: "
        + "; ".join(
            f"H true {h:.2f} recovered {r[f'H{h}_estimate']:.3f} (error "
            f"{r[f'H{h}_error']:+.3f}; exact-covariance MLE {r[f'H{h}_oracle_estimate']:.3f})"
            for h in HURSTS
        )
        + f"  [{ledger.per_seed[seed]['wall_time_s']:.0f} s]"
    )

# %% [markdown]
# ## The ledger entry

# %%
med = ledger.medians()
seeds = sorted(ledger.per_seed)
summary, ok, misses, biased = [], True, [], []
for h in HURSTS:
    errs = np.array([ledger.per_seed[s][f"H{h}_error"] for s in seeds])
    # the Markov approximation's bias: the fit against the best estimate on the same paths
    bias = np.array(
        [
            ledger.per_seed[s][f"H{h}_estimate"] - ledger.per_seed[s][f"H{h}_oracle_estimate"]
            for s in seeds
        ]
    )
    med_err = float(np.median(errs))
    if abs(np.median(bias)) > 0.02 and np.all(np.sign(bias) == np.sign(np.median(bias))):
        biased.append(
            f"at H = {h} every seed's fit lies {bias.min():+.3f} to {bias.max():+.3f} from the "
            "exact-covariance MLE on the same paths (the K = 5 Markov approximation's bias, "
            f"most of the {TARGET} target)"
        )
    ok &= abs(med_err) < TARGET
    summary.append(
        f"H = {h}: median estimate {med[f'H{h}_estimate']:.3f} (error {med_err:+.3f}; range "
        f"{h + errs.min():.3f}-{h + errs.max():.3f}; exact-covariance MLE median "
        f"{med[f'H{h}_oracle_estimate']:.3f}; estimate minus that MLE: median "
        f"{np.median(bias):+.3f}, range {bias.min():+.3f} to {bias.max():+.3f})"
    )
    for s in seeds:
        r = ledger.per_seed[s]
        if abs(r[f"H{h}_error"]) >= TARGET:
            cause = (
                "the data: the exact-covariance MLE misses too"
                if abs(r[f"H{h}_oracle_error"]) >= TARGET
                else "the Markov approximation / optimization: the exact-covariance MLE is within"
            )
            misses.append(
                f"seed {s}, H = {h}: {r[f'H{h}_estimate']:.3f} (exact-covariance MLE "
                f"{r[f'H{h}_oracle_estimate']:.3f}; {cause})"
            )
ours = (
    f"median over {len(seeds)} seeds ({n_paths} paths each): "
    + "; ".join(summary)
    + f"; {len(misses)} of {2 * len(seeds)} fits miss |error| < {TARGET}"
    + (": " + "; ".join(misses) if misses else "")
)
status = "partial"  # the fit is the exact MA-fBM likelihood, not the paper's latent-SDE ELBO
gap = (
    ("the median meets the 0.05 target for both H" if ok else "the median misses the 0.05 target")
    + "".join(f"; {b}" for b in biased)
    + "; this fits MA-fBM by its exact Gaussian likelihood (the mechanism the paper relies on: "
    "H learned through the closed-form weights), not by the paper's latent-SDE ELBO, which "
    "examples/fbm_latent_sde.py does"
)
ledger.finish(
    ours=ours,
    status=status,
    gap=gap,
    differences=[
        "exact Gaussian likelihood of the MA-fBM covariance instead of the variational ELBO",
        f"K = {K} OU processes (ratio {RATIO}); {n_paths} paths at 24 times in (0, 1]",
        "Riemann–Liouville (type II) fBM data, as the MA-fBM approximates",
    ],
)
print(ours)
print(f"status: {status}")

# %%
if histories:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, h_true in zip(axes, HURSTS):
        for (seed, h), trace in histories.items():
            if h == h_true:
                ax.plot(trace, lw=1, label=f"seed {seed}")
        ax.axhline(h_true, color="k", ls="--", label="true H")
        ax.set_title(f"H = {h_true}: learned H along training")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    os.makedirs("dynlearn-out", exist_ok=True)
    fig.tight_layout()
    fig.savefig("dynlearn-out/fbm_hurst.png", dpi=120)
    print("wrote dynlearn-out/fbm_hurst.png")
