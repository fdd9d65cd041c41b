"""The examples gallery (docs/examples.md) covers every example, with its figure, and its text is
the example's own docstring (regenerate with `python docs/tools/sync_gallery.py`)."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "tools"))

import sync_gallery  # noqa: E402


def test_gallery_text_matches_example_docstrings():
    text = (ROOT / "docs" / "examples.md").read_text()
    _, changed, missing = sync_gallery.sync(text)
    assert not missing, f"examples with no gallery section: {missing}"
    assert not changed, f"run `python docs/tools/sync_gallery.py`; out of date: {changed}"


def test_every_gallery_figure_exists():
    text = (ROOT / "docs" / "examples.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", text)
    assert len(figures) >= len(list((ROOT / "examples").glob("*.py")))
    absent = [f for f in figures if not (ROOT / "docs" / f).is_file()]
    assert not absent, f"gallery figures missing from docs/: {absent}"
