"""Loader of the native CPU selective-scan kernel (issue #23): `libdynlearn_selscan.so`.

The library is compiled at install time by the build hook (hatch_build.py) from
`selective_scan.cc` in this directory. On first use, `status()` loads it with ctypes, checks
that this CPU runs what it was built for (AVX2 and FMA, a probe compiled into the library for
baseline x86-64) and that the running jaxlib is not older than the one whose FFI headers built
it, and registers its forward and backward handlers as XLA FFI targets for the CPU platform.

Where any of that fails (no library: not built, `DYNLEARN_NO_NATIVE=1` at install or run
time, another platform; an old CPU; an older jaxlib), the kernels run their pure-XLA path and
one notice is logged on the `dynlearn.kernels` logger, once per process: INFO when the library
was not built or is disabled, WARNING when it exists but cannot be used.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import logging
import os
import re
from pathlib import Path

import jax

LIBRARY = Path(__file__).with_name("libdynlearn_selscan.so")
FORWARD_TARGET = "dynlearn_selective_scan_forward"
BACKWARD_TARGET = "dynlearn_selective_scan_backward"
LANES = 8  # channels per vector in the library: calls pad the channels to a multiple

logger = logging.getLogger("dynlearn.kernels")

_status: tuple[bool, str] | None = None  # (loaded, why not), once per process
_registered = False  # the FFI targets, registered at most once per process
_noticed = False


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def _try_load() -> tuple[bool, str, int]:
    """(loaded, reason if not, logging level of the notice)."""
    global _registered
    if os.environ.get("DYNLEARN_NO_NATIVE", "") not in ("", "0"):
        return False, "disabled by DYNLEARN_NO_NATIVE", logging.INFO
    if not LIBRARY.is_file():
        return False, f"not built ({LIBRARY.name} is not installed)", logging.INFO
    if not hasattr(jax, "ffi"):
        return False, f"jax {jax.__version__} has no jax.ffi", logging.WARNING
    try:
        library = ctypes.cdll.LoadLibrary(str(LIBRARY))
        library.dynlearn_selscan_jaxlib_version.restype = ctypes.c_char_p
        built = library.dynlearn_selscan_jaxlib_version().decode()
        cpu_ok = bool(library.dynlearn_selscan_cpu_ok())
    except (OSError, AttributeError) as error:  # unloadable, or a stale build without a symbol
        return False, f"{LIBRARY.name} failed to load: {error}", logging.WARNING
    try:
        running = importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:  # a jaxlib without package metadata
        running = jax.__version__
    if _version(running) < _version(built):
        return (
            False,
            f"built against jaxlib {built}, newer than the running jaxlib {running}"
            "; reinstall dynlearn to rebuild it",
            logging.WARNING,
        )
    if not cpu_ok:
        return False, "this CPU lacks AVX2/FMA, which the library was built for", logging.WARNING
    if not _registered:
        for target, symbol in (
            (FORWARD_TARGET, "SelScanForward"),
            (BACKWARD_TARGET, "SelScanBackward"),
        ):
            try:
                capsule = jax.ffi.pycapsule(getattr(library, symbol))
                jax.ffi.register_ffi_target(target, capsule, platform="cpu")
            except Exception as error:  # noqa: BLE001 - any failure: the XLA path runs
                return False, f"registering {target} failed: {error}", logging.WARNING
        _registered = True
    return True, "", logging.INFO


def status() -> tuple[bool, str]:
    """`(True, "")` if the native kernel is loaded and registered, else `(False, reason)`.

    Loads it on the first call; a failure logs one notice (once per process).
    """
    global _status, _noticed
    if _status is None:
        loaded, reason, level = _try_load()
        _status = (loaded, reason)
        if not loaded and not _noticed:
            _noticed = True
            logger.log(
                level,
                "dynlearn: the native CPU selective-scan kernel is unavailable (%s); "
                "selective_scan runs its pure-XLA path.",
                reason,
            )
    return _status


def native_available() -> bool:
    """Whether `selective_scan(..., implementation="native")` can run in this process.

    True when the native CPU kernel (built at install time on x86-64 with a C++ compiler) is
    installed, loads, and this CPU has AVX2 and FMA. When False, a notice saying why is logged
    once on the `dynlearn.kernels` logger, and `implementation="auto"` uses the pure-XLA path.
    """
    return status()[0]
