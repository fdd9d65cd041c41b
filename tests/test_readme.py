"""The README's code example runs as written (with fewer steps, to stay fast)."""

import re
from pathlib import Path

import numpy as np


def test_readme_example_runs():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    code = blocks[0]
    assert "steps=2000" in code and "n_steps=20_000" in code
    code = code.replace("steps=2000", "steps=64, progress=False").replace(
        "n_steps=20_000", "n_steps=500"
    )
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    spectrum = np.asarray(namespace["spectrum"])
    assert spectrum.shape == (3,) and np.all(np.isfinite(spectrum))
    # The exponents of any flow sum to its mean divergence; a trained dissipative model
    # contracts volume, so the sum is negative.
    assert spectrum.sum() < 0
    assert namespace["history"][-1]["loss"] < namespace["history"][0]["loss"]
