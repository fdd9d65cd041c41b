"""Time examples at their default and record the times in docs/reproductions/timings.json.

`dynlearn reproduce --list` shows these times for examples without a results file of their own
(an example that writes one is timed by its ledger entry). Each record keeps the command, the
wall time, the load average at the start and the end, the commit and the date, so a time read
from the list can be judged (the development machine is a shared 2-core box).

    python docs/tools/time_examples.py koopman_gauss_map recon_sindy_lorenz

The example runs in a temporary folder (its figures go there), with its output discarded; one
that runs longer than 600 s is stopped and not recorded (the machine is shared).
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "reproductions" / "timings.json"
TIMEOUT_S = 600


def time_example(name: str) -> dict:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "dynlearn", "reproduce", name, "--results-dir", folder],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return {
        "wall_time_s": round(wall, 1),
        "command": f"dynlearn reproduce {name}",
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "commit": commit,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "source": "docs/tools/time_examples.py",
    }


def main() -> int:
    names = sys.argv[1:]
    if not names:
        print(__doc__)
        return 2
    table = json.loads(TABLE.read_text()) if TABLE.exists() else {"examples": {}}
    for name in names:
        try:
            record = time_example(name)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            print(f"{name}: not recorded ({str(err).splitlines()[0]})")
            continue
        table["examples"][name] = record
        print(f"{name}: {record['wall_time_s']} s (load {record['load_average_start'][0]:.1f})")
        TABLE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
