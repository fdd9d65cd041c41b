"""Keep docs/examples.md in step with the examples' docstrings.

Each example in examples/ has a section in the gallery: a `### \\`name\\`` heading, the
docstring's first line, the rest of the docstring up to its "Run:" paragraph, the command that
runs it and its figure. An example that writes a results file of the reproduction ledger
(`docs/reproductions/NAME.json`) also gets a "Measured" paragraph generated from that file, so the
gallery's numbers are the numbers of the committed run. Run `python docs/tools/sync_gallery.py`
after editing an example's docstring or committing a results file; `--check` exits 1 (listing
the examples) when the gallery is out of date, which the test suite runs. New examples must
first get a heading in the right section by hand.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "examples.md"
LEDGER = ROOT / "docs" / "reproductions"


def measured(name: str) -> str | None:
    """The "Measured" paragraph of an example from its results file, if it has one."""
    path = LEDGER / f"{name}.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    # the load as each seed ended (its own run, even when a later run resumed it), else the
    # load at the start and the end of the run
    seeds = record["per_seed"].values()
    loads = [r["load_average_end"][0] for r in seeds if r.get("load_average_end")]
    machine = record["machine"]
    load = (min(loads), max(loads)) if loads else (
        machine["load_average_start"][0], machine["load_average_end"][0]
    )  # fmt: skip
    return (
        f"Measured (`{record['command']}`, {record['wall_time_s']:.0f} s on "
        f"{record['machine']['cpu_count']} shared CPUs, load {load[0]:.1f}-{load[1]:.1f}): "
        f"{record['ours']}. Status against the paper: **{record['status']}** — {record['gap']} "
        f"([reproductions](reproductions.md#{name}))."
    )


def example_body(path: Path) -> str:
    """The gallery text of one example: its docstring without the "Run:" paragraph."""
    doc = ast.get_docstring(ast.parse(path.read_text()))
    if not doc:
        raise ValueError(f"{path} has no module docstring; the gallery is built from it")
    paragraphs = doc.strip().split("\n\n")
    kept = [p for p in paragraphs if not p.lstrip().startswith("Run:")]
    extra = measured(path.stem)
    return "\n\n".join(kept + ([extra] if extra else [])).strip()


def sync(text: str) -> tuple[str, list[str], list[str]]:
    """Return (new gallery text, examples whose section changed, examples with no section)."""
    changed, missing = [], []
    for path in sorted((ROOT / "examples").glob("*.py")):
        name = path.stem
        quoted = re.escape(name)
        run = rf"\n\n```bash\ndynlearn reproduce {quoted}\n```"
        pattern = re.compile(rf"(### `{quoted}`\n\n)(.*?)({run})", re.S)
        match = pattern.search(text)
        if match is None:
            missing.append(name)
            continue
        body = example_body(path)
        if match.group(2) != body:
            changed.append(name)
            text = text[: match.start(2)] + body + text[match.end(2) :]
    return text, changed, missing


def main() -> int:
    unknown = [a for a in sys.argv[1:] if a != "--check"]
    if unknown:  # --help included: print the usage instead of rewriting the page
        print(__doc__)
        print("usage: python " + "/".join(__file__.split("/")[-3:]) + " [--check]")
        return 0 if unknown in (["-h"], ["--help"]) else 2
    check = "--check" in sys.argv[1:]
    text, changed, missing = sync(GALLERY.read_text())
    if missing:
        print("examples with no gallery section: " + ", ".join(missing))
    if check:
        if changed:
            print("gallery out of date for: " + ", ".join(changed))
        return 1 if (changed or missing) else 0
    GALLERY.write_text(text)
    print(f"updated {len(changed)} section(s)" + (f": {', '.join(changed)}" if changed else ""))
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
