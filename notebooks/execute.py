"""Execute the notebooks from their percent scripts, and check that each `.ipynb` is paired.

The `.py` files (jupytext percent format) are the source; the `.ipynb` next to each holds the
same cells with outputs of a full-setting run, for the docs site. CI runs, at smoke settings:

    DYNLEARN_SMOKE=1 python notebooks/execute.py           # execute every notebook, check pairs

and a full-setting refresh of the committed outputs is:

    python notebooks/execute.py --write lorenz_neural_ode   # (or no name for all of them)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def sources(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def check_paired(script: Path) -> str | None:
    """A message when `script`'s `.ipynb` is missing or its cells differ from the script's."""
    paired = script.with_suffix(".ipynb")
    if not paired.exists():
        return f"{paired.name} is missing: run `jupytext --to ipynb {script.name}`"
    if sources(jupytext.read(script)) != sources(nbformat.read(paired, as_version=4)):
        return (f"{paired.name} differs from {script.name}: run "
                f"`python notebooks/execute.py --write {script.stem}` (or `jupytext --sync`)")
    return None


def execute(script: Path, timeout: int) -> nbformat.NotebookNode:
    notebook = jupytext.read(script)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(HERE)}})
    client.execute()
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--write", action="store_true",
                        help="save the executed notebook as the paired .ipynb")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args(argv)
    scripts = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    if args.names:
        scripts = [HERE / f"{name}.py" for name in args.names]
    failures = []
    for script in scripts:
        if not args.write:
            problem = check_paired(script)
            if problem:
                failures.append(problem)
        start = time.perf_counter()
        try:
            notebook = execute(script, args.timeout)
        except Exception as err:  # report every notebook, then fail
            failures.append(f"{script.name}: {type(err).__name__}: {str(err)[-2000:]}")
            continue
        seconds = time.perf_counter() - start
        print(f"{script.name}: executed in {seconds:.0f} s", flush=True)
        if args.write:
            nbformat.write(notebook, script.with_suffix(".ipynb"))
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"notebooks: {len(scripts) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
