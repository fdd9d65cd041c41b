"""Benchmarks of dynlearn.ssm against anchors measured side by side in one run.

    python benchmarks/ssm.py [--quick] [--only mamba|s4d|decode]

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

Recurrent decoding (issue 23), B=4 through jax.vmap, d_model=64, N=16, float32, no derivative:
- prefill of a 2048-token context through a Mamba block, keeping the last state: the block's
  parallel forward (kernels.selective_scan's residual-free inference path, return_last_state)
  against a plain-JAX lax.scan written here from the equations, a lax.scan of `Mamba.step`,
  mambapy's MambaBlock.step loop (its way to build the cache) and its parallel forward (no state);
- decode of 512 tokens after it, each output fed back as the next input: `Mamba.step` under
  lax.scan against the plain-JAX step and mambapy's MambaBlock.step (same weights copied in);
- the same for a 2-layer SequenceModel("mamba") over tokens (vocab 256): prefill through each
  block's parallel forward, then 512 greedy tokens through `SequenceModel.step`.
Every dynlearn result is checked against the plain-JAX loop (float32 tolerance) before timing.
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


# --- Recurrent decoding ---------------------------------------------------------------------
#
# Inference of a Mamba block and of a Mamba `SequenceModel`: prefill a context with the fast
# parallel forward (the kernels' residual-free path, since no derivative is taken) and keep the
# last state, then generate tokens one at a time through `step` under `lax.scan`. The anchors are
# a plain-JAX loop written here from the equations (discretize, h = exp(dt A) h + dt B u,
# y = C h + D u, the block's projections) and mambapy's MambaBlock `step` with the same weights.


def mamba_prefill(block, xs):
    """The block's parallel forward over a context, returning `(ys, MambaState after xs)`."""
    u, delta, B, C, z = block._ssm_inputs(xs)
    y, h = _scan.selective_scan(
        u,
        delta,
        block.A,
        B,
        C,
        block.D,
        z,
        delta_bias=block.dt_bias,
        delta_softplus=True,
        return_last_state=True,
    )
    # the convolution window holds the last d_conv pre-convolution inputs (context >= d_conv)
    conv = xs[-block.d_conv :] @ block.in_proj[: block.d_inner].T
    return y @ block.out_proj.T, ssm.MambaState(conv, h)


def plain_params(block):
    """The block's weights as a plain dict, for the plain-JAX loop."""
    names = ("in_proj", "conv_weight", "conv_bias", "x_proj", "dt_proj", "dt_bias", "A_log", "D")
    return {n: getattr(block, n) for n in names + ("out_proj",)}


def plain_step(p, state, x):
    """One Mamba token written from the equations; `state = (conv window, h)`."""
    window, h = state
    d_inner, N = p["A_log"].shape
    rank = p["dt_proj"].shape[1]
    xz = p["in_proj"] @ x
    xi, z = xz[:d_inner], xz[d_inner:]
    window = jnp.concatenate([window[1:], xi[None]], axis=0)
    u = jax.nn.silu(jnp.einsum("kd,dk->d", window, p["conv_weight"]) + p["conv_bias"])
    proj = p["x_proj"] @ u
    dt = jax.nn.softplus(p["dt_proj"] @ proj[:rank] + p["dt_bias"])
    Bt, Ct = proj[rank : rank + N], proj[rank + N :]
    A = -jnp.exp(p["A_log"])
    h = jnp.exp(dt[:, None] * A) * h + (dt * u)[:, None] * Bt[None, :]
    y = (h @ Ct + p["D"] * u) * jax.nn.silu(z)
    return (window, h), p["out_proj"] @ y


def plain_zero_state(p, d_conv):
    d_inner, N = p["A_log"].shape
    return (jnp.zeros((d_conv, d_inner)), jnp.zeros((d_inner, N)))


def block_decode(step, state, x0, steps):
    """Generate `steps` tokens, each step's output being the next step's input."""

    def body(carry, _):
        s, x = carry
        s, y = step(s, x)
        return (s, y), y

    (state, _), ys = jax.lax.scan(body, (state, x0), None, length=steps)
    return state, ys


def mambapy_block_decode(block, batch, context, steps, xs, x0, check_ys):
    """mambapy's MambaBlock with `block`'s weights: (prefill-by-step, decode, parallel forward)."""
    try:
        import numpy as np
        import torch
        from mambapy.mamba import MambaBlock, MambaConfig
    except Exception as error:  # peers are optional
        print(f"  peer not installed (mambapy/torch): {error}")
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    config = MambaConfig(
        d_model=block.d_model,
        n_layers=1,
        d_state=block.state_size,
        d_conv=block.d_conv,
        dt_rank=block.dt_rank,
        pscan=True,
    )
    layer = MambaBlock(config).eval()

    def t(a):
        return torch.from_numpy(np.array(a))

    with torch.no_grad():
        layer.in_proj.weight.copy_(t(block.in_proj))
        layer.conv1d.weight.copy_(t(block.conv_weight)[:, None, :])
        layer.conv1d.bias.copy_(t(block.conv_bias))
        layer.x_proj.weight.copy_(t(block.x_proj))
        layer.dt_proj.weight.copy_(t(block.dt_proj))
        layer.dt_proj.bias.copy_(t(block.dt_bias))
        layer.A_log.copy_(t(block.A_log))
        layer.D.copy_(t(block.D))
        layer.out_proj.weight.copy_(t(block.out_proj))
    x_ctx, x_first = t(xs), t(x0)
    empty = (None, torch.zeros(batch, block.d_inner, block.d_conv - 1))

    @torch.no_grad()
    def prefill():
        cache = empty
        for i in range(context):
            _, cache = layer.step(x_ctx[:, i], cache)
        return cache

    @torch.no_grad()
    def decode(cache):
        x, out = x_first, []
        for _ in range(steps):
            x, cache = layer.step(x, cache)
            out.append(x)
        return torch.stack(out, 1)

    @torch.no_grad()
    def forward():
        return layer(x_ctx)

    cache = prefill()
    ys = decode(cache).numpy()
    err = float(np.max(np.abs(ys - np.array(check_ys))))
    print(f"  mambapy decode (same weights) vs dynlearn: max abs diff {err:.1e}")
    return {"prefill": prefill, "decode": lambda: decode(cache), "forward": forward}


def model_prefill(model, tokens):
    """A Mamba `SequenceModel` over a context through each block's fast forward."""
    if model.mlps or any(c is not None for c in model.channel_mixes):
        raise ValueError("model_prefill: written for a stack without MLPs and channel mixes")
    h = model.embed(tokens)
    states = []
    for block, norm in zip(model.mixers, model.norms):
        mixed, s = mamba_prefill(block, _rms_norm(h, norm))
        states.append(s)
        h = h + mixed
    return tuple(states), _rms_norm(h[-1:], model.final_norm)[0] @ model.head.T


def _rms_norm(x, weight, eps=1e-5):
    return x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def plain_model_params(model):
    return {
        "embedding": model.embedding,
        "norms": model.norms,
        "blocks": tuple(plain_params(b) for b in model.mixers),
        "final_norm": model.final_norm,
        "head": model.head,
    }


def plain_model_step(p, state, token):
    """One token through the plain-JAX stack: embed, (rmsnorm, block, residual) per layer, head."""
    h = p["embedding"][token]
    new = []
    for bp, norm, s in zip(p["blocks"], p["norms"], state):
        s, mixed = plain_step(bp, s, _rms_norm(h, norm))
        new.append(s)
        h = h + mixed
    return tuple(new), p["head"] @ _rms_norm(h, p["final_norm"])


def greedy_decode(step, state, logits, steps):
    """Generate `steps` tokens greedily (argmax), each fed back as the next input."""

    def body(carry, _):
        s, lg = carry
        token = jnp.argmax(lg)
        s, lg = step(s, token)
        return (s, lg), (token, lg)

    (state, _), (tokens, logits) = jax.lax.scan(body, (state, logits), None, length=steps)
    return tokens, logits


def _report(title, medians, compile_s, ours, tokens, rows, width=40):
    for name, seconds in medians.items():
        ratio = seconds / medians[ours]
        comp = f"{compile_s[name]:.2f} s" if name in compile_s else "n/a"
        rate = tokens / seconds
        print(
            f"  {name:{width}s} {fmt_ms(seconds):>10s}  {rate:10.0f} tok/s  x{ratio:6.2f}  "
            f"compile {comp}"
        )
        rows.append((title, name, fmt_ms(seconds), f"{rate:.0f}", f"{ratio:.2f}", comp))


def _check(name, got, want, tol=1e-4):
    err = max(
        float(jnp.max(jnp.abs(a - b)) / (1.0 + jnp.max(jnp.abs(b))))
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want))
    )
    status = "ok" if err <= tol else "MISMATCH"
    print(f"  check {name}: max error / (1 + max |ref|) = {err:.1e} ({status}, tol {tol:.0e})")
    if err > tol:
        raise AssertionError(f"{name}: outputs differ by {err:.1e} (tolerance {tol:.0e})")


def bench_decode(quick: bool, rows: list):
    batch, d_model, state_size = 4, 64, 16
    context, steps = (256, 64) if quick else (2048, 512)
    repeats = 3 if quick else 7
    block = ssm.Mamba(d_model, state_size, key=jax.random.key(4))
    p = plain_params(block)
    xs = jax.random.normal(jax.random.key(5), (batch, context, d_model))
    x0 = jax.random.normal(jax.random.key(6), (batch, d_model))

    # prefill: the context through the fast forward (keeping the last state) against loops
    def fast(block, xs):
        return jax.vmap(lambda x: mamba_prefill(block, x))(xs)

    def plain_loop(p, xs):
        one = lambda x: jax.lax.scan(  # noqa: E731
            lambda s, t: plain_step(p, s, t), plain_zero_state(p, block.d_conv), x
        )
        return jax.vmap(one)(xs)

    def step_loop(block, xs):
        one = lambda x: jax.lax.scan(lambda s, t: block.step(s, t), block.init_state(), x)  # noqa: E731
        return jax.vmap(one)(xs)

    print(
        f"\nMamba block prefill, B={batch} context={context} d_model={d_model} N={state_size} "
        "float32 (forward only, last state kept)"
    )
    fns, compile_s = {}, {}
    c_fast, compile_s["dynlearn fast forward (kernels)"] = compile_jax(fast, block, xs)
    c_plain, compile_s["plain-JAX lax.scan loop"] = compile_jax(plain_loop, p, xs)
    c_step, compile_s["lax.scan of Mamba.step()"] = compile_jax(step_loop, block, xs)
    ys_fast, st_fast = c_fast(block, xs)
    (win, h), ys_plain = c_plain(p, xs)
    _check("prefill outputs, fast forward vs plain loop", ys_fast, ys_plain)
    _check("prefill last state, fast forward vs plain loop", (st_fast.conv, st_fast.ssm), (win, h))
    _check("prefill outputs, fast forward vs block.__call__", ys_fast, jax.vmap(block)(xs))
    fns["dynlearn fast forward (kernels)"] = lambda: block_ready(c_fast(block, xs))
    fns["plain-JAX lax.scan loop"] = lambda: block_ready(c_plain(p, xs))
    fns["lax.scan of Mamba.step()"] = lambda: block_ready(c_step(block, xs))

    # decode: `steps` tokens through step() from the prefilled state
    def dyn_decode(block, state, x0):
        return jax.vmap(lambda s, x: block_decode(block.step, s, x, steps))(state, x0)

    def plain_decode(p, state, x0):
        step = lambda s, x: plain_step(p, s, x)  # noqa: E731
        return jax.vmap(lambda s, x: block_decode(step, s, x, steps))(state, x0)

    d_dyn, dec_compile = compile_jax(dyn_decode, block, st_fast, x0)
    d_plain, plain_compile = compile_jax(plain_decode, p, (win, h), x0)
    _, ys_dyn = d_dyn(block, st_fast, x0)
    _, ys_pl = d_plain(p, (win, h), x0)
    _check("decode outputs, Mamba.step vs plain loop", ys_dyn, ys_pl)
    peer = mambapy_block_decode(block, batch, context, steps, xs, x0, ys_dyn)
    if peer is not None:
        fns["mambapy MambaBlock.step loop (torch)"] = peer["prefill"]
        fns["mambapy forward, pscan, no state (torch)"] = peer["forward"]
    medians = side_by_side(fns, repeats)
    _report(
        "Mamba prefill",
        medians,
        compile_s,
        "dynlearn fast forward (kernels)",
        batch * context,
        rows,
    )

    print(f"\nMamba block decode, B={batch}, {steps} tokens after the prefill, output fed back")
    fns = {
        "Mamba.step under lax.scan": lambda: block_ready(d_dyn(block, st_fast, x0)),
        "plain-JAX step under lax.scan": lambda: block_ready(d_plain(p, (win, h), x0)),
    }
    compile_s = {
        "Mamba.step under lax.scan": dec_compile,
        "plain-JAX step under lax.scan": plain_compile,
    }
    if peer is not None:
        fns["mambapy MambaBlock.step (torch)"] = peer["decode"]
    medians = side_by_side(fns, repeats)
    _report("Mamba decode", medians, compile_s, "Mamba.step under lax.scan", batch * steps, rows)

    # the whole stack: SequenceModel("mamba") over tokens, greedy generation
    layers, vocab = 2, 256
    model = ssm.SequenceModel(
        "mamba",
        d_model,
        layers,
        vocab,
        vocab_size=vocab,
        state_size=state_size,
        key=jax.random.key(7),
    )
    pm = plain_model_params(model)
    toks = jax.random.randint(jax.random.key(8), (batch, context), 0, vocab)
    print(
        f"\nSequenceModel('mamba') {layers} layers, vocab {vocab}, B={batch}: prefill {context} "
        f"tokens, then {steps} greedy tokens"
    )

    def m_fast(model, toks):
        return jax.vmap(lambda t: model_prefill(model, t))(toks)

    def m_plain(pm, toks):
        zero = tuple(plain_zero_state(bp, block.d_conv) for bp in pm["blocks"])
        one = lambda t: jax.lax.scan(  # noqa: E731
            lambda s, x: plain_model_step(pm, s, x), zero, t
        )
        return jax.vmap(one)(toks)

    def m_step(model, toks):
        one = lambda t: jax.lax.scan(lambda s, x: model.step(s, x), model.init_state(), t)  # noqa: E731
        return jax.vmap(one)(toks)

    fns, compile_s = {}, {}
    cm_fast, compile_s["dynlearn fast forward (kernels)"] = compile_jax(m_fast, model, toks)
    cm_plain, compile_s["plain-JAX lax.scan loop"] = compile_jax(m_plain, pm, toks)
    cm_step, compile_s["lax.scan of SequenceModel.step()"] = compile_jax(m_step, model, toks)
    mst_fast, lg_fast = cm_fast(model, toks)
    mst_plain, lg_plain = cm_plain(pm, toks)
    _check("stack prefill last logits, fast forward vs plain loop", lg_fast, lg_plain[:, -1])
    _check(
        "stack prefill states, fast forward vs plain loop",
        [(s.conv, s.ssm) for s in mst_fast],
        list(mst_plain),
    )
    fns["dynlearn fast forward (kernels)"] = lambda: block_ready(cm_fast(model, toks))
    fns["plain-JAX lax.scan loop"] = lambda: block_ready(cm_plain(pm, toks))
    fns["lax.scan of SequenceModel.step()"] = lambda: block_ready(cm_step(model, toks))
    medians = side_by_side(fns, repeats)
    _report(
        "stack prefill",
        medians,
        compile_s,
        "dynlearn fast forward (kernels)",
        batch * context,
        rows,
    )

    def m_decode(model, state, logits):
        return jax.vmap(lambda s, lg: greedy_decode(model.step, s, lg, steps))(state, logits)

    def m_plain_decode(pm, state, logits):
        step = lambda s, t: plain_model_step(pm, s, t)  # noqa: E731
        return jax.vmap(lambda s, lg: greedy_decode(step, s, lg, steps))(state, logits)

    plain_state = tuple((s.conv, s.ssm) for s in mst_fast)
    cd, cd_s = compile_jax(m_decode, model, mst_fast, lg_fast)
    cdp, cdp_s = compile_jax(m_plain_decode, pm, plain_state, lg_fast)
    tk_dyn, lgs_dyn = cd(model, mst_fast, lg_fast)
    tk_pl, lgs_pl = cdp(pm, plain_state, lg_fast)
    same = int(jnp.sum(jnp.all(tk_dyn == tk_pl, axis=1)))
    print(f"  greedy tokens identical in {same}/{batch} sequences")
    if same == batch:
        _check("stack decode logits, SequenceModel.step vs plain loop", lgs_dyn, lgs_pl)
    fns = {
        "SequenceModel.step under lax.scan": lambda: block_ready(cd(model, mst_fast, lg_fast)),
        "plain-JAX stack step under lax.scan": lambda: block_ready(cdp(pm, plain_state, lg_fast)),
    }
    compile_s = {
        "SequenceModel.step under lax.scan": cd_s,
        "plain-JAX stack step under lax.scan": cdp_s,
    }
    medians = side_by_side(fns, repeats)
    _report(
        "stack decode", medians, compile_s, "SequenceModel.step under lax.scan", batch * steps, rows
    )


def main():
    parser = argparse.ArgumentParser(description="dynlearn.ssm benchmarks")
    parser.add_argument("--quick", action="store_true", help="shorter sequences, fewer repeats")
    parser.add_argument(
        "--only", choices=["mamba", "s4d", "decode"], default=None, help="run one case"
    )
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs")
    rows: list = []
    cases = {"mamba": bench_mamba, "s4d": bench_s4d, "decode": bench_decode}
    for name, case in cases.items():
        if args.only in (None, name):
            case(args.quick, rows)
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
