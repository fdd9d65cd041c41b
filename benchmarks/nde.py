"""Neural ODE speed: NeuralODE against raw diffrax, torchdiffeq and diffrax fixed steps.

1. diffrax's "small neural ODE" setting: MLP 4-32-32-4 (softplus, tanh output), batch 64, Dopri5,
   rtol = atol = 1e-6, t in [0, 10]. Forward and forward+gradient of dynlearn's NeuralODE (one
   state per solve, batched with vmap: every sample has its own adaptive steps) against the same
   solve written directly with diffrax (overhead target <= 5%), and against torchdiffeq on the
   CPU (target >= 100x faster for forward+gradient) in two ways:
   - the same computation: 64 independent adaptive solves (torchdiffeq has no vmap, so one call
     per sample);
   - torchdiffeq's batched call, which couples the batch into one state with one shared step
     size, against NeuralODE (and raw diffrax) solving the flattened batch as one state too.
2. Fixed-grid training: 1000 Tsit5 steps of the same network through `FixedGrid` (the fused
   `dynlearn.kernels.odeint_fixed`) against diffrax Tsit5 with ConstantStepSize (target >= 2x).

Prints medians after compilation, compile times separately and the ratios; writes
benchmarks/results/nde.md. `--quick` uses fewer repeats.
"""

import argparse
import time
from pathlib import Path

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynlearn.nde import FixedGrid, NeuralODE


class Field(eqx.Module):
    mlp: eqx.nn.MLP

    def __call__(self, t, y, args):
        return self.mlp(y)


class BatchField(eqx.Module):
    """The same network on a whole batch flattened into one state (one shared step size)."""

    mlp: eqx.nn.MLP

    def __call__(self, t, y, args):
        return jax.vmap(self.mlp)(y.reshape(-1, 4)).reshape(-1)


def make_field(key):
    return Field(
        eqx.nn.MLP(4, 4, 32, 2, activation=jax.nn.softplus, final_activation=jnp.tanh, key=key)
    )


def timed(*pairs, repeats):
    """Compile each `(fn, arg)`, then time them interleaved, alternating the order each round
    (the machine is shared and noisy).

    Returns `([(median_seconds, compile_seconds), ...], rounds)` in the order given, `rounds`
    holding each function's per-round times (for paired ratios).
    """
    compile_s = []
    for fn, arg in pairs:
        t0 = time.perf_counter()
        jax.block_until_ready(fn(arg))
        compile_s.append(time.perf_counter() - t0)
    times = [[] for _ in pairs]
    for r in range(repeats):
        # alternate the order every round: whichever runs first in a round is systematically
        # slower on a busy machine
        order = list(enumerate(pairs)) if r % 2 == 0 else list(enumerate(pairs))[::-1]
        for i, (fn, arg) in order:
            t0 = time.perf_counter()
            jax.block_until_ready(fn(arg))
            times[i].append(time.perf_counter() - t0)
    return [(float(np.median(t)), c) for t, c in zip(times, compile_s)], times


def paired_ratio(rounds):
    """Median over rounds of `time[0] / time[1]` measured back to back (robust to load drift)."""
    return float(np.median(np.asarray(rounds[0]) / np.asarray(rounds[1])))


def min_ratio(rounds):
    """`min(time[0]) / min(time[1])`: the least disturbed run of each (robust to load spikes)."""
    return float(np.min(rounds[0]) / np.min(rounds[1]))


def dynlearn_fns(field, y0s, ts, solver, controller, dt0):
    model = NeuralODE(field, solver=solver, stepsize_controller=controller, dt0=dt0)

    def loss(m):
        return jnp.sum(jax.vmap(lambda y: m(ts, y))(y0s) ** 2)

    fwd = eqx.filter_jit(lambda m: jax.vmap(lambda y: m(ts, y))(y0s))
    grad = eqx.filter_jit(eqx.filter_grad(loss))
    return (fwd, model), (grad, model)


def diffrax_solve(f, y0, ts, solver, controller, dt0):
    """One raw `diffeqsolve` from `ts[0]` to `ts[-1]`, saving at `ts`."""
    return dfx.diffeqsolve(
        dfx.ODETerm(f),
        solver,
        ts[0],
        ts[-1],
        dt0,
        y0,
        saveat=dfx.SaveAt(ts=ts),
        stepsize_controller=controller,
        max_steps=4096,
    ).ys


def diffrax_fns(field, y0s, ts, solver, controller, dt0):
    def solve(f, y0):
        return diffrax_solve(f, y0, ts, solver, controller, dt0)

    def loss(f):
        return jnp.sum(jax.vmap(lambda y: solve(f, y))(y0s) ** 2)

    fwd = eqx.filter_jit(lambda f: jax.vmap(lambda y: solve(f, y))(y0s))
    grad = eqx.filter_jit(eqx.filter_grad(loss))
    return (fwd, field), (grad, field)


def torchdiffeq_times(field, y0s, ts, repeats, per_sample_repeats):
    try:
        import torch
        import torchdiffeq
    except ImportError:
        return None
    # One thread: matrices this small gain nothing from more, and on a busy machine torch's
    # worker threads spin and wait (a forward call measured 0.5 s instead of 4 ms).
    torch.set_num_threads(1)
    layers = field.mlp.layers
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 32),
        torch.nn.Softplus(),
        torch.nn.Linear(32, 32),
        torch.nn.Softplus(),
        torch.nn.Linear(32, 4),
        torch.nn.Tanh(),
    )
    with torch.no_grad():
        for lin, layer in zip([net[0], net[2], net[4]], layers):
            lin.weight.copy_(torch.tensor(np.asarray(layer.weight)))
            lin.bias.copy_(torch.tensor(np.asarray(layer.bias)))

    class F(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, t, y):
            return self.net(y)

    f = F()
    y0 = torch.tensor(np.asarray(y0s))
    t = torch.tensor(np.asarray(ts))

    def fwd():
        with torch.no_grad():
            return torchdiffeq.odeint(f, y0, t, rtol=1e-6, atol=1e-6, method="dopri5")

    def grad():
        f.zero_grad()
        out = torchdiffeq.odeint(f, y0, t, rtol=1e-6, atol=1e-6, method="dopri5")
        (out**2).sum().backward()

    def solve_each():
        return [
            torchdiffeq.odeint(f, y0[i], t, rtol=1e-6, atol=1e-6, method="dopri5")
            for i in range(y0.shape[0])
        ]

    def fwd_each():
        with torch.no_grad():
            return solve_each()

    def grad_each():
        f.zero_grad()
        sum((out**2).sum() for out in solve_each()).backward()

    res = {}
    cases = (
        ("forward", fwd, repeats),
        ("gradient", grad, repeats),
        ("forward per sample", fwd_each, per_sample_repeats),
        ("gradient per sample", grad_each, per_sample_repeats),
    )
    for name, fn, n in cases:
        fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        res[name] = float(np.median(times))
    return res


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 10 if args.quick else 60
    key = jax.random.key(0)
    field = make_field(key)
    y0s = jax.random.normal(jax.random.key(1), (64, 4))
    lines = []

    # 1. small neural ODE, adaptive Dopri5
    ts = jnp.linspace(0.0, 10.0, 2)
    ctrl = dfx.PIDController(rtol=1e-6, atol=1e-6)
    dl_fwd, dl_grad = dynlearn_fns(field, y0s, ts, dfx.Dopri5(), ctrl, None)
    dx_fwd, dx_grad = diffrax_fns(field, y0s, ts, dfx.Dopri5(), ctrl, None)
    (f_dl, f_dx), rounds = timed(dl_fwd, dx_fwd, repeats=repeats)
    f_pair, f_min = paired_ratio(rounds), min_ratio(rounds)
    (g_dl, g_dx), rounds = timed(dl_grad, dx_grad, repeats=repeats)
    g_pair, g_min = paired_ratio(rounds), min_ratio(rounds)
    rows = {"dynlearn NeuralODE": (f_dl, g_dl), "raw diffrax": (f_dx, g_dx)}
    lines += [
        "## Small neural ODE (MLP 4-32-32-4, batch 64, Dopri5, rtol=atol=1e-6, t1=10)",
        "",
        "| implementation | forward | forward+gradient | compile fwd | compile grad |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, ((f, fc), (g, gc)) in rows.items():
        lines.append(f"| {name} | {f * 1e3:.2f} ms | {g * 1e3:.2f} ms | {fc:.2f} s | {gc:.2f} s |")
    torch_res = torchdiffeq_times(field, y0s, ts, max(3, repeats // 4), max(3, repeats // 20))
    # The batch as one state (one shared step size), as torchdiffeq's batched call solves it.
    batch_field = BatchField(field.mlp)
    flat_y0 = y0s.reshape(-1)
    shared = NeuralODE(batch_field, solver=dfx.Dopri5(), stepsize_controller=ctrl)
    shared_fwd = eqx.filter_jit(lambda m: m(ts, flat_y0))
    shared_grad = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(ts, flat_y0) ** 2)))

    def raw_shared(f):
        return diffrax_solve(f, flat_y0, ts, dfx.Dopri5(), ctrl, None)

    raw_shared_fwd = eqx.filter_jit(raw_shared)
    raw_shared_grad = eqx.filter_jit(eqx.filter_grad(lambda f: jnp.sum(raw_shared(f) ** 2)))
    (s_f, s_g, r_f, r_g), _ = timed(
        (shared_fwd, shared),
        (shared_grad, shared),
        (raw_shared_fwd, batch_field),
        (raw_shared_grad, batch_field),
        repeats=repeats,
    )
    dl_f, dl_g = rows["dynlearn NeuralODE"][0][0], rows["dynlearn NeuralODE"][1][0]
    dx_f, dx_g = rows["raw diffrax"][0][0], rows["raw diffrax"][1][0]
    if torch_res is None:
        lines.append("| torchdiffeq | peer not installed | | | |")
    else:
        lines.append(
            f"| torchdiffeq (CPU) | {torch_res['forward'] * 1e3:.1f} ms | "
            f"{torch_res['gradient'] * 1e3:.1f} ms | - | - |"
        )
    lines += [
        "",
        f"overhead dynlearn / diffrax (ratio of medians): forward {dl_f / dx_f:.3f}x, gradient "
        f"{dl_g / dx_g:.3f}x (target <= 1.05)",
        f"overhead dynlearn / diffrax (median of paired ratios, {repeats} interleaved rounds): "
        f"forward {f_pair:.3f}x, gradient {g_pair:.3f}x",
        f"overhead dynlearn / diffrax (ratio of minima): forward {f_min:.3f}x, gradient "
        f"{g_min:.3f}x",
    ]
    lines += [
        "",
        "| batch as one state (shared step size) | forward | forward+gradient |",
        "| --- | --- | --- |",
        f"| dynlearn NeuralODE | {s_f[0] * 1e3:.2f} ms | {s_g[0] * 1e3:.2f} ms |",
        f"| raw diffrax | {r_f[0] * 1e3:.2f} ms | {r_g[0] * 1e3:.2f} ms |",
    ]
    if torch_res is not None:
        tf, tg = torch_res["forward per sample"], torch_res["gradient per sample"]
        lines.append(
            f"| torchdiffeq (CPU) | {torch_res['forward'] * 1e3:.1f} ms | "
            f"{torch_res['gradient'] * 1e3:.1f} ms |"
        )
        lines += [
            "",
            f"torchdiffeq, one call per sample: forward {tf * 1e3:.1f} ms, forward+gradient "
            f"{tg * 1e3:.1f} ms",
            f"speed-up vs torchdiffeq, same computation (64 independent adaptive solves): "
            f"forward {tf / dl_f:.0f}x, forward+gradient {tg / dl_g:.0f}x (target >= 100x); "
            f"raw diffrax: forward {tf / dx_f:.0f}x, forward+gradient {tg / dx_g:.0f}x",
            f"speed-up vs torchdiffeq's batched call, batch as one state (one shared step size): "
            f"forward {torch_res['forward'] / s_f[0]:.1f}x, forward+gradient "
            f"{torch_res['gradient'] / s_g[0]:.1f}x; raw diffrax: forward "
            f"{torch_res['forward'] / r_f[0]:.1f}x, forward+gradient "
            f"{torch_res['gradient'] / r_g[0]:.1f}x",
        ]

    # 2. fixed grid, 1000 steps, the same method on both sides
    ts = jnp.linspace(0.0, 10.0, 11)
    _, kernel_grad = dynlearn_fns(field, y0s, ts, FixedGrid("tsit5", 100), None, None)
    _, rk4_grad = dynlearn_fns(field, y0s, ts, FixedGrid("rk4", 100), None, None)
    _, diffrax_grad = diffrax_fns(field, y0s, ts, dfx.Tsit5(), dfx.ConstantStepSize(), 0.01)
    (k_res, r_res, d_res), _ = timed(
        kernel_grad, rk4_grad, diffrax_grad, repeats=max(3, repeats // 2)
    )
    fixed = {
        "dynlearn FixedGrid tsit5 (fused kernel)": k_res,
        "dynlearn FixedGrid rk4 (default; 4 evaluations a step, not 6)": r_res,
        "diffrax Tsit5 ConstantStepSize": d_res,
    }
    lines += [
        "",
        "## Fixed grid: 1000 steps, forward+gradient, batch 64",
        "",
        "| implementation | forward+gradient | compile |",
        "| --- | --- | --- |",
    ]
    for name, (g, gc) in fixed.items():
        lines.append(f"| {name} | {g * 1e3:.1f} ms | {gc:.2f} s |")
    ratio = (
        fixed["diffrax Tsit5 ConstantStepSize"][0]
        / fixed["dynlearn FixedGrid tsit5 (fused kernel)"][0]
    )
    rk4_ratio = fixed["diffrax Tsit5 ConstantStepSize"][0] / r_res[0]
    lines.append(
        f"\nspeed-up FixedGrid vs diffrax ConstantStepSize, both Tsit5: {ratio:.2f}x "
        f"(target >= 2x); FixedGrid's default rk4 vs diffrax Tsit5: {rk4_ratio:.2f}x"
    )
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "nde.md").write_text("# Neural ODE benchmark\n\n" + text + "\n")


if __name__ == "__main__":
    main()
