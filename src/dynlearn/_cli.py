"""The `dynlearn` command: quickstart, reproduce, systems and bench.

Examples and benchmarks live in the source tree (`examples/`, `benchmarks/`) next to
`src/`; `reproduce` and `bench` find them there (an editable install keeps them reachable).
"""

from __future__ import annotations

import argparse
import difflib
import os
import subprocess
import sys
from pathlib import Path

from ._version import __version__


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2, no traceback."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(2, f"dynlearn: error: {message} (see `dynlearn --help`)\n")


def _project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def _scripts(folder: str) -> dict[str, Path]:
    root = _project_root() / folder
    if not root.is_dir():
        return {}
    return {p.stem: p for p in sorted(root.glob("*.py")) if not p.name.startswith("_")}


def _script_summary(path: Path) -> str:
    """First line of a script's module docstring (without importing it)."""
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (OSError, SyntaxError):
        doc = None
    return (doc or "").strip().splitlines()[0] if doc else ""


def _run_script(kind: str, folder: str, name: str, extra: list[str]) -> int:
    scripts = _scripts(folder)
    if name not in scripts:
        close = difflib.get_close_matches(name, list(scripts), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        where = _project_root() / folder
        if not scripts:
            sys.stderr.write(
                f"dynlearn: error: no {kind}s found in {where}; `{kind}` needs the source tree "
                "(install with `pip install -e .` from a clone).\n"
            )
        else:
            sys.stderr.write(
                f"dynlearn: error: unknown {kind} {name!r}.{hint} "
                f"(`dynlearn {'reproduce --list' if kind == 'example' else 'bench --list'}`)\n"
            )
        return 2
    env = dict(os.environ)
    return subprocess.call([sys.executable, str(scripts[name]), *extra], env=env)


def _list_scripts(folder: str) -> int:
    scripts = _scripts(folder)
    if not scripts:
        print(f"(nothing in {_project_root() / folder})")
    for stem, path in scripts.items():
        print(f"{stem:32s} {_script_summary(path)}")
    return 0


def _cmd_systems(args) -> int:
    try:
        from . import systems
    except ImportError as err:  # pragma: no cover - only before the systems zoo exists
        sys.stderr.write(f"dynlearn: error: the systems zoo is not available ({err}).\n")
        return 1
    names = systems.names()
    for name in names:
        if args.verbose:
            system = systems.get(name)
            kind = "map" if getattr(system, "discrete", False) else "flow"
            dt = f"dt={system.dt:.4g}" if system.dt is not None else ""
            print(f"{name:28s} {kind:5s} dim={system.dimension:<3d} {dt}")
        else:
            print(name)
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="dynlearn",
        description="dynlearn: differentiable dynamical-systems deep learning on JAX.",
    )
    parser.add_argument("--version", action="version", version=f"dynlearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)

    quick = sub.add_parser(
        "quickstart",
        help="learn Lorenz-63 with a neural ODE, forecast and plot (about two minutes on a CPU)",
    )
    quick.add_argument("--steps", type=int, default=None, help="training steps")
    quick.add_argument("--out", default="dynlearn-out", help="output folder for the figure")
    quick.add_argument("--seed", type=int, default=0, help="random seed")

    rep = sub.add_parser("reproduce", help="run an example from examples/ at its small default")
    rep.add_argument("name", nargs="?", help="example name (see --list)")
    rep.add_argument("--list", action="store_true", help="list the examples")
    rep.add_argument("extra", nargs=argparse.REMAINDER, help="arguments passed to the example")

    sys_ = sub.add_parser("systems", help="list the systems zoo")
    sys_.add_argument("-v", "--verbose", action="store_true", help="show dimension and dt")

    bench = sub.add_parser("bench", help="run a benchmark script from benchmarks/")
    bench.add_argument("area", nargs="?", help="benchmark area (see --list)")
    bench.add_argument("--list", action="store_true", help="list the benchmarks")
    bench.add_argument("extra", nargs=argparse.REMAINDER, help="arguments passed to the script")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `dynlearn` console script; returns the exit code."""
    try:
        return _main(argv)
    except BrokenPipeError:  # e.g. `dynlearn systems | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("dynlearn: interrupted\n")
        return 130


def _main(argv: list[str] | None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "quickstart":
        from ._quickstart import quickstart

        if args.steps is not None and args.steps <= 0:
            parser.error(f"--steps must be positive, got {args.steps}")
        quickstart(steps=args.steps, out=args.out, seed=args.seed)
        return 0
    if args.command == "reproduce":
        if args.list or not args.name:
            return _list_scripts("examples")
        return _run_script("example", "examples", args.name, args.extra)
    if args.command == "systems":
        return _cmd_systems(args)
    if args.command == "bench":
        if args.list or not args.area:
            return _list_scripts("benchmarks")
        return _run_script("benchmark", "benchmarks", args.area, args.extra)
    parser.error(f"unknown command {args.command!r}")
    return 2
