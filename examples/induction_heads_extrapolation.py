"""Induction heads: a small Mamba trained on short sequences keeps recalling at 2-16x the length.

After the induction-heads experiment of "Mamba: Linear-Time Sequence Modeling with Selective
State Spaces" (Gu and Dao, 2023): random tokens contain a special trigger token followed by a
target token; the sequence ends with the trigger again and the model must output the target.
The model is trained at one length and tested at up to 16x that length; the paper trains at 256
and reports Mamba extrapolating far beyond, while attention fails beyond about 2x.
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
parser.add_argument("--full", action="store_true", help="train at L=256 as in the paper")
parser.add_argument("--steps", type=int, default=None)
args, _ = parser.parse_known_args()
if args.full:
    L_train, steps, d_model, n_train = 256, 4000, 64, 20000
else:
    L_train, steps, d_model, n_train = 32, 800, 32, 8000
steps = args.steps or steps
vocab, n_layers, batch_size = 16, 2, 32
TRIGGER = vocab - 1  # the special token; content tokens are 0 .. vocab - 2
test_lengths = [L_train * m for m in (1, 2, 4, 8, 16)]


# %%
def make_data(key, n, L):
    """Random tokens with [trigger, target] at a random place and the trigger at the end."""
    k_tok, k_pos, k_tgt = jax.random.split(key, 3)
    tokens = jax.random.randint(k_tok, (n, L), 0, vocab - 1)
    pos = jax.random.randint(k_pos, (n,), 0, L - 3)
    target = jax.random.randint(k_tgt, (n,), 0, vocab - 1)
    rows = jnp.arange(n)
    tokens = tokens.at[rows, pos].set(TRIGGER).at[rows, pos + 1].set(target)
    tokens = tokens.at[:, -1].set(TRIGGER)
    return tokens, target


def loss_fn(model, batch, *, key):
    tokens, target = batch
    logits = jax.vmap(model)(tokens)[:, -1]
    logp = jax.nn.log_softmax(logits, axis=-1)
    acc = jnp.mean((jnp.argmax(logits, -1) == target).astype(logits.dtype))
    return -jnp.mean(jnp.take_along_axis(logp, target[:, None], axis=1)), {"accuracy": acc}


# %%
key = jax.random.key(0)
model = ssm.SequenceModel("mamba", d_model, n_layers, vocab, vocab_size=vocab, key=key)
start = time.perf_counter()
model, history = fit(
    model,
    loss_fn,
    make_data(jax.random.fold_in(key, 1), n_train, L_train),
    optax.adam(3e-3),
    steps=steps,
    batch_size=batch_size,
    key=jax.random.fold_in(key, 2),
    progress=False,
)
print(f"trained at L={L_train} for {steps} steps in {time.perf_counter() - start:.0f} s")

predict = jax.jit(jax.vmap(lambda t: jnp.argmax(model(t)[-1])))
accuracy = {}
for L in test_lengths:
    tokens, target = make_data(jax.random.fold_in(key, 100 + L), 256, L)
    accuracy[L] = float(jnp.mean(predict(tokens) == target))
    print(f"test L={L:5d} ({L // L_train:2d}x): accuracy {accuracy[L]:.3f}")

# %%
out = Path("dynlearn-out")
out.mkdir(exist_ok=True)
fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.semilogx(test_lengths, [accuracy[L] for L in test_lengths], "o-", base=2, label="Mamba")
ax.axvline(L_train, color="gray", ls="--", label="training length")
ax.axhline(1 / (vocab - 1), color="gray", ls=":", label="chance")
ax.set_xlabel("test sequence length")
ax.set_ylabel("induction accuracy")
ax.set_ylim(0, 1.05)
ax.legend()
ax.set_title(f"Induction heads, {n_layers}-layer Mamba, d={d_model}")
fig.tight_layout()
fig.savefig(out / "induction_heads_extrapolation.png", dpi=120)
print(f"wrote {out / 'induction_heads_extrapolation.png'}")
