"""Hatchling build hook: compile the native selective-scan kernel (issue #23) into the wheel.

`pip install -e .`, `pip install .` and `pip wheel .` run `initialize` before the wheel is
built. It compiles `src/dynlearn/kernels/_native/selective_scan.cc` (one translation unit,
about 5 s) with the XLA FFI headers of the jaxlib in the build environment (a build
requirement) into `libdynlearn_selscan.so`:

- editable installs: next to the source, in `src/dynlearn/kernels/_native/` (git-ignored);
- wheels: in a temporary directory, added to the wheel at the same package path, with a
  platform tag.

It compiles for x86-64-v3 (AVX2, FMA) and only on x86-64; the library checks the CPU at run
time. Anywhere else, with `DYNLEARN_NO_NATIVE=1`, or when the compiler (`$CXX`, else `c++`,
`g++`, `clang++`) is missing or fails, the build still succeeds without the library and prints
one line saying why; dynlearn then runs the pure-XLA path.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE_DIR = "dynlearn/kernels/_native"
SOURCE = "selective_scan.cc"
LIBRARY = "libdynlearn_selscan.so"


def _include_dir() -> str:
    """The XLA FFI headers shipped by jaxlib (what `jax.ffi.include_dir()` returns)."""
    spec = importlib.util.find_spec("jaxlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("jaxlib is not installed in the build environment")
    include = Path(list(spec.submodule_search_locations)[0]) / "include"
    if not (include / "xla" / "ffi" / "api" / "ffi.h").is_file():
        raise RuntimeError(f"no XLA FFI headers under {include}")
    return str(include)


def _compiler() -> str | None:
    if os.environ.get("CXX"):
        return shutil.which(os.environ["CXX"].split()[0]) and os.environ["CXX"]
    return next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)


class NativeKernelHook(BuildHookInterface):
    """Compiles the native kernel for wheel builds; never fails the build."""

    PLUGIN_NAME = "custom"

    def _skip(self, why: str) -> None:
        self.app.display_warning(f"dynlearn: native selective-scan kernel not built ({why}).")

    def initialize(self, version: str, build_data: dict) -> None:
        self._tmp = None
        if self.target_name != "wheel":
            return
        if os.environ.get("DYNLEARN_NO_NATIVE", "") not in ("", "0"):
            return self._skip("DYNLEARN_NO_NATIVE is set")
        machine = platform.machine().lower()
        if machine not in ("x86_64", "amd64"):
            return self._skip(f"the machine is {machine!r}, the kernel is for x86-64 only")
        compiler = _compiler()
        if compiler is None:
            return self._skip(f"no C++ compiler found, CXX={os.environ.get('CXX', '')!r}")
        try:
            include = _include_dir()
            jaxlib_version = importlib.metadata.version("jaxlib")
        except Exception as error:  # noqa: BLE001 - any reason: build without the kernel
            return self._skip(f"no FFI headers: {error}")
        root = Path(self.root)
        if version == "editable":
            out_dir = root / "src" / PACKAGE_DIR
        else:
            self._tmp = tempfile.mkdtemp(prefix="dynlearn-native-")
            out_dir = Path(self._tmp)
        library = out_dir / LIBRARY
        # Compiled under a temporary name and moved into place: a process that has the old
        # library loaded keeps its (unlinked) copy.
        partial = out_dir / f".{os.getpid()}.{LIBRARY}"  # *.so: git-ignored if left behind
        command = [
            *compiler.split(),
            "-O3",
            "-std=c++17",
            "-shared",
            "-fPIC",
            "-march=x86-64-v3",
            f'-DDYNLEARN_JAXLIB_VERSION="{jaxlib_version}"',
            f"-I{include}",
            str(root / "src" / PACKAGE_DIR / SOURCE),
            "-o",
            str(partial),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as error:
            partial.unlink(missing_ok=True)
            return self._skip(f"{compiler} could not run: {error}")
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            errors = [line for line in done.stderr.splitlines() if "error" in line]
            first = errors[0] if errors else f"exit status {done.returncode}"
            return self._skip(f"{compiler} failed: {first}")
        os.replace(partial, library)
        self.app.display_info(
            f"dynlearn: built the native selective-scan kernel (jaxlib {jaxlib_version} headers)."
        )
        if version != "editable":
            build_data["force_include"][str(library)] = f"{PACKAGE_DIR}/{LIBRARY}"
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        if getattr(self, "_tmp", None):
            shutil.rmtree(self._tmp, ignore_errors=True)
