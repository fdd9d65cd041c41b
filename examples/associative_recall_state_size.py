"""Multi-query associative recall: softmax attention, linear attention and Mamba vs state size.

After the comparison of "Understanding the differences in Foundation Models: Attention, State
Space Models, and Recurrent Neural Networks" (Sieber et al., 2024), in the dynamical-systems
framework. A sequence lists `P` key-value pairs (one token per pair) followed by `Q` queries
(one token per key); at each query the model must output the value bound to that key. Softmax
attention keeps every pair (its state grows with the sequence); linear attention and Mamba must
compress them into a fixed state (`d_model^2` for linear attention, `2 d_model N` for Mamba).
At the default (one seed, 500 steps) every model recalls better at d_model=32 than at 8, but Mamba
gains least and trails linear attention at equal width (0.49 against 0.87 in docs/ssm.md's run);
the Mamba stack here has no MLP blocks while the attention stacks do, so the models are not built
alike as in the paper.
"""

# %%
import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import optax

import dynlearn.ssm as ssm
from dynlearn.train import fit

# %%
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="more pairs, widths and training")
args, _ = parser.parse_known_args()
if args.full:
    n_keys, n_values, P, Q, widths, steps = 64, 16, 32, 16, (16, 32, 64, 128), 3000
else:
    n_keys, n_values, P, Q, widths, steps = 32, 8, 12, 8, (8, 32), 500
vocab = n_keys * n_values + n_keys  # pair tokens, then one query token per key
mixers = {
    "softmax attention": "attention",
    "linear attention": "linear_attention",
    "Mamba": "mamba",
}


# %%
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


# %%
key = jax.random.key(0)
train = make_data(jax.random.fold_in(key, 1), 8000)
test_tokens, test_targets = make_data(jax.random.fold_in(key, 2), 1000)
accuracy = {name: [] for name in mixers}
for width in widths:
    for name, kind in mixers.items():
        model = ssm.SequenceModel(
            kind,
            width,
            2,
            n_values,
            vocab_size=vocab,
            mlp=kind != "mamba",
            key=jax.random.fold_in(key, width),
        )
        start = time.perf_counter()
        model, _ = fit(
            model,
            loss_fn,
            train,
            optax.adam(3e-3),
            steps=steps,
            batch_size=32,
            key=jax.random.fold_in(key, 3),
            progress=False,
        )
        logits = jax.jit(jax.vmap(model))(test_tokens)[:, -Q:]
        acc = float(jnp.mean(jnp.argmax(logits, -1) == test_targets))
        accuracy[name].append(acc)
        seconds = time.perf_counter() - start
        print(f"d_model={width:3d} {name:18s} accuracy {acc:.3f} ({seconds:.0f} s)")

# %%
out = Path("dynlearn-out")
out.mkdir(exist_ok=True)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name in mixers:
    ax.semilogx(widths, accuracy[name], "o-", base=2, label=name)
ax.axhline(1 / n_values, color="gray", ls=":", label="chance")
ax.set_xlabel("model width d_model (state grows with it)")
ax.set_ylabel("recall accuracy")
ax.set_ylim(0, 1.05)
ax.set_title(f"MQAR: {P} pairs, {Q} queries")
ax.legend()
fig.tight_layout()
fig.savefig(out / "associative_recall_state_size.png", dpi=120)
print(f"wrote {out / 'associative_recall_state_size.png'}")
