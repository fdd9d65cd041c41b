"""Koopman benchmark: dynlearn.koopman against PyDMD on the same data, ratios measured in one run.

- exact DMD (rank-truncated): eigenvalues compared with PyDMD's `DMD`, median fit times;
- RBF kernel EDMD on 1000 snapshots at rank 50 and at full rank: eigenvalues compared with
  PyDMD's `EDMD(kernel_metric="rbf")`, median fit times; then the ResDMD residuals of all
  eigenpairs (which PyDMD does not offer), timed against our own fit;
- the approximate pseudospectrum on a 100x100 grid (ResDMD, rank-50 kernel dictionary).

Times are medians of repeated calls after a first (compiling) call, whose extra time is reported
separately as compile time. The machine may be shared: compare ratios, not absolute seconds.
Writes benchmarks/results/koopman.md.

    python benchmarks/koopman.py           # default
    python benchmarks/koopman.py --quick   # smoke run: fewer repeats, smaller problems
"""

import argparse
import statistics
import time
import warnings
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # PyDMD works in float64; ResDMD needs it
import jax.numpy as jnp
import numpy as np

import dynlearn.koopman as dk

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller problems")
parser.add_argument("--repeats", type=int, default=None)
cli = parser.parse_args()
repeats = cli.repeats or (2 if cli.quick else 5)

try:
    import pydmd
except ImportError:
    pydmd = None
    print("peer not installed: pydmd (pip install -r benchmarks/peers/requirements.txt)")


def timed(fn):
    """(first-call seconds, median seconds of `repeats` further calls, last result)."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), out


def spectrum_distance(a, b):
    """Largest nearest-neighbour distance between two sets of complex numbers (both ways)."""
    a, b = np.asarray(a), np.asarray(b)
    d = np.abs(a[:, None] - b[None, :])
    return float(max(d.min(axis=1).max(), d.min(axis=0).max()))


rows = []


def report(name, ours, peer=None, match=None, note=""):
    first, median, _ = ours
    compile_s = max(first - median, 0.0)
    peer_s = None if peer is None else peer[1]
    ratio = "" if peer_s is None else f"{peer_s / median:.2f}x"
    rows.append((name, median, compile_s, peer_s, ratio, match, note))
    peer_txt = "peer n/a" if peer_s is None else f"PyDMD {peer_s:.4f} s, speed-up {ratio}"
    match_txt = "" if match is None else f", max eigenvalue difference {match:.1e}"
    print(
        f"{name}: dynlearn {median:.4f} s (compile {compile_s:.2f} s), {peer_txt}{match_txt} {note}"
    )


# ------------------------------------------------------------------------------ exact DMD
n_space, n_time, rank = (128, 400, 10) if cli.quick else (512, 2000, 20)
x = np.linspace(-5, 5, n_space)
t = np.arange(n_time) * 0.02
snapshots = sum(
    np.outer(np.exp(-0.05 * k * t) * np.cos(w * t), np.cos(k * x) / np.cosh(x / k))
    + np.outer(np.exp(-0.05 * k * t) * np.sin(w * t), np.sin(k * x) / np.cosh(x / k))
    for k, w in zip(range(1, 11), np.linspace(1.0, 7.0, 10))
)
X, Y = jnp.asarray(snapshots[:-1]), jnp.asarray(snapshots[1:])
ours = timed(lambda: dk.dmd(X, Y, rank=rank))
peer = match = None
if pydmd is not None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = timed(lambda: pydmd.DMD(svd_rank=rank).fit(snapshots.T))
    match = spectrum_distance(ours[2].eigenvalues, peer[2].eigs)
report(f"exact DMD ({n_time} x {n_space}, rank {rank})", ours, peer, match)

# ------------------------------------------------------------------------ RBF kernel EDMD
n_snap = 300 if cli.quick else 1000
dt = 0.1
ts = np.arange(n_snap + 1) * dt
traj = np.stack(
    [np.cos(ts) * np.exp(-0.01 * ts) + 0.3 * np.cos(2.7 * ts), np.sin(ts) * np.exp(-0.01 * ts)], 1
)
lengthscale = 1.0
gamma = 1 / (2 * lengthscale**2)
Xk, Yk = jnp.asarray(traj[:-1]), jnp.asarray(traj[1:])
kernel = dk.GaussianKernel(lengthscale)
for kernel_rank, label in ((50, "rank 50"), (None, "full rank")):
    ours = timed(lambda r=kernel_rank: dk.kernel_edmd(kernel, Xk, Yk, rank=r))
    peer = match = None
    if pydmd is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            peer = timed(
                lambda r=kernel_rank: pydmd.EDMD(
                    svd_rank=-1 if r is None else r,
                    kernel_metric="rbf",
                    kernel_params={"gamma": gamma},
                ).fit(traj.T)
            )
        ours_eigs = np.asarray(ours[2].eigenvalues)
        ours_eigs = ours_eigs[np.abs(ours_eigs) > 1e-16]
        match = spectrum_distance(ours_eigs, peer[2].eigs)
    note = "(full rank: the Gram matrix is numerically singular, eigenvalues are ill-conditioned)"
    report(
        f"RBF kernel EDMD ({n_snap} snapshots, {label})",
        ours,
        peer,
        match,
        note if kernel_rank is None else "",
    )
    fit_s = ours[1]
    decomposition = ours[2]
    residual_run = timed(
        lambda d=decomposition: dk.resdmd(d.dictionary, Xk, Yk).residuals(
            d.eigenvalues, d.eigenvectors
        )
    )
    first, median, res = residual_run
    rows.append(
        (
            f"ResDMD residuals, {label}",
            median,
            max(first - median, 0.0),
            None,
            f"{median / fit_s:.2f}x our fit",
            None,
            "",
        )
    )
    print(
        f"ResDMD residuals of all {res.shape[0]} eigenpairs ({label}): {median:.4f} s = "
        f"{median / fit_s:.2f}x the kernel EDMD fit (compile {max(first - median, 0.0):.2f} s)"
    )
    if kernel_rank == 50:
        rank50 = decomposition

# --------------------------------------------------------------------------- pseudospectrum
n_grid = 30 if cli.quick else 100
verified = dk.resdmd(rank50.dictionary, Xk, Yk)
xs = np.linspace(-1.5, 1.5, n_grid)
grid = jnp.asarray(xs[None, :] + 1j * xs[:, None])
first, median, _ = timed(lambda: verified.pseudospectrum(grid))
rows.append(
    (
        f"pseudospectrum {n_grid}x{n_grid} (50 features)",
        median,
        max(first - median, 0.0),
        None,
        "",
        None,
        "",
    )
)
print(
    f"pseudospectrum on a {n_grid}x{n_grid} grid (50 features): {median:.3f} s "
    f"(compile {max(first - median, 0.0):.2f} s)"
)

# ---------------------------------------------------------------------------------- table
out = Path(__file__).parent / "results"
out.mkdir(parents=True, exist_ok=True)
lines = [
    "# Koopman benchmark (dynlearn.koopman vs PyDMD)",
    "",
    f"jax {jax.__version__}, backend {jax.default_backend()}, float64, median of {repeats} calls.",
    "",
    "| case | dynlearn (s) | compile (s) | PyDMD (s) | ratio | max eigenvalue diff | note |",
    "|---|---|---|---|---|---|---|",
]
for name, median, compile_s, peer_s, ratio, match, note in rows:
    peer_txt = "" if peer_s is None else f"{peer_s:.4f}"
    match_txt = "" if match is None else f"{match:.1e}"
    lines.append(
        f"| {name} | {median:.4f} | {compile_s:.2f} | {peer_txt} | {ratio} | {match_txt} | {note} |"
    )
(out / "koopman.md").write_text("\n".join(lines) + "\n")
print(f"wrote {out / 'koopman.md'}")
