"""Regenerate `src/dynlearn/systems/data/*.json` from the dysts package's published metadata.

Run by hand (`python tests/systems/generate_zoo_data.py`) after upgrading dysts; not collected by
pytest. dysts is a test-only dependency: the runtime reads only the JSON files written here.
The metadata is data (Apache-2.0, Gilpin, "Chaos as an interpretable benchmark for forecasting
and data-driven modelling"); the equations are written separately in JAX.
"""

import json
import pathlib
from importlib import metadata, resources

OUT = pathlib.Path(__file__).resolve().parents[2] / "src" / "dynlearn" / "systems" / "data"


def _load(name):
    with open(resources.files("dysts").joinpath(f"data/{name}")) as f:
        return json.load(f)


def main():
    version = metadata.version("dysts")
    source = f"dysts {version} (github.com/williamgilpin/dysts), Apache-2.0"
    flows = _load("chaotic_attractors.json")
    maps = _load("discrete_maps.json")
    for filename, data in (("dysts_flows.json", flows), ("dysts_maps.json", maps)):
        payload = {"source": source, "systems": dict(sorted(data.items()))}
        with open(OUT / filename, "w") as f:
            json.dump(payload, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {OUT / filename}: {len(data)} systems")


if __name__ == "__main__":
    main()
