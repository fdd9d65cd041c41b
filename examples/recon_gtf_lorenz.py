# %% [markdown]
"""Lorenz-63, 3-D clipped shPLRNN: aGTF and GTF against BPTT, 5 seeds (D_stsp, D_H, λ_max).

Hess, Monfared, Brenner & Durstewitz, "Generalized Teacher Forcing for Learning Chaotic
Dynamics" (ICML 2023), claim: with generalized teacher forcing (GTF: the latent state is pulled
towards the data, `z̃_t = (1 - α) F(z̃_{t-1}) + α ẑ_t`, adaptive α in aGTF) a clipped shallow
PLRNN whose latent space has the dimension of the data (M = N = 3 for Lorenz-63) reconstructs
the chaotic attractor, where plain backpropagation through time (BPTT, α = 0) on the same
sequences struggles with exploding gradients.

Protocol, as the authors' code (github.com/DurstewitzLab/GTF-shPLRNN, `settings/defaults.json`,
whose defaults are its Lorenz-63 settings) where we could follow it: clipped shPLRNN with latent
size M = 3 (identity observation of all three units) and L = 50 hidden units, sequences of 200
steps, batches of 16, RAdam with the learning rate decaying exponentially from 1e-3 to 1e-6 over
250,000 steps (of which we run the first 6000), aGTF starting at α = 1 and updated every 5 steps
(the authors' decay 0.999 over 250,000 steps compressed to the same path over ours); Lorenz-63
sampled every 0.01, standardised, with 5% Gaussian observation noise on the training series (the
authors' file is `lorenz63_on0.05_train.npy`). Three trainings per seed from the same initial
model: aGTF, GTF with a fixed α = 0.1 (the README's example value) and BPTT (α = 0, same code
path). Evaluation on noise-free test data: each model runs freely for 1.25 T steps from a test
point and the first 0.25 T are dropped (T = 100,000 steps by default); D_stsp (binned KL, 30
bins per dimension, the reference's box and count smoothing) and D_H (Hellinger distance of
power spectra smoothed with σ = 20 bins) of `dynlearn.metrics` against a true orbit of the same
length, each printed beside its noise floor (the same metric between two independent true orbits
of that length), and the model's largest Lyapunov exponent
(`dynlearn.analysis.lyapunov_spectrum` of the model's map, per step divided by dt) against the
system's.

What the run shows at the default budget of 6000 steps, 2.4% of the paper's 250,000 (medians over
seeds 0-4, from the results file):

| | D_stsp (floor 0.054) | D_H (floor 0.059) | largest exponent (system 0.905) |
|---|---|---|---|
| aGTF | 0.672 | 0.103 | 0.928 |
| GTF, α = 0.1 | 0.534 | 0.105 | 0.912 |
| BPTT | 16.331 | 0.891 | -22.6 |
| ESN, 400 units (baseline) | 0.319 | 0.117 | 0.875 |
| SINDy, degree-2 polynomials (baseline) | 0.132 | 0.104 | 0.918 |
| neural ODE, 2000 steps (baseline) | 0.591 | 0.200 | 0.858 |

BPTT does not learn the dynamics (its training loss stays near the data's variance and its free
runs fall onto a fixed point); aGTF and GTF reconstruct the attractor on 4 of 5 seeds each (D_stsp
0.49-1.19, exponent 0.67-1.09), each losing one seed to a cycle or fixed point (aGTF seed 3, GTF
seed 1). So the paper's qualitative claim holds by the medians (status reproduced), while the
attractor measures stay above their noise floors (D_stsp 12x, D_H 1.8x for aGTF). At 1500 steps
(this example's earlier default) neither GTF variant came near: aGTF's median D_stsp was 14.7.

The library's baselines, fitted to the same noisy training series and scored the same way, do better
than both GTF variants on the attractor's geometry and lose no seed: SINDy, fitted in closed form in
under a second, has median D_stsp 0.132 (2.4x the floor; 15-17 non-zero terms, its degree-2 library
contains the Lorenz equations), the ESN (closed form, 7-14 s a seed) 0.319 (0.18-0.51 over seeds), a
small neural ODE trained for 2000 steps (14-19 s a seed) 0.591 (0.44-0.82). D_H is about the same
for aGTF, GTF, ESN and SINDy (0.10-0.12) and higher for the neural ODE (0.200); the largest
exponents are 0.87-0.88 (ESN, in its closed loop's reservoir state space), 0.90-0.94 (SINDy) and
0.83-0.90 (neural ODE). So on Lorenz-63 at this budget, aGTF reproduces the paper's claim against
BPTT, not an advantage over these baselines.

The longer version (`--full`, 30,000 steps; seed 0, `docs/reproductions/full/recon_gtf_lorenz.json`)
shows that more training is not monotone: aGTF improves to D_stsp 0.463, D_H 0.126, exponent
0.951, while GTF with the fixed α = 0.1 settles on a cycle (D_stsp 16.3, exponent 0.000), so
one seed of 5x the steps neither confirms nor rules out the paper's quality for GTF (one seed).

Run time: the run that trained the saved seeds took 1190 s wall at load 3.9-5.8 (two trainings of
other examples beside it; 810 s of CPU, 156-168 s a seed); most of a training step used to be the
minibatch draw (a sort of all 99,801 windows, 59 ms), now a top-k draw (5 ms), which is what let the
default grow from 1500 to 6000 steps. `--full`: seed 0 took 1131 s at load 4.3-6.4 (848 s of CPU),
timed with `python docs/tools/time_examples.py --full --seeds 0 recon_gtf_lorenz`. The baselines run
on every run, also when the trainings are resumed: the results file's rerun with all five trainings
resumed took 148 s wall at load 4.7-5.0 (ESN 7-14 s a seed, SINDy under 5 s, neural ODE 14-19 s).

Run: `dynlearn reproduce recon_gtf_lorenz [--results-dir DIR]` (5 seeds; `--seeds` to change;
`--full` for 5x the training steps). Writes `DIR/recon_gtf_lorenz.json` (per-seed results,
resumable) and `./dynlearn-out/recon_gtf_lorenz.png`.
"""

# %%
import argparse
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from dynlearn import recon, systems
from dynlearn._ledger import Reproduction
from dynlearn.analysis import lyapunov_spectrum
from dynlearn.metrics import noise_floor, power_spectrum_distance, state_space_divergence
from dynlearn.nde import FixedGrid, NeuralODE
from dynlearn.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="5x the training steps")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
parser.add_argument("--steps", type=int, default=None, help="optimizer steps per training")
parser.add_argument("--eval-length", type=int, default=100_000, help="T, test orbit length")
parser.add_argument("--noise", type=float, default=0.05, help="training observation noise")
parser.add_argument("--out", default="dynlearn-out")
cli, _ = parser.parse_known_args()  # a Jupyter kernel adds -f FILE
start = time.perf_counter()

# %% [markdown]
# ## Data: Lorenz-63 every 0.01, standardised with the training statistics

# %%
dt, latent, hidden = 0.01, 3, 50
seq_len, batch, alpha_fixed = 200, 16, 0.1
steps = cli.steps or (30_000 if cli.full else 6_000)
# the authors' α schedule (decay 0.999 per update every 5 steps over 250,000 steps) compressed
# to our budget: the same α path in relative training time
alpha_decay = 0.999 ** (250_000 / steps)
n_train, n_eval = 100_000, cli.eval_length
lorenz = systems.get("Lorenz").replace(params={"beta": 8.0 / 3.0, "rho": 28.0, "sigma": 10.0})
raw = np.asarray(systems.trajectory(lorenz, n_train, dt=dt, transient=1000))
mean, std = raw.mean(0), raw.std(0)


def standardise(x):
    return ((np.asarray(x) - mean) / std).astype(np.float32)


def true_orbit(y0, n):
    """A noise-free orbit of `n` points after a transient of 50 time units from `y0`."""
    return standardise(systems.trajectory(lorenz, n, dt=dt, y0=jnp.asarray(y0), transient=5000))


clean_train = standardise(raw)
# two independent test orbits (other initial conditions): the model is compared with the first,
# the second gives the noise floor of the metrics at the same length
test = true_orbit([-5.0, 7.0, 30.0], n_eval)
other = true_orbit([3.0, -2.0, 18.0], n_eval)
floor_stsp = float(noise_floor(state_space_divergence, test, other))
floor_h = float(noise_floor(power_spectrum_distance, test, other))
print(f"noise floor at T = {n_eval}: D_stsp {floor_stsp:.3f}, D_H {floor_h:.3f}")

# the system's largest exponent, same estimator (QR method) as for the models
lam_true = float(
    lyapunov_spectrum(lorenz, jnp.asarray(raw[-1]), n_steps=50_000, dt=dt, k=1, transient=1000)[0]
)
print(f"Lorenz-63 largest Lyapunov exponent (QR, 500 time units): {lam_true:.3f}")

config = {
    "full": cli.full,
    "steps": steps,
    "latent_size": latent,
    "hidden_size": hidden,
    "sequence_length": seq_len,
    "batch_size": batch,
    "gtf_alpha": alpha_fixed,
    "n_train": n_train,
    "eval_length": n_eval,
    "noise": cli.noise,
    "alpha_decay": alpha_decay,
    "optimizer": "radam, lr 1e-3 -> 1e-6 exponential over 250,000 steps, first `steps` used",
}
ledger = Reproduction(
    "recon_gtf_lorenz",
    paper="Generalized Teacher Forcing for Learning Chaotic Dynamics",
    claim=(
        "A clipped shPLRNN with as many latent units as observed dimensions (M = N = 3), trained "
        "with (adaptive) generalized teacher forcing, reconstructs the Lorenz-63 attractor "
        "(geometry by D_stsp, temporal structure by D_H, chaos by the largest Lyapunov "
        "exponent), better than the same model trained by BPTT."
    ),
    paper_figures=[
        {
            "quantity": "qualitative claim",
            "value": "GTF bounds the training gradients on chaotic data and, with the shPLRNN, "
            "reconstructs DS in at most the observed dimension, better than SOTA algorithms",
            "source": "Hess et al., ICML 2023 (PMLR 202:13017-13049), abstract",
        },
        {
            "quantity": "Lorenz-63 model and training settings",
            "value": "clippedShallowPLRNN, latent_dim 3, hidden_dim 50, Identity observation, "
            "sequence_length 200, batch_size 16, RADAM 1e-3 -> 1e-6, 5000 epochs x 50 batches, "
            "gtf_alpha 1.0 with 'product_upper_bound' annealing every 5 steps, decay 0.999; "
            "D_stsp 30 bins, D_H smoothing 20",
            "source": "authors' code, github.com/DurstewitzLab/GTF-shPLRNN (commit 63ac00d), "
            "settings/defaults.json (default data ICML2023_datasets/Lorenz63/"
            "lorenz63_on0.05_train.npy)",
        },
        {
            "quantity": "Lorenz-63 D_stsp, D_H of shPLRNN + (a)GTF and of BPTT",
            "value": "not compared here: the paper's Table 1 was not available in the stored "
            "full texts searched for this run, so no number of it is quoted",
            "source": "Hess et al., ICML 2023, Table 1 (not consulted)",
        },
        {
            "quantity": "Lorenz-63 largest Lyapunov exponent",
            "value": 0.906,
            "source": "dysts metadata (Gilpin 2021), as in the project's REFERENCES.md; "
            "recomputed by this run with the same QR estimator as the models",
        },
    ],
    config=config,
)

# %% [markdown]
# ## One seed: three trainings from the same initial model, then free runs

# %%
methods = {"aGTF": "adaptive", f"GTF(α={alpha_fixed})": alpha_fixed, "BPTT": 0.0}
keys = {"aGTF": "agtf", f"GTF(α={alpha_fixed})": "gtf", "BPTT": "bptt"}
figure_data: dict = {}


def score(key_name, gen, lyap_max):
    """D_stsp, D_H of a free run `gen` (transient dropped) and `lyap_max(gen)`, per unit time."""
    out = {f"{key_name}_{m}": float("nan") for m in ("d_stsp", "d_h", "lyap_max")}
    if not np.all(np.isfinite(gen)):
        return out
    out[f"{key_name}_d_stsp"] = float(state_space_divergence(test, gen))
    out[f"{key_name}_d_h"] = float(power_spectrum_distance(test, gen))
    out[f"{key_name}_lyap_max"] = float(lyap_max(gen))
    return out


def evaluate(model, key_name):
    n_gen = n_eval + n_eval // 4
    gen = np.asarray(model(test[0], n_gen)[1:])[n_eval // 4 :]

    def lyap_max(gen):
        per_step = lyapunov_spectrum(model, jnp.asarray(gen[-1]), n_steps=10_000, k=1,
                                     transient=1000)  # fmt: skip
        return float(per_step[0]) / dt

    return score(key_name, gen, lyap_max), gen


def noisy_train(seed):
    """The seed's training series: the standardised orbit with its observation-noise draw."""
    rng = np.random.default_rng(seed)
    return clean_train + cli.noise * rng.standard_normal(clean_train.shape).astype(np.float32)


# the authors' learning rate, 1e-3 -> 1e-6 exponentially over 250,000 steps, for our first
# `steps` steps (compressing it to our budget would leave almost no steps at a useful rate); built
# once, so that fit_gtf compiles each method's step once for all seeds
OPTIMIZER = optax.radam(optax.exponential_decay(1e-3, 250_000, 1e-3))


def run_seed(seed):
    cpu0 = time.process_time()
    train = noisy_train(seed)
    key = jax.random.key(seed)
    k_model, k_batches = jax.random.split(key)
    init = recon.ShallowPLRNN(3, latent, hidden, clipped=True, key=k_model)
    result = {}
    for name, alpha in methods.items():
        t0 = time.perf_counter()
        model, hist = recon.fit_gtf(
            init,
            train,
            OPTIMIZER,
            steps=steps,
            batch_size=batch,
            sequence_length=seq_len,
            key=k_batches,
            alpha=alpha,
            alpha_init=1.0 if alpha == "adaptive" else None,
            alpha_decay=alpha_decay,
        )
        k = keys[name]
        losses, alphas = np.asarray(hist.column("loss")), np.asarray(hist.column("alpha"))
        result[f"{k}_final_loss"] = float(losses[-100:].mean())
        result[f"{k}_final_alpha"] = float(alphas[-1])
        scores, gen = evaluate(model, k)
        result.update(scores)
        result[f"{k}_time_s"] = round(time.perf_counter() - t0, 1)
        print(
            f"seed {seed} {name}: loss {result[f'{k}_final_loss']:.3e}, α_end "
            f"{result[f'{k}_final_alpha']:.3f}, D_stsp {scores[f'{k}_d_stsp']:.3f} "
            f"(floor {floor_stsp:.3f}), D_H {scores[f'{k}_d_h']:.3f} (floor {floor_h:.3f}), "
            f"λ_max {scores[f'{k}_lyap_max']:.3f} (system {lam_true:.3f}), "
            f"{result[f'{k}_time_s']:.0f} s",
            flush=True,
        )
        if name not in figure_data:
            figure_data[name] = gen[:20_000]
    result["noise_floor_d_stsp"] = floor_stsp
    result["noise_floor_d_h"] = floor_h
    # CPU seconds of this process (both cores): the seed's time on an idle 2-core machine is
    # at most this, whatever the load during the run
    result["cpu_time_s"] = round(time.process_time() - cpu0, 1)
    return result


for seed in cli.seeds:
    ledger.seed(seed, run_seed)

# %% [markdown]
# ## Baselines: the library's ESN and SINDy on the same noisy training series
#
# Fitted in closed form (seconds a seed, deterministic given the seed), so they run on every
# run, after the trainings, and are merged into each seed's results: the trainings' saved
# results stay valid (the ledger's `config` does not mention the baselines).

# %%
ESN_SIZE, ESN_RADIUS, ESN_RIDGE, SINDY_THRESHOLD, WARMUP = 400, 1.0, 1e-4, 0.1, 1000
NODE_STEPS, NODE_WINDOW, NODE_WIDTH = 2000, 10, 64
baseline_labels = {
    "esn": f"ESN ({ESN_SIZE})",
    "sindy": "SINDy (poly 2)",
    "node": f"neural ODE ({NODE_STEPS} steps)",
}


class MLPField(eqx.Module):
    """An autonomous vector field `dy/dt = mlp(y)` for the neural ODE baseline."""

    mlp: eqx.nn.MLP

    def __call__(self, t, y, args):
        return self.mlp(y)


def fit_node(train, key):
    """A small neural ODE (RK4 at dt) trained briefly on NODE_WINDOW-step windows of `train`."""
    k_model, k_fit = jax.random.split(key)
    mlp = eqx.nn.MLP(3, 3, NODE_WIDTH, 2, activation=jax.nn.gelu, key=k_model)
    # throw=False: a diverging free run is scored as NaN, not an error
    model = NeuralODE(MLPField(mlp), solver=FixedGrid("rk4"), throw=False)
    windows = recon.trajectory_windows(train, NODE_WINDOW + 1, stride=5)
    ts = jnp.arange(NODE_WINDOW + 1, dtype=jnp.float32) * dt

    def loss(m, batch, *, key):
        pred = jax.vmap(lambda w: m(ts, w[0]))(batch)
        return jnp.mean((pred - batch) ** 2)

    schedule = optax.cosine_decay_schedule(3e-3, NODE_STEPS)
    model, hist = fit(model, loss, windows, optax.adam(schedule), steps=NODE_STEPS,
                      batch_size=64, key=k_fit, progress=False, mesh=None,
                      steps_per_dispatch=50)  # fmt: skip
    return model, float(np.asarray(hist.column("loss"))[-100:].mean())


def run_baselines(seed):
    """ESN and SINDy fitted to the seed's noisy training series, scored as the PLRNNs."""
    train = noisy_train(seed)
    n_gen = n_eval + n_eval // 4
    result = {}
    # ESN: readout by ridge regression on the teacher-forced reservoir; the free run starts
    # after a warm-up on the first WARMUP test points (the PLRNNs start from test[0])
    t0 = time.perf_counter()
    esn = recon.EchoStateNetwork(
        3, ESN_SIZE, spectral_radius=ESN_RADIUS, input_scaling=0.5,
        key=jax.random.fold_in(jax.random.key(seed), 1),
    )  # fmt: skip
    esn = recon.fit_readout(esn, train, ridge=ESN_RIDGE, washout=1000)
    gen = np.asarray(esn.forecast(test[:WARMUP], n_gen))[n_eval // 4 :]

    def esn_lyap(gen):
        # the closed loop (reservoir, output) is a map: lyapunov_spectrum takes the model with
        # observed context and works in the reservoir's state space; dt makes it per unit time
        return lyapunov_spectrum(esn, jnp.asarray(gen[-WARMUP:]), n_steps=10_000, dt=dt, k=1,
                                 transient=1000)[0]  # fmt: skip

    result.update(score("esn", gen, esn_lyap))
    result["esn_time_s"] = round(time.perf_counter() - t0, 1)
    # SINDy: degree-2 polynomials, STLSQ, finite-difference derivatives of the noisy series;
    # simulated with RK4 at the sampling step from test[0]
    t0 = time.perf_counter()
    sindy = recon.fit_sindy(
        train, dt=dt, library=recon.PolynomialLibrary(2),
        optimizer=recon.STLSQ(SINDY_THRESHOLD),
    )  # fmt: skip
    ts = dt * jnp.arange(n_gen + 1, dtype=jnp.float32)
    gen = np.asarray(sindy.simulate(ts, jnp.asarray(test[0]))[1:])[n_eval // 4 :]

    def sindy_lyap(gen):
        # the fitted vector field is a flow: exponents per unit time with RK4 steps of dt
        return lyapunov_spectrum(sindy, jnp.asarray(gen[-1]), n_steps=10_000, dt=dt, k=1,
                                 transient=1000)[0]  # fmt: skip

    result.update(score("sindy", gen, sindy_lyap))
    result["sindy_n_terms"] = int(np.count_nonzero(np.asarray(sindy.coefficients)))
    result["sindy_time_s"] = round(time.perf_counter() - t0, 1)
    # neural ODE: a small MLP vector field, trained briefly, free run with RK4 from test[0]
    t0 = time.perf_counter()
    node, result["node_final_loss"] = fit_node(train, jax.random.fold_in(jax.random.key(seed), 2))
    ts = dt * jnp.arange(n_gen + 1, dtype=jnp.float32)
    gen = np.asarray(eqx.filter_jit(lambda m, y0: m(ts, y0))(node, jnp.asarray(test[0])))
    gen = gen[1:][n_eval // 4 :]

    def node_lyap(gen):
        # the trained vector field is a flow: exponents per unit time with RK4 steps of dt
        return lyapunov_spectrum(node, jnp.asarray(gen[-1]), n_steps=10_000, dt=dt, k=1,
                                 transient=1000)[0]  # fmt: skip

    result.update(score("node", gen, node_lyap))
    result["node_time_s"] = round(time.perf_counter() - t0, 1)
    for k, label in baseline_labels.items():
        print(
            f"seed {seed} {label}: D_stsp {result[f'{k}_d_stsp']:.3f} (floor {floor_stsp:.3f}), "
            f"D_H {result[f'{k}_d_h']:.3f} (floor {floor_h:.3f}), λ_max "
            f"{result[f'{k}_lyap_max']:.3f} (system {lam_true:.3f}), {result[f'{k}_time_s']:.0f} s",
            flush=True,
        )
    return result


for seed in sorted(ledger.per_seed):
    ledger.per_seed[seed].update(run_baselines(seed))

# %% [markdown]
# ## The ledger entry

# %%
med = ledger.medians()
n_seeds = len(ledger.per_seed)
rel = abs(med["agtf_lyap_max"] - lam_true) / lam_true


def beats_bptt(k):
    """Whether method `k`'s medians of both D_stsp and D_H are below BPTT's."""
    return med[f"{k}_d_stsp"] < med["bptt_d_stsp"] and med[f"{k}_d_h"] < med["bptt_d_h"]


# the paper's claim is for its method, aGTF; GTF with the fixed α is reported beside it
status = "reproduced" if beats_bptt("agtf") and rel < 0.2 and n_seeds >= 5 else "partial"
ours = (
    f"median over {n_seeds} seeds, {steps} steps, T = {n_eval}: D_stsp aGTF "
    f"{med['agtf_d_stsp']:.3f}, GTF(α={alpha_fixed}) {med['gtf_d_stsp']:.3f}, BPTT "
    f"{med['bptt_d_stsp']:.3f} (noise floor {floor_stsp:.3f}); D_H aGTF {med['agtf_d_h']:.3f}, "
    f"GTF {med['gtf_d_h']:.3f}, BPTT {med['bptt_d_h']:.3f} (floor {floor_h:.3f}); largest "
    f"Lyapunov exponent aGTF {med['agtf_lyap_max']:.3f}, GTF {med['gtf_lyap_max']:.3f}, BPTT "
    f"{med['bptt_lyap_max']:.3f} (Lorenz-63 {lam_true:.3f}); baselines on the same noisy "
    f"series: ESN ({ESN_SIZE} units) D_stsp {med['esn_d_stsp']:.3f}, D_H {med['esn_d_h']:.3f}, "
    f"exponent {med['esn_lyap_max']:.3f}; SINDy (degree-2 polynomials) D_stsp "
    f"{med['sindy_d_stsp']:.3f}, D_H {med['sindy_d_h']:.3f}, exponent "
    f"{med['sindy_lyap_max']:.3f}; neural ODE ({NODE_STEPS} steps) D_stsp "
    f"{med['node_d_stsp']:.3f}, D_H {med['node_d_h']:.3f}, exponent {med['node_lyap_max']:.3f}"
)
parts = [
    f"{label} {'beats' if beats_bptt(k) else 'does not beat'} BPTT by the medians of both "
    "D_stsp and D_H"
    for k, label in (("agtf", "aGTF"), ("gtf", f"GTF(α={alpha_fixed})"))
]
parts.append(
    f"aGTF's median largest exponent is within {100 * rel:.0f}% of the system's"
    if rel < 0.2
    else f"aGTF's median largest exponent is {100 * rel:.0f}% off the system's"
)
parts.append(
    f"D_stsp stays {med['agtf_d_stsp'] / floor_stsp:.1f}x and D_H "
    f"{med['agtf_d_h'] / floor_h:.1f}x the noise floor for aGTF after {steps} steps "
    f"({100 * steps / 250_000:.1f}% of the paper's 250,000)"
)
if n_seeds < 5:
    parts.append(f"only {n_seeds} seeds finished")
gap = "; ".join(parts) + (
    "; the paper's own Lorenz-63 numbers are not quoted (its tables were not found in the "
    "stored texts searched for this run)"
)
ledger.finish(
    ours=ours,
    status=status,
    gap=gap,
    differences=[
        f"{steps} optimizer steps per training instead of 250,000 (5000 epochs x 50 batches): "
        "the first steps of the authors' learning-rate schedule (still about 1e-3)",
        "training data generated here (100,000 points, 5% Gaussian observation noise read "
        "from the authors' file name), not the authors' lorenz63_on0.05_train.npy",
        f"aGTF's α starts at 1 as the authors' code and decays by {alpha_decay:.3f} (not 0.999) "
        "every 5 steps, the authors' schedule compressed to our number of steps; its estimate "
        "is 1 - 1/G with G the geometric mean of Jacobian norms over the whole batch along the "
        "forced latent states "
        "(the authors' 'product_upper_bound' takes the maximum over sequences of per-sequence "
        "geometric means, at the data-inferred states)",
        "BPTT is the same loss with α = 0 (no sparse forcing), as in the paper's ablation",
        "D_stsp as the authors' stsp_measure.jl (box min - 0.1 sd .. max + 0.1 sd, Laplace "
        "smoothing 1e-5 on the counts), counts without its UInt16 wrap",
        "one free run per model from one test point; the paper averages over test segments",
        f"baselines (not in the paper's Lorenz-63 comparison as run here): the library's ESN "
        f"({ESN_SIZE} circulant units, spectral radius {ESN_RADIUS}, quadratic readout, ridge "
        f"{ESN_RIDGE:g}, its free run after a {WARMUP}-step warm-up on the test orbit, exponent "
        "of the closed loop in the reservoir's state space) and SINDy (degree-2 polynomials, "
        f"STLSQ threshold {SINDY_THRESHOLD}, finite-difference derivatives, RK4 at dt = {dt}, "
        "exponent of the fitted vector field), both fitted in closed form, and a neural ODE "
        f"(MLP {NODE_WIDTH}x2 gelu, RK4 at dt, {NODE_STEPS} Adam steps, batches of 64 "
        f"{NODE_WINDOW}-step windows, lr 3e-3 cosine), all on the same noisy training series, "
        "computed on every run (not saved per seed)",
    ],
    extra={
        "lyapunov_max_system": lam_true,
        "noise_floor_d_stsp": floor_stsp,
        "noise_floor_d_h": floor_h,
    },
)
print(ours)
print(f"status: {status} ({gap})")

# %%
if not figure_data:
    print("all seeds resumed from saved results: no figure (delete the .seeds folder to draw)")
    raise SystemExit(0)
fig = plt.figure(figsize=(16, 3.8))
ax = fig.add_subplot(1, 4, 1)
ax.plot(test[:20_000, 0], test[:20_000, 2], "k", lw=0.2)
ax.set_title("Lorenz-63 (test orbit)")
for i, (name, gen) in enumerate(figure_data.items()):
    ax = fig.add_subplot(1, 4, i + 2)
    ax.plot(gen[:, 0], gen[:, 2], f"C{i}", lw=0.2)
    ax.set_title(f"{name} (first seed run)")
for ax in fig.axes:
    ax.set_xlabel("x (standardised)")
    ax.set_ylabel("z (standardised)")
fig.tight_layout()
out = Path(cli.out)
out.mkdir(parents=True, exist_ok=True)
fig.savefig(out / "recon_gtf_lorenz.png", dpi=120)
print(f"wrote {out / 'recon_gtf_lorenz.png'} in {time.perf_counter() - start:.1f} s")
