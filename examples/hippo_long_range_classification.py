"""HiPPO/S4 sequence classification over long ranges: S4D-LegS against an equal-size GRU vs length.

"How to Train Your HiPPO" (Gu et al., 2022) explains S4's long memory by its HiPPO-LegS state
matrix and reports it on the Long Range Arena; "HiPPO: Recurrent Memory with Optimal Polynomial
Projections" (Gu et al., 2020) shows the HiPPO-LegS memory beating gated RNNs on long sequential
classification. Here the long-range task is generated (`dynlearn.ssm.long_range_task`, no
download): white noise (standard deviation 0.5) of length `L` with one of 4 random sign patterns
added to its first 8 steps; the class of the pattern is read at the last step, so the model must
carry it across `L - 8` steps of noise. The best possible accuracy
(`dynlearn.ssm.long_range_bayes`, the Bayes classifier with the templates known) is printed
beside: it does not depend on `L`. A 2-layer S4D model whose diagonal state matrix is the
HiPPO-LegS one (`init="legs"`: the eigenvalues of its normal part, the diagonal S4 that S4D and
"How to Train Your HiPPO" study; timescales `1/dt` from 10 steps to `L`) and a GRU with about the
same number of parameters (chrono-initialized keep gates, timescales from 1 to `L` steps; a plain
GRU stayed at chance even at `L = 32` in a first try) are trained with the same optimizer, steps
and data, for several sequence lengths and seeds, and their test
accuracies are compared (chance: 0.25).

What the run shows (median test accuracy over seeds 0, 1, 2, 300 steps; the results file's run,
2026-12-07 19:09 UTC, 98 s wall and 95 s of CPU at load 1.2-3.1):

| L | S4D-LegS | GRU | Bayes |
|---|---|---|---|
| 32 | 0.969 | 0.943 | 0.998 |
| 128 | 0.908 | 0.951 | 0.998 |
| 512 | 0.535 | 0.490 | 0.998 |

Both models lose the pattern by L = 512 at this budget and S4D-LegS leads the GRU there by only
0.04, so the papers' long-range advantage of the HiPPO memory is not shown: status partial.
(Earlier times of this run, 4751 s, were taken at load 20-24 and said nothing of the example.)
The longer version (`--full`: 1000 steps, lengths up to 2048; seed 0, 209 s at load 2.1-3.8,
266 s of CPU, timed with `python docs/tools/time_examples.py --full --seeds 0
hippo_long_range_classification`, results in `docs/reproductions/full/`) shows the opposite of
the papers' claim at L = 2048: with more training both models hold the pattern to L = 512
(S4D-LegS 0.953, GRU 0.990), and at L = 2048 the GRU keeps it (0.918) while S4D-LegS falls to
chance (0.260). One seed; the S4D timescales and learning rate were not tuned for L = 2048.

Run: `dynlearn reproduce hippo_long_range_classification [--results-dir DIR]` (3 seeds, lengths
32, 128 and 512; `--full` adds 2048 and trains longer). Writes
`DIR/hippo_long_range_classification.json` and `./dynlearn-out/hippo_long_range_classification.png`.
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

import dynlearn.ssm as ssm
from dynlearn._ledger import Reproduction
from dynlearn.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="longer sequences and training")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
args, _ = parser.parse_known_args()
LENGTHS = (32, 128, 512, 2048) if args.full else (32, 128, 512)
STEPS = 1000 if args.full else 300
N_TRAIN, N_TEST, BATCH = 1024, 512, 32
CLASSES, STARTS, D_MODEL, N_LAYERS, STATE = 4, 1, 16, 2, 16
MODELS = ("S4D-LegS", "GRU")

ledger = Reproduction(
    "hippo_long_range_classification",
    paper="How to Train Your HiPPO: State Space Models with Generalized Orthogonal Basis "
    "Projections",
    claim="An SSM with the HiPPO-LegS state matrix (S4/S4D-LegS) classifies sequences whose "
    "label depends "
    "on inputs far in the past, where recurrent baselines lose the information as the sequence "
    "grows.",
    paper_figures=[
        {
            "quantity": "S4 on the Long Range Arena (average accuracy; Path-X, length 16384)",
            "value": "86% average; 96% on Path-X",
            "source": "Gu et al. 2022 (How to Train Your HiPPO), abstract",
        },
        {
            "quantity": "HiPPO-LegS RNN on permuted MNIST (length 784), against LSTM/GRU-type RNNs",
            "value": "98.3% (state of the art among the RNNs compared)",
            "source": "Gu et al. 2020 (HiPPO), abstract",
        },
    ],
    config={
        "full": args.full,
        "lengths": list(LENGTHS),
        "steps": STEPS,
        "n_train": N_TRAIN,
        "d_model": D_MODEL,
        "state": STATE,
    },
)


# %% The baseline: a GRU reading the sequence, classified from its last hidden state.
class GRUClassifier(eqx.Module):
    """A GRU over real inputs with a linear read-out of every hidden state."""

    cell: eqx.nn.GRUCell
    head: eqx.nn.Linear

    def __init__(self, d_in, hidden, d_out, max_length, *, key):
        k1, k2, k3 = jax.random.split(key, 3)
        cell = eqx.nn.GRUCell(d_in, hidden, key=k1)
        # chrono initialization (Tallec & Ollivier, 2018): the keep gate's bias log(T - 1) with
        # timescales T log-uniform in [1, max_length], so the GRU starts with memories of every
        # length up to the sequence's, as HiPPO-LegS does; without it the GRU stayed at chance
        # even at L = 32 in a first try
        T = jnp.exp(jax.random.uniform(k3, (hidden,), maxval=jnp.log(max_length)))
        keep = jnp.log(jnp.maximum(T - 1, 1e-3))
        self.cell = eqx.tree_at(lambda c: c.bias, cell, cell.bias.at[hidden : 2 * hidden].set(keep))
        self.head = eqx.nn.Linear(hidden, d_out, key=k2)

    def __call__(self, xs, *, key=None):
        def step(h, x):
            h = self.cell(x, h)
            return h, h

        _, hs = jax.lax.scan(step, jnp.zeros(self.cell.hidden_size, xs.dtype), xs)
        return jax.vmap(self.head)(hs)


def count(model):
    leaves = jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array))
    return sum(int(x.size) for x in leaves)


def make_model(name, key, length):
    if name == "S4D-LegS":
        return ssm.SequenceModel(
            # timescales 1/dt from 10 steps to the whole sequence: "How to Train Your HiPPO" ties
            # dt to the dependency lengths (the GRU's chrono init below spans the same range)
            lambda d, *, key: ssm.S4D(d, STATE, init="legs", dt_min=1 / length, key=key),
            D_MODEL, N_LAYERS, CLASSES, d_in=1, channel_mix=True, key=key,
        )  # fmt: skip
    target = count(make_model("S4D-LegS", key, length))

    def gru_count(h):  # GRUCell: 3h x (1 + h) weights, 3h + h biases; head: h x C + C
        return 3 * h * (1 + h) + 4 * h + h * CLASSES + CLASSES

    # the GRU's hidden size whose parameter count is closest to the S4 model's
    hidden = min(range(4, 256), key=lambda h: abs(gru_count(h) - target))
    model = GRUClassifier(1, hidden, CLASSES, length, key=key)
    assert count(model) == gru_count(hidden), (count(model), gru_count(hidden))
    return model


def loss_fn(model, batch, *, key):
    xs, ys = batch
    logits = jax.vmap(model)(xs)[:, -1]
    nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), ys[:, None], axis=-1)
    return jnp.mean(nll), {"accuracy": jnp.mean(jnp.argmax(logits, -1) == ys)}


def accuracy(model, xs, ys):
    logits = jax.jit(jax.vmap(model))(xs)[:, -1]
    return float(jnp.mean(jnp.argmax(logits, -1) == ys))


# %%
params = {}


def run_seed(seed):
    result = {}
    for length in LENGTHS:
        train = long_range_data(N_TRAIN, length, 2 * seed)
        test = long_range_data(N_TEST, length, 2 * seed + 1)
        bayes = ssm.long_range_bayes(test[0], num_classes=CLASSES, starts=STARTS)
        result[f"Bayes_L{length}_accuracy"] = float(np.mean(np.argmax(bayes, 1) == test[1]))
        for name in MODELS:
            key = jax.random.fold_in(jax.random.key(seed), length)
            model = make_model(name, key, length)
            params[name] = count(model)
            start = time.perf_counter()
            model, _ = fit(
                model,
                loss_fn,
                train,
                optax.adam(1e-2),
                steps=STEPS,
                batch_size=BATCH,
                key=jax.random.fold_in(key, 1),
                progress=False,
            )
            acc = accuracy(model, *test)
            result[f"{name}_L{length}_accuracy"] = acc
            print(
                f"seed {seed} L={length:5d} {name:8s} ({params[name]} parameters): "
                f"test accuracy {acc:.3f} ({time.perf_counter() - start:.0f} s)"
            )
    return result


def long_range_data(n, length, seed):
    xs, ys = ssm.long_range_task(n, length, num_classes=CLASSES, starts=STARTS, seed=seed)
    return jnp.asarray(xs), jnp.asarray(ys)


for seed in args.seeds:
    ledger.seed(seed, run_seed)
med = ledger.medians()
for name in MODELS:  # when every seed was resumed (the counts do not depend on L or the seed)
    params.setdefault(name, count(make_model(name, jax.random.key(0), LENGTHS[-1])))

# %% The accuracy against sequence length, each seed and the median.
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for name, color in zip((*MODELS, "Bayes"), ("C0", "C3", "k"), strict=True):
    per_seed = np.array(
        [[r[f"{name}_L{n}_accuracy"] for n in LENGTHS] for r in ledger.per_seed.values()]
    )
    for row in per_seed:
        ax.plot(LENGTHS, row, color=color, alpha=0.3, lw=1)
    ax.plot(LENGTHS, [med[f"{name}_L{n}_accuracy"] for n in LENGTHS], "o-", color=color,
            label=f"{name} (median of {len(per_seed)} seeds)")  # fmt: skip
ax.axhline(1 / CLASSES, color="gray", ls=":", label="chance")
ax.set_xscale("log", base=2)
ax.set_xlabel("sequence length L")
ax.set_ylabel("test accuracy")
ax.set_ylim(0, 1.05)
ax.set_title("pattern in the first 8 steps, read at the last")
ax.legend(fontsize=8)
fig.tight_layout()
out = Path("dynlearn-out")
out.mkdir(exist_ok=True)
fig.savefig(out / "hippo_long_range_classification.png", dpi=120)
print(f"wrote {out / 'hippo_long_range_classification.png'}")

# %% The verdict, from the medians.
longest = LENGTHS[-1]
S4 = MODELS[0]
s4_long, gru_long = med[f"{S4}_L{longest}_accuracy"], med[f"GRU_L{longest}_accuracy"]
s4_holds = all(med[f"{S4}_L{n}_accuracy"] >= 0.9 for n in LENGTHS)
gru_drop = med[f"GRU_L{LENGTHS[0]}_accuracy"] - gru_long
holds = s4_holds and s4_long - gru_long >= 0.2
curve = "; ".join(
    f"L={n}: {S4} {med[f'{S4}_L{n}_accuracy']:.3f}, GRU {med[f'GRU_L{n}_accuracy']:.3f} "
    f"(Bayes {med[f'Bayes_L{n}_accuracy']:.3f})"
    for n in LENGTHS
)
ours = (
    f"median test accuracy over {len(ledger.per_seed)} seeds (chance {1 / CLASSES:.2f}), "
    f"{S4} {params.get(S4, '?')} vs GRU {params.get('GRU', '?')} parameters, {STEPS} steps: "
    f"{curve}"
)
print(ours)
if holds:
    gap = (
        f"the claim holds on the generated task: {S4} stays at or above 0.9 at every length while "
        f"the GRU falls by {gru_drop:.2f} from L={LENGTHS[0]} to L={longest} "
        f"({S4} - GRU = {s4_long - gru_long:+.2f} at L={longest}); a generated pattern-memory task "
        "at CPU scale, not the Long Range Arena or permuted MNIST"
    )
else:
    gap = (
        f"the claim does not hold as stated on the generated task: {S4} at or above 0.9 at every "
        f"length: {'yes' if s4_holds else 'no'}; {S4} - GRU at L={longest}: "
        f"{s4_long - gru_long:+.2f} (0.2 needed); a generated pattern-memory task at CPU scale, "
        "not the Long Range Arena or permuted MNIST"
    )
print(gap)
ledger.finish(
    ours=ours,
    status="reproduced" if holds else "partial",
    gap=gap,
    differences=[
        "a generated pattern-memory task (4 classes, an 8-step pattern on the first 8 steps of "
        "white noise), "
        "not the Long Range Arena, Path-X or permuted MNIST",
        f"2-layer S4D with the HiPPO-LegS eigenvalues (d_model {D_MODEL}, N {STATE}), not S4's "
        "full DPLR matrix (one 400-step S4 fit at L=64 took 249 s at load ~15 here), and a GRU "
        "of about "
        f"the same parameter count, {STEPS} Adam steps of batch {BATCH} on {N_TRAIN} sequences; "
        "the papers train far larger models for many epochs",
        "the baseline is a GRU with chrono initialization (as in HiPPO 2020's comparison with "
        "gated RNNs), not the LRA Transformers",
        "S4D's dt_min is 1/L, so its longest timescale is the sequence length (the library's "
        "default dt_min = 1e-3 gives 1000 steps whatever L)",
        "the pass mark (S4D-LegS >= 0.9 at every length and >= 0.2 above the GRU at the "
        "longest) is "
        "this project's reading of 'long-range dependencies', not a number from the papers",
    ],
    extra={"parameters": params, "lengths": list(LENGTHS)},
)
