"""Benchmarks of dynlearn.kernels against their anchors, measured side by side in one run.

    python benchmarks/kernels.py [--quick]

Each case is jit-compiled first (compile time reported separately), then all competitors of a
case run in turn, round-robin, so machine noise hits them alike (each timed call follows an
untimed call of the same function, so none pays for its predecessor's freed memory); medians
are reported, and ratios are anchor_time / dynlearn_time (> 1 means dynlearn is faster). Writes
a markdown table to benchmarks/results/kernels.md.

Cases (issues 3 and 23):
- selective_scan at B=4 L=2048 D=128 N=16 float32, under jit(vmap(...)), dynlearn's native CPU
  kernel (where available; what implementation="auto" runs) and its pure-XLA path:
  forward only (the inference path: no derivative taken) against a plain lax.scan, and
  forward+backward against a plain lax.scan, a lax.associative_scan implementation and
  mambapy's PyTorch parallel scan; peak memory from XLA's memory analysis of the compiled
  programs. Both sections time the "exp floor" beside them: the B*L*D*N exponentials
  exp(delta_t A) every implementation computes at least once (summed over N in one fusion, so
  that no (B, L, D, N) array is written), and jnp.exp of a materialized (B, L, D, N) array.
- selective_scan_sizes: the native kernel against the XLA path at small sizes (forward only and
  forward+backward; ratio = XLA time / native time), where implementation="auto" also picks it.
- linear_scan at T=65536, D=256 float32, forward only and forward+backward against a plain
  lax.scan; bytes moved per second (read a and b, write h) as a fraction of the bandwidth of the
  fastest elementwise kernel moving the same bytes (XLA and numpy h = a + b, timed in the same
  round-robin), and the ratio to XLA's elementwise floor (h = a + b) alone.
- odeint_fixed Tsit5 against diffrax Tsit5 with ConstantStepSize on a neural ODE (MLP 4-32-32-4,
  batch 64, 1000 steps), forward+gradient: run time and compile time.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from _timing import fmt_ms
from _timing import side_by_side as _side_by_side

from dynlearn.kernels import linear_scan, native_available, odeint_fixed, selective_scan
from dynlearn.kernels._butcher import TSIT5

RESULTS = Path(__file__).parent / "results" / "kernels.md"


def block(x):
    return jax.tree_util.tree_map(lambda a: a.block_until_ready(), x)


def side_by_side(fns: dict, repeats: int) -> dict:
    """`_timing.side_by_side` with a warm call before each timed one (the plain lax.scan's
    236 MiB of freed temporaries made the next call page-fault, about 30% slower)."""
    return _side_by_side(fns, repeats, warm_each=True)


def compile_jax(fn, *args):
    """(compiled function, compile seconds, peak bytes from XLA's memory analysis or None)."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    seconds = time.perf_counter() - start
    peak = None
    try:
        stats = compiled.memory_analysis()
        peak = stats.temp_size_in_bytes + stats.output_size_in_bytes + stats.argument_size_in_bytes
    except Exception:  # memory analysis is not available on every backend
        pass
    return compiled, seconds, peak


# --- selective scan ------------------------------------------------------------------------


def selective_inputs(batch, length, channels, state, seed=0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return dict(
        u=rng.normal(size=(batch, length, channels)).astype(f32),
        delta=rng.uniform(0.001, 0.1, size=(batch, length, channels)).astype(f32),
        A=-np.exp(rng.normal(size=(channels, state))).astype(f32),
        B=rng.normal(size=(batch, length, state)).astype(f32),
        C=rng.normal(size=(batch, length, state)).astype(f32),
        D=rng.normal(size=(channels,)).astype(f32),
    )


def selective_plain_scan(u, delta, A, B, C, D):
    """What a user writes: lax.scan over time, discretizing inside each step (one sequence)."""

    def step(h, x):
        u_t, d_t, b_t, c_t = x
        h = jnp.exp(d_t[:, None] * A) * h + (d_t * u_t)[:, None] * b_t[None, :]
        return h, jnp.sum(h * c_t[None, :], axis=1)

    h0 = jnp.zeros(A.shape, u.dtype)
    _, y = jax.lax.scan(step, h0, (u, delta, B, C))
    return y + u * D[None, :]


def selective_associative(u, delta, A, B, C, D):
    """The parallel-scan formulation: materializes (L, D, N) and autodiffs through the tree."""
    dA = jnp.exp(delta[:, :, None] * A[None])
    dBu = (delta * u)[:, :, None] * B[:, None, :]

    def combine(x, y):
        return y[0] * x[0], y[0] * x[1] + y[1]

    _, hs = jax.lax.associative_scan(combine, (dA, dBu))
    return jnp.einsum("ldn,ln->ld", hs, C) + u * D[None, :]


def selective_dynlearn(u, delta, A, B, C, D):
    """dynlearn's pure-XLA path (the fallback of `implementation="auto"`)."""
    return selective_scan(u, delta, A, B, C, D, implementation="xla")


def selective_native(u, delta, A, B, C, D):
    """dynlearn's native CPU kernel (XLA FFI), what "auto" runs where it is available."""
    return selective_scan(u, delta, A, B, C, D, implementation="native")


def selective_impls() -> dict:
    """dynlearn's selective-scan implementations to time: native (if available) and XLA."""
    impls = {}
    if native_available():
        impls["dynlearn selective_scan (native)"] = selective_native
    else:
        print("  native kernel unavailable (see the logged notice): its rows are left out")
    impls["dynlearn selective_scan (xla)"] = selective_dynlearn
    return impls


def print_summary(medians: dict, dynlearn: list, plain: str, floor: str, targets: str):
    """Ratios of each dynlearn implementation to the plain loop, the XLA path, the exp floor."""
    xla = "dynlearn selective_scan (xla)"
    for name in dynlearn:
        seconds = medians[name]
        target = targets if "native" in name else ""
        print(
            f"  {name}: vs plain lax.scan x{medians[plain] / seconds:.2f}{target}"
            f"; vs the XLA path x{medians[xla] / seconds:.2f}; exp floor / time "
            f"{medians[floor] / seconds:.2f}"
        )


def forward_backward(single):
    def loss(u, delta, A, B, C, D, cot):
        y = jax.vmap(single, (0, 0, None, 0, 0, None))(u, delta, A, B, C, D)
        return jnp.sum(y * cot)

    return jax.grad(loss, argnums=(0, 1, 2, 3, 4, 5))


def torch_selective(inputs):
    """mambapy's selective scan (pscan), forward+backward, or None if not installed."""
    try:
        import torch
        from mambapy.pscan import pscan
    except Exception as error:  # peers are optional
        print(f"  peer not installed (mambapy/torch): {error}")
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    cot = torch.ones_like(tensors["u"])

    def run():
        for t in tensors.values():
            t.grad = None
        x, delta, A, B, C, D = (tensors[k] for k in ("u", "delta", "A", "B", "C", "D"))
        deltaA = torch.exp(delta.unsqueeze(-1) * A)
        BX = delta.unsqueeze(-1) * B.unsqueeze(2) * x.unsqueeze(-1)
        hs = pscan(deltaA, BX)
        y = (hs @ C.unsqueeze(-1)).squeeze(3) + D * x
        (y * cot).sum().backward()
        return tensors["A"].grad

    return run


def exp_floor_fns(delta, A):
    """The exp floor: jnp.exp over B*L*D*N float32 elements, two ways.

    "exp floor": the exponentials exp(delta_t A) of the scan, generated from delta (B, L, D)
    and A (D, N) and summed over N in the same fusion, so only B*L*D values are written: the
    arithmetic cost of the exponentials every implementation computes at least once.
    "exp, materialized": jnp.exp of a (B, L, D, N) array into a fresh (B, L, D, N) output, which
    adds 2 * 4 * B*L*D*N bytes of memory traffic and page faults of the new buffer.
    """
    shape = (*delta.shape, A.shape[-1])
    x = jnp.asarray(np.random.default_rng(2).uniform(-1.0, 0.0, shape).astype(np.float32))
    fused = jax.jit(lambda d, A: jnp.sum(jnp.exp(d[..., None] * A), axis=-1))
    fused = fused.lower(delta, A).compile()
    materialized = jax.jit(jnp.exp).lower(x).compile()
    return {
        "exp floor": lambda: block(fused(delta, A)),
        "exp, materialized": lambda: block(materialized(x)),
    }


def forward_only(single):
    return jax.vmap(single, (0, 0, None, 0, 0, None))


def bench_selective(quick: bool, rows: list):
    batch, length, channels, state = 4, 2048, 128, 16
    size = f"B={batch} L={length} D={channels} N={state} float32"
    inputs = selective_inputs(batch, length, channels, state)
    args = [jnp.asarray(inputs[k]) for k in ("u", "delta", "A", "B", "C", "D")]
    exp_floors = exp_floor_fns(args[1], args[2])
    plain_name, floor_name = "plain lax.scan", "exp floor"
    repeats = 3 if quick else 9
    ours_impls = selective_impls()
    # Ratios in the table are to what `implementation="auto"` runs (native where available).
    ours_name = next(iter(ours_impls))

    # Forward only: the inference path (nothing differentiated), against the plain loop.
    print(f"\nselective_scan forward only (inference), {size}")
    fns, compile_s = {}, {}
    for name, single in (*ours_impls.items(), (plain_name, selective_plain_scan)):
        compiled, seconds, _ = compile_jax(forward_only(single), *args)
        fns[name] = lambda c=compiled: block(c(*args))
        compile_s[name] = seconds
    fns.update(exp_floors)
    medians = side_by_side(fns, repeats)
    ours, floor = medians[ours_name], medians[floor_name]
    for name, seconds in medians.items():
        ratio = seconds / ours
        comp = f"{compile_s[name]:.2f} s" if name in compile_s else "n/a"
        print(
            f"  {name:33s} {fmt_ms(seconds):>10s}  x{ratio:5.2f}  "
            f"exp floor / time {floor / seconds:4.2f}  compile {comp:>7s}"
        )
        rows.append(("selective_scan forward", name, fmt_ms(seconds), f"{ratio:.2f}", comp, ""))
    print_summary(medians, list(ours_impls), plain_name, floor_name, " (target >= 2)")

    print(f"\nselective_scan forward+backward, {size}")
    args = [*args, jnp.ones_like(args[0])]
    impls = {
        **ours_impls,
        plain_name: selective_plain_scan,
        "lax.associative_scan": selective_associative,
    }
    fns, compile_s, peaks = {}, {}, {}
    for name, single in impls.items():
        compiled, seconds, peak = compile_jax(forward_backward(single), *args)
        fns[name] = lambda c=compiled: block(c(*args))
        compile_s[name], peaks[name] = seconds, peak
    fns.update(exp_floors)
    peer = torch_selective(inputs)
    if peer is not None:
        fns["mambapy pscan (torch)"] = peer
    # The heavy anchors (the associative scan's ~1 GB of temporaries, torch's worker threads)
    # are slow; each is timed in its own round-robin against dynlearn; its ratio is to
    # dynlearn's median in that round, its time rescaled to the main round.
    heavy = {
        name: fns.pop(name)
        for name in ("lax.associative_scan", "mambapy pscan (torch)")
        if name in fns
    }
    medians = side_by_side(fns, repeats)
    for name, fn in heavy.items():
        pair = side_by_side({"ours": fns[ours_name], name: fn}, repeats)
        medians[name] = pair[name] * medians[ours_name] / pair["ours"]
    ours, floor = medians[ours_name], medians[floor_name]
    for name, seconds in medians.items():
        ratio = seconds / ours
        mem = peaks.get(name)
        mem_s = f"{mem / 2**20:.0f} MiB" if mem else "n/a"
        comp = f"{compile_s[name]:.2f} s" if name in compile_s else "n/a"
        print(
            f"  {name:33s} {fmt_ms(seconds):>10s}  x{ratio:5.2f}  "
            f"exp floor / time {floor / seconds:4.2f}  compile {comp:>7s}  peak {mem_s}"
        )
        rows.append(("selective_scan fwd+bwd", name, fmt_ms(seconds), f"{ratio:.2f}", comp, mem_s))
    print_summary(medians, list(ours_impls), plain_name, floor_name, " (target >= 4)")
    for name in ours_impls:
        if peaks.get("lax.associative_scan") and peaks.get(name):
            frac = peaks[name] / peaks["lax.associative_scan"]
            print(f"  peak memory {name} / associative_scan = {frac:.3f} (target <= 0.25)")
    if "dynlearn selective_scan (native)" in ours_impls:
        # The native backward kernel's own buffers (chunk-entry states every 16 steps, one
        # chunk's states and exp(delta A)) are outside XLA's memory analysis.
        extra = 4 * channels * state * (length // 16 + 1 + 2 * 17)
        print(f"  (native: plus {extra / 2**20:.1f} MiB of buffers inside the kernel)")


SMALL_SIZES = [(1, 1, 16, 4), (1, 16, 8, 4), (1, 64, 5, 4), (8, 128, 8, 16), (4, 256, 32, 16)]


def bench_selective_sizes(quick: bool, rows: list):
    """Native kernel against the XLA path at small (B, L, D, N): where "auto" picks it."""
    if not native_available():
        print("\nselective_scan sizes: native kernel unavailable, skipped")
        return
    print("\nselective_scan native vs XLA path at small sizes (B, L, D, N), float32")
    for batch, length, channels, state in SMALL_SIZES:
        inputs = selective_inputs(batch, length, channels, state)
        args = [jnp.asarray(inputs[k]) for k in ("u", "delta", "A", "B", "C", "D")]
        cot_args = [*args, jnp.ones_like(args[0])]
        fns = {}
        for impl, single in (("native", selective_native), ("xla", selective_dynlearn)):
            fwd, _, _ = compile_jax(forward_only(single), *args)
            both, _, _ = compile_jax(forward_backward(single), *cot_args)
            fns[f"fwd {impl}"] = lambda c=fwd, a=args: block(c(*a))
            fns[f"fwd+bwd {impl}"] = lambda c=both, a=cot_args: block(c(*a))
        medians = side_by_side(fns, 5 if quick else 15)
        size = f"B={batch} L={length} D={channels} N={state}"
        for kind in ("fwd", "fwd+bwd"):
            native, xla = medians[f"{kind} native"], medians[f"{kind} xla"]
            print(
                f"  {size:24s} {kind:8s} native {1e6 * native:9.1f} us  xla {1e6 * xla:9.1f} us"
                f"  xla / native x{xla / native:5.2f}"
            )
            rows.append(
                (
                    f"selective_scan {kind} {size}",
                    "native",
                    f"{1e6 * native:.1f} us",
                    f"{xla / native:.2f}",
                    "",
                    "",
                )
            )


# --- linear scan ---------------------------------------------------------------------------


LINEAR_SIZE = (65536, 256)  # (T, D) of the linear-scan cases


def linear_problem():
    """The linear-scan cases' inputs: decays a in [0.5, 1), inputs b ~ N(0, 1), float32; and
    the generator, for any further draws."""
    rng = np.random.default_rng(1)
    a = jnp.asarray(rng.uniform(0.5, 1.0, LINEAR_SIZE).astype(np.float32))
    b = jnp.asarray(rng.normal(size=LINEAR_SIZE).astype(np.float32))
    return rng, a, b


def bench_linear(quick: bool, rows: list):
    length, width = LINEAR_SIZE
    print(f"\nlinear_scan T={length} D={width} float32 (bytes: read a, b; write h)")
    rng, a, b = linear_problem()
    nbytes = 3 * a.size * a.dtype.itemsize
    # The physical limit: elementwise kernels moving exactly the scan's bytes (read a and b,
    # write one freshly allocated array like h), timed in the same round-robin as the scans.
    # The fastest of them is the reference: the machine moves these bytes at least that fast.
    probes = ("copy probe: XLA h = a + b", "copy probe: numpy add")
    a_np, b_np = np.asarray(a), np.asarray(b)

    def plain(a, b):
        def step(h, ab):
            h = ab[0] * h + ab[1]
            return h, h

        return jax.lax.scan(step, jnp.zeros(a.shape[1:], a.dtype), (a, b))[1]

    impls = {
        f"dynlearn {method}": functools.partial(linear_scan, method=method)
        for method in ("auto", "chunked", "sequential", "associative")
    }
    impls["plain lax.scan"] = plain
    impls[probes[0]] = lambda a, b: a + b
    fns, compile_s = {}, {}
    for name, fn in impls.items():
        compiled, seconds, _ = compile_jax(fn, a, b)
        fns[name] = lambda c=compiled: block(c(a, b))
        compile_s[name] = seconds
    fns[probes[1]] = lambda: np.add(a_np, b_np)
    compile_s[probes[1]] = 0.0
    # The associative scan allocates about 1 GB of temporaries; freeing them makes the next
    # kernel's fresh output page-fault. It runs in its own round-robin against "auto" (its
    # ratio is to that run's "auto") so it cannot slow the others down.
    repeats = 5 if quick else 11
    associative = fns.pop("dynlearn associative")
    medians = side_by_side(fns, repeats)
    pair = side_by_side({"auto": fns["dynlearn auto"], "associative": associative}, repeats)
    medians["dynlearn associative"] = pair["associative"] * medians["dynlearn auto"] / pair["auto"]
    bandwidth = nbytes / min(medians[p] for p in probes)
    print(
        f"  copy bandwidth (fastest probe): {bandwidth / 1e9:.1f} GB/s "
        f"(read a, b; write h: {nbytes / 1e6:.0f} MB)"
    )
    xla_floor, auto = medians[probes[0]], medians["dynlearn auto"]
    print(
        f"  forward: XLA elementwise floor (h = a + b) / dynlearn auto = {xla_floor / auto:.2f} "
        f"(target >= 0.90); plain lax.scan / dynlearn auto = "
        f"x{medians['plain lax.scan'] / auto:.2f}"
    )
    ours = medians["dynlearn auto"]
    for name, seconds in medians.items():
        frac = nbytes / seconds / bandwidth
        ratio = seconds / ours
        print(
            f"  {name:26s} {fmt_ms(seconds):>10s}  x{ratio:5.2f}  {100 * frac:5.1f}% of copy "
            f"bandwidth  compile {compile_s[name]:.2f} s"
        )
        rows.append(
            (
                "linear_scan",
                name,
                fmt_ms(seconds),
                f"{ratio:.2f}",
                f"{compile_s[name]:.2f} s",
                f"{100 * frac:.1f}% of copy bw",
            )
        )


def bench_linear_backward(quick: bool, rows: list):
    length, width = LINEAR_SIZE
    print(f"\nlinear_scan forward+backward T={length} D={width} float32")
    rng, a, b = linear_problem()
    cot = jnp.asarray(rng.normal(size=(length, width)).astype(np.float32))

    def plain(a, b):
        def step(h, ab):
            h = ab[0] * h + ab[1]
            return h, h

        return jax.lax.scan(step, jnp.zeros(a.shape[1:], a.dtype), (a, b))[1]

    def grads(fn):
        return jax.grad(lambda a, b: jnp.sum(fn(a, b) * cot), argnums=(0, 1))

    impls = {"dynlearn auto": linear_scan, "plain lax.scan": plain}
    fns, compile_s = {}, {}
    for name, fn in impls.items():
        compiled, seconds, _ = compile_jax(grads(fn), a, b)
        fns[name] = lambda c=compiled: block(c(a, b))
        compile_s[name] = seconds
    floor = jax.jit(lambda a, b: a + b).lower(a, b).compile()
    fns["XLA floor h = a + b"] = lambda: block(floor(a, b))
    medians = side_by_side(fns, 5 if quick else 11)
    ours = medians["dynlearn auto"]
    for name, seconds in medians.items():
        comp = f"{compile_s[name]:.2f} s" if name in compile_s else "n/a"
        print(f"  {name:26s} {fmt_ms(seconds):>10s}  x{seconds / ours:5.2f}  compile {comp}")
        rows.append(
            ("linear_scan fwd+bwd", name, fmt_ms(seconds), f"{seconds / ours:.2f}", comp, "")
        )
    print(f"  fwd+bwd vs plain lax.scan: x{medians['plain lax.scan'] / ours:.2f}")


# --- fixed-step neural ODE -----------------------------------------------------------------


def bench_odeint(quick: bool, rows: list):
    steps, batch = 1000, 64
    print(f"\nneural ODE (MLP 4-32-32-4, batch {batch}), Tsit5, {steps} fixed steps, forward+grad")
    model = eqx.nn.MLP(4, 4, 32, 2, activation=jnp.tanh, key=jax.random.key(0))
    params, static = eqx.partition(model, eqx.is_array)
    y0 = jax.random.normal(jax.random.key(1), (batch, 4))
    t1 = 1.0

    def field(t, y, params):
        return jax.vmap(eqx.combine(params, static))(y)

    def dynlearn_loss(params, y0):
        ys = odeint_fixed(
            field, jnp.array([0.0, t1]), y0, params, method="tsit5", steps_per_interval=steps
        )
        return jnp.mean(ys[-1] ** 2)

    fns, compile_s = {}, {}
    impls = {"dynlearn odeint_fixed": dynlearn_loss}
    try:
        import diffrax

        def diffrax_loss(params, y0):
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(field),
                diffrax.Tsit5(),
                0.0,
                t1,
                t1 / steps,
                y0,
                args=params,
                stepsize_controller=diffrax.ConstantStepSize(),
                max_steps=steps,
                saveat=diffrax.SaveAt(t1=True),
            )
            return jnp.mean(sol.ys[-1] ** 2)

        impls["diffrax Tsit5 ConstantStepSize"] = diffrax_loss
    except Exception as error:
        print(f"  peer not installed (diffrax): {error}")

    def scan_rk4_loss(params, y0):
        dt = t1 / steps

        def step(y, i):
            t = i * dt
            k1 = field(t, y, params)
            k2 = field(t + dt / 2, y + dt / 2 * k1, params)
            k3 = field(t + dt / 2, y + dt / 2 * k2, params)
            k4 = field(t + dt, y + dt * k3, params)
            return y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

        y, _ = jax.lax.scan(step, y0, jnp.arange(steps, dtype=jnp.float32))
        return jnp.mean(y**2)

    impls["plain lax.scan RK4"] = scan_rk4_loss

    def scan_tsit5_loss(params, y0):
        # The same Tsit5 steps, autodiff through one lax.scan: no checkpointing (memory linear
        # in the steps), a reference for what compiling a Tsit5 forward+gradient costs at all.
        dt = t1 / steps
        a, b, c = TSIT5.a, TSIT5.b, TSIT5.c

        def step(y, i):
            t = i * dt
            ks = [field(t, y, params)]
            for row, c_i in zip(a[:-1], c[1:-1]):
                ks.append(field(t + c_i * dt, y + dt * sum(w * k for w, k in zip(row, ks)), params))
            return y + dt * sum(w * k for w, k in zip(b, ks)), None

        y, _ = jax.lax.scan(step, y0, jnp.arange(steps, dtype=jnp.float32))
        return jnp.mean(y**2)

    impls["plain lax.scan Tsit5 (no ckpt)"] = scan_tsit5_loss
    # Compile times are noisy on a shared machine (+-10% from one compile to the next): each is
    # the best of five cold compiles (lowering + XLA compilation of the jitted
    # forward+gradient), all implementations taken in turn in each round.
    for _ in range(2 if quick else 5):
        for name, loss in impls.items():
            jax.clear_caches()
            compiled, seconds, _ = compile_jax(jax.value_and_grad(loss), params, y0)
            fns[name] = lambda c=compiled: block(c(params, y0))
            compile_s[name] = min(seconds, compile_s.get(name, np.inf))
    medians = side_by_side(fns, 3 if quick else 7)
    ours, ours_c = medians["dynlearn odeint_fixed"], compile_s["dynlearn odeint_fixed"]
    for name, seconds in medians.items():
        ratio, c_ratio = seconds / ours, compile_s[name] / ours_c
        print(
            f"  {name:30s} {fmt_ms(seconds):>10s}  x{ratio:5.2f}  "
            f"compile {compile_s[name]:.2f} s (x{c_ratio:.2f})"
        )
        rows.append(
            (
                "odeint_fixed tsit5 fwd+grad",
                name,
                fmt_ms(seconds),
                f"{ratio:.2f}",
                f"{compile_s[name]:.2f} s (x{c_ratio:.2f})",
                "",
            )
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument(
        "--only",
        choices=["selective", "selective_sizes", "linear", "linear_backward", "odeint"],
        default=None,
    )
    options = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.default_backend()}, {os.cpu_count()} CPUs")
    print("ratio = anchor time / dynlearn time (> 1: dynlearn faster); medians, side by side")
    rows: list = []
    cases = {
        "selective": bench_selective,
        "selective_sizes": bench_selective_sizes,
        "linear": bench_linear,
        "linear_backward": bench_linear_backward,
        "odeint": bench_odeint,
    }
    for key, case in cases.items():
        if options.only in (None, key):
            case(options.quick, rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# dynlearn.kernels benchmarks",
        "",
        f"jax {jax.__version__}, backend {jax.default_backend()}, {os.cpu_count()} CPUs. "
        "Ratio = anchor time / dynlearn time (> 1: dynlearn faster).",
        "",
        "| case | implementation | median | ratio | compile | memory / bandwidth |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
