"""Reconstruction benchmarks: SINDy vs pysindy; ESN and NVAR vs reservoirpy.

- SINDy on Lorenz-63 (exact derivatives, float64, polynomial degree 2, STLSQ 0.1): the
  coefficients of both libraries must agree to 1e-8; fit time; simulating 3000 steps of
  dt = 0.002 (dynlearn: fixed-step RK4 in one compiled scan; pysindy: scipy's LSODA).
- ESN and NVAR on standardized Lorenz-63 (dt = 0.01): readout fit plus a closed-loop forecast
  of 1000 steps, dynlearn vs reservoirpy with the same reservoir size, spectral radius, input
  scaling, ridge, delays and order; each forecast is warmed up on the last 200 training points;
  the valid prediction time (NRMSE < 0.5, Lyapunov times) of both forecasts from the same
  initial condition.

Medians over `--repeats` runs; ratios are peer / dynlearn (above 1: dynlearn faster). dynlearn's
compile time is reported separately (first call minus steady-state call). Writes
benchmarks/results/recon.md.

    python benchmarks/recon.py [--quick] [--repeats N]
"""

import os

# On a shared, oversubscribed machine multithreaded OpenBLAS spins: a 3000x28 float64 matmul then
# takes 0.4 s instead of 0.1 ms. One BLAS thread for every library alike (set before numpy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from dynlearn import recon, systems
from dynlearn.metrics import valid_prediction_time


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        jax.block_until_ready(out) if not isinstance(out, np.ndarray) else None
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def lorenz_data(n, dt, x64):
    lorenz = systems.get("Lorenz").replace(params={"beta": 8.0 / 3.0, "rho": 28.0, "sigma": 10.0})
    tol = 1e-10 if x64 else 1e-7
    x = np.asarray(systems.trajectory(lorenz, n, dt=dt, transient=1000, rtol=tol, atol=tol))
    return x


def lorenz_rhs(x):
    return np.stack(
        [
            10 * (x[:, 1] - x[:, 0]),
            x[:, 0] * (28 - x[:, 2]) - x[:, 1],
            x[:, 0] * x[:, 1] - 8 / 3 * x[:, 2],
        ],
        axis=1,
    )


def bench_sindy(repeats, lines):
    jax.config.update("jax_enable_x64", True)
    try:
        import pysindy as ps
    except ImportError:
        print("pysindy: peer not installed")
        lines.append("- SINDy: pysindy peer not installed")
        return
    dt = 0.002
    x = lorenz_data(5000, dt, True)
    xd = lorenz_rhs(x)
    xj, xdj = jnp.asarray(x), jnp.asarray(xd)
    t0 = time.perf_counter()
    ours = recon.fit_sindy(
        xj, x_dot=xdj, library=recon.PolynomialLibrary(2), optimizer=recon.STLSQ(0.1)
    )
    first_fit = time.perf_counter() - t0
    fit_ours, ours = timed(
        lambda: recon.fit_sindy(xj, x_dot=xdj, optimizer=recon.STLSQ(0.1)), repeats
    )

    def fit_peer():
        model = ps.SINDy(optimizer=ps.STLSQ(threshold=0.1), feature_library=ps.PolynomialLibrary(2))
        model.fit(x, t=dt, x_dot=xd)
        return model

    fit_peer_s, peer = timed(fit_peer, repeats)
    diff = float(np.max(np.abs(np.asarray(ours.coefficients) - peer.coefficients())))

    n_sim = 3000
    ts = np.arange(n_sim) * dt
    t0 = time.perf_counter()
    jax.block_until_ready(ours.simulate(jnp.asarray(ts), xj[0]))
    first_sim = time.perf_counter() - t0
    sim_ours, sim = timed(lambda: ours.simulate(jnp.asarray(ts), xj[0]), repeats)
    t0 = time.perf_counter()
    sim_peer_traj = peer.simulate(x[0], ts)
    sim_peer = time.perf_counter() - t0
    err_ours = float(np.max(np.abs(np.asarray(sim)[:500] - x[:500])))
    err_peer = float(np.max(np.abs(sim_peer_traj[:500] - x[:500])))
    out = [
        f"- SINDy coefficients, max |dynlearn - pysindy| = {diff:.2e} (target <= 1e-8)",
        f"- SINDy fit: dynlearn {fit_ours * 1e3:.1f} ms (first call incl. compile "
        f"{first_fit:.2f} s), pysindy {fit_peer_s * 1e3:.1f} ms, ratio pysindy/dynlearn "
        f"{fit_peer_s / fit_ours:.2f}",
        f"- SINDy simulate {n_sim} steps: dynlearn {sim_ours * 1e3:.1f} ms (compile "
        f"{max(first_sim - sim_ours, 0):.2f} s), pysindy {sim_peer:.2f} s (one run), ratio "
        f"pysindy/dynlearn {sim_peer / sim_ours:.0f}x (target >= 100x); max error over the "
        f"first 500 steps vs the true orbit: dynlearn {err_ours:.1e}, pysindy {err_peer:.1e}",
    ]
    print("\n".join(out))
    lines.extend(out)
    jax.config.update("jax_enable_x64", False)


def bench_reservoirs(repeats, quick, lines):
    try:
        from reservoirpy import ESN
        from reservoirpy.nodes import NVAR as RpyNVAR
        from reservoirpy.nodes import Reservoir, Ridge
    except ImportError:
        print("reservoirpy: peer not installed")
        lines.append("- ESN/NVAR: reservoirpy peer not installed")
        return
    dt, lyap = 0.01, systems.get("Lorenz").max_lyapunov  # the documented convention
    n_train = 3000 if quick else 8000
    horizon, units, ridge, context = 1000, (200 if quick else 500), 1e-6, 200
    n_windows = 3 if quick else 8
    raw = lorenz_data(n_train + n_windows * horizon + 1, dt, False)
    mean, std = raw[:n_train].mean(0), raw[:n_train].std(0)
    z = (raw - mean) / std
    train = z[:n_train]
    train32 = jnp.asarray(train, jnp.float32)
    # test windows follow the training data; window j is forecast from the `context` points
    # before it (window 0 starts right after the training series)
    starts = [n_train + j * horizon for j in range(n_windows)]

    def vpt(pred, start):
        truth = z[start : start + horizon]
        return float(
            valid_prediction_time(
                truth * std + mean,
                np.asarray(pred) * std + mean,
                dt=dt,
                max_lyapunov=lyap,
                metric="nrmse",
                scale=std,
            )
        )

    # --- dynlearn
    # like for like with reservoirpy's ESN(input_to_readout=True): readout features [1, u, r]
    def esn(topology, quadratic=False):
        return recon.EchoStateNetwork(
            3,
            units,
            spectral_radius=0.9,
            input_scaling=0.5,
            bias_scaling=0.0,
            density=0.1,
            quadratic_readout=quadratic,
            topology=topology,
            key=jax.random.key(0),
        )

    def ours(model0):
        washout = 0 if isinstance(model0, recon.NVAR) else 100

        def fit():
            return recon.fit_readout(model0, train32, ridge=ridge, washout=washout)

        def forecast(m, start):
            return m.forecast(jnp.asarray(z[start - context : start], jnp.float32), horizon)

        return fit, forecast

    # --- reservoirpy: same sizes; closed loop by feeding each output back as the next input
    def peer_esn():
        def fit():
            res = Reservoir(units, lr=1.0, sr=0.9, input_scaling=0.5, rc_connectivity=0.1, seed=0)
            model = ESN(reservoir=res, readout=Ridge(ridge=ridge), input_to_readout=True)
            model.fit(train[:-1], train[1:], warmup=100)
            return model

        def forecast(model, start):
            u = model.run(z[start - context : start])[-1]
            out = np.empty((horizon, 3))
            for i in range(horizon):
                out[i] = u
                u = model.step(u)
            return out

        return fit, forecast

    def peer_nvar():
        def fit():
            model = RpyNVAR(delay=2, order=2, strides=1) >> Ridge(ridge=ridge)
            model.fit(train[:-1], train[1:] - train[:-1], warmup=1)
            return model

        def forecast(model, start):
            incr = model.run(z[start - context : start])[-1]
            u = z[start - 1] + incr
            out = np.empty((horizon, 3))
            for i in range(horizon):
                out[i] = u
                u = u + model.step(u)
            return out

        return fit, forecast

    def fit_and_forecast(pair):
        fit, forecast = pair
        return lambda: forecast(fit(), starts[0])

    cases = [
        (
            "ESN",
            f"{units} units, random sparse reservoir, readout [1, u, r]",
            ours(esn("random")),
            peer_esn(),
        ),
        (
            "ESN",
            f"{units} units, circulant sparse reservoir, readout [1, u, r]",
            ours(esn("circulant")),
            peer_esn(),
        ),
        ("NVAR", "k=2, order 2", ours(recon.NVAR(3, delays=2, skip=1)), peer_nvar()),
    ]
    for name, what, mine, peer in cases:
        t0 = time.perf_counter()
        jax.block_until_ready(fit_and_forecast(mine)())
        first = time.perf_counter() - t0
        # paired, interleaved runs: on a shared machine the load changes from minute to minute,
        # so each ratio compares two runs made back to back
        t_ours, t_peer, ratios = [], [], []
        for _ in range(repeats):
            t_a, _ = timed(fit_and_forecast(mine), 1)
            t_b, _ = timed(fit_and_forecast(peer), 1)
            t_ours.append(t_a)
            t_peer.append(t_b)
            ratios.append(t_b / t_a)
        steady = float(np.median(t_ours))
        m_ours, m_peer = mine[0](), peer[0]()
        v_ours = [vpt(mine[1](m_ours, s), s) for s in starts]
        v_peer = [vpt(peer[1](m_peer, s), s) for s in starts]
        line = (
            f"- {name} fit + {horizon}-step forecast ({what}): dynlearn "
            f"{steady * 1e3:.0f} ms (compile {max(first - steady, 0.0):.2f} s), reservoirpy "
            f"{np.median(t_peer) * 1e3:.0f} ms, ratio reservoirpy/dynlearn "
            f"{np.median(ratios):.1f}x (median of {repeats} paired runs; target >= 3x); "
            f"VPT (NRMSE<0.5, Lyapunov times, median [min, max] over {n_windows} test "
            f"windows): dynlearn {np.median(v_ours):.2f} [{min(v_ours):.2f}, "
            f"{max(v_ours):.2f}], reservoirpy {np.median(v_peer):.2f} [{min(v_peer):.2f}, "
            f"{max(v_peer):.2f}]"
        )
        print(line, flush=True)
        lines.append(line)
    fit_sq, forecast_sq = ours(esn("circulant", quadratic=True))
    m_sq = fit_sq()
    v_sq = [vpt(forecast_sq(m_sq, s), s) for s in starts]
    line = (
        f"- dynlearn ESN with its default readout [1, u, r, r²] (circulant reservoir): VPT "
        f"median {np.median(v_sq):.2f} [{min(v_sq):.2f}, {max(v_sq):.2f}] Lyapunov times"
    )
    print(line)
    lines.append(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller reservoirs and data")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument(
        "--only",
        choices=["sindy", "reservoirs"],
        default=None,
        help="run one part (does not write the results file)",
    )
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 5)
    lines = [
        "# Reconstruction benchmarks",
        "",
        f"Medians over {repeats} runs; ratios are peer / dynlearn.",
        "",
    ]
    if args.only != "reservoirs":
        bench_sindy(repeats, lines)
    if args.only != "sindy":
        bench_reservoirs(repeats, args.quick, lines)
    if args.only is not None:
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recon.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'recon.md'}")


if __name__ == "__main__":
    main()
