"""The reproduction ledger: what an example measured, against which paper figure, on what machine.

An example that reproduces (part of) a paper's result opens a `Reproduction`, runs each seed
through `Reproduction.seed` and ends with `Reproduction.finish`, which writes `DIR/NAME.json`:
the paper, the claim, the paper's figures with their source (table or figure), our numbers for
every seed and their median, the protocol differences from the paper (one line each), the status,
the wall time, the command, the git commit, the jax/jaxlib versions and the machine's load
average at the start and the end of the run.

`DIR` is `dynlearn reproduce NAME --results-dir DIR` (passed to the example in the environment
variable `DYNLEARN_RESULTS_DIR`), else `./dynlearn-out`. Each seed's result is also written to
`DIR/NAME.seeds/seed-K.json` as soon as it is done; a later run with the same configuration
reads it instead of recomputing the seed, so an interrupted reproduction resumes where it stopped.
Delete that folder to recompute.

The committed ledger lives in `docs/reproductions/`; `docs/tools/sync_reproductions.py` turns it
into `docs/reproductions.md`. Statuses (issue 18 of the project's tracker):

- *reproduced*: the paper's qualitative claim holds for the median over seeds, with the paper's
  metric (as its code defines it) and its baseline, at CPU scale;
- *partial*: the method runs but the result is weaker, on a much smaller problem, or misses a
  stated target;
- *method only*: implemented, no reproduction;
- *missing*: not implemented.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR_ENV = "DYNLEARN_RESULTS_DIR"
COMMAND_ENV = "DYNLEARN_REPRODUCE_COMMAND"
STATUSES = ("reproduced", "partial", "method only", "missing")
_DEFAULT_DIR = "dynlearn-out"
_REPO = Path(__file__).resolve().parents[2]
_log = logging.getLogger("dynlearn.ledger")


def results_dir() -> Path:
    """The folder results files go to: `$DYNLEARN_RESULTS_DIR`, else `./dynlearn-out`."""
    return Path(os.environ.get(RESULTS_DIR_ENV) or _DEFAULT_DIR)


def _jsonable(value: Any) -> Any:
    """Plain JSON values from numpy/JAX scalars and arrays, tuples and nested mappings."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if hasattr(value, "tolist"):  # numpy / JAX arrays and scalars
        return _jsonable(value.tolist())
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to a results file")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=_REPO, capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for module in ("jax", "jaxlib"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    return versions


def _command() -> str:
    from_cli = os.environ.get(COMMAND_ENV)
    if from_cli:
        return from_cli
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


class Reproduction:
    """One run of a reproduction; writes `DIR/NAME.json` when `finish` is called.

    **Arguments:**

    - `name`: the example's name (its file stem); the results file is `NAME.json`.
    - `paper`: the paper's title, as in `docs/reproductions/papers.json`.
    - `claim`: the claim of the paper this run reproduces, in one sentence.
    - `paper_figures`: the paper's numbers compared with, each a mapping with `quantity`,
      `value` (a number or a short text) and `source` (paper, table or figure).
    - `config`: the settings that change the results (sizes, steps, `--full`); a seed's saved
      result is reused only when its configuration is the same.
    - `directory`: where to write; default `results_dir()`.
    """

    def __init__(
        self,
        name: str,
        *,
        paper: str,
        claim: str,
        paper_figures: Sequence[Mapping[str, Any]],
        config: Mapping[str, Any],
        directory: str | os.PathLike | None = None,
    ):
        for figure in paper_figures:
            absent = {"quantity", "value", "source"} - set(figure)
            if absent:
                raise ValueError(f"paper figure {dict(figure)} lacks {sorted(absent)}")
        self.name = name
        self.paper = paper
        self.claim = claim
        self.paper_figures = [_jsonable(f) for f in paper_figures]
        self.config = _jsonable(config)
        self.directory = Path(directory) if directory is not None else results_dir()
        self.per_seed: dict[int, dict[str, Any]] = {}
        self.resumed: list[int] = []
        self._start = time.perf_counter()
        self._load_start = list(os.getloadavg())
        self._started_at = datetime.datetime.now(datetime.UTC)

    @property
    def seed_dir(self) -> Path:
        return self.directory / f"{self.name}.seeds"

    def seed_path(self, seed: int) -> Path:
        return self.seed_dir / f"seed-{seed}.json"

    def saved_seed(self, seed: int) -> dict[str, Any] | None:
        """The saved result of `seed` from an earlier run with the same config, if any."""
        path = self.seed_path(seed)
        if not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if saved.get("config") != self.config:
            return None
        return saved

    def seed(self, seed: int, compute: Callable[[int], Mapping[str, Any]]) -> dict[str, Any]:
        """Run `compute(seed)` (a mapping of JSON-able results), or reuse its saved result.

        The result is saved to `DIR/NAME.seeds/seed-K.json` with the seed's wall time.
        """
        saved = self.saved_seed(seed)
        if saved is not None:
            _log.info("seed %s: reusing %s", seed, self.seed_path(seed))
            self.resumed.append(seed)
            result = saved["result"]
            wall = saved["wall_time_s"]
            cpu = saved.get("cpu_time_s")
            load = saved.get("load_average_end")
        else:
            start, cpu_start = time.perf_counter(), time.process_time()
            result = _jsonable(dict(compute(seed)))
            wall = time.perf_counter() - start
            cpu = round(time.process_time() - cpu_start, 2)
            self.seed_dir.mkdir(parents=True, exist_ok=True)
            load = [round(x, 2) for x in os.getloadavg()]
            record = {
                "config": self.config,
                "result": result,
                "wall_time_s": round(wall, 2),
                "cpu_time_s": cpu,
                "load_average_end": load,
            }
            self.seed_path(seed).write_text(json.dumps(record, indent=1) + "\n")
        # the machine's load when the seed ended: the whole run's start/end loads say little
        # when seeds were resumed from an earlier run
        # CPU seconds of the process (all threads): near the seed's wall time on an idle
        # machine whatever the load was, a load-independent measure of its cost
        timing = {"wall_time_s": round(wall, 2), "load_average_end": load}
        if cpu is not None:
            timing["cpu_time_s"] = cpu
        self.per_seed[seed] = {**result, **timing}
        return dict(result)

    def medians(self) -> dict[str, float]:
        """Median over the seeds run so far of every numeric result."""
        keys: list[str] = []
        for result in self.per_seed.values():
            for key, value in result.items():
                numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
                if numeric and key not in ("wall_time_s", "cpu_time_s") and key not in keys:
                    keys.append(key)
        return {
            key: _median([float(r[key]) for r in self.per_seed.values() if key in r])
            for key in keys
        }

    def finish(
        self,
        *,
        ours: str,
        status: str,
        gap: str,
        differences: Sequence[str],
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write `DIR/NAME.json` and return its path.

        **Arguments:**

        - `ours`: our result in one line, with the median numbers (built from the measured
          values, never typed in).
        - `status`: one of `STATUSES`.
        - `gap`: the difference from the paper's result in words.
        - `differences`: protocol differences from the paper, one line each.
        - `extra`: further JSON-able figures worth keeping (not per seed).
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        if not self.per_seed:
            raise ValueError("no seed was run: call `seed(...)` before `finish(...)`")
        wall = time.perf_counter() - self._start
        resumed_wall = sum(self.per_seed[s]["wall_time_s"] for s in self.resumed)
        changed = _git("status", "--porcelain", "--", "src", "examples")
        record = {
            "name": self.name,
            "paper": self.paper,
            "claim": self.claim,
            "paper_figures": self.paper_figures,
            "ours": ours,
            "status": status,
            "gap": gap,
            "seeds": sorted(self.per_seed),
            "per_seed": {str(s): self.per_seed[s] for s in sorted(self.per_seed)},
            "median": self.medians(),
            "differences": list(differences),
            "config": self.config,
            "extra": _jsonable(dict(extra or {})),
            # A resumed seed's time was spent by the earlier run: count it, and say so.
            "wall_time_s": round(wall + resumed_wall, 1),
            # the seeds' CPU seconds (null when a resumed seed predates this record)
            "cpu_time_s": (
                round(sum(r["cpu_time_s"] for r in self.per_seed.values()), 1)
                if all("cpu_time_s" in r for r in self.per_seed.values())
                else None
            ),
            "seeds_resumed": sorted(self.resumed),
            "command": _command(),
            "commit": _git("rev-parse", "HEAD"),
            "uncommitted_changes": changed.splitlines() if changed else [],
            "versions": _versions(),
            "machine": {
                "cpu_count": os.cpu_count(),
                "load_average_start": [round(x, 2) for x in self._load_start],
                "load_average_end": [round(x, 2) for x in os.getloadavg()],
            },
            "started_at": self._started_at.isoformat(timespec="seconds"),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.name}.json"
        path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        _log.info("wrote %s", path)
        return path
