"""The registry behind `get(name)` and `names()`."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from ._base import AbstractSystem

_GROUPS = ("flows", "maps", "delay", "classic")
_FACTORIES: dict[str, tuple[str, Callable[[], AbstractSystem]]] = {}
_CACHE: dict[str, AbstractSystem] = {}


def register(name: str, group: str, factory: Callable[[], AbstractSystem]) -> None:
    """Add a system constructor to the registry (used by the zoo modules at import)."""
    if group not in _GROUPS:
        raise ValueError(f"unknown group {group!r}; expected one of {_GROUPS}")
    if name in _FACTORIES:
        raise ValueError(f"system {name!r} is already registered")
    _FACTORIES[name] = (group, factory)


def get(name: str) -> AbstractSystem:
    """The system called `name`, with its published parameters and initial condition.

    **Arguments:**

    - `name`: a name from `names()`, e.g. `"Lorenz"`, `"Henon"`, `"MackeyGlass"`,
      `"HarmonicOscillator"` (case-sensitive).

    **Returns:** an immutable system object (`Flow`, `Map`, `HamiltonianFlow` or `DelayFlow`).

    **Raises:** `KeyError` for an unknown name; the message lists close matches.
    """
    if not isinstance(name, str):
        raise TypeError(f"system name must be a str, got {type(name).__name__}")
    if name not in _FACTORIES:
        lowered = {n.lower(): n for n in _FACTORIES}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
        else:
            close = difflib.get_close_matches(name, list(_FACTORIES), n=5, cutoff=0.5)
            close += [
                lowered[k]
                for k in difflib.get_close_matches(name.lower(), list(lowered), n=5, cutoff=0.5)
                if lowered[k] not in close
            ]
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise KeyError(f"unknown system {name!r}{hint} (see dynlearn.systems.names())")
    if name not in _CACHE:
        _CACHE[name] = _FACTORIES[name][1]()
    return _CACHE[name]


def names(group: str | None = None) -> list[str]:
    """Names of the registered systems, sorted.

    **Arguments:**

    - `group`: `None` for all, or one of `"flows"` (dysts continuous-time systems without delay),
      `"delay"` (dysts delay equations), `"maps"` (dysts discrete maps), `"classic"` (harmonic
      oscillator, pendulum, Van der Pol, ...).

    **Returns:** a sorted list of names accepted by `get`.
    """
    if group is not None and group not in _GROUPS:
        raise ValueError(f"unknown group {group!r}; expected one of {_GROUPS} or None")
    return sorted(n for n, (g, _) in _FACTORIES.items() if group is None or g == group)
