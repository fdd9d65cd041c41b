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
benchmarks/results/systems.md (after every line, so an interrupted run keeps its results).
`--only per-system,zoo,dysts,lyapunov` picks sections; `--quick`: 10^3 points, 17 systems,
shorter Lyapunov runs.
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


def _emit(out, line, results):
    print(line, flush=True)
    out.append("\n" + line)
    results.write_text("\n".join(out) + "\n")  # partial results survive an interrupted run


def _zoo_names(args):
    names = sorted(systems.names("flows") + systems.names("delay"))
    if args.quick:
        names = sorted(set(names[::9]) | {"Lorenz", "MackeyGlass"})
    return names


def per_system_section(args, out, state, results):
    scipy = _peer("scipy")
    names = _zoo_names(args)
    n = state["n"]
    repeats = 1 if args.quick else 2
    tol = state["tol"]
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
    out.append(f"{n} points per system, {len(rows)} systems, rtol = atol = {tol:g}, float64\n")
    out.append("| system | dynlearn run (s) | compile (s) | scipy DOP853 (s) | finite |")
    out.append("|---|---|---|---|---|")
    for name, runtime, compile_, peer, finite in rows:
        peer_text = "n/a" if peer is None else f"{peer:.3f}"
        out.append(f"| {name} | {runtime:.4f} | {compile_:.2f} | {peer_text} | {finite} |")
    state["per_system_total"] = ours_run + ours_compile
    _emit(
        out,
        f"dynlearn trajectory, one compilation per system, {len(rows)} systems: run "
        f"{ours_run:.2f} s, compile {ours_compile:.1f} s (total {ours_run + ours_compile:.1f} s); "
        f"all finite: {all(r[4] for r in rows)}",
        results,
    )
    if scipy_total:
        _emit(
            out,
            f"scipy DOP853 on the {sum(r[3] is not None for r in rows)} systems it finished "
            f"within the {cap:.0f} s cap: {scipy_total:.1f} s; dynlearn run on the same systems "
            f"{ours_on_scipy:.2f} s: ratio scipy / dynlearn = {scipy_total / ours_on_scipy:.1f}x",
            results,
        )
    if failed:
        _emit(out, "dynlearn failures: " + "; ".join(failed), results)


def zoo_section(args, out, state, results):
    names = _zoo_names(args)
    n, tol = state["n"], state["tol"]
    zoo = [systems.get(name) for name in names]
    kwargs = dict(
        points_per_period=100, dtype=jnp.float64, rtol=tol, atol=tol, max_steps=1000 * n + 10_000
    )
    t0 = time.perf_counter()
    outs = jax.block_until_ready(systems.zoo_trajectories(zoo, n, **kwargs))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(systems.zoo_trajectories(zoo, n, **kwargs))
    warm = time.perf_counter() - t0
    state["zoo_first"] = first
    finite = all(bool(np.all(np.isfinite(np.asarray(o)))) for o in outs)
    _emit(
        out,
        f"dynlearn zoo_trajectories, {len(zoo)} systems in one call ({n} points each): first "
        f"call (compile + run) {first:.1f} s, warm call {warm:.1f} s; all finite: {finite}",
        results,
    )


def dysts_section(args, out, state, results):
    if _peer("dysts") is None:
        return
    n, tol = state["n"], state["tol"]
    lorenz = systems.get("Lorenz")
    runtime, compile_, _ = time_dynlearn(lorenz, n, tol, 1 if args.quick else 3)
    peer = time_dysts("Lorenz", n, 1200.0)
    if peer is None:
        _emit(out, f"dysts make_trajectory({n}) Lorenz: over the 1200 s cap", results)
        return
    _emit(
        out,
        f"dysts make_trajectory({n}) Lorenz: {peer:.1f} s; dynlearn trajectory run "
        f"{runtime:.4f} s (ratio {peer / runtime:.0f}x), run + compile {runtime + compile_:.2f} s "
        f"(ratio {peer / (runtime + compile_):.1f}x)",
        results,
    )
    count = len(_zoo_names(args))
    for label, key in (
        ("trajectory per system", "per_system_total"),
        ("zoo_trajectories", "zoo_first"),
    ):
        if key in state:
            _emit(
                out,
                f"all {count} systems: dysts extrapolated at its Lorenz time ({peer * count:.0f} s)"
                f" / dynlearn {label} incl. compilation ({state[key]:.1f} s) = "
                f"{peer * count / state[key]:.0f}x",
                results,
            )


def lyapunov_section(args, out, state, results):
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
        _emit(out, line, results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^3 points, 17 systems")
    parser.add_argument(
        "--only",
        default="per-system,zoo,dysts,lyapunov",
        help="comma-separated sections: per-system, zoo, dysts, lyapunov",
    )
    args = parser.parse_args()
    sections = {
        "per-system": per_system_section,
        "zoo": zoo_section,
        "dysts": dysts_section,
        "lyapunov": lyapunov_section,
    }
    chosen = [name.strip() for name in args.only.split(",")]
    unknown = [name for name in chosen if name not in sections]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {list(sections)}")
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    results = results / "systems.md"
    out = ["# dynlearn systems benchmark\n", f"jax {jax.__version__}, {jax.devices()[0]}\n"]
    state = {"n": 1000 if args.quick else 10_000, "tol": 1e-9}
    for name in chosen:
        print(f"== {name} ==", flush=True)
        out.append(f"\n## {name}\n")
        sections[name](args, out, state, results)
    results.write_text("\n".join(out) + "\n")
    print(f"wrote {results}")


if __name__ == "__main__":
    main()
