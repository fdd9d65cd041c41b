"""Benchmarks of dynlearn.ssm against anchors measured side by side in one run.

    python benchmarks/ssm.py [--quick]

Each case is jit-compiled first (compile time reported separately); the competitors of a case
then run round-robin so machine noise hits them alike, and medians are reported. Ratios are
anchor_time / dynlearn_time (> 1 means dynlearn is faster). Writes benchmarks/results/ssm.md.

Cases (issue 6):
- Mamba block forward+backward (B=4 sequences through jax.vmap, d_model=64, N=16), tokens per
  second: the block's parallel `__call__` on dynlearn.kernels.selective_scan, the same block on the
  reference scan (materialized (L, D, N) tensors + lax.scan), a naive lax.scan of the block's
  token-by-token `step` (target: dynlearn at least 3x faster), and mambapy's MambaBlock (PyTorch,
  parallel scan) on the same CPU.
- S4D at L=16384 (d_model=64, N=64), forward: convolution mode (Vandermonde kernel + FFT) against
  the recurrence (parallel linear scan) and a lax.scan of `step`.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
from _timing import fmt_ms, side_by_side

import dynlearn.ssm as ssm
from dynlearn.ssm import _scan

RESULTS = Path(__file__).parent / "results" / "ssm.md"


def block_ready(x):
    return jax.tree_util.tree_map(lambda a: a.block_until_ready(), x)


def compile_jax(fn, *args):
    start = time.perf_counter()
    compiled = eqx.filter_jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start






# --- Mamba block ----------------------------------------------------------------------------


def mamba_loss_call(block, xs, cot):
    return jnp.sum(jax.vmap(block)(xs) * cot)


def mamba_loss_steps(block, xs, cot):
    def one(x):
        return jax.lax.scan(lambda s, t: block.step(s, t), block.init_state(), x)[1]

    return jnp.sum(jax.vmap(one)(xs) * cot)


def fwd_bwd(loss):
    # A fresh function object per variant, so no trace is shared between variants (the kernel
    # switch is read while tracing).
    return eqx.filter_grad(lambda block, xs, cot: loss(block, xs, cot))


def mambapy_runner(batch, length, d_model, state):
    try:
        import torch
        from mambapy.mamba import MambaBlock, MambaConfig
    except Exception as error:  # peers are optional
        print(f"  peer not installed (mambapy/torch): {error}")
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    config = MambaConfig(d_model=d_model, n_layers=1, d_state=state, pscan=True)
    layer = MambaBlock(config)
    x = torch.randn(batch, length, d_model)
    cot = torch.ones(batch, length, d_model)

    def run():
        layer.zero_grad(set_to_none=True)
        (layer(x) * cot).sum().backward()

    return run


def bench_mamba(quick: bool, rows: list):
    batch, length, d_model, state = 4, (256 if quick else 1024), 64, 16
    tokens = batch * length
    print(
        f"\nMamba block forward+backward, B={batch} L={length} d_model={d_model} N={state} float32"
    )
    block = ssm.Mamba(d_model, state, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (batch, length, d_model))
    cot = jnp.ones_like(xs)
    fns, compile_s = {}, {}
    variants = {
        "dynlearn Mamba (kernels)": (mamba_loss_call, True),
        "dynlearn Mamba (reference scan)": (mamba_loss_call, False),
        "naive lax.scan of step()": (mamba_loss_steps, True),
    }
    for name, (loss, use_kernels) in variants.items():
        previous = _scan.USE_KERNELS
        _scan.USE_KERNELS = use_kernels  # read while tracing, so it sticks to this compilation
        try:
            compiled, seconds = compile_jax(fwd_bwd(loss), block, xs, cot)
        finally:
            _scan.USE_KERNELS = previous
        fns[name] = lambda c=compiled: block_ready(c(block, xs, cot))
        compile_s[name] = seconds
    peer = mambapy_runner(batch, length, d_model, state)
    if peer is not None:
        fns["mambapy MambaBlock (torch)"] = peer
    medians = side_by_side(fns, 3 if quick else 7)
    ours = medians["dynlearn Mamba (kernels)"]
    for name, seconds in medians.items():
        ratio = seconds / ours
        comp = f"{compile_s[name]:.2f} s" if name in compile_s else "n/a"
        rate = tokens / seconds
        print(
            f"  {name:32s} {fmt_ms(seconds):>10s}  {rate:10.0f} tok/s  x{ratio:6.2f}  "
            f"compile {comp}"
        )
        rows.append(("Mamba fwd+bwd", name, fmt_ms(seconds), f"{rate:.0f}", f"{ratio:.2f}", comp))


# --- S4D modes ------------------------------------------------------------------------------


def bench_s4d(quick: bool, rows: list):
    length, d_model, state = (4096 if quick else 16384), 64, 64
    print(f"\nS4D forward, L={length} d_model={d_model} N={state} float32")
    layer = ssm.S4D(d_model, state, key=jax.random.key(2))
    xs = jax.random.normal(jax.random.key(3), (length, d_model))
    variants = {
        "convolution (Vandermonde + FFT)": lambda m, x: m(x),
        "recurrence (parallel linear scan)": lambda m, x: m.recurrent(x),
        "lax.scan of step()": lambda m, x: jax.lax.scan(
            lambda s, t: m.step(s, t), m.init_state(), x
        )[1],
    }
    fns, compile_s = {}, {}
    for name, fn in variants.items():
        compiled, seconds = compile_jax(fn, layer, xs)
        fns[name] = lambda c=compiled: block_ready(c(layer, xs))
        compile_s[name] = seconds
    medians = side_by_side(fns, 3 if quick else 7)
    ours = medians["convolution (Vandermonde + FFT)"]
    for name, seconds in medians.items():
        ratio = seconds / ours
        rate = length / seconds
        print(
            f"  {name:34s} {fmt_ms(seconds):>10s}  {rate:10.0f} tok/s  x{ratio:6.2f}  "
            f"compile {compile_s[name]:.2f} s"
        )
        rows.append(
            (
                "S4D forward",
                name,
                fmt_ms(seconds),
                f"{rate:.0f}",
                f"{ratio:.2f}",
                f"{compile_s[name]:.2f} s",
            )
        )


def main():
    parser = argparse.ArgumentParser(description="dynlearn.ssm benchmarks")
    parser.add_argument("--quick", action="store_true", help="shorter sequences, fewer repeats")
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs")
    rows: list = []
    bench_mamba(args.quick, rows)
    bench_s4d(args.quick, rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# dynlearn.ssm benchmarks",
        "",
        f"{'quick' if args.quick else 'full'} run; ratio = competitor time / dynlearn time "
        "(> 1: dynlearn faster).",
        "",
        "| case | implementation | median | tokens/s | ratio | compile |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
