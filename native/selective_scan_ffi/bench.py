"""Build comparison (issue #23 item 2): the native selective-scan kernel built three ways.

    python native/selective_scan_ffi/bench.py [--builds native,v3,sse] [--repeats 9]

Compiles the packaged kernel (`src/dynlearn/kernels/_native/selective_scan.cc`, what
`pip install` builds with -march=x86-64-v3) with g++ into a temporary directory, once per build:
`native` (-O3 -march=native), `v3` (-O3 -march=x86-64-v3: AVX2 and FMA, what a distributed
x86-64 wheel could require) and `sse` (-O3, baseline x86-64, 4 lanes). Registers each build's
forward and backward handlers with `jax.ffi.register_ffi_target`, wraps them in a
`jax.custom_vjp`, checks values and gradients against a plain `lax.scan`, then times forward
only and forward+backward (gradients of sum(y * cotangent) for u, delta, A, B, C, D) at
B=4 L=2048 D=128 N=16 float32 beside dynlearn's `selective_scan` (pure XLA, under
`jit(vmap(...))`), the plain `lax.scan` and the exp floor, all round-robin in one run, and
prints medians with ratios. Nothing here is imported by dynlearn.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))

from _timing import side_by_side  # noqa: E402
from kernels import (  # noqa: E402
    exp_floor_fns,
    forward_backward,
    forward_only,
    selective_dynlearn,
    selective_inputs,
    selective_plain_scan,
)

FLAGS = {
    "native": ["-march=native"],
    "v3": ["-march=x86-64-v3"],
    "sse": ["-DSELSCAN_W=4"],
}


def build(name: str, out_dir: Path) -> Path:
    """Compile the kernels with the flags of build `name`; returns the shared library."""
    library = out_dir / f"libselective_scan_{name}.so"
    command = [
        "g++",
        "-O3",
        "-std=c++17",
        "-shared",
        "-fPIC",
        *FLAGS[name],
        f"-I{jax.ffi.include_dir()}",
        str(HERE.parents[1] / "src/dynlearn/kernels/_native/selective_scan.cc"),
        "-o",
        str(library),
    ]
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    return library


def native_scan(name: str, library: Path):
    """`scan(u, delta, A, B, C, h0) -> (y, last state)` on batched inputs, with its VJP."""
    lib = ctypes.cdll.LoadLibrary(str(library))
    forward_target, backward_target = f"dynlearn_proto_fwd_{name}", f"dynlearn_proto_bwd_{name}"
    jax.ffi.register_ffi_target(
        forward_target, jax.ffi.pycapsule(lib.SelScanForward), platform="cpu"
    )
    jax.ffi.register_ffi_target(
        backward_target, jax.ffi.pycapsule(lib.SelScanBackward), platform="cpu"
    )

    def struct(x):
        return jax.ShapeDtypeStruct(x.shape, x.dtype)

    def forward_call(u, delta, A, B, C, h0):
        return jax.ffi.ffi_call(forward_target, (struct(u), struct(h0)))(u, delta, A, B, C, h0)

    @jax.custom_vjp
    def scan(u, delta, A, B, C, h0):
        return forward_call(u, delta, A, B, C, h0)

    def scan_fwd(*inputs):
        return forward_call(*inputs), inputs

    def scan_bwd(inputs, cotangents):
        outs = tuple(struct(x) for x in inputs)
        return jax.ffi.ffi_call(backward_target, outs)(*inputs, *cotangents)

    scan.defvjp(scan_fwd, scan_bwd)
    return scan


def native_model(scan, h0):
    def forward(u, delta, A, B, C, D):
        y, _ = scan(u, delta, A, B, C, h0)
        return y + u * D

    def grads(u, delta, A, B, C, D, cot):
        loss = lambda *a: jnp.sum(forward(*a) * cot)  # noqa: E731
        return jax.grad(loss, argnums=tuple(range(6)))(u, delta, A, B, C, D)

    return forward, grads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", default="native,v3,sse")
    parser.add_argument("--repeats", type=int, default=9)
    options = parser.parse_args()
    batch, length, channels, state = 4, 2048, 128, 16
    inputs = selective_inputs(batch, length, channels, state)
    args = [jnp.asarray(inputs[k]) for k in ("u", "delta", "A", "B", "C", "D")]
    rng = np.random.default_rng(7)
    cot = jnp.asarray(rng.normal(size=args[0].shape).astype(np.float32))
    h0 = jnp.zeros((batch, channels, state), jnp.float32)

    forwards = {
        "dynlearn (XLA)": jax.jit(forward_only(selective_dynlearn)),
        "plain lax.scan": jax.jit(forward_only(selective_plain_scan)),
    }
    both = {
        "dynlearn (XLA)": jax.jit(forward_backward(selective_dynlearn)),
        "plain lax.scan": jax.jit(forward_backward(selective_plain_scan)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in options.builds.split(","):
            forward, grads = native_model(native_scan(name, build(name, Path(tmp))), h0)
            forwards[f"native {name}"] = jax.jit(forward)
            both[f"native {name}"] = jax.jit(grads)

        y_ref = forwards["plain lax.scan"](*args)
        g_ref = both["plain lax.scan"](*args, cot)
        print("max relative error against the plain lax.scan (float32):")
        for name in forwards:
            y = forwards[name](*args)
            g = both[name](*args, cot)
            errors = [
                float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b))) for a, b in zip(g, g_ref)
            ]
            err_y = float(jnp.max(jnp.abs(y - y_ref)) / jnp.max(jnp.abs(y_ref)))
            print(
                f"  {name:16s} y {err_y:.1e}  gradients (u, delta, A, B, C, D) "
                + " ".join(f"{e:.1e}" for e in errors)
            )

        calls = {
            f"fwd {k}": (lambda f=f: jax.block_until_ready(f(*args))) for k, f in forwards.items()
        }
        calls.update(
            {
                f"fwd+bwd {k}": (lambda f=f: jax.block_until_ready(f(*args, cot)))
                for k, f in both.items()
            }
        )
        calls["exp floor"] = exp_floor_fns(args[1], args[2])["exp floor"]
        load_before = os.getloadavg()[0]
        medians = side_by_side(calls, options.repeats, warm_each=True)
        load_after = os.getloadavg()[0]
    print(
        f"\nmedians of {options.repeats}, side by side; load {load_before:.1f} -> {load_after:.1f}"
    )
    print(f"{'':30s} {'median':>9s}  {'XLA / this':>10s}  {'plain / this':>12s}")
    for key, seconds in medians.items():
        kind = key.split(" ")[0]
        xla = medians.get(f"{kind} dynlearn (XLA)", seconds)
        plain = medians.get(f"{kind} plain lax.scan", seconds)
        print(f"{key:30s} {1e3 * seconds:7.1f} ms  x{xla / seconds:9.2f}  x{plain / seconds:11.2f}")


if __name__ == "__main__":
    main()
