"""A latent SDE driven by Markov-approximate fractional noise learns the Hurst index of synthetic
fractional data by maximising the ELBO.

Daems, Opper, Crevecoeur, Birdal (ICLR 2024), "Variational Inference for SDEs Driven by
Fractional Noise". Data: exact Riemann–Liouville fBM paths `x = s B_H` (covariance by quadrature,
Cholesky sampling) observed with noise at 24 times in (0, 1]. Model: the prior is
`dX = s dB_H` with `B_H` the MA-fBM of `MarkovFBM` (K OU processes `Y_k` driven by one Brownian
motion `W`, learnable H, closed-form weights). Starting from zero, `X = s Σ_k ω_k(H) Y_k`
exactly (the identity `MarkovFBM.augment` preserves), so the latent state is the Markov vector
`Y`. The posterior steers the driving noise, `dW -> dW + u dt`, with a control
`u = a + b * bridge`: `bridge` is the constant control that would move `E[X(t_i)]` onto the next
observation `x_i` (the gap `x_i - X_t` over `s Σ_k ω_k (1 - exp(-γ_k (t_i - t))) / γ_k`), and
`a`, `b` (the gain, starting at 0) are outputs of an MLP that sees `t`, `Y`, a backward-GRU
context `c_t` of the remaining observations, `x_i`, `X_t` and the gap; by Girsanov
`KL = E ∫ u^2 / 2 dt`, integrated alongside `Y` (Euler–Maruyama, diffrax). `H`, the scale `s`,
the control and the encoder are trained together on the one-sample ELBO (Adam, learning rate 0.1
for H and 0.02 for the rest, both decayed by a cosine to 5%); the observation noise is fixed at
its true value (with it learned, the ELBO estimate of H drifted on to 0.771 by step 1600).

The Euler grid is graded towards every observation time (steps of Δ/4 three times, then halving
down to Δ/256, Δ = 1/24 the observation spacing). The posterior shares the prior's diffusion, so
the noise of the last step before an observation cannot be steered away: its variance
`(s Σ ω_k)^2 h` is a floor on the posterior's error at each observation. `Σ ω_k` grows as H
falls (2.4 at H = 0.3, 0.4 at H = 0.7), so with a uniform step h = 1/96 (0.059 against the
observation noise variance 0.0025 at H = 0.3) the ELBO penalised rough priors: H = 0.3 data gave
an estimate of 0.499 after 4000 steps, and with H held fixed the ELBO preferred 0.5 to 0.3.

For reference the same MA-fBM prior is also fitted by its exact Gaussian likelihood (what
`examples/fbm_hurst.py` does): the latent SDE's error in H combines the approximation bias of
MA-fBM (shared with the exact fit) with the ELBO's variational gap. Prints true, ELBO and
exact-likelihood estimates of H and the ELBO estimate along training.

Without the bridge term (the MLP alone) the estimate for H = 0.3 was 0.373 after 3000 steps and
still falling; with it 0.311 by step 375.

Each seed draws new data for both H and fits three estimators to it: the latent SDE (ELBO), the
exact Gaussian likelihood of the same MA-fBM prior, and the maximum-likelihood H under the exact
Riemann–Liouville covariance (a grid over H and the scale, the noise known; the best any estimator
can do on those paths). A seed that misses the target is attributed to its data when the last
misses too, to the Markov approximation when the exact MA-fBM fit misses too, and to the ELBO
otherwise. The target (|error| < 0.05) is judged on the median over seeds. The default trains
1500 ELBO steps (earlier runs of this example used 3000: the traces moved by about 0.01 after
step 1500).

The gradient's global norm is clipped at 1 (`--clip 0` turns it off). Without clipping 4 of 10
fits (5 seeds x 2 H) diverged in a committed run: the loss jumped to about 1e92 within the first
250 steps, stayed huge but finite, and H froze (0.486, 0.347, 0.634 and 0.138), so the median
for H = 0.7 missed the target (0.634); with clipping no fit diverged (final KL 20-66).

The driving Brownian motion is sampled exactly on the Euler grid (its increments, read through a
linear interpolation), not as a `VirtualBrownianTree`: the solver only asks for increments between
grid points, so the law is the same, and an ELBO step costs about a quarter as much (0.05 s
against 0.2 s at load 2-4 on 2 cores). The optimizers are built once so that every fit reuses one
compiled step. The default run took 879 s for 5 seeds (158-193 s a seed at load 4-8, two other
jobs running) where the tree-based one took 7693 s.

`--full` (6000 steps of batch 32, 512 paths: 8x the ELBO work): seed 0 took 456 s at load 1.3-1.9
and, rerun with its results kept (`python docs/tools/time_examples.py --full --seeds 0
fbm_latent_sde`, `docs/reproductions/full/fbm_latent_sde.json`), 821 s at load 1.8-4.7 (612 s of
CPU; two trainings of other examples ran beside it). What the longer version shows: more paths
and steps do not move the estimates: seed 0 gives H = 0.283 and 0.673 with `--full` against
0.296 and 0.673 at the default (true 0.3 and 0.7), with the ELBO trace of H = 0.7 still
drifting between 0.64 and 0.67 over the 6000 steps, so the remaining errors are not a matter of
budget at this size (one seed, so its status reads partial: the status needs 5 seeds).

Run: `dynlearn reproduce fbm_latent_sde [--results-dir DIR]` (5 seeds, H = 0.3 and 0.7;
`--seeds`, `--hursts` and `--steps` to change, `--full` for more paths and 6000 steps). Writes the
results file `DIR/fbm_latent_sde.json` and `./dynlearn-out/fbm_latent_sde.png`.
"""

# %%
import argparse
import os

import jax

jax.config.update("jax_enable_x64", True)  # the weights' linear system is badly conditioned
import diffrax as dfx
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
parser.add_argument("--hursts", type=float, nargs="+", default=[0.3, 0.7], help="true H")
parser.add_argument("--steps", type=int, default=None, help="ELBO training steps")
parser.add_argument(
    "--clip", type=float, default=1.0, help="clip the gradient's global norm; 0: no clipping"
)
args, _ = parser.parse_known_args()
args.clip = args.clip or None  # 0: no clipping
n_paths = 512 if args.full else 128
steps = args.steps or (6000 if args.full else 1500)
batch_size = 32 if args.full else 16
hursts = tuple(args.hursts)
TARGET = 0.05
T_OBS = np.linspace(1 / 24, 1.0, 24)
SCALE, NOISE = 1.0, 0.05
K, RATIO = 4, 6.0  # OU speeds 0.07 .. 15: Euler-stable (γh <= 0.15) on the grid below
# Euler grid: in each observation interval (t_{i-1}, t_i] steps of Δ/4, Δ/4, Δ/4, Δ/8, ..., Δ/256,
# Δ/256, ending exactly on t_i (10 steps an interval, 240 in all)
LEFT = 1 - np.array([0.75, 0.5, 0.25, 0.125, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256])
GRID = np.concatenate(
    [[0.0]] + [[*(a + LEFT * (b - a)), b] for a, b in zip(np.r_[0.0, T_OBS[:-1]], T_OBS)]
)
MIN_STEP = float(np.min(np.diff(GRID)))


# %% The fractional latent SDE.
class FractionalLatentSDE(eqx.Module):
    fbm: MarkovFBM
    log_scale: jax.Array
    log_noise: jax.Array
    cell: eqx.nn.GRUCell
    control: eqx.nn.MLP

    def __init__(self, key, context=16, width=32):
        k1, k2 = jax.random.split(key)
        self.fbm = MarkovFBM(0.5, n_processes=K, ratio=RATIO)
        self.log_scale = jnp.zeros(())
        self.log_noise = jnp.log(jnp.asarray(NOISE))
        self.cell = eqx.nn.GRUCell(2, context, key=k1)
        control = eqx.nn.MLP(6 + K + context, 2, width, 2, activation=jnp.tanh, key=k2)
        # the bridge gain (second output) starts at zero
        self.control = eqx.tree_at(
            lambda c: (c.layers[-1].weight, c.layers[-1].bias),
            control,
            (control.layers[-1].weight.at[1].set(0.0), control.layers[-1].bias.at[1].set(0.0)),
        )

    def contexts(self, xs):
        # backward GRU: the context at observation i summarises observations i, i+1, ...
        inputs = jnp.stack([xs, jnp.asarray(T_OBS)], axis=1)

        def step(h, x):
            h = self.cell(x, h)
            return h, h

        _, hs = jax.lax.scan(step, jnp.zeros((self.cell.hidden_size,)), inputs[::-1])
        return hs[::-1]

    def posterior_paths(self, xs, key):
        """`(X at T_OBS, KL)` of one posterior sample given observations `xs`."""
        ctx = self.contexts(xs)
        t_obs = jnp.asarray(T_OBS)
        gammas = jax.lax.stop_gradient(self.fbm.gammas)
        w = jnp.exp(self.log_scale) * self.fbm.weights()

        def drift(t, z, args):
            y = z[:K]
            # the next observation strictly after t (the grid steps onto each t_i exactly)
            i = jnp.clip(jnp.searchsorted(t_obs, t, side="right"), 0, len(T_OBS) - 1)
            left = t_obs[i] - t
            gap = xs[i] - y @ w
            features = jnp.stack([t, left, xs[i], y @ w, gap, gap * MIN_STEP / left])
            out = self.control(jnp.concatenate([features, y, ctx[i]]))
            # a constant control u moves E[X(t_i)] by u * sens; `bridge` closes the gap exactly
            sens = jnp.sum(w * -jnp.expm1(-gammas * left) / gammas)
            bridge = gap * sens / (sens**2 + 1e-12)
            u = out[0] + out[1] * bridge
            return jnp.concatenate([-gammas * y + u, 0.5 * u[None] ** 2])

        # one scalar Brownian motion drives all K OU processes (and not the KL accumulator)
        # sampled exactly on the Euler grid (the solver only ever asks for increments between
        # grid points) and read through a linear interpolation: the same law as a Brownian
        # motion at those points, at a fraction of a Brownian tree's cost
        grid = jnp.asarray(GRID)
        increments = jnp.sqrt(jnp.diff(grid)) * jax.random.normal(key, (len(GRID) - 1,))
        bm = dfx.LinearInterpolation(grid, jnp.concatenate([jnp.zeros(1), jnp.cumsum(increments)]))
        noise_column = jnp.concatenate([jnp.ones(K), jnp.zeros(1)])
        terms = dfx.MultiTerm(dfx.ODETerm(drift), dfx.ControlTerm(lambda t, z, a: noise_column, bm))
        sol = dfx.diffeqsolve(
            terms,
            dfx.Euler(),
            0.0,
            1.0,
            None,
            jnp.zeros(K + 1),
            saveat=dfx.SaveAt(ts=t_obs),
            stepsize_controller=dfx.StepTo(ts=jnp.asarray(GRID)),
            max_steps=len(GRID),
        )
        x = sol.ys[:, :K] @ w
        return x, sol.ys[-1, K]

    def elbo(self, xs, key):
        x, kl = self.posterior_paths(xs, key)
        var = jnp.exp(2 * jax.lax.stop_gradient(self.log_noise))  # fixed at the truth
        loglik = -0.5 * jnp.sum((xs - x) ** 2 / var + jnp.log(2 * jnp.pi * var))
        return loglik - kl, kl


def elbo_loss(model, batch, *, key):
    keys = jax.random.split(key, batch.shape[0])
    elbo, kl = jax.vmap(model.elbo)(batch, keys)
    return -jnp.mean(elbo) / len(T_OBS), {"hurst": model.fbm.hurst, "kl": jnp.mean(kl)}


# %% Reference: the exact Gaussian likelihood of the same MA-fBM prior (no variational gap).
class ExactModel(eqx.Module):
    fbm: MarkovFBM
    log_scale: jax.Array
    log_noise: jax.Array

    def covariance(self):
        t = jnp.asarray(T_OBS)
        c = jax.vmap(jax.vmap(self.fbm.covariance, (None, 0)), (0, None))(t, t)
        return jnp.exp(2 * self.log_scale) * c + jnp.exp(2 * self.log_noise) * jnp.eye(len(t))


def exact_loss(model, batch, *, key):
    chol = jnp.linalg.cholesky(model.covariance())
    z = jax.scipy.linalg.solve_triangular(chol, batch.T, lower=True)
    nll = 0.5 * jnp.mean(jnp.sum(z**2, axis=0)) + jnp.sum(jnp.log(jnp.diag(chol)))
    return nll / len(T_OBS), {"hurst": model.fbm.hurst}


# %% The oracle: maximum likelihood of H under the exact covariance, on a grid (noise known).
H_GRID = np.round(np.arange(0.1, 0.905, 0.02), 3)
LOG_SCALES = np.linspace(-0.7, 0.7, 57)
RL = {h: riemann_liouville_covariance(h, T_OBS) for h in H_GRID}


def oracle_hurst(data):
    """Grid MLE of H (parabolic refinement), profiling the scale; the noise is known."""
    s = data.T @ data / data.shape[0]
    best = []
    for h in H_GRID:
        cov = np.exp(2 * LOG_SCALES)[:, None, None] * RL[h] + NOISE**2 * np.eye(len(T_OBS))
        _, logdet = np.linalg.slogdet(cov)
        quad = np.einsum("kij,ji->k", np.linalg.inv(cov), s)
        best.append(np.min(0.5 * (logdet + quad)))
    best = np.asarray(best)
    i = int(np.clip(np.argmin(best), 1, len(H_GRID) - 2))
    a, b, c = best[i - 1 : i + 2]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) > 0 else 0.0
    return float(H_GRID[i] + np.clip(shift, -1, 1) * (H_GRID[1] - H_GRID[0]))


ledger = Reproduction(
    "fbm_latent_sde",
    paper="Variational Inference for SDEs Driven by Fractional Noise",
    claim="A latent SDE driven by Markov-approximate fBM learns the Hurst index of fractional "
    "data by maximising the ELBO.",
    paper_figures=[
        {
            "quantity": "Hurst index learned by the latent-SDE ELBO on synthetic fBM data",
            "value": "the learned H approaches the true H (shown as a figure; values not "
            "tabulated)",
            "source": "Daems et al., ICLR 2024, section 5 (synthetic fBM experiment, figure); "
            "the 0.05 target is this project's, not the paper's",
        },
    ],
    config={
        "full": args.full,
        "steps": steps,
        "n_paths": n_paths,
        "batch_size": batch_size,
        "hursts": list(hursts),
        "K": K,
        "ratio": RATIO,
        "noise": NOISE,
        # the driving Brownian motion sampled on the Euler grid (was a VirtualBrownianTree)
        "brownian": "grid increments",
    }
    # a setting enters the configuration only when used, so earlier seeds stay reusable
    | ({} if args.clip is None else {"clip": args.clip}),
)
MARKS = [steps * i // 6 for i in range(1, 7)]
figure = {}


# %% The optimizers, built once: `fit` reuses its compiled step for every seed and H when it is
# given the same loss and optimizer objects (a new optimizer per fit compiled anew each time).
def _adam(lr):
    return optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.05))


def _labels(params):  # H learns faster than the networks
    rest = jax.tree.map(lambda _: "rest", params)
    return eqx.tree_at(lambda mm: mm.fbm.hurst_logit, rest, "hurst")


ELBO_OPTIMIZER = optax.multi_transform({"rest": _adam(2e-2), "hurst": _adam(1e-1)}, _labels)
if args.clip is not None:
    ELBO_OPTIMIZER = optax.chain(optax.clip_by_global_norm(args.clip), ELBO_OPTIMIZER)
EXACT_OPTIMIZER = optax.adam(2e-2)


def run_seed(seed):
    result = {}
    for h_true in hursts:
        rng = np.random.default_rng(seed)  # the same data as `--seeds S --hursts H` alone
        chol = np.linalg.cholesky(
            riemann_liouville_covariance(h_true, T_OBS) + 1e-12 * np.eye(len(T_OBS))
        )
        data = SCALE * (chol @ rng.standard_normal((len(T_OBS), n_paths))).T
        data = data + NOISE * rng.standard_normal(data.shape)
        key = jax.random.key(seed)
        model, history = fit(
            FractionalLatentSDE(key),
            elbo_loss,
            jnp.asarray(data),
            ELBO_OPTIMIZER,
            steps=steps,
            batch_size=batch_size,
            key=jax.random.fold_in(key, 1),
            progress=False,
        )
        exact, exact_hist = fit(
            ExactModel(MarkovFBM(0.5, n_processes=K, ratio=RATIO), jnp.zeros(()), jnp.log(0.1)),
            exact_loss,
            jnp.asarray(data),
            EXACT_OPTIMIZER,
            steps=steps,
            batch_size=64,
            key=jax.random.fold_in(key, 2),
            progress=False,
        )
        tag = f"H{h_true}"
        h_elbo, h_exact, h_oracle = (
            float(model.fbm.hurst),
            float(exact.fbm.hurst),
            oracle_hurst(data),
        )
        result[f"{tag}_elbo_estimate"] = h_elbo
        result[f"{tag}_elbo_error"] = h_elbo - h_true
        result[f"{tag}_exact_mafbm_estimate"] = h_exact
        result[f"{tag}_oracle_estimate"] = h_oracle
        result[f"{tag}_final_kl"] = float(history[-1]["kl"])
        result[f"{tag}_elbo_trace"] = {str(m): float(history[m - 1]["hurst"]) for m in MARKS}
        print(
            f"  seed {seed}, H true {h_true:.2f}: latent SDE (ELBO) {h_elbo:.3f} (error "
            f"{h_elbo - h_true:+.3f}); exact MA-fBM likelihood {h_exact:.3f}; exact-covariance "
            f"MLE {h_oracle:.3f}; ELBO trace "
            + ", ".join(f"{m}: {float(history[m - 1]['hurst']):.3f}" for m in MARKS),
            flush=True,
        )
        if not figure or figure["seed"] == seed:
            figure["seed"] = seed
            figure[h_true] = ([r["hurst"] for r in history], [r["hurst"] for r in exact_hist])
            if "posterior" not in figure:
                xs_post = jax.vmap(lambda x, k, m=model: m.posterior_paths(x, k)[0])(
                    jnp.asarray(data[:3]), jax.random.split(jax.random.key(5), 3)
                )
                figure["posterior"] = (h_true, data[:3], xs_post)
    return result


for seed in args.seeds:
    r = ledger.seed(seed, run_seed)
    print(
        f"seed {seed}: "
        + "; ".join(
            f"H {h}: ELBO {r[f'H{h}_elbo_estimate']:.3f}, exact MA-fBM "
            f"{r[f'H{h}_exact_mafbm_estimate']:.3f}, exact-covariance MLE "
            f"{r[f'H{h}_oracle_estimate']:.3f}"
            for h in hursts
        )
        + f"  [{ledger.per_seed[seed]['wall_time_s']:.0f} s]",
        flush=True,
    )

# %% [markdown]
# ## The ledger entry

# %%
med = ledger.medians()
seeds = sorted(ledger.per_seed)
summary, misses, ok = [], [], True
DIVERGED_KL = 1e6  # nats; the fits that train normally end with a KL of about 20-70


def first_frozen(trace):
    """The first mark of the H trace from which H no longer changes (to 1e-4)."""
    marks = sorted(trace, key=int)
    frozen = marks[-1]
    for m in reversed(marks[:-1]):
        if abs(trace[m] - trace[marks[-1]]) > 1e-4:
            break
        frozen = m
    return f"<= {frozen}"


for h in hursts:
    est = np.array([ledger.per_seed[s][f"H{h}_elbo_estimate"] for s in seeds])
    sane = np.array(
        [
            ledger.per_seed[s][f"H{h}_elbo_estimate"]
            for s in seeds
            if ledger.per_seed[s][f"H{h}_final_kl"] <= DIVERGED_KL
        ]
    )
    ok &= abs(float(np.median(est)) - h) < TARGET
    summary.append(
        f"H = {h}: median ELBO estimate {np.median(est):.3f} (error {np.median(est) - h:+.3f}; "
        f"range {est.min():.3f}-{est.max():.3f}); exact MA-fBM likelihood median "
        f"{med[f'H{h}_exact_mafbm_estimate']:.3f}; exact-covariance MLE median "
        f"{med[f'H{h}_oracle_estimate']:.3f}; without the {len(est) - len(sane)} diverged "
        f"fits: median {np.median(sane) if len(sane) else float('nan'):.3f}"
    )
    for s in seeds:
        r = ledger.per_seed[s]
        if abs(r[f"H{h}_elbo_error"]) < TARGET:
            continue
        if r[f"H{h}_final_kl"] > DIVERGED_KL:
            cause = (
                f"the ELBO training diverged: final KL {r[f'H{h}_final_kl']:.1e}, H frozen "
                f"from step {first_frozen(r[f'H{h}_elbo_trace'])} of the trace on"
            )
        elif abs(r[f"H{h}_oracle_estimate"] - h) >= TARGET:
            cause = "the data: the exact-covariance MLE misses too"
        elif abs(r[f"H{h}_exact_mafbm_estimate"] - h) >= TARGET:
            cause = "the Markov approximation: its exact likelihood misses too"
        else:
            cause = "the ELBO (variational gap / optimization): both exact likelihoods are within"
        misses.append(
            f"seed {s}, H = {h}: ELBO {r[f'H{h}_elbo_estimate']:.3f}, exact MA-fBM "
            f"{r[f'H{h}_exact_mafbm_estimate']:.3f}, exact-covariance MLE "
            f"{r[f'H{h}_oracle_estimate']:.3f} ({cause})"
        )
n_fits = len(hursts) * len(seeds)
ours = (
    f"median over {len(seeds)} seeds ({n_paths} paths, {steps} ELBO steps): "
    + "; ".join(summary)
    + f"; {len(misses)} of {n_fits} fits miss |error| < {TARGET}"
    + (": " + "; ".join(misses) if misses else "")
)
status = "reproduced" if ok and set(hursts) >= {0.3, 0.7} and len(seeds) >= 5 else "partial"
n_diverged = sum(ledger.per_seed[s][f"H{h}_final_kl"] > DIVERGED_KL for s in seeds for h in hursts)
met = [
    h
    for h in hursts
    if abs(np.median([ledger.per_seed[s][f"H{h}_elbo_estimate"] for s in seeds]) - h) < TARGET
]
gap = (
    f"the median over {len(seeds)} seeds is within {TARGET} of the true H for H = "
    + (", ".join(str(h) for h in met) if met else "none")
    + (
        f" and misses it for H = {', '.join(str(h) for h in hursts if h not in met)}"
        if not ok
        else ""
    )
    + f"; {n_diverged} of {n_fits} ELBO fits diverged (final posterior KL above "
    f"{DIVERGED_KL:.0e} nats: the posterior control blew up and H stopped moving); the exact "
    "MA-fBM likelihood on the same data misses the truth by at most "
    + ", ".join(
        f"{max(abs(ledger.per_seed[s][f'H{h}_exact_mafbm_estimate'] - h) for s in seeds):.3f} "
        f"for H = {h}"
        for h in hursts
    )
    + " (the Markov approximation's bias); synthetic Riemann-Liouville fBM only, none of the "
    "paper's real-data experiments"
)
ledger.finish(
    ours=ours,
    status=status,
    gap=gap,
    differences=[
        f"scalar latent X = s B_H with K = {K} OU processes (ratio {RATIO}); the observation "
        "noise fixed at its true value",
        "posterior control: an MLP with a closed-form bridge term and a backward-GRU context "
        "(not the paper's architecture)",
        f"Euler-Maruyama on a grid graded towards the observations; {steps} Adam steps, "
        f"{n_paths} paths at 24 times in (0, 1]",
    ],
)
print(ours)
print(f"status: {status}")

# %%
if "posterior" in figure:
    fig, axes = plt.subplots(1, len(hursts) + 1, figsize=(5 * (len(hursts) + 1), 4))
    for ax, h_true in zip(axes, hursts):
        if h_true not in figure:
            continue
        elbo_trace, exact_trace = figure[h_true]
        ax.plot(elbo_trace, label="latent SDE (ELBO)")
        ax.plot(exact_trace, label="exact MA-fBM likelihood")
        ax.axhline(h_true, color="k", ls="--", label="true H")
        ax.set_title(f"H = {h_true}, seed {figure['seed']}")
        ax.set_xlabel("step")
        ax.legend()
    h_true, obs, xs_post = figure["posterior"]
    for i in range(3):
        axes[-1].plot(T_OBS, obs[i], ".", color=f"C{i}")
        axes[-1].plot(T_OBS, xs_post[i], "-", color=f"C{i}")
    axes[-1].set_title(f"H = {h_true}: data (dots), posterior samples")
    os.makedirs("dynlearn-out", exist_ok=True)
    fig.tight_layout()
    fig.savefig("dynlearn-out/fbm_latent_sde.png", dpi=120)
    print("wrote dynlearn-out/fbm_latent_sde.png")
