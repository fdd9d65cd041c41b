"""The README's code example runs as written and shows what its comment says."""

import re
from pathlib import Path

import numpy as np


def _readme_example() -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    return blocks[0]


def test_readme_example_learns_the_lorenz_spectrum():
    """At its stated 3000 steps the learned field has Lorenz's leading exponents.

    Lorenz-63's spectrum is (0.906, 0, -14.57); the README says that the chaotic and the neutral
    exponent are learned and the contracting one less well, so that is what is checked.
    """
    code = _readme_example()
    assert "steps=3000" in code and "n_steps=20_000" in code
    code = code.replace("steps=3000,", "steps=3000, progress=False,")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    spectrum = np.asarray(namespace["spectrum"])
    assert spectrum.shape == (3,) and np.all(np.isfinite(spectrum))
    assert 0.75 < spectrum[0] < 1.05, spectrum
    assert abs(spectrum[1]) < 0.1, spectrum
    assert spectrum[2] < -5, spectrum
    assert namespace["history"][-1]["loss"] < namespace["history"][0]["loss"]


def test_readme_one_interface_example_is_the_docs_example():
    """The README's composability example is the one `tests/test_conformance.py` runs."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8").split("## One interface", 1)[1]
    docs = (root / "docs" / "analysis.md").read_text(encoding="utf-8").split("## One interface")[1]
    block = lambda text: re.search(r"```python\n(.*?)```", text, flags=re.S).group(1)
    assert block(readme) == block(docs)
    assert "dynlearn.forecast(model, context" in block(readme)
