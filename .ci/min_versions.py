"""Print `name==version` pins for the lower bounds of pyproject's runtime dependencies.

CI installs these in a second environment so the declared minimum versions are the tested ones.
jaxlib is pinned to jax's minimum as well: jax's own requirement on it is a range.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_BOUND = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*(?:,.*)?$")


def minimum_pins(pyproject: Path) -> list[str]:
    """One `name==version` line per runtime dependency, from its `>=` lower bound.

    **Arguments:**

    - `pyproject`: path of the pyproject.toml to read.

    **Returns:** the pins, in the order of `[project].dependencies`.

    **Raises:** `SystemExit` naming a dependency that has no `>=` lower bound.
    """
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = []
    for dep in deps:
        match = _BOUND.match(dep)
        if match is None:
            raise SystemExit(f"min_versions: dependency {dep!r} has no '>=' lower bound")
        name, version = match.groups()
        pins.append(f"{name}=={version}")
        if name == "jax":
            pins.append(f"jaxlib=={version}")
    return pins


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "pyproject.toml"
    print("\n".join(minimum_pins(path)))
