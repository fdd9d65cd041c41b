"""Time examples at their default and record the times in docs/reproductions/timings.json.

`dynlearn reproduce --list` shows these times for examples without a results file of their own
(an example that writes one is timed by its ledger entry). Each record keeps the command, the
wall time, the load average at the start and the end, the commit and the date, so a time read
from the list can be judged (the development machine is a shared 2-core box).

    python docs/tools/time_examples.py koopman_gauss_map recon_sindy_lorenz

The example runs in a temporary folder (its figures go there), with its output discarded; one
that runs longer than `--timeout` seconds (600 by default) is stopped and not recorded (the
machine is shared).

`--full --seeds 0` times the longer version instead, one seed (or the seeds given), and records
it under "full" in the same file, with the time of each seed as the example's results file
reports it (its ledger times every seed; process start-up and compilation of the first seed
included); the generated page lists these times per seed beside the defaults':

    python docs/tools/time_examples.py --full --seeds 0 --timeout 3600 fbm_hurst

The longer run's results file is kept as docs/reproductions/full/NAME.json (its medians, status
and gap, from the seeds run), so the page can show what the longer version found beside its
time; the example's text says what only the longer version shows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "reproductions" / "timings.json"
FULL_RESULTS = ROOT / "docs" / "reproductions" / "full"
TIMEOUT_S = 600


def _commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def time_example(
    name: str,
    *,
    full: bool = False,
    seeds: list[int] | None = None,
    timeout: float = TIMEOUT_S,
    keep: Path | None = None,
) -> dict:
    """Run `dynlearn reproduce NAME` (with `--full`/`--seeds` if given) and time it.

    With `keep`, the run's results file `NAME.json` is copied into that folder (the `--full`
    runs keep theirs in docs/reproductions/full/).
    """
    commit = _commit()
    extra = (["--full"] if full else []) + (
        ["--seeds", *map(str, seeds)] if seeds is not None else []
    )
    load_start = os.getloadavg()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "dynlearn", "reproduce", name, *extra, "--results-dir", folder],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        results = Path(folder) / f"{name}.json"
        per_seed = (
            {
                seed: round(float(r["wall_time_s"]), 1)
                for seed, r in json.loads(results.read_text())["per_seed"].items()
            }
            if results.exists()
            else {}
        )
        if keep is not None and results.exists() and done.returncode == 0:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(results, keep / results.name)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    record = {
        "wall_time_s": round(wall, 1),
        "cpu_time_s": round(cpu, 1),  # the run's processes, all threads
        "command": " ".join(["dynlearn reproduce", name, *extra]),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "commit": commit,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "source": "docs/tools/time_examples.py",
    }
    if full:
        if not per_seed:
            raise RuntimeError(f"{name} wrote no results file with per-seed times")
        record["seconds_per_seed"] = per_seed
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="examples to time")
    parser.add_argument("--full", action="store_true", help="time the longer version")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds to run (passed on)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per example")
    args = parser.parse_args()
    if not args.names:
        print(__doc__)
        return 2
    for name in args.names:
        try:
            record = time_example(
                name,
                full=args.full,
                seeds=args.seeds,
                timeout=args.timeout,
                keep=FULL_RESULTS if args.full else None,
            )
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            print(f"{name}: not recorded ({str(err).splitlines()[0]})")
            continue
        # read the table again: another timing run may have written it meanwhile
        table = json.loads(TABLE.read_text()) if TABLE.exists() else {"examples": {}}
        section = table.setdefault("full", {}) if args.full else table["examples"]
        section[name] = record
        print(f"{name}: {record['wall_time_s']} s (load {record['load_average_start'][0]:.1f})")
        TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
