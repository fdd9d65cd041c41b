"""Build docs/reproductions.md from the reproduction ledger in docs/reproductions/.

One row per in-scope seed paper (`docs/reproductions/papers.json`). A paper with results files
(`docs/reproductions/NAME.json`, written by `dynlearn reproduce NAME --results-dir
docs/reproductions`) gets its row from them; the others from the honest current status written
in papers.json. Below the table, one section per results file with everything it records.

Run `python docs/tools/sync_reproductions.py` after committing a results file; `--check` exits 1
when the page is out of date (the test suite runs it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "docs" / "reproductions"
PAGE = ROOT / "docs" / "reproductions.md"
STATUSES = ("reproduced", "partial", "method only", "missing")
REQUIRED = (
    "name", "paper", "claim", "paper_figures", "ours", "status", "gap", "seeds", "per_seed",
    "median", "differences", "wall_time_s", "command", "commit", "versions", "machine",
)  # fmt: skip


def load_papers() -> list[dict]:
    return json.loads((LEDGER / "papers.json").read_text(encoding="utf-8"))["papers"]


def load_results() -> list[dict]:
    """Every results file of the ledger (NAME.json written by an example), sorted by name."""
    results = []
    for path in sorted(LEDGER.glob("*.json")):
        if path.name in ("papers.json", "timings.json"):
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        absent = [key for key in REQUIRED if key not in record]
        if absent:
            raise ValueError(f"{path.relative_to(ROOT)} lacks {absent}")
        if record["status"] not in STATUSES:
            raise ValueError(f"{path.relative_to(ROOT)}: unknown status {record['status']!r}")
        if record["name"] != path.stem:
            raise ValueError(f"{path.relative_to(ROOT)} is named {record['name']!r}")
        results.append(record)
    return results


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _figures(figures: list[dict]) -> str:
    return "; ".join(f"{f['quantity']}: {f['value']} ({f['source']})" for f in figures)


def _rows(papers: list[dict], results: list[dict]) -> list[str]:
    titles = {p["title"] for p in papers}
    stray = [r["name"] for r in results if r["paper"] not in titles]
    if stray:
        raise ValueError(f"results files whose paper is not in papers.json: {stray}")
    rows = ["| paper | status | the paper's result | ours | gap |", "|---|---|---|---|---|"]
    for paper in papers:
        own = [r for r in results if r["paper"] == paper["title"]]
        name = f"{_cell(paper['title'])} <br>*{_cell(paper['topic'])}*"
        if own:
            status = min((r["status"] for r in own), key=STATUSES.index)
            theirs = " <br>".join(_cell(_figures(r["paper_figures"])) for r in own)
            ours = " <br>".join(f"[`{r['name']}`](#{r['name']}): {_cell(r['ours'])}" for r in own)
            gap = " <br>".join(_cell(r["gap"]) for r in own)
        else:
            current = paper["current"]
            if current["status"] not in STATUSES:
                raise ValueError(f"{paper['title']}: unknown status {current['status']!r}")
            status = current["status"]
            theirs = _cell(current["paper"])
            ours = f"{_cell(current['ours'])} ({_cell(current['evidence'])})"
            gap = _cell(current["gap"])
        rows.append(f"| {name} | **{status}** | {theirs} | {ours} | {gap} |")
    return rows


def _section(record: dict) -> list[str]:
    machine = record["machine"]
    versions = record["versions"]
    lines = [
        f"### `{record['name']}`",
        "",
        f"*{record['paper']}*. Status: **{record['status']}**.",
        "",
        f"- Claim reproduced: {record['claim']}",
        f"- Ours: {record['ours']}",
        f"- Gap: {record['gap']}",
        "",
        "| the paper's figure | value | source |",
        "|---|---|---|",
    ]
    lines += [
        f"| {_cell(f['quantity'])} | {_cell(f['value'])} | {_cell(f['source'])} |"
        for f in record["paper_figures"]
    ]
    keys = list(record["median"])
    if keys:
        lines += ["", "| seed | " + " | ".join(keys) + " | wall time (s) |"]
        lines.append("|---" * (len(keys) + 2) + "|")
        for seed in record["seeds"]:
            result = record["per_seed"][str(seed)]
            values = " | ".join(_number(result.get(k, "")) for k in keys)
            lines.append(f"| {seed} | {values} | {_number(result.get('wall_time_s', ''))} |")
        medians = " | ".join(_number(record["median"][k]) for k in keys)
        lines.append(f"| **median** | {medians} | |")
    lines += ["", "Protocol differences from the paper:", ""]
    lines += [f"- {d}" for d in record["differences"]] or ["- none"]
    resumed = record.get("seeds_resumed") or []
    seed_loads = [
        r["load_average_end"][0] for r in record["per_seed"].values() if r.get("load_average_end")
    ]
    lines += [
        "",
        f"Run: `{record['command']}` — {record['wall_time_s']:.0f} s wall"
        + (f" (seeds {resumed} resumed from an earlier run)" if resumed else "")
        + f", load average {machine['load_average_start'][0]:.2f} at the start and "
        f"{machine['load_average_end'][0]:.2f} at the end on {machine['cpu_count']} CPUs"
        + (
            f" ({min(seed_loads):.2f}-{max(seed_loads):.2f} as the seeds ended)"
            if seed_loads
            else ""
        )
        + "; "
        f"commit `{(record['commit'] or '?')[:10]}`"
        + (" with uncommitted changes" if record.get("uncommitted_changes") else "")
        + f", jax {versions.get('jax')}, jaxlib {versions.get('jaxlib')}"
        + (f", {record['started_at']}" if record.get("started_at") else "")
        + f". Results file: `docs/reproductions/{record['name']}.json`.",
        "",
    ]
    return lines


def _timings(results: list[dict]) -> list[str]:
    """Run times of the examples at their default: results files first, then timings.json."""
    path = LEDGER / "timings.json"
    table = json.loads(path.read_text(encoding="utf-8"))["examples"] if path.exists() else {}
    rows = []
    for record in results:
        if not record.get("config", {}).get("full"):
            loads = [
                r["load_average_end"][0]
                for r in record["per_seed"].values()
                if r.get("load_average_end")
            ] or [record["machine"]["load_average_start"][0]]
            cpu = record.get("cpu_time_s")
            seeds = record["per_seed"].values()
            if cpu is None and seeds and all("cpu_time_s" in r for r in seeds):
                cpu = sum(r["cpu_time_s"] for r in seeds)  # an example that timed its seeds
            rows.append((record["name"], record["wall_time_s"], cpu, loads, "its results file"))
    for name, timing in sorted(table.items()):
        if any(row[0] == name for row in rows):
            continue
        loads = [timing[k][0] for k in ("load_average_start", "load_average_end") if k in timing]
        rows.append(
            (name, timing["wall_time_s"], timing.get("cpu_time_s"), loads, timing["source"])
        )
    lines = [
        "## Run times",
        "",
        "Wall time of `dynlearn reproduce NAME` at the example's default, as measured (these are "
        "the times `dynlearn reproduce --list` shows; examples not listed have not been timed). "
        "The machine is a shared 2-core CPU box whose load average (1 minute) is given beside "
        "each time (compare times only at similar loads). "
        "Timed with `python docs/tools/time_examples.py NAME` unless the source says otherwise. "
        "The CPU time (all threads of the run, summed over its seeds; recorded by the ledger "
        "since issue 18's last timing pass) hardly depends on the load: on an idle machine the "
        "wall time is at most about that.",
        "",
        "| example | wall time (s) | CPU time (s) | load average | source |",
        "|---|---|---|---|---|",
    ]
    for name, wall, cpu, loads, source in sorted(rows):
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"
        cpu_cell = "" if cpu is None else f"{cpu:.0f}"
        lines.append(f"| `{name}` | {wall:.0f} | {cpu_cell} | {load} | {_cell(source)} |")
    return lines + [""] + _full_timings(path)


def _full_timings(path: Path) -> list[str]:
    """Time per seed of the longer versions (`--full`), as timed by docs/tools/time_examples.py."""
    table = json.loads(path.read_text(encoding="utf-8")).get("full", {}) if path.exists() else {}
    if not table:
        return []
    lines = [
        "### The longer versions (`--full`)",
        "",
        "Time of each seed of `dynlearn reproduce NAME --full` as the example's ledger measured it "
        "(the first seed includes start-up and compilation), timed with `python "
        "docs/tools/time_examples.py --full --seeds 0 NAME`, which keeps the run's results file "
        "as `docs/reproductions/full/NAME.json`; its status and medians (over the seeds run) are "
        "in the last column. What only the longer version shows is said in the example's text; "
        "an example not listed here has no measured `--full` time.",
        "",
        "| example | seconds per seed | CPU of the run (s) | load average | command | commit "
        "| what the longer run found |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, timing in sorted(table.items()):
        kept = path.parent / "full" / f"{name}.json"
        found = "times only (results not kept)"
        if kept.exists():
            record = json.loads(kept.read_text(encoding="utf-8"))
            found = f"**{record['status']}**: {_cell(record['ours'])}"
        per_seed = ", ".join(
            f"seed {seed}: {secs:.0f}" for seed, secs in sorted(timing["seconds_per_seed"].items())
        )
        loads = [timing[k][0] for k in ("load_average_start", "load_average_end")]
        cpu = timing.get("cpu_time_s")
        lines.append(
            f"| `{name}` | {per_seed} | {'' if cpu is None else f'{cpu:.0f}'} | "
            f"{min(loads):.1f}-{max(loads):.1f} | "
            f"`{timing['command']}` | `{timing['commit'][:10]}` | {found} |"
        )
    return lines + [""]


def render() -> str:
    papers = load_papers()
    results = load_results()
    counts = {s: 0 for s in STATUSES}
    for line in _rows(papers, results)[2:]:
        counts[line.split("**")[1]] += 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    lines = [
        "# Reproductions",
        "",
        "<!-- generated by docs/tools/sync_reproductions.py from docs/reproductions/; "
        "do not edit by hand -->",
        "",
        "Where dynlearn stands against each in-scope seed paper, one row per paper "
        f"({len(papers)} papers: {summary}). Statuses:",
        "",
        "- **reproduced**: the paper's qualitative claim holds for the median over seeds, with "
        "the paper's metric (as its code defines it) and its baseline, at CPU scale;",
        "- **partial**: the method runs but the result is weaker, on a much smaller problem, or "
        "misses a stated target;",
        "- **method only**: implemented, no reproduction;",
        "- **missing**: not implemented.",
        "",
        "A row with a linked example comes from that example's results file, written by "
        "`dynlearn reproduce NAME --results-dir docs/reproductions` (see "
        "[the dynlearn command](cli.md)); the other rows are the current status written in "
        "`docs/reproductions/papers.json` after reading the examples and their docs, with the "
        "page and command the quoted numbers come from.",
        "",
        *_rows(papers, results),
        "",
        "## Results files",
        "",
    ]
    if not results:
        lines += ["No results file yet.", ""]
    for record in results:
        lines += _section(record)
    lines += _timings(results)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    unknown = [a for a in sys.argv[1:] if a != "--check"]
    if unknown:  # --help included: print the usage instead of rewriting the page
        print(__doc__)
        print("usage: python " + "/".join(__file__.split("/")[-3:]) + " [--check]")
        return 0 if unknown in (["-h"], ["--help"]) else 2
    text = render()
    if "--check" in sys.argv[1:]:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(
                "docs/reproductions.md is out of date: run python docs/tools/sync_reproductions.py"
            )
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
