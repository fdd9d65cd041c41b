"""A neural CDE classifies clockwise vs anticlockwise spirals that are irregularly sampled and
have 30% of their values missing.

Kidger, Morrill, Foster, Lyons (NeurIPS 2020), "Neural Controlled Differential Equations for
Irregular Time Series": each series (NaN = missing) becomes a Hermite cubic control path with
backward differences (Morrill et al. 2021), time is a channel, and the hidden state solves
`dz = f(z) dX`. Prints the test accuracy and writes ./dynlearn-out/neural_cde_irregular_spirals.png.
"""

# %%
import argparse
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import optax

from dynlearn.nde import HermiteCubicControl, NeuralCDE
from dynlearn.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="more data and steps")
parser.add_argument("--missing", type=float, default=0.3, help="fraction of missing values")
parser.add_argument("--seed", type=int, default=0)
args, _ = parser.parse_known_args()
steps = 1000 if args.full else 200
n_train = 1024 if args.full else 256
length = 60


# %% Data: decaying spirals with random phase, sorted random sample times, NaN holes.
def make_data(key, n):
    k_t, k_phase, k_dir, k_miss, k_noise = jax.random.split(key, 5)
    ts = jnp.sort(jax.random.uniform(k_t, (n, length), minval=0.0, maxval=4 * jnp.pi), axis=1)
    ts = ts.at[:, 0].set(0.0)
    phase = jax.random.uniform(k_phase, (n, 1), maxval=2 * jnp.pi)
    direction = jax.random.bernoulli(k_dir, 0.5, (n,))
    sign = jnp.where(direction, 1.0, -1.0)[:, None]
    radius = jnp.exp(-0.1 * ts)
    xs = jnp.stack([radius * jnp.cos(sign * ts + phase), radius * jnp.sin(sign * ts + phase)], -1)
    xs = xs + 0.05 * jax.random.normal(k_noise, xs.shape)
    holes = jax.random.bernoulli(k_miss, args.missing, xs.shape)
    holes = holes.at[:, 0].set(False)  # the first observation is always present
    xs = jnp.where(holes, jnp.nan, xs)
    return {"ts": ts, "xs": xs, "label": direction.astype(jnp.int32)}


key = jax.random.key(args.seed)
k_train, k_test, k_model, k_fit = jax.random.split(key, 4)
train = make_data(k_train, n_train)
test = make_data(k_test, 256)
model = NeuralCDE(2, 8, 2, width=32, depth=2, key=k_model, control=HermiteCubicControl())


def loss_fn(m, batch, *, key):
    logits = jax.vmap(m)(batch["ts"], batch["xs"])
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    acc = jnp.mean(jnp.argmax(logits, axis=1) == batch["label"])
    return ce, {"accuracy": acc}


# %%
model, history = fit(
    model, loss_fn, train, optax.adam(1e-2), steps=steps, batch_size=32, key=k_fit, progress=False
)
logits = eqx.filter_jit(jax.vmap(lambda m, t, x: m(t, x), in_axes=(None, 0, 0)))(
    model, test["ts"], test["xs"]
)
accuracy = float(jnp.mean(jnp.argmax(logits, axis=1) == test["label"]))
print(
    f"test accuracy {accuracy:.3f} with {100 * args.missing:.0f}% missing values "
    f"(final train loss {history[-1]['loss']:.3f})"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for i in range(6):
    keep = ~jnp.isnan(test["xs"][i, :, 0])
    axes[0].plot(
        test["xs"][i, keep, 0],
        test["xs"][i, keep, 1],
        ".-",
        ms=3,
        lw=0.6,
        color="C0" if test["label"][i] else "C3",
    )
axes[0].set_title("test spirals (blue: anticlockwise), observed points only")
axes[1].plot([r["loss"] for r in history])
axes[1].set_yscale("log")
axes[1].set_title(f"training loss; test accuracy {accuracy:.3f}")
os.makedirs("dynlearn-out", exist_ok=True)
fig.tight_layout()
fig.savefig("dynlearn-out/neural_cde_irregular_spirals.png", dpi=120)
print("wrote dynlearn-out/neural_cde_irregular_spirals.png")
