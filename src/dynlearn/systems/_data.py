"""Access to the shipped system metadata (`data/*.json`), read once and cached.

`dysts_flows.json` and `dysts_maps.json` are generated from the dysts package's published
metadata (Gilpin, "Chaos as an interpretable benchmark for forecasting and data-driven
modelling"; Apache-2.0) by `tests/systems/generate_zoo_data.py`. Parameters, initial conditions,
dt, period and reference values (Lyapunov spectrum, Kaplan–Yorke and correlation dimensions) are
data here; the equations are JAX code in `_flows.py` and `_maps.py`.

Each system's reference largest Lyapunov exponent is `metadata["max_lyapunov"]` (with its origin
in `metadata["max_lyapunov_source"]`): for the dysts flows, dysts' `maximum_lyapunov_estimated`,
the field Gilpin's forecasting benchmark converts lead times to Lyapunov times with; for the maps
(dysts ships none), the value computed by `tests/systems/generate_map_lyapunov.py` with
`dynlearn.analysis.max_lyapunov` (`map_lyapunov.json`), left out (None) where it is below 0.01,
i.e. no chaos measurable at the published parameters. dysts also
ships `lyapunov_spectrum_estimated`, whose first entry is a different estimate (Lorenz: 1.091
against 0.892; the literature value is 0.9056): do not mix the two.
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


def computed_map_lyapunov() -> dict:
    """Largest Lyapunov exponents of the zoo maps computed by dynlearn, with their source."""
    return _load("map_lyapunov.json")


def dysts_maps() -> dict[str, dict]:
    """Metadata of the dysts discrete maps, by name (do not mutate)."""
    return _load("dysts_maps.json")["systems"]


def data_source() -> str:
    """Where the shipped metadata came from (package and version)."""
    return _load("dysts_flows.json")["source"]


# our registry names that differ from dysts' (dysts has a flow and a map both named "Duffing")
_DYSTS_MAP_NAMES = {"DuffingMap": "Duffing"}


# below this a map's computed exponent is not taken as chaos (no Lyapunov time)
_MIN_CHAOTIC_EXPONENT = 0.01

MAX_LYAPUNOV_SOURCE_DYSTS = (
    "dysts metadata 'maximum_lyapunov_estimated' (Gilpin 2021; the value the chaos benchmark uses "
    "for Lyapunov times)"
)


def lookup_metadata(name: str, *, discrete: bool = False) -> dict:
    """A deep copy of the metadata of `name` (empty dict when none is shipped).

    Adds the reference largest Lyapunov exponent as `"max_lyapunov"` and where it comes from as
    `"max_lyapunov_source"`, where one is documented.
    """
    if discrete:
        entry = dysts_maps().get(_DYSTS_MAP_NAMES.get(name, name))
    else:
        entry = dysts_flows().get(name)
    if entry is None:
        return {}
    meta = copy.deepcopy(entry)
    if meta.get("maximum_lyapunov_estimated") is not None:
        meta["max_lyapunov"] = float(meta["maximum_lyapunov_estimated"])
        meta["max_lyapunov_source"] = MAX_LYAPUNOV_SOURCE_DYSTS
    elif discrete:
        computed = computed_map_lyapunov()
        value = computed["systems"].get(name)
        if value is not None and value > _MIN_CHAOTIC_EXPONENT:
            meta["max_lyapunov"] = float(value)
            meta["max_lyapunov_source"] = computed["source"]
    return meta
