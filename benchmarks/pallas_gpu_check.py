"""GPU check of the Pallas scan kernels: agreement with the XLA implementations, and timings.

    python benchmarks/pallas_gpu_check.py [--quick]

Meant for a machine with a GPU (one short run): on other backends the Pallas kernels run in
interpret mode, so the script only checks agreement there, on small sizes, and skips timing.
Prints, for linear_scan (T=65536, D=256) and selective_scan forward+backward (B=4, L=2048,
D=128, N=16), float32: the largest relative difference between the Pallas and XLA results,
compile times, and median run times side by side with their ratio (> 1: Pallas is faster).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _timing import fmt_ms, side_by_side

from dynlearn.kernels import linear_scan, selective_scan


def rel_diff(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return float(np.max(np.abs(x - y)) / max(np.max(np.abs(y)), 1e-30))


def compiled(fn, *args):
    start = time.perf_counter()
    out = jax.jit(fn).lower(*args).compile()
    return out, time.perf_counter() - start


def compare(title, fns, args, repeats, timed):
    print(title)
    runs, outs = {}, {}
    for name, fn in fns.items():
        exe, seconds = compiled(fn, *args)
        outs[name] = jax.block_until_ready(exe(*args))
        runs[name] = lambda exe=exe: jax.block_until_ready(exe(*args))
        print(f"  {name:8s} compile {seconds:.2f} s")
    leaves = [jax.tree_util.tree_leaves(o) for o in outs.values()]
    worst = max(rel_diff(a, b) for a, b in zip(*leaves))
    print(f"  max relative difference pallas vs xla: {worst:.2e}")
    if timed:
        medians = side_by_side(runs, repeats)
        ratio = medians["xla"] / medians["pallas"]
        print(
            f"  pallas {fmt_ms(medians['pallas'])}, xla {fmt_ms(medians['xla'])}, ratio {ratio:.2f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    options = parser.parse_args()
    gpu = jax.default_backend() == "gpu"
    print(f"backend: {jax.default_backend()} ({jax.devices()[0].device_kind})")
    if not gpu:
        print("no GPU: Pallas runs in interpret mode; checking agreement on small sizes only")
    repeats = 5 if options.quick else 15
    key = jax.random.split(jax.random.key(0), 8)

    length, width = (65536, 256) if gpu else (512, 256)
    a = jax.random.uniform(key[0], (length, width), minval=0.5, maxval=1.0)
    b = jax.random.normal(key[1], (length, width))
    fns = {m: (lambda a, b, m=m: linear_scan(a, b, method=m)) for m in ("pallas", "sequential")}
    fns["xla"] = fns.pop("sequential")
    compare(f"linear_scan T={length} D={width}", fns, (a, b), repeats, gpu)

    batch, length, channels, state = (4, 2048, 128, 16) if gpu else (2, 64, 32, 4)
    u = jax.random.normal(key[2], (batch, length, channels))
    delta = jax.nn.softplus(jax.random.normal(key[3], (batch, length, channels)))
    A = -jnp.exp(jax.random.normal(key[4], (channels, state)))
    B = jax.random.normal(key[5], (batch, length, state))
    C = jax.random.normal(key[6], (batch, length, state))

    def loss(implementation):
        def f(u, delta, A, B, C):
            scan = lambda u, d, B, C: selective_scan(u, d, A, B, C, implementation=implementation)
            return jnp.sum(jax.vmap(scan)(u, delta, B, C) ** 2)

        return jax.value_and_grad(f, argnums=(0, 1, 2, 3, 4))

    fns = {"pallas": loss("pallas"), "xla": loss("xla")}
    title = f"selective_scan fwd+bwd B={batch} L={length} D={channels} N={state}"
    compare(title, fns, (u, delta, A, B, C), repeats, gpu)


if __name__ == "__main__":
    main()
