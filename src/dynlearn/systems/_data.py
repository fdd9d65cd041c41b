"""Access to the shipped system metadata (`data/*.json`), read once and cached.

`dysts_flows.json` and `dysts_maps.json` are generated from the dysts package's published
metadata (Gilpin, "Chaos as an interpretable benchmark for forecasting and data-driven
modelling"; Apache-2.0) by `tests/systems/generate_zoo_data.py`. Parameters, initial conditions,
dt, period and reference values (Lyapunov spectrum, Kaplan–Yorke and correlation dimensions) are
data here; the equations are JAX code in `_flows.py` and `_maps.py`.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources


@functools.cache
def _load(filename: str) -> dict:
    with resources.files("dynlearn.systems").joinpath("data", filename).open("r") as f:
        return json.load(f)


def dysts_flows() -> dict[str, dict]:
    """Metadata of the dysts continuous-time systems, by name (do not mutate)."""
    return _load("dysts_flows.json")["systems"]


def dysts_maps() -> dict[str, dict]:
    """Metadata of the dysts discrete maps, by name (do not mutate)."""
    return _load("dysts_maps.json")["systems"]


def data_source() -> str:
    """Where the shipped metadata came from (package and version)."""
    return _load("dysts_flows.json")["source"]


# our registry names that differ from dysts' (dysts has a flow and a map both named "Duffing")
_DYSTS_MAP_NAMES = {"DuffingMap": "Duffing"}


def lookup_metadata(name: str, *, discrete: bool = False) -> dict:
    """A deep copy of the metadata of `name` (empty dict when none is shipped)."""
    if discrete:
        entry = dysts_maps().get(_DYSTS_MAP_NAMES.get(name, name))
    else:
        entry = dysts_flows().get(name)
    return {} if entry is None else copy.deepcopy(entry)
