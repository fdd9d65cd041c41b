"""Every example in examples/ runs as a script and opens as a notebook (the pattern of
docs/notebooks.md, "Examples as notebooks"): jupytext reads it as a notebook of several cells,
it never forces a matplotlib backend, and its arguments are parsed with `parse_known_args` (a
Jupyter kernel's argv carries `-f kernel.json`). One small example is executed as a notebook
through nbclient, in a real kernel, and must show its figure and write its PNG."""

import ast
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

def _calls(tree: ast.AST) -> list[str]:
    """Every call as a dotted name (`matplotlib.use`; `(...).parse_args` for `f().parse_args()`)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts, func = [], node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            parts.append(func.id if isinstance(func, ast.Name) else "(...)")
            names.append(".".join(reversed(parts)))
    return names


def pattern_problems(path: Path) -> list[str]:
    """What in the example at `path` breaks the notebook pattern (empty when nothing does)."""
    import jupytext

    problems = []
    notebook = jupytext.read(path)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    if len(notebook.cells) < 2 or not code_cells:
        problems.append(f"opens as {len(notebook.cells)} cell(s): split it with `# %%` markers")
    calls = _calls(ast.parse(path.read_text(encoding="utf-8")))
    for forcing in ("matplotlib.use", "plt.switch_backend", "matplotlib.pyplot.switch_backend"):
        if forcing in calls:
            problems.append(f"calls {forcing}(): leave the backend to MPLBACKEND / Jupyter")
    if any(c.endswith(".parse_args") for c in calls):
        problems.append("calls parse_args(): a kernel's `-f FILE` makes it exit; parse_known_args")
    return problems


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_follows_the_notebook_pattern(path):
    pytest.importorskip("jupytext")
    assert not pattern_problems(path), f"{path.name}: {pattern_problems(path)}"


def test_pattern_check_catches_each_problem(tmp_path):
    """The checker itself: a one-cell script that forces Agg and calls parse_args is rejected on
    all three counts, and the same script written to the pattern passes."""
    pytest.importorskip("jupytext")
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import argparse\nimport matplotlib\nmatplotlib.use('Agg')\n"
        "args = argparse.ArgumentParser().parse_args()\n"
    )
    problems = pattern_problems(bad)
    assert len(problems) == 3, problems
    good = tmp_path / "good.py"
    good.write_text(
        '# %% [markdown]\n"""Doc."""\n\n# %%\nimport argparse\n\n'
        "args, _ = argparse.ArgumentParser().parse_known_args()\n"
    )
    assert pattern_problems(good) == []


def test_smallest_example_executes_as_a_notebook(tmp_path):
    """koopman_linear_rotation (about 10 s) in a Jupyter kernel: the kernel's own argv, its
    inline backend (MPLBACKEND unset) shows the figure, the PNG is written, the numbers are
    those of the closed form."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = jupytext.read(ROOT / "examples" / "koopman_linear_rotation.py")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["JAX_PLATFORMS"] = "cpu"
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    errors = [float(x) for x in re.findall(r"max eigenvalue error ([0-9.e+-]+)", text)]
    errors += [float(x) for x in re.findall(r"exp\(i k omega\) = ([0-9.e+-]+)", text)]
    assert len(errors) == 2 and max(errors) < 1e-10, text
    shown = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(shown) == 1, "the figure is not shown in the notebook"
    assert (tmp_path / "dynlearn-out" / "koopman_linear_rotation.png").stat().st_size > 10_000
