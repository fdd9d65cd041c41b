"""Registration of every system with the registry: dysts flows and maps, classic systems."""

from __future__ import annotations

import numpy as np

from . import _classic, _delay, _flows, _maps
from ._base import Flow, Map
from ._data import dysts_flows, dysts_maps
from ._registry import _add


def _params(raw: dict) -> dict:
    return {
        k: (np.asarray(v, dtype=np.float64) if isinstance(v, list) else float(v))
        for k, v in raw.items()
    }


def _flow_factory(name: str, entry: dict):
    def make():
        return Flow(
            name,
            _flows.EQUATIONS[name],
            _params(entry["parameters"]),
            entry["initial_conditions"],
            entry["dt"],
            entry["period"],
        )

    return make


def _delay_factory(name: str, entry: dict):
    def make():
        return _delay.DelayFlow(
            name,
            _delay.EQUATIONS[name],
            _params(entry["parameters"]),
            entry["initial_conditions"],
            entry["dt"],
            entry["period"],
        )

    return make


# dysts has a flow and a map both called "Duffing"; the map is "DuffingMap" here
_MAP_NAMES = {"Duffing": "DuffingMap"}


def _map_factory(name: str, entry: dict):
    def make():
        return Map(
            name, _maps.EQUATIONS[name], _params(entry["parameters"]), entry["initial_conditions"]
        )

    return make


def _register_all() -> None:
    for name, entry in dysts_flows().items():
        if name in _flows.EQUATIONS:
            _add(name, "flows", _flow_factory(name, entry))
        elif name in _delay.EQUATIONS:
            _add(name, "delay", _delay_factory(name, entry))
    for name, entry in dysts_maps().items():
        ours = _MAP_NAMES.get(name, name)
        if ours in _maps.EQUATIONS:
            _add(ours, "maps", _map_factory(ours, entry))
    _add("HarmonicOscillator", "classic", _classic.harmonic_oscillator)
    _add("Pendulum", "classic", _classic.pendulum)
    _add("DoublePendulumClassic", "classic", _classic.double_pendulum)
    _add("HenonHeilesHamiltonian", "classic", _classic.henon_heiles)
    _add("DuffingOscillator", "classic", _classic.duffing)
    _add("VanDerPol", "classic", _classic.van_der_pol)
    _add("LotkaVolterra", "classic", _classic.lotka_volterra)
    _add("FitzHughNagumo", "classic", _classic.fitzhugh_nagumo)
    _add("Lorenz96_40", "classic", _classic.lorenz96)


_register_all()
