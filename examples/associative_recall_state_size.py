"""Multi-query associative recall against state size: softmax attention, linear attention, S6 and a
gated RNN built alike, read as dynamical systems.

After "Understanding the differences in Foundation Models: Attention, State Space Models, and
Recurrent Neural Networks" (Sieber et al., NeurIPS 2024). In their dynamical-systems framework
(DSF) every mixer applies `h_t = A_t h_{t-1} + B_t u_t`, `y_t = C_t h_t + D_t u_t` to its input,
and the models differ in how `A_t, B_t, C_t, D_t` depend on the tokens and in the size `n` of
`h_t`: softmax attention's state grows with the sequence (`L * d_model` here), linear attention
keeps `heads * d_head^2` numbers, S6 (Mamba's selective SSM) `d_inner * N`, and a gated RNN
(RG-LRU, which the DSF counts with state expansion 1) `d_model`.

A sequence lists `P` key-value pairs (one token per pair) followed by `Q` queries (one token per
key); at each query the model must output the value bound to that key. Every model is the same
2-layer pre-norm stack of width 32 (`x + mixer(norm(x))`, then `x + MLP(norm(x))`, same
embedding, head and initial weights), only the mixer differs. The fixed-state mixers are swept
over state sizes 64, 256 and 1024 (linear attention through its number of heads, 16/4/1; S6
through `N` = 2/8/32 with `expand = 1`); softmax attention and the RG-LRU have no state knob at a
fixed width and give one point each. After training, each model's `dynamical_system()` is read on
test sequences: the recurrence run step by step from its `(A_t, B_t, C_t, D_t)` must reproduce
the mixer's output (checked, every layer), the state size is read off `B_t`, and the product
`A_{L-1} ... A_1` gives how much of the first pair is still in the state at the last query.

What the default run shows (3 seeds, medians; docs/reproductions.md has the run, its time and
load): linear attention's recall rises with its state, 0.71 / 0.97 / 1.00 at 64 / 256 / 1024,
and reaches softmax attention's 0.97 (whose seeds spread 0.92-1.00), as in the paper's Figure 1.
S6 does not: 0.48 / 0.45 / 0.54, far below linear attention at equal state and about the level
of the RG-LRU with its 32 numbers of state (0.52), where the paper finds SSD, S6's relative,
closest to softmax attention. Read through `dynamical_system()`, attention's `A_t = I` keeps
the first pair intact, while S6's median `|A_(L-1) ... A_1|` falls from 0.80 at `N = 2` to
0.05 at `N = 32`: the median state coordinate has forgotten the first pairs by the last query
(S6 starts its added coordinates with faster decay, `A = -n`), so its larger states buy little
memory at this training length and single learning rate. S6 is still learning at 1000 steps:
seed 0 trained 3000 steps (`--steps 3000 --seeds 0`, 14 min at load 8-10) gives softmax
attention 1.00, linear attention 0.82 / 0.99 / 1.00, S6 0.79 / 0.79 / 0.82 and the RG-LRU 0.67,
so with longer training S6 moves clear of the gated RNN but still gains little from its state
and stays below linear attention at 256 and 1024. The step-by-step recurrence matches every
mixer's output to 4e-7 (relative). This is a small problem (L = 20, width 32, 1000 steps,
one learning rate where the paper keeps the best of a sweep).

The longer run (`--full`: 24 pairs and 16 queries, L = 40, widths 32 and 64, 3000 steps; seed 0,
results kept in docs/reproductions/full/) keeps the picture and sharpens it. Width 32: softmax
attention 0.92, linear attention 0.28 / 0.85 / 0.91 at states 64 / 256 / 1024, S6 0.23 / 0.30 /
0.31, the RG-LRU 0.20 (chance 0.06). Width 64 (states 256 / 1024 / 4096): softmax attention
0.98, linear attention 0.72 / 0.98 / 0.97, S6 0.37 / 0.68 / 0.56, the RG-LRU 0.27. What only
the longer run shows: at width 64 S6 does gain from its state (+0.32 from 256 to 1024), but
not at 4096, where its median `|A_(L-1) ... A_1|` is 0.002 (0.21 at 1024); it stays below
linear attention at every equal state size, and with more pairs to hold the RG-LRU falls
below every fixed-state model.

Run: `dynlearn reproduce associative_recall_state_size [--results-dir DIR]` (3 seeds, 1000
steps, 12 min wall and 6 min of CPU at load 7-13; `--full`: 5 seeds, 24 pairs, widths 32 and
64, 3000 steps, 29 min wall and 23 min of CPU for seed 0 at load 0.7 rising to 3.9 with two
other runs beside it). Writes `DIR/associative_recall_state_size.json` and
`./dynlearn-out/associative_recall_state_size.png`.
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
parser.add_argument("--full", action="store_true", help="more pairs, two widths, longer training")
parser.add_argument("--seeds", type=int, nargs="+", default=None)
parser.add_argument("--steps", type=int, default=None, help="override the training steps")
args, _ = parser.parse_known_args()
seeds = args.seeds if args.seeds is not None else ([0, 1, 2, 3, 4] if args.full else [0, 1, 2])
if args.full:
    n_keys, n_values, P, Q, widths, steps = 64, 16, 24, 16, (32, 64), 3000
else:
    n_keys, n_values, P, Q, widths, steps = 32, 8, 12, 8, (32,), 1000
steps = args.steps if args.steps is not None else steps
L = P + Q
LAYERS, LR, BATCH = 2, 1e-2, 32
vocab = n_keys * n_values + n_keys  # pair tokens, then one query token per key
STATES = (64, 256, 1024)  # per layer, for the fixed-state mixers at width 32 (x4 at width 64)


# %% The mixers. State size per layer, as the DSF counts it.
def variants(d):
    """(label, kind, state size, factory) for width `d`; the sweep scales with d^2."""
    out = [
        ("softmax attention", "softmax", L * d, lambda _d, key: ssm.SoftmaxAttention(d, key=key))
    ]
    for n in STATES:
        n = n * (d // 32) ** 2
        heads = d * d // n  # heads * d_head^2 = d^2 / heads
        out.append(("linear attention", "linear", n,
                    lambda _d, key, h=heads: ssm.LinearAttention(d, h, key=key)))  # fmt: skip
    for n in STATES:
        n = n * (d // 32) ** 2
        out.append(("S6 (Mamba)", "s6", n,
                    lambda _d, key, N=n // d: ssm.Mamba(d, N, expand=1, key=key)))  # fmt: skip
    out.append(("gated RNN (RG-LRU)", "rglru", d, lambda _d, key: ssm.RGLRU(d, key=key)))
    return out


def tag(kind, d, n):
    return f"{kind}_d{d}_n{n}"


# %% The task.
def make_data(key, n):
    k_keys, k_vals, k_q = jax.random.split(key, 3)
    keys = jax.vmap(lambda k: jax.random.permutation(k, n_keys)[:P])(jax.random.split(k_keys, n))
    values = jax.random.randint(k_vals, (n, P), 0, n_values)
    which = jax.vmap(lambda k: jax.random.permutation(k, P)[:Q])(jax.random.split(k_q, n))
    queries = jnp.take_along_axis(keys, which, axis=1)
    targets = jnp.take_along_axis(values, which, axis=1)
    tokens = jnp.concatenate([keys * n_values + values, n_keys * n_values + queries], axis=1)
    return tokens.astype(jnp.int32), targets


def loss_fn(model, batch, *, key):
    tokens, targets = batch
    logits = jax.vmap(model)(tokens)[:, -Q:]
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, targets[..., None], axis=-1)
    acc = jnp.mean((jnp.argmax(logits, -1) == targets).astype(logits.dtype))
    return jnp.mean(nll), {"accuracy": acc}


# %% The dynamical-systems reading of a trained model.
def recurrence(system, u):
    """`h_t = A_t h_{t-1} + B_t u_t`, `y_t = C_t h_t + D_t u_t` as a plain loop in float64."""
    A, B, C, D = (np.asarray(x, np.float64) for x in (system.A, system.B, system.C, system.D))
    u = np.asarray(u, np.float64)
    h = np.zeros(B.shape[1])
    ys = []
    for t in range(len(u)):
        h = (A[t] * h if A.ndim == 2 else A[t] @ h) + B[t] @ u[t]
        ys.append(C[t] @ h + D[t] @ u[t])
    return np.stack(ys)


def read_dsf(model, tokens):
    """Per model: the worst relative error of the step-by-step recurrence against the mixer
    output (every layer, the first test sequence), the state size read off `B_t`, and the
    median over state coordinates, layers and sequences of `|A_{L-1} ... A_1|` (diagonal)."""
    errors, sizes = [], set()
    inputs, _ = model.intermediates(tokens[0])
    for i, mixer in enumerate(model.mixers):
        system, u = mixer.dynamical_system(inputs[i])
        assert system.diagonal, type(mixer).__name__
        sizes.add(int(system.B.shape[1]))
        y = np.asarray(mixer(inputs[i]), np.float64)
        errors.append(float(np.max(np.abs(recurrence(system, u) - y)) / np.max(np.abs(y))))
    (size,) = sizes
    return max(errors), size, float(np.median(np.asarray(_retained(model, tokens))))


@eqx.filter_jit
def _retained(model, tokens):
    """`|A_{L-1} ... A_1|` of every layer's diagonal transitions, for each sequence."""

    def one(seq):
        inputs, _ = model.intermediates(seq)
        products = []
        for i, mixer in enumerate(model.mixers):
            system, _ = mixer.dynamical_system(inputs[i])
            products.append(jnp.prod(jnp.abs(system.A[1:]), axis=0))
        return jnp.concatenate(products)

    return jax.vmap(one)(tokens)


# %% One seed: train every model, test it, read its dynamical system.
def run_seed(seed):
    key = jax.random.key(seed)
    train = make_data(jax.random.fold_in(key, 1), 8000)
    test_tokens, test_targets = make_data(jax.random.fold_in(key, 2), 1000)
    result = {}
    for d in widths:
        for label, kind, n, factory in variants(d):
            start = time.perf_counter()
            model = ssm.SequenceModel(
                factory, d, LAYERS, n_values, vocab_size=vocab, mlp=True, key=key
            )
            model, _ = fit(
                model,
                loss_fn,
                train,
                optax.chain(optax.clip_by_global_norm(1.0), optax.adam(LR)),
                steps=steps,
                batch_size=BATCH,
                key=jax.random.fold_in(key, 3),
                progress=False,
            )
            logits = jax.jit(jax.vmap(model))(test_tokens)[:, -Q:]
            acc = float(jnp.mean(jnp.argmax(logits, -1) == test_targets))
            trained = time.perf_counter()
            error, size, retained = read_dsf(model, test_tokens[:16])
            assert size == n, (label, size, n)
            assert error < 1e-3, (label, error)
            t = tag(kind, d, n)
            result[f"{t}_accuracy"] = acc
            result[f"{t}_retained"] = retained
            result[f"{t}_dsf_error"] = error
            print(
                f"seed {seed} d={d} {label:20s} state {n:5d}: accuracy {acc:.3f}, "
                f"|A_(L-1)...A_1| median {retained:.3g}, recurrence vs mixer {error:.1e} "
                f"({trained - start:.0f} s training, {time.perf_counter() - trained:.0f} s DSF)",
                flush=True,
            )
    return result


ledger = Reproduction(
    "associative_recall_state_size",
    paper="Understanding the differences in Foundation Models: Attention, State Space Models, "
    "and Recurrent Neural Networks",
    claim="On multi-query associative recall, softmax attention (whose DSF state grows with the "
    "sequence) performs best, and the fixed-state models recall better as their state is "
    "expanded, linear attention approaching softmax attention with enough state expansion.",
    paper_figures=[
        {
            "quantity": "MQAR accuracy across state expansion",
            "value": "linear attention approaches softmax attention as the state expansion n grows",
            "source": "Sieber et al. 2024, Figure 1 (arXiv 2405.15731)",
        },
        {
            "quantity": "MQAR accuracy of softmax attention, linear attention, normalized "
            "attention, S6 and SSD on four tasks (L = 64..512, 4..64 pairs), d = 64..512, "
            "n = 32..256, best of a learning-rate sweep",
            "value": "softmax attention performs best; SSD comes closest to it; the paper "
            "attributes the SSMs' behaviour to their recurrent structure and normalization "
            "rather than to heads and proposes a normalized linear attention",
            "source": "Sieber et al. 2024, Figure 5 caption and section 4 (arXiv 2405.15731v3), "
            "read through the figure caption and secondary summaries (alphaXiv overview, a "
            "velog review): the full text of section 4 was not available here",
        },
        {
            "quantity": "state size in the DSF",
            "value": "softmax attention: infinite (grows with L); linear attention and S6: n d; "
            "RG-LRU and qLSTM: d (no state expansion)",
            "source": "Sieber et al. 2024, section 3",
        },
    ],
    config={"full": args.full, "steps": steps, "widths": widths, "P": P, "Q": Q, "lr": LR},
)

results = {}
for seed in seeds:
    results[seed] = ledger.seed(seed, run_seed)
med = ledger.medians()

# %% Figure: median accuracy (dots: seeds) against the state size per layer.
series = {}
for d in widths:
    for label, kind, n, _ in variants(d):
        series.setdefault((label, kind, d), []).append(n)
fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
markers = {"softmax": "*", "linear": "o", "s6": "s", "rglru": "^"}
for (label, kind, d), sizes in series.items():
    color = f"C{list(markers).index(kind)}"
    ls = "-" if d == widths[0] else "--"
    name = f"{label}, d={d}" if len(widths) > 1 else label
    accs = [med[f"{tag(kind, d, n)}_accuracy"] for n in sizes]
    axes[0].plot(sizes, accs, ls, marker=markers[kind], color=color, label=name, ms=8)
    for n in sizes:
        seed_accs = [r[f"{tag(kind, d, n)}_accuracy"] for r in ledger.per_seed.values()]
        axes[0].scatter([n] * len(seed_accs), seed_accs, color=color, s=8, alpha=0.5)
    ret = [med[f"{tag(kind, d, n)}_retained"] for n in sizes]
    axes[1].plot(sizes, ret, ls, marker=markers[kind], color=color, label=name, ms=8)
axes[0].axhline(1 / n_values, color="gray", ls=":", label="chance")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("state size per layer (DSF: B_t's rows)")
axes[0].set_ylabel(f"recall accuracy (median of {len(ledger.per_seed)} seeds)")
axes[0].set_ylim(0, 1.05)
axes[0].set_title(f"MQAR: {P} pairs, {Q} queries, {steps} steps")
axes[0].legend(fontsize=7)
axes[1].set_yscale("log")
axes[1].set_ylabel("median |A_(L-1) ... A_1| (memory of token 1)")
axes[1].set_title("memory decay read from dynamical_system()")
fig.tight_layout()
out = Path("dynlearn-out")
out.mkdir(exist_ok=True)
fig.savefig(out / "associative_recall_state_size.png", dpi=120)
print(f"wrote {out / 'associative_recall_state_size.png'}")


# %% The verdict from the medians.
def acc(kind, d, n):
    return med[f"{tag(kind, d, n)}_accuracy"]


def fmt(values):
    return " / ".join(f"{v:.3f}" for v in values)


lines, checks = [], {}
for d in widths:
    sizes = [s * (d // 32) ** 2 for s in STATES]
    soft, rnn = acc("softmax", d, L * d), acc("rglru", d, d)
    lin = [acc("linear", d, n) for n in sizes]
    s6 = [acc("s6", d, n) for n in sizes]
    s6_memory = [med[f"{tag('s6', d, n)}_retained"] for n in sizes]
    lines.append(
        f"d={d}: softmax attention (state {L * d}) {soft:.3f}; at state "
        + "/".join(map(str, sizes)) + f" linear attention {fmt(lin)}, S6 {fmt(s6)}; RG-LRU "
        f"(state {d}) {rnn:.3f}; S6's median |A_(L-1)...A_1| {fmt(s6_memory)}"
    )  # fmt: skip
    checks[d] = {
        "softmax_best": soft >= max(lin + s6 + [rnn]),
        "linear_grows": all(b > a for a, b in zip(lin, lin[1:])),
        "s6_grows": all(b > a for a, b in zip(s6, s6[1:])),
        "s6_vs_linear": [b - a for a, b in zip(lin, s6, strict=True)],
        "rnn_below_all": rnn < min(lin + s6),
        "soft": soft, "lin": lin, "s6": s6, "rnn": rnn, "s6_memory": s6_memory,
    }  # fmt: skip
errors = [v for r in ledger.per_seed.values() for k, v in r.items() if k.endswith("dsf_error")]
soft_seeds = [r[f"{tag('softmax', widths[0], L * widths[0])}_accuracy"] for r in
              ledger.per_seed.values()]  # fmt: skip
ours = (
    f"MQAR accuracy, median of {len(ledger.per_seed)} seeds ({P} pairs, {Q} queries, chance "
    f"{1 / n_values:.3f}, {steps} steps): " + "; ".join(lines)
    + f". Every model's dynamical_system() reproduces its mixer output by the step-by-step "
    f"recurrence (worst relative error {max(errors):.1e})"
)  # fmt: skip
print(ours)
c = checks[widths[0]]
soft, lin, s6, rnn = c["soft"], c["lin"], c["s6"], c["rnn"]
parts = [
    "softmax attention recalls best, as in the paper"
    if c["softmax_best"]
    else f"softmax attention ({soft:.3f}, seeds {min(soft_seeds):.3f}-{max(soft_seeds):.3f}) is "
    f"not the best model here: linear attention with the largest state reaches {max(lin):.3f}",
    f"linear attention rises with its state ({fmt(lin)}) to softmax attention's level, as in "
    "the paper's Figure 1"
    if c["linear_grows"] and lin[-1] >= soft - 0.05
    else f"linear attention's recall against state: {fmt(lin)}",
    ("S6 rises with its state" if c["s6_grows"] else "S6 does not rise steadily with its state")
    + f" ({fmt(s6)})"
    + (
        " and stays below linear attention at every equal state size, by "
        if max(c["s6_vs_linear"]) < 0
        else "; S6 minus linear attention at equal state size: "
    )
    + " / ".join(f"{abs(x) if max(c['s6_vs_linear']) < 0 else x:.3f}" for x in c["s6_vs_linear"])
    + " (in the paper SSD, the S6 relative, comes closest to softmax attention); read through "
    f"dynamical_system(), S6's memory of the first pair at the last query falls as N grows "
    f"(median |A_(L-1)...A_1| {fmt(c['s6_memory'])}) while attention keeps it at 1",
    f"the gated RNN with state {widths[0]} recalls {rnn:.3f}, "
    + ("below every fixed-state model" if c["rnn_below_all"] else "no worse than S6 at some "
       "state sizes"),
]  # fmt: skip
gap = "; ".join(parts) + (
    f". CPU scale: width {', '.join(map(str, widths))}, {LAYERS} layers, L = {L}, one pair per "
    f"token, one learning rate ({LR}) for all models where the paper takes the best of a sweep"
)
print(gap)
reproduced = c["softmax_best"] and c["linear_grows"] and c["s6_grows"] and c["rnn_below_all"]
ledger.finish(
    ours=ours,
    status="reproduced" if reproduced else "partial",
    gap=gap,
    differences=[
        f"MQAR with one token per key-value pair ({P} pairs, {Q} queries, {n_keys} keys, "
        f"{n_values} values, L = {L}); the paper's MQAR (Zoology) puts key and value in separate "
        "tokens, L = 64..512 with 4..64 pairs",
        f"{LAYERS}-layer pre-norm stacks of width {', '.join(map(str, widths))} with a GELU MLP "
        "(4x) after every mixer, one Adam learning rate (1e-2, gradient norm clipped at 1) and "
        f"{steps} steps of batch {BATCH} for every model; the paper sweeps d = 64..512 and the "
        "learning rate (best of 4 reported)",
        "state swept at a fixed width: linear attention through its number of heads (state "
        "d^2 / heads), S6 through N with expand = 1 (state d N); the paper sweeps the state "
        "expansion n at several widths",
        "the gated RNN is the RG-LRU mixer alone (no convolution or gate branch of Griffin's "
        "block); the paper's MQAR figure (Figure 5) has no gated RNN (it places qLSTM and "
        "RG-LRU in the DSF in section 3); no normalized attention or SSD here",
        "the DSF reading (recurrence check, state size, |A_(L-1)...A_1|) uses 16 test "
        "sequences per model",
    ],
    extra={"checks": {str(d): v for d, v in checks.items()}, "softmax_seeds": soft_seeds},
)
