"""Trainer overhead: time per step of `dynlearn.train.fit` against a hand-written filter_jit loop.

Problem: MLP regression (2 -> 64 -> 64 -> 1), batch 64, Adam. The hand-written anchor is the loop
users would otherwise write: an `eqx.filter_jit` step that samples its batch on device, called from
Python once per step. Per-step time is the steady state after the first dispatch (fit) or the
first 32 steps (hand-written), so compile time is excluded and reported separately. The two run
interleaved; prints medians and the median of the per-pair ratios fit / hand-written.
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
    """Return (seconds to the end of the first dispatch, steady-state seconds per step)."""
    stamps = []
    t0 = time.perf_counter()
    stamp = lambda step, m, h: stamps.append((step, time.perf_counter())) and False
    m, _ = fit(model, loss_fn, data, optax.adam(1e-3), steps=steps, batch_size=batch,
               key=jax.random.key(2), progress=False, mesh=None, callbacks=[stamp])
    jax.block_until_ready(m)
    (s0, t1), (s1, t2) = stamps[1], stamps[-1]
    return t1 - t0, (t2 - t1) / (s1 - s0)


def run_handwritten(model, data, steps, batch):
    """Return (seconds to the end of the first few steps, steady-state seconds per step)."""
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
    warm = 32
    for i in range(steps):
        if i == warm:
            jax.block_until_ready(model)
            t1 = time.perf_counter()
        model, opt_state, loss = step(model, opt_state, jax.random.fold_in(key, i))
    jax.block_until_ready(model)
    return t1 - t0, (time.perf_counter() - t1) / (steps - warm)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    args = parser.parse_args()
    steps = 600 if args.quick else 2000
    repeats = 3 if args.quick else 5
    model, data = make_problem()
    runners = (("dynlearn fit", run_fit), ("hand-written filter_jit loop", run_handwritten))
    per_step = {name: [] for name, _ in runners}
    first = {name: [] for name, _ in runners}
    ratios = []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        for name, runner in runners:
            t_first, ps = runner(model, data, steps, 64)
            first[name].append(t_first)
            per_step[name].append(ps)
        ratios.append(per_step["dynlearn fit"][-1] / per_step["hand-written filter_jit loop"][-1])
    lines = [
        "| loop | time per step (median) | compile + first steps (median) |",
        "| --- | --- | --- |",
    ]
    for name, _ in runners:
        ps, comp = float(np.median(per_step[name])), float(np.median(first[name]))
        lines.append(f"| {name} | {ps * 1e6:.1f} us | {comp:.2f} s |")
    ratio = float(np.median(ratios))
    lines.append(
        f"\nratio fit / hand-written (time per step, median of {repeats} interleaved pairs): "
        f"{ratio:.3f} (target <= 1.1)"
    )
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "trainer.md").write_text("# Trainer benchmark\n\n" + text + "\n")


if __name__ == "__main__":
    main()
