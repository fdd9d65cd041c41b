"""Trainer overhead: time per step of `dynlearn.train.fit` against a hand-written filter_jit loop.

Problem: MLP regression (2 -> 64 -> 64 -> 1), batch 64, Adam. The hand-written anchor is the loop
users would otherwise write: an `eqx.filter_jit` step that samples its batch on device, called from
Python once per step. Per-step time is measured by differencing a long and a short run, so the
compile time (reported separately) cancels. Prints medians and the ratio fit / hand-written.
"""

import argparse
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynlearn.train import fit


def make_problem():
    key = jax.random.key(0)
    x = jax.random.normal(key, (4096, 2))
    y = jnp.sin(3 * x[:, :1]) * jnp.cos(x[:, 1:])
    model = eqx.nn.MLP(2, 1, 64, 2, key=jax.random.key(1))
    return model, (x, y)


def loss_fn(model, batch, *, key):
    xb, yb = batch
    return jnp.mean((jax.vmap(model)(xb) - yb) ** 2)


def run_fit(model, data, steps, batch):
    t0 = time.perf_counter()
    m, _ = fit(model, loss_fn, data, optax.adam(1e-3), steps=steps, batch_size=batch,
               key=jax.random.key(2), progress=False, mesh=None)
    jax.block_until_ready(m)
    return time.perf_counter() - t0


def run_handwritten(model, data, steps, batch):
    t0 = time.perf_counter()
    opt = optax.adam(1e-3)
    opt_state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    n = data[0].shape[0]

    @eqx.filter_jit
    def step(model, opt_state, key):
        idx = jax.random.choice(key, n, (batch,), replace=False)
        b = jax.tree_util.tree_map(lambda a: a[idx], data)
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, b, key=key)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(model, eqx.is_inexact_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    key = jax.random.key(2)
    for i in range(steps):
        model, opt_state, loss = step(model, opt_state, jax.random.fold_in(key, i))
    jax.block_until_ready(model)
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    args = parser.parse_args()
    short, long_ = (50, 550) if args.quick else (100, 2100)
    repeats = 3 if args.quick else 5
    model, data = make_problem()
    rows = {}
    runners = (("dynlearn fit", run_fit), ("hand-written filter_jit loop", run_handwritten))
    for name, runner in runners:
        per_step, compile_ = [], []
        for _ in range(repeats):
            t_short = runner(model, data, short, 64)
            t_long = runner(model, data, long_, 64)
            ps = (t_long - t_short) / (long_ - short)
            per_step.append(ps)
            compile_.append(t_short - short * ps)
        rows[name] = (float(np.median(per_step)), float(np.median(compile_)))
    fit_ps = rows["dynlearn fit"][0]
    hand_ps = rows["hand-written filter_jit loop"][0]
    lines = ["| loop | time per step (median) | compile + setup |", "| --- | --- | --- |"]
    for name, (ps, comp) in rows.items():
        lines.append(f"| {name} | {ps * 1e6:.1f} us | {comp:.2f} s |")
    ratio = fit_ps / hand_ps
    lines.append(f"\nratio fit / hand-written (time per step): {ratio:.3f} (target <= 1.1)")
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "trainer.md").write_text("# Trainer benchmark\n\n" + text + "\n")


if __name__ == "__main__":
    main()
