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
