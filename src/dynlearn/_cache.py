"""JAX's persistent compilation cache for the `dynlearn` command and the quickstart.

Most of a short run on a CPU is XLA compilation; with the cache a second identical run loads the
compiled programs from disk instead. The folder is per user (`$XDG_CACHE_HOME/dynlearn/jax`, by
default `~/.cache/dynlearn/jax`, created private to the user because JAX trusts what it loads from
there). `DYNLEARN_NO_COMPILATION_CACHE=1` turns it off; a cache folder the user already chose
(`JAX_COMPILATION_CACHE_DIR` or `jax.config`) is kept as it is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OPT_OUT_VARIABLE = "DYNLEARN_NO_COMPILATION_CACHE"

# Programs that compile faster than this are not worth a disk round trip (JAX's default, 1 s,
# skips most of the quickstart's programs).
MIN_COMPILE_SECONDS = 0.2


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/dynlearn/jax`, or `~/.cache/dynlearn/jax` without XDG_CACHE_HOME."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dynlearn" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache, unless the user opted out.

    Before JAX is imported (the `dynlearn` command) the folder is set through JAX's environment
    variables, so that the examples and benchmarks that `reproduce` and `bench` start as
    subprocesses use it too; once JAX is imported (the quickstart called from Python) through
    `jax.config`.

    **Arguments:**

    - `path`: the cache folder; default `default_cache_dir()`.

    **Returns:** the folder in use, or `None` when the cache stays off (opted out with
    `DYNLEARN_NO_COMPILATION_CACHE` set to anything but `""`/`"0"`, or the folder cannot be made).
    """
    if os.environ.get(OPT_OUT_VARIABLE, "") not in ("", "0"):
        return None
    jax = sys.modules.get("jax")
    chosen = jax.config.jax_compilation_cache_dir if jax else os.environ.get(
        "JAX_COMPILATION_CACHE_DIR"
    )
    if chosen:
        return Path(chosen)
    folder = Path(path) if path is not None else default_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None  # a read-only home must not stop the run: compile as before
    if jax is None:
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)
        min_time = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"
        os.environ.setdefault(min_time, str(MIN_COMPILE_SECONDS))
    else:
        jax.config.update("jax_compilation_cache_dir", str(folder))
        if jax.config.jax_persistent_cache_min_compile_time_secs == 1.0:  # still JAX's default
            jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder
