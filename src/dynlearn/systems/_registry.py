"""The registry behind `get(name)` and `names()`, and `register` for a user's own systems."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from typing import TypeVar

from ._base import AbstractSystem

_GROUPS = ("flows", "maps", "delay", "classic", "user")
_FACTORIES: dict[str, tuple[str, Callable[[], AbstractSystem]]] = {}
_CACHE: dict[str, AbstractSystem] = {}


def _add(name: str, group: str, factory: Callable[[], AbstractSystem]) -> None:
    """Add a built-in system's constructor (the zoo modules, at import)."""
    if name in _FACTORIES:
        raise ValueError(f"system {name!r} is already registered")
    _FACTORIES[name] = (group, factory)


_S = TypeVar("_S", bound=AbstractSystem | Callable[[], AbstractSystem])


def register(system: _S, *, name: str | None = None, overwrite: bool = False) -> _S:
    """Register your own system, so that `get(name)` returns it and `names("user")` lists it.

    Pass a system object (a `Flow`, `Map`, `HamiltonianFlow`, `DelayFlow` or an instance of
    your own `AbstractSystem` subclass), or a function without arguments that builds one, which
    is then called on the first `get`. It returns its argument, so it also works as a decorator
    on such a function:

    ```python
    @systems.register
    def Brusselator():
        return systems.Flow("Brusselator", equation, params, y0, dt=0.05, period=7.0)
    ```

    **Arguments:**

    - `system`: the system, or a zero-argument function returning it.
    - `name`: the registry name (default: `system.name`, or the function's `__name__`). It
      must equal the system's own `name`.
    - `overwrite`: replace an earlier user registration of that name (e.g. when a notebook
      cell runs again); built-in systems are never replaced.

    **Returns:** `system`, unchanged.

    **Raises:** `TypeError` for something that is neither a system nor callable; `ValueError`
    for a name that is taken (by a built-in system, or by a user system without
    `overwrite=True`) or that differs from the system's `name`.
    """
    if isinstance(system, AbstractSystem):
        key = system.name if name is None else name
        if key != system.name:
            raise ValueError(
                f"register: name={key!r} differs from the system's own name {system.name!r}; "
                "get(name).name should be name (build the system with that name)"
            )
        factory = functools.partial(_identity, system)
    elif callable(system):
        key = getattr(system, "__name__", None) if name is None else name
        if not key or key == "<lambda>":
            raise ValueError("register: pass name= for a factory without a usable __name__")
        factory = _checked_factory(system, key)
    else:
        raise TypeError(
            "register: expected a dynlearn.systems system (an AbstractSystem instance) or a "
            f"function returning one, got {type(system).__name__}"
        )
    if not isinstance(key, str) or not key:
        raise TypeError(f"register: name must be a non-empty str, got {key!r}")
    if key in _FACTORIES:
        group = _FACTORIES[key][0]
        if group != "user":
            raise ValueError(
                f"register: {key!r} is a built-in system ({group}); choose another name"
            )
        if not overwrite:
            raise ValueError(
                f"register: a user system {key!r} is already registered; pass overwrite=True "
                "to replace it"
            )
    _FACTORIES[key] = ("user", factory)
    _CACHE.pop(key, None)
    return system


def _identity(system: AbstractSystem) -> AbstractSystem:
    return system


def _checked_factory(factory: Callable[[], AbstractSystem], name: str):
    def make():
        system = factory()
        if not isinstance(system, AbstractSystem):
            raise TypeError(
                f"the factory registered as {name!r} returned {type(system).__name__}, not a "
                "dynlearn.systems system"
            )
        if system.name != name:
            raise ValueError(
                f"the factory registered as {name!r} built a system named {system.name!r}"
            )
        return system

    return make


def get(name: str) -> AbstractSystem:
    """The system called `name`, with its published parameters and initial condition.

    **Arguments:**

    - `name`: a name from `names()`, e.g. `"Lorenz"`, `"Henon"`, `"MackeyGlass"`,
      `"HarmonicOscillator"` (case-sensitive).

    **Returns:** an immutable system object (`Flow`, `Map`, `HamiltonianFlow`, `DelayFlow`, or
    what was registered with `register`).

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
      oscillator, pendulum, Van der Pol, ...), `"user"` (systems added with `register`).

    **Returns:** a sorted list of names accepted by `get`.
    """
    if group is not None and group not in _GROUPS:
        raise ValueError(f"unknown group {group!r}; expected one of {_GROUPS} or None")
    return sorted(n for n, (g, _) in _FACTORIES.items() if group is None or g == group)
