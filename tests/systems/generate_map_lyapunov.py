"""Compute the reference largest Lyapunov exponent of every zoo map: `data/map_lyapunov.json`.

dysts ships no Lyapunov exponents for its discrete maps, so the zoo's `max_lyapunov` for a map is
computed here with `dynlearn.analysis.max_lyapunov` (QR/Benettin method with the map's exact
Jacobian) in float64: 40000 iterations averaged after 1000 transient iterations, from the map's
published initial condition. Run by hand (`python tests/systems/generate_map_lyapunov.py`, about
a minute on a laptop CPU) after changing a map; not collected by pytest.
"""

import json
import pathlib

import jax

OUT = pathlib.Path(__file__).resolve().parents[2] / "src" / "dynlearn" / "systems" / "data"
N_STEPS, TRANSIENT = 40_000, 1_000


def main():
    jax.config.update("jax_enable_x64", True)
    import dynlearn.analysis as analysis
    import dynlearn.systems as systems

    values = {}
    for name in systems.names("maps"):
        lam = analysis.max_lyapunov(systems.get(name), n_steps=N_STEPS, transient=TRANSIENT)
        values[name] = round(float(lam), 6)
        print(f"{name:20s} {values[name]: .6f}")
    payload = {
        "source": (
            f"dynlearn.analysis.max_lyapunov, float64, {N_STEPS} iterations after {TRANSIENT} "
            "transient iterations from the published initial condition "
            "(tests/systems/generate_map_lyapunov.py)"
        ),
        "systems": values,
    }
    with open(OUT / "map_lyapunov.json", "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {OUT / 'map_lyapunov.json'}: {len(values)} maps")


if __name__ == "__main__":
    main()
