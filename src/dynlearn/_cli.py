"""The `dynlearn` command: quickstart, reproduce, systems and bench.

Examples and benchmarks live in the source tree (`examples/`, `benchmarks/`) next to
`src/`; `reproduce` and `bench` find them there (an editable install keeps them reachable). A
package installed from a wheel does not ship them: there the two commands say in one line that
they need a clone of the repository.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from ._version import __version__

# The quickstart's default number of training steps (`_quickstart.quickstart(steps=None)`),
# shown by `dynlearn quickstart --help`; a test checks that the two agree.
_QUICKSTART_STEPS = 6000


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2, no traceback."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        self.exit(2, f"dynlearn: error: {message} (see `dynlearn --help`)\n")


def _project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def _needs_clone(command: str, folder: str) -> str:
    """The one line saying that `command` runs the scripts of `folder`/, which need a clone."""
    return (
        f"dynlearn: `dynlearn {command}` needs a clone of the repository: it runs the scripts "
        f"in {folder}/, which this installation ({Path(__file__).resolve().parent}) does not "
        "ship; clone dynlearn and run `pip install -e .` in the clone.\n"
    )


def _scripts(folder: str) -> dict[str, Path]:
    root = _project_root() / folder
    if not root.is_dir():
        return {}
    return {p.stem: p for p in sorted(root.glob("*.py")) if not p.name.startswith("_")}


_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "vs.", "cf.", "approx.", "Fig.", "Eq.")


def _first_sentence(text: str) -> str:
    """The first sentence of a paragraph (whole, never cut), whitespace collapsed."""
    flat = " ".join(text.split())
    for match in re.finditer(r"[.!?](?=\s+[A-Z(`\"])", flat):
        end = match.end()
        if not any(flat[:end].endswith(a) for a in _ABBREVIATIONS):
            return flat[:end]
    return flat


def _script_summary(path: Path) -> str:
    """First sentence of a script's module docstring (without importing it)."""
    import ast

    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (OSError, SyntaxError):
        doc = None
    if not doc:
        return ""
    return _first_sentence(doc.strip().split("\n\n")[0])


def _measured_times() -> dict[str, float]:
    """Measured wall time (s) of each example at its default, from the committed records.

    The reproduction ledger (`docs/reproductions/NAME.json`, written by the example's own run)
    takes precedence over `docs/reproductions/timings.json` (timed runs of the other examples).
    """
    folder = _project_root() / "docs" / "reproductions"
    times: dict[str, float] = {}
    try:
        table = json.loads((folder / "timings.json").read_text(encoding="utf-8"))
        for name, record in table.get("examples", {}).items():
            times[name] = float(record["wall_time_s"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if record.get("config", {}).get("full"):
                continue  # the --full run's time says nothing about the default
            times[record["name"]] = float(record["wall_time_s"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return times


def _format_time(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def _suggestions(name: str, candidates: list[str]) -> list[str]:
    """Candidates containing `name` (case-insensitive), then close spellings (difflib)."""
    lowered = name.lower()
    found = [c for c in candidates if lowered in c.lower()]
    found += [c for c in difflib.get_close_matches(name, candidates, n=3) if c not in found]
    return found


def _run_script(
    kind: str, folder: str, name: str, extra: list[str], env_extra: dict[str, str] | None = None
) -> int:
    scripts = _scripts(folder)
    if name not in scripts:
        close = _suggestions(name, list(scripts))
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        if not (_project_root() / folder).is_dir():
            sys.stderr.write(_needs_clone("reproduce" if kind == "example" else "bench", folder))
        elif not scripts:
            sys.stderr.write(f"dynlearn: error: no {kind}s in {_project_root() / folder}\n")
        else:
            sys.stderr.write(
                f"dynlearn: error: unknown {kind} {name!r}.{hint} "
                f"(`dynlearn {'reproduce --list' if kind == 'example' else 'bench --list'}`)\n"
            )
        return 2
    env = dict(os.environ, **(env_extra or {}))
    # The scripts leave the matplotlib backend alone (so that they open as notebooks); run
    # from here they only save figures, so the child gets the non-interactive Agg unless the
    # caller chose a backend.
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.call([sys.executable, str(scripts[name]), *extra], env=env)


def _list_scripts(folder: str, times: dict[str, float] | None = None) -> int:
    """One entry per script: name, (measured run time,) the docstring's whole first sentence."""
    scripts = _scripts(folder)
    if not (_project_root() / folder).is_dir():
        sys.stdout.write(_needs_clone("reproduce" if folder == "examples" else "bench", folder))
        return 0
    if not scripts:
        print(f"(nothing in {_project_root() / folder})")
        return 0
    width = max(len(stem) for stem in scripts) + 2
    if times is not None:
        width += 10
        print(f"{'name':{width - 10}s}{'run time':10s}first sentence of the docstring")
    wrap = shutil.get_terminal_size((100, 20)).columns - width
    for stem, path in scripts.items():
        head = (
            f"{stem:{width - 10}s}{_format_time(times.get(stem)):10s}"
            if times is not None
            else f"{stem:{width}s}"
        )
        lines = textwrap.wrap(_script_summary(path), max(wrap, 40)) or [""]
        print(head + lines[0])
        for line in lines[1:]:
            print(" " * width + line)
    if times is not None:
        print(
            "\nrun time: measured at the example's default on a shared 2-core CPU machine "
            "(docs/reproductions/); ? = not measured yet."
        )
    return 0


def _split_results_dir(extra: list[str]) -> tuple[str | None, list[str]]:
    """Take `--results-dir DIR` out of the example's arguments (argparse leaves it there when it
    comes after the example's name); arguments after a bare `--` are left alone."""
    rest, results_dir, i = [], None, 0
    while i < len(extra):
        arg = extra[i]
        if arg == "--":
            rest.extend(extra[i + 1 :])
            break
        if arg == "--results-dir":
            if i + 1 >= len(extra):
                raise ValueError("--results-dir needs a folder")
            results_dir, i = extra[i + 1], i + 2
            continue
        if arg.startswith("--results-dir="):
            results_dir, i = arg.split("=", 1)[1], i + 1
            continue
        rest.append(arg)
        i += 1
    return results_dir, rest


def _cmd_reproduce(args, parser) -> int:
    if args.list or not args.name:
        return _list_scripts("examples", _measured_times())
    try:
        results_dir, extra = _split_results_dir(args.extra)
    except ValueError as err:
        parser.error(str(err))
    results_dir = results_dir or args.results_dir
    env: dict[str, str] = {}
    command = ["dynlearn", "reproduce", args.name]
    if results_dir:
        env["DYNLEARN_RESULTS_DIR"] = str(Path(results_dir).resolve())
        command += ["--results-dir", results_dir]
    env["DYNLEARN_REPRODUCE_COMMAND"] = shlex.join(command + extra)
    return _run_script("example", "examples", args.name, extra, env)


def _cmd_systems(args) -> int:
    from . import systems  # imported here: the command starts without loading JAX
    names = systems.names()
    for name in names:
        if args.verbose:
            system = systems.get(name)
            if getattr(system, "discrete", False):
                kind = "map"
            elif isinstance(system, systems.DelayFlow):
                kind = "delay"
            else:
                kind = "flow"
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
        description="Learn Lorenz-63 with a neural ODE, forecast from held-out initial "
        "conditions and plot.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    quick.add_argument("--steps", type=int, default=_QUICKSTART_STEPS, help="training steps")
    quick.add_argument("--out", default="dynlearn-out", help="output folder for the figure")
    quick.add_argument("--seed", type=int, default=0, help="random seed")

    rep = sub.add_parser("reproduce", help="run an example from examples/ at its small default")
    rep.add_argument("name", nargs="?", help="example name (see --list)")
    rep.add_argument(
        "--list", action="store_true", help="list the examples with their measured run times"
    )
    rep.add_argument(
        "--results-dir",
        metavar="DIR",
        help="write the reproduction's results file DIR/NAME.json there (and per-seed results "
        "to DIR/NAME.seeds/, reused by a rerun); default ./dynlearn-out",
    )
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
    if argv is None:  # the console script, not a call from Python: cache compiled programs
        from ._cache import enable_compilation_cache

        enable_compilation_cache()  # also for the scripts that reproduce and bench start
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
        return _cmd_reproduce(args, parser)
    if args.command == "systems":
        return _cmd_systems(args)
    if args.command == "bench":
        if args.list or not args.area:
            return _list_scripts("benchmarks")
        return _run_script("benchmark", "benchmarks", args.area, args.extra)
    parser.error(f"unknown command {args.command!r}")
    return 2
