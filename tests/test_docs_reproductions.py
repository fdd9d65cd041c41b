"""docs/reproductions.md is generated from the reproduction ledger (docs/reproductions/): it is
up to date, has one row per in-scope seed paper, and every results file is complete."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "tools"))

import sync_reproductions  # noqa: E402


def test_page_matches_the_ledger():
    text = (ROOT / "docs" / "reproductions.md").read_text(encoding="utf-8")
    assert text == sync_reproductions.render(), "run `python docs/tools/sync_reproductions.py`"


def test_one_row_per_in_scope_paper():
    papers = sync_reproductions.load_papers()
    assert len(papers) == 20 and len({p["title"] for p in papers}) == 20
    text = (ROOT / "docs" / "reproductions.md").read_text(encoding="utf-8")
    for paper in papers:
        rows = [line for line in text.splitlines() if line.startswith(f"| {paper['title']} ")]
        assert len(rows) == 1, paper["title"]
        assert rows[0].split("**")[1] in sync_reproductions.STATUSES


def test_results_files_are_complete_and_name_their_examples():
    examples = {p.stem for p in (ROOT / "examples").glob("*.py")}
    for record in sync_reproductions.load_results():  # raises on a missing field
        assert record["name"] in examples
        assert record["seeds"] and set(map(str, record["seeds"])) == set(record["per_seed"])
        assert record["paper_figures"] and record["differences"]
        assert record["command"].startswith("dynlearn reproduce " + record["name"])


def test_page_is_regenerated_when_a_results_file_changes(tmp_path, monkeypatch):
    ledger = tmp_path / "reproductions"
    ledger.mkdir()
    papers = json.loads((ROOT / "docs" / "reproductions" / "papers.json").read_text())
    (ledger / "papers.json").write_text(json.dumps(papers))
    monkeypatch.setattr(sync_reproductions, "LEDGER", ledger)
    before = sync_reproductions.render()
    title = papers["papers"][0]["title"]
    record = {
        "name": "demo", "paper": title, "claim": "c", "ours": "median 0.5",
        "paper_figures": [{"quantity": "q", "value": 0.1, "source": "Table 2"}],
        "status": "reproduced", "gap": "none", "seeds": [0], "per_seed": {"0": {"e": 0.5}},
        "median": {"e": 0.5}, "differences": ["d"], "wall_time_s": 3.0,
        "command": "dynlearn reproduce demo", "commit": "0" * 40,
        "versions": {"jax": "x", "jaxlib": "y"},
        "machine": {"cpu_count": 2, "load_average_start": [1, 1, 1], "load_average_end": [2, 2, 2]},
    }  # fmt: skip
    (ledger / "demo.json").write_text(json.dumps(record))
    after = sync_reproductions.render()
    assert after != before
    row = next(line for line in after.splitlines() if line.startswith(f"| {title} "))
    assert "**reproduced**" in row and "median 0.5" in row and "Table 2" in row


def test_full_timings_table_lists_each_seed(tmp_path, monkeypatch):
    ledger = tmp_path / "reproductions"
    ledger.mkdir()
    (ledger / "papers.json").write_text(
        (ROOT / "docs" / "reproductions" / "papers.json").read_text()
    )
    monkeypatch.setattr(sync_reproductions, "LEDGER", ledger)
    assert "--full`)" not in sync_reproductions.render()  # no longer versions timed: no table
    timing = {
        "wall_time_s": 75.0, "command": "dynlearn reproduce demo --full --seeds 0 3",
        "load_average_start": [1.5, 1, 1], "load_average_end": [2.25, 2, 2], "cpu_count": 2,
        "commit": "abcdef0123456789", "date": "2026-12-07T00:00:00+00:00",
        "source": "docs/tools/time_examples.py", "seconds_per_seed": {"3": 30.4, "0": 40.6},
    }  # fmt: skip
    (ledger / "timings.json").write_text(json.dumps({"examples": {}, "full": {"demo": timing}}))
    lines = sync_reproductions.render().splitlines()
    row = next(line for line in lines if line.startswith("| `demo` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == [
        "`demo`", "seed 0: 41, seed 3: 30", "", "1.5-2.2",
        "`dynlearn reproduce demo --full --seeds 0 3`", "`abcdef0123`",
        "times only (results not kept)",
    ]  # fmt: skip
    # a kept results file of the longer run: its status and medians fill the last cell
    (ledger / "full").mkdir()
    kept = {"status": "partial", "ours": "median error 0.25 | 2 seeds"}
    (ledger / "full" / "demo.json").write_text(json.dumps(kept))
    row = next(
        line for line in sync_reproductions.render().splitlines() if line.startswith("| `demo` |")
    )
    assert row.endswith("| **partial**: median error 0.25 \\| 2 seeds |")
    assert "demo" not in [r["name"] for r in sync_reproductions.load_results()]


def test_time_examples_records_the_seconds_of_each_seed(tmp_path, monkeypatch):
    """The timing tool runs the command it records and reads each seed's time from the
    results file the run wrote (a stand-in for `python -m dynlearn` that writes one)."""
    import subprocess

    import time_examples

    seen = {}

    def fake_run(cmd, cwd, **kwargs):
        seen["cmd"] = cmd
        folder = Path(cmd[cmd.index("--results-dir") + 1])
        per_seed = {"0": {"wall_time_s": 12.34}, "1": {"wall_time_s": 5.0}}
        (folder / "demo.json").write_text(json.dumps({"per_seed": per_seed}))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(time_examples.subprocess, "run", fake_run)
    monkeypatch.setattr(time_examples, "_commit", lambda: "0" * 40)
    record = time_examples.time_example("demo", full=True, seeds=[0, 1], keep=tmp_path / "kept")
    assert seen["cmd"][-6:-2] == ["--full", "--seeds", "0", "1"]
    assert record["command"] == "dynlearn reproduce demo --full --seeds 0 1"
    assert record["seconds_per_seed"] == {"0": 12.3, "1": 5.0}
    kept = json.loads((tmp_path / "kept" / "demo.json").read_text())  # the results file, kept
    assert kept["per_seed"]["0"]["wall_time_s"] == 12.34
