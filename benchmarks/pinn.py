"""PINN benchmarks: Burgers training speed against DeepXDE, Taylor mode for 4th derivatives.

1. Training steps per second on DeepXDE's Burgers example (FNN 2-20-20-20-1 tanh, 2540 domain /
   80 boundary / 160 initial points, full batch, Adam): `dynlearn.train.fit` with a
   `dynlearn.pinn.PINNLoss` against DeepXDE with its PyTorch backend on the same CPU, run in a
   subprocess in this same run, the two alternating (medians of the repeats). dynlearn's rate
   comes from timestamps after each fused dispatch, excluding the first (the compile, reported
   separately); DeepXDE's from the difference of a long and a short run after a warm-up.
2. The cost of 4th-order derivatives: the Kuramoto–Sivashinsky residual
   u_t + u u_x + u_xx + u_xxxx of an MLP field on 2048 points, by one Taylor-mode pass
   (`jet`) and by nested forward mode (`jvp`, the library default) against nested reverse mode
   (`jax.grad` four times), for the residual alone and for a training gradient through it;
   plus compile times.

Writes benchmarks/results/pinn.md. Times are medians; ratios are the figures to read on a
shared, noisy machine.
"""

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _timing import side_by_side  # noqa: E402  (sibling module; benchmarks run as scripts)

from dynlearn import pinn
from dynlearn.train import fit

NU = 0.01 / np.pi


def burgers_problem():
    key = jax.random.key(0)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    interior = pinn.uniform_points(2540, [-1.0, 0.0], [1.0, 0.99], key=k1)
    initial = pinn.uniform_points(160, [-1.0, 0.0], [1.0, 0.0], key=k2)
    bnd = pinn.uniform_points(80, [-1.0, 0.0], [1.0, 0.99], key=k3)
    boundary = bnd.at[:, 0].set(jnp.where(jnp.arange(80) % 2 == 0, -1.0, 1.0))

    def residual(field, p):
        u, u_x, u_xx = pinn.directional_derivatives(field, p, jnp.array([1.0, 0.0], p.dtype), 2)
        return pinn.partial_derivative(field, p, (0, 1)) + u * u_x - NU * u_xx

    loss = pinn.PINNLoss(
        {
            "residual": pinn.Residual(residual),
            "initial": pinn.InitialCondition(lambda p: -jnp.sin(jnp.pi * p[0])),
            "boundary": pinn.Dirichlet(lambda p: jnp.zeros((), p.dtype)),
        }
    )
    fixed = {"initial": initial, "boundary": boundary}

    def loss_fn(model, batch, *, key):
        return loss(model, {"residual": batch, **fixed}, key=key)

    field = pinn.MLP(2, "scalar", width=20, depth=3, key=k4)
    return field, loss_fn, interior


def time_dynlearn(problem, steps):
    """Seconds per step of `fit` on the Burgers problem, from callback timestamps.

    `fit` reuses its compiled step across calls with the same loss and optimizer objects, and
    the first dispatch (which compiles on a first call) is excluded from the rate.
    """
    field, loss_fn, data, opt = problem
    stamps = []

    def stamp(step, model, history):
        jax.block_until_ready(model)
        stamps.append((step, time.perf_counter()))

    t0 = time.perf_counter()
    fit(
        field,
        loss_fn,
        data,
        opt,
        steps=steps,
        batch_size=2540,
        key=jax.random.key(1),
        progress=False,
        mesh=None,
        steps_per_dispatch=50,
        callbacks=(stamp,),
    )
    (s0, t_first), (s1, t_last) = stamps[0], stamps[-1]
    per_step = (t_last - t_first) / (s1 - s0)
    return per_step, t_first - t0 - 50 * per_step


DEEPXDE_SCRIPT = textwrap.dedent(
    """
    import os, sys, time, json, io, contextlib
    os.environ["DDE_BACKEND"] = "pytorch"
    import numpy as np, torch
    torch.set_num_threads(int(os.environ["DDE_THREADS"]))
    import deepxde as dde
    geom = dde.geometry.GeometryXTime(
        dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 0.99)
    )
    def pde(x, y):
        dy_x = dde.grad.jacobian(y, x, i=0, j=0)
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        dy_xx = dde.grad.hessian(y, x, i=0, j=0)
        return dy_t + y * dy_x - 0.01 / np.pi * dy_xx
    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_b: on_b)
    ic = dde.icbc.IC(geom, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_i: on_i)
    data = dde.data.TimePDE(geom, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    net = dde.nn.FNN([2] + [20] * 3 + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3)
    out = {}
    with contextlib.redirect_stdout(io.StringIO()):
        model.train(iterations=20, display_every=10**9)  # warm-up
        for steps in map(int, sys.argv[1:]):
            t0 = time.perf_counter()
            model.train(iterations=steps, display_every=10**9)
            out[steps] = time.perf_counter() - t0
    print("RESULT" + json.dumps(out))
    """
)


def time_deepxde(short, long_, threads):
    import importlib.util

    if importlib.util.find_spec("deepxde") is None or importlib.util.find_spec("torch") is None:
        return None
    env = dict(
        os.environ, DDE_BACKEND="pytorch", OMP_NUM_THREADS=str(threads), DDE_THREADS=str(threads)
    )
    proc = subprocess.run(
        [sys.executable, "-c", DEEPXDE_SCRIPT, str(short), str(long_)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            res = json.loads(line[6:])
            return res[str(short)], res[str(long_)]
    print(proc.stderr[-2000:])
    return None


def ks_residuals(field):
    ex = jnp.array([1.0, 0.0])

    def taylor(p, mode="taylor"):
        u, u_x, u_xx, _, u_xxxx = pinn.directional_derivatives(field, p, ex, 4, mode=mode)
        return pinn.partial_derivative(field, p, (0, 1), mode=mode) + u * u_x + u_xx + u_xxxx

    def forward(p):
        return taylor(p, mode="forward")

    def reverse(p):
        f = lambda x, t: field(jnp.stack([x, t]))
        d1 = jax.grad(f, 0)
        d2 = jax.grad(d1, 0)
        d4 = jax.grad(jax.grad(d2, 0), 0)
        x, t = p[0], p[1]
        return jax.grad(f, 1)(x, t) + f(x, t) * d1(x, t) + d2(x, t) + d4(x, t)

    return taylor, forward, reverse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--skip-peer", action="store_true", help="do not run DeepXDE")
    parser.add_argument("--peer-threads", type=int, default=2, help="torch threads for DeepXDE")
    args = parser.parse_args()
    long_ = 600 if args.quick else 2000
    repeats = 2 if args.quick else 3
    peer_short, peer_long = (20, 120) if args.quick else (50, 400)  # DeepXDE is ~100x slower
    lines = ["# PINN benchmarks", ""]

    # --- 1. Burgers training speed: dynlearn and DeepXDE alternate, medians of each
    field, loss_fn, data = burgers_problem()
    problem = (field, loss_fn, data, optax.adam(1e-3))
    ours, comp, theirs = [], [], []
    for _ in range(repeats):
        per_step, compile_s = time_dynlearn(problem, long_)
        ours.append(per_step)
        comp.append(compile_s)
        if not args.skip_peer:
            peer = time_deepxde(peer_short, peer_long, args.peer_threads)
            if peer is not None:
                theirs.append((peer[1] - peer[0]) / (peer_long - peer_short))
    ours = float(np.median(ours))
    print(
        f"dynlearn fit, Burgers (DeepXDE setup): {1 / ours:.0f} steps/s "
        f"(first call's compile + setup {comp[0]:.1f} s)"
    )
    lines += [
        "## Burgers training (FNN 2-20x3-1, 2540/80/160 points, Adam)",
        "",
        f"Both measured in this run, alternating, {repeats} times each (medians); "
        f"DeepXDE with {args.peer_threads} torch threads.",
        "",
        "| implementation | steps/s | compile + setup (s) |",
        "|---|---|---|",
        f"| dynlearn fit | {1 / ours:.0f} | {comp[0]:.1f} |",
    ]
    if not theirs:
        why = "skipped" if args.skip_peer else "peer not installed"
        print(f"deepxde: {why}")
        lines += [f"| DeepXDE (PyTorch) | {why} | |"]
    else:
        theirs = float(np.median(theirs))
        print(
            f"DeepXDE (PyTorch backend): {1 / theirs:.0f} steps/s; "
            f"ratio dynlearn / DeepXDE = {theirs / ours:.1f}x (target >= 3x)"
        )
        lines += [
            f"| DeepXDE (PyTorch) | {1 / theirs:.0f} | 0 (eager) |",
            "",
            f"Speed-up dynlearn / DeepXDE: **{theirs / ours:.1f}x** (target >= 3x).",
        ]

    # --- 2. 4th-order derivatives: Taylor mode vs nested reverse mode
    field = pinn.MLP(2, "scalar", width=64, depth=4, key=jax.random.key(3))
    pts = pinn.uniform_points(2048, [0.0, 0.0], [32 * np.pi, 1.0], key=jax.random.key(4))
    lines += [
        "",
        "## Kuramoto–Sivashinsky residual (4th order), MLP 2-64x4-1, 2048 points",
        "",
        "| mode | residual (ms) | gradient of mean sq. (ms) | compile (s) |",
        "|---|---|---|---|",
    ]
    modes = ("taylor", "forward", "reverse")
    calls, compile_s = {}, {}
    for name in modes:

        def res_fn(f, x, name=name):
            return jax.vmap(dict(zip(modes, ks_residuals(f)))[name])(x)

        fwd = eqx.filter_jit(res_fn)
        grad = eqx.filter_jit(eqx.filter_grad(lambda f, x: jnp.mean(res_fn(f, x) ** 2)))
        t0 = time.perf_counter()
        jax.block_until_ready(fwd(field, pts))
        jax.block_until_ready(grad(field, pts))
        compile_s[name] = time.perf_counter() - t0
        calls[(name, "res")] = lambda fwd=fwd: jax.block_until_ready(fwd(field, pts))
        calls[(name, "grad")] = lambda grad=grad: jax.block_until_ready(grad(field, pts))
    # round-robin over all six calls, so load changes hit every mode alike
    med = side_by_side(calls, repeats=5 * repeats)
    results = {n: (med[(n, "res")], med[(n, "grad")], compile_s[n]) for n in modes}
    for name in modes:
        r = results[name]
        lines.append(f"| {name} | {1e3 * r[0]:.1f} | {1e3 * r[1]:.1f} | {r[2]:.1f} |")
        print(
            f"KS residual, {name:7s}: residual {1e3 * r[0]:.1f} ms, gradient {1e3 * r[1]:.1f}"
            f" ms, compile {r[2]:.1f} s"
        )
    fns = ks_residuals(field)
    agree = max(
        float(jnp.max(jnp.abs(jax.vmap(fns[0])(pts[:64]) - jax.vmap(f)(pts[:64])))) for f in fns[1:]
    )
    for name in ("taylor", "forward"):
        ratio_f = results["reverse"][0] / results[name][0]
        ratio_g = results["reverse"][1] / results[name][1]
        print(
            f"{name} mode speed-up over nested reverse: residual {ratio_f:.2f}x, gradient "
            f"{ratio_g:.2f}x"
        )
        lines += [
            "",
            f"{name} mode / nested reverse speed-up: residual **{ratio_f:.2f}x**, "
            f"gradient **{ratio_g:.2f}x**.",
        ]
    print(f"max difference between the modes: {agree:.1e}")
    lines += ["", f"The three modes agree to {agree:.1e}."]

    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "pinn.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out / 'pinn.md'}")


if __name__ == "__main__":
    main()
