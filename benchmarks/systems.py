"""Systems zoo: 10^4-point trajectories of every dysts system, and the Lorenz Lyapunov spectrum.

1. Trajectories. For each of the 135 dysts continuous-time systems, 10^4 points sampled at
   100 points per period (dysts' `make_trajectory` default), from the published initial
   condition, in float64:
   - dynlearn `systems.trajectory` (diffrax Tsit5, PID controller, rtol = atol = 1e-9), one
     compilation per system; and `systems.zoo_trajectories`, which compiles one solver for all
     129 ODE systems (a `lax.switch` over their vector fields; slower to run, far less to compile);
   - scipy `solve_ivp(method="DOP853")` on dysts' numpy right-hand side at the same tolerance
     (delay systems have no scipy counterpart);
   - dysts `make_trajectory` (Radau, its default rtol = atol = 1e-12) on a few systems only,
     because it takes minutes per system (about 83 s for Lorenz alone on this kind of machine).
   Compile time (first call minus a warm call) is reported separately from run time.
2. Lyapunov spectrum of Lorenz-63: `dynlearn.analysis.lyapunov_spectrum` (RK4 + JVP tangents +
   QR in one scan) against dysts `find_lyapunov_exponents`, errors against the published
   (0.906, 0, -14.57).

Prints medians and ratios against the peers measured in the same run; writes
benchmarks/results/systems.md. `--quick`: 10^3 points, 17 systems, shorter Lyapunov runs.
"""

import argparse
import math
import signal
import statistics
import time
import warnings
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp
import numpy as np

from dynlearn import systems

PUBLISHED_LORENZ = np.array([0.906, 0.0, -14.57])


def _peer(name):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == "dysts":
                import dysts.analysis
                import dysts.flows

                return dysts
            import scipy.integrate

            return scipy
    except ImportError:
        print(f"{name}: peer not installed")
        return None


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def _with_timeout(fn, seconds):
    """Run fn() and return (seconds, result), or (None, None) if it exceeds the cap."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(math.ceil(seconds)))
    try:
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out
    except _Timeout:
        return None, None
    finally:
        signal.alarm(0)


def time_dynlearn(system, n, tol, repeats):
    y0 = jnp.asarray(system.y0, dtype=jnp.float64)
    dt = system.period / 100

    def run():
        ys = systems.trajectory(
            system, n, dt=dt, y0=y0, rtol=tol, atol=tol, max_steps=1000 * n + 10_000
        )
        return jax.block_until_ready(ys)

    t0 = time.perf_counter()
    ys = run()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        warm.append(time.perf_counter() - t0)
    runtime = statistics.median(warm)
    return runtime, max(first - runtime, 0.0), bool(np.all(np.isfinite(np.asarray(ys))))


def time_scipy(scipy, name, n, tol, cap):
    import dysts.flows

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(dysts.flows, name)()
    ts = np.linspace(0, ref.period * (n - 1) / 100, n)
    rhs = lambda t, y: np.asarray(ref.rhs(y, t), dtype=float)  # noqa: E731

    def run():
        return scipy.integrate.solve_ivp(
            rhs,
            (0, ts[-1]),
            np.asarray(ref.ic, float),
            t_eval=ts,
            method="DOP853",
            rtol=tol,
            atol=tol,
        )

    seconds, sol = _with_timeout(run, cap)
    return seconds if sol is not None and sol.success else None


def time_dysts(name, n, cap):
    import dysts.flows

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getattr(dysts.flows, name)()
        seconds, _ = _with_timeout(lambda: model.make_trajectory(n), cap)
    return seconds


def trajectories_section(args, out):
    scipy = _peer("scipy")
    dysts = _peer("dysts")
    names = sorted(systems.names("flows") + systems.names("delay"))
    n = 1000 if args.quick else 10_000
    if args.quick:
        names = sorted(set(names[::9]) | {"Lorenz", "MackeyGlass"})
    repeats = 1 if args.quick else 2
    tol = 1e-9
    cap = 10.0 if args.quick else 60.0
    rows, failed = [], []
    ours_run, ours_compile, scipy_total, ours_on_scipy = 0.0, 0.0, 0.0, 0.0
    for name in names:
        system = systems.get(name)
        try:
            runtime, compile_, finite = time_dynlearn(system, n, tol, repeats)
        except Exception as err:  # noqa: BLE001 - report and go on
            failed.append(f"{name}: {type(err).__name__}: {str(err).splitlines()[0][:80]}")
            continue
        ours_run += runtime
        ours_compile += compile_
        peer = None
        if scipy is not None and name in systems.names("flows"):
            peer = time_scipy(scipy, name, n, tol, cap)
            if peer is not None:
                scipy_total += peer
                ours_on_scipy += runtime
        rows.append((name, runtime, compile_, peer, finite))
        if name in systems.names("delay"):
            scipy_text = "     n/a"
        else:
            scipy_text = "   > cap" if peer is None else f"{peer:8.3f}"
        print(
            f"  {name:26s} dynlearn {runtime:8.4f} s (compile {compile_:5.2f} s)  "
            f"scipy DOP853 {scipy_text} s  finite={finite}",
            flush=True,
        )
    out.append(f"## {n} points per system, {len(rows)} systems, rtol = atol = {tol:g}, float64\n")
    out.append("| system | dynlearn run (s) | compile (s) | scipy DOP853 (s) | finite |")
    out.append("|---|---|---|---|---|")
    for name, runtime, compile_, peer, finite in rows:
        peer_text = "n/a" if peer is None else f"{peer:.3f}"
        out.append(f"| {name} | {runtime:.4f} | {compile_:.2f} | {peer_text} | {finite} |")
    summary = [
        f"dynlearn total over {len(rows)} systems: run {ours_run:.2f} s, "
        f"compile {ours_compile:.1f} s (run + compile {ours_run + ours_compile:.1f} s)",
    ]
    if scipy_total:
        summary.append(
            f"scipy DOP853 total on the {sum(r[3] is not None for r in rows)} systems it finished "
            f"within the {cap:.0f} s cap: {scipy_total:.1f} s; dynlearn run on the same systems "
            f"{ours_on_scipy:.2f} s: ratio scipy / dynlearn = {scipy_total / ours_on_scipy:.1f}x"
        )
    if failed:
        summary.append("dynlearn failures: " + "; ".join(failed))
    dysts_lorenz = None
    if dysts is not None:
        dysts_names = ["Lorenz"] if args.quick else ["Lorenz", "Rossler"]
        for name in dysts_names:
            peer = time_dysts(name, n, 600.0)
            ours = next((r for r in rows if r[0] == name), None)
            if peer is None or ours is None:
                summary.append(f"dysts make_trajectory {name}: over the cap or not measured")
                continue
            summary.append(
                f"dysts make_trajectory({n}) {name}: {peer:.1f} s; dynlearn run {ours[1]:.4f} s "
                f"(ratio {peer / ours[1]:.0f}x), run + compile {ours[1] + ours[2]:.2f} s "
                f"(ratio {peer / (ours[1] + ours[2]):.1f}x)"
            )
            if name == "Lorenz":
                per_system = dysts_lorenz = peer
                summary.append(
                    f"extrapolated dysts total for {len(rows)} systems at the Lorenz rate: "
                    f"{per_system * len(rows):.0f} s vs dynlearn run + compile "
                    f"{ours_run + ours_compile:.1f} s: ratio "
                    f"{per_system * len(rows) / (ours_run + ours_compile):.0f}x"
                )
    zoo = [systems.get(name) for name in names]
    kwargs = dict(
        points_per_period=100, dtype=jnp.float64, rtol=tol, atol=tol, max_steps=1000 * n + 10_000
    )
    t0 = time.perf_counter()
    jax.block_until_ready(systems.zoo_trajectories(zoo, n, **kwargs))
    zoo_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(systems.zoo_trajectories(zoo, n, **kwargs))
    zoo_warm = time.perf_counter() - t0
    summary.append(
        f"dynlearn zoo_trajectories, all {len(zoo)} systems in one call: first call (compile + "
        f"run) {zoo_first:.1f} s, warm call {zoo_warm:.1f} s"
    )
    if dysts_lorenz is not None:
        summary.append(
            f"extrapolated dysts total / zoo_trajectories first call: "
            f"{dysts_lorenz * len(zoo) / zoo_first:.0f}x"
        )
    for line in summary:
        print(line)
        out.append("\n" + line)


def lyapunov_section(args, out):
    from dynlearn.analysis import lyapunov_spectrum

    lorenz = systems.get("Lorenz")
    y0 = jnp.asarray(lorenz.y0, dtype=jnp.float64)
    n_steps = 50_000 if args.quick else 200_000
    dt = 0.01

    def ours():
        spectrum = lyapunov_spectrum(
            lorenz, y0, n_steps=n_steps, dt=dt, transient=2000, qr_every=10
        )
        return np.asarray(jax.block_until_ready(spectrum))

    t0 = time.perf_counter()
    spectrum = ours()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(1 if args.quick else 3):
        t0 = time.perf_counter()
        spectrum = ours()
        warm.append(time.perf_counter() - t0)
    runtime = statistics.median(warm)
    error = np.max(np.abs(spectrum - PUBLISHED_LORENZ))
    lines = [
        f"dynlearn lyapunov_spectrum Lorenz ({n_steps} RK4 steps, dt={dt}): "
        f"{np.array2string(spectrum, precision=3)}, max error {error:.3f}, "
        f"run {runtime:.2f} s, compile {max(first - runtime, 0):.2f} s"
    ]
    if _peer("dysts") is not None:
        import dysts.analysis
        import dysts.flows

        length = 1000 if args.quick else 5000
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            theirs = np.asarray(
                dysts.analysis.find_lyapunov_exponents(dysts.flows.Lorenz(), length)
            )
            peer = time.perf_counter() - t0
        peer_error = np.max(np.abs(np.sort(theirs)[::-1] - PUBLISHED_LORENZ))
        lines.append(
            f"dysts find_lyapunov_exponents({length}): {np.array2string(theirs, precision=3)}, "
            f"max error {peer_error:.3f}, {peer:.2f} s; ratio dysts / dynlearn run = "
            f"{peer / runtime:.1f}x (run + compile: {peer / first:.1f}x)"
        )
    for line in lines:
        print(line)
        out.append("\n" + line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^3 points, 17 systems")
    parser.add_argument("--only", choices=["trajectories", "lyapunov"], help="run one section only")
    args = parser.parse_args()
    out = ["# dynlearn systems benchmark\n", f"jax {jax.__version__}, {jax.devices()[0]}\n"]
    if args.only in (None, "trajectories"):
        print("== trajectories ==")
        trajectories_section(args, out)
    if args.only in (None, "lyapunov"):
        print("== Lorenz Lyapunov spectrum ==")
        out.append("\n## Lorenz Lyapunov spectrum\n")
        lyapunov_section(args, out)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "systems.md").write_text("\n".join(out) + "\n")
    print(f"wrote {results / 'systems.md'}")


if __name__ == "__main__":
    main()
