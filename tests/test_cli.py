"""The `dynlearn` command: help, version, errors with exit code 2, listing, quickstart."""

import json
import os
import re
import subprocess
import sys

import pytest

import dynlearn
from dynlearn._cli import main


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "dynlearn", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )


def test_version_and_help():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"dynlearn {dynlearn.__version__}"
    out = _run("--help")
    assert out.returncode == 0
    for cmd in ("quickstart", "reproduce", "systems", "bench"):
        assert cmd in out.stdout


@pytest.mark.parametrize(
    "args", [("frobnicate",), ("quickstart", "--nope"), ("quickstart", "--steps", "x")]
)
def test_bad_command_is_one_line_exit_2(args):
    out = _run(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("dynlearn: error:")


def test_unknown_example_suggests_close_names(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("dynlearn._cli._project_root", lambda: tmp_path)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "hippo_reconstruction.py").write_text('"""HiPPO demo."""\n')
    assert main(["reproduce", "--list"]) == 0
    assert "hippo_reconstruction" in capsys.readouterr().out
    assert main(["reproduce", "hippo_reconstructon"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean: hippo_reconstruction" in err


def test_unknown_example_suggests_names_containing_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("dynlearn._cli._project_root", lambda: tmp_path)
    (tmp_path / "examples").mkdir()
    for name in ("recon_gtf_lorenz", "pinn_lorenz_windows", "koopman_gauss_map"):
        (tmp_path / "examples" / f"{name}.py").write_text('"""Demo."""\n')
    assert main(["reproduce", "lorenz"]) == 2
    err = capsys.readouterr().err
    hint = err.split("Did you mean:")[1]
    assert "recon_gtf_lorenz" in hint and "pinn_lorenz_windows" in hint
    assert "koopman_gauss_map" not in hint


def test_list_gives_whole_first_sentences_and_measured_times(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("dynlearn._cli._project_root", lambda: tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "examples").mkdir()
    long_first = (
        '"""A neural ODE learns the cubic spiral (e.g. from Chen et al. 2018)\n'
        'from trajectories, over two lines. Second sentence.\n\nMore text.\n"""\n'
    )
    (tmp_path / "examples" / "spirals.py").write_text(long_first)
    (tmp_path / "examples" / "timed.py").write_text('"""Timed one. Not shown."""\n')
    (tmp_path / "examples" / "untimed.py").write_text('"""Never run."""\n')
    ledger = tmp_path / "docs" / "reproductions"
    ledger.mkdir(parents=True)
    (ledger / "spirals.json").write_text(
        json.dumps({"name": "spirals", "wall_time_s": 125.0, "config": {"full": False}})
    )
    (ledger / "timings.json").write_text(
        json.dumps({"examples": {"timed": {"wall_time_s": 42.4}, "spirals": {"wall_time_s": 1}}})
    )
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert rows["spirals"].split()[1:3] == ["2.1", "min"]  # the ledger wins over timings.json
    assert (
        "A neural ODE learns the cubic spiral (e.g. from Chen et al. 2018) from trajectories, "
        "over two lines." in rows["spirals"]
    )
    assert "Second sentence" not in out and "More text" not in out
    assert rows["timed"].split()[1:3] == ["42", "s"] and rows["timed"].endswith("Timed one.")
    assert rows["untimed"].split()[1] == "?"


def test_reproduce_passes_the_results_dir(tmp_path, monkeypatch):
    monkeypatch.setattr("dynlearn._cli._project_root", lambda: tmp_path)
    monkeypatch.delenv("DYNLEARN_RESULTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").mkdir()
    marker = tmp_path / "env.json"
    script = (
        '"""Writes what it was given."""\nimport json, os, sys\n'
        f"open({str(marker)!r}, 'w').write(json.dumps([sys.argv[1:], "
        "os.environ.get('DYNLEARN_RESULTS_DIR'), os.environ.get('DYNLEARN_REPRODUCE_COMMAND')]))\n"
    )
    (tmp_path / "examples" / "demo.py").write_text(script)
    for args in (
        ["demo", "--results-dir", "out", "--full"],
        ["--results-dir", "out", "demo", "--full"],
    ):
        assert main(["reproduce", *args]) == 0
        argv, folder, command = json.loads(marker.read_text())
        assert argv == ["--full"]
        assert folder == str(tmp_path / "out")
        assert command == "dynlearn reproduce demo --results-dir out --full"
    assert main(["reproduce", "demo"]) == 0
    argv, folder, command = json.loads(marker.read_text())
    assert argv == [] and folder is None and command == "dynlearn reproduce demo"


def test_quickstart_help_shows_defaults():
    from dynlearn import _cli, _quickstart

    out = _run("quickstart", "--help")
    assert out.returncode == 0
    assert f"(default: {_cli._QUICKSTART_STEPS})" in out.stdout
    assert "(default: dynlearn-out)" in out.stdout and "(default: 0)" in out.stdout
    # the number shown is the quickstart's own default
    match = re.search(r"`steps`: training steps \(default (\d+)\)", _quickstart.quickstart.__doc__)
    assert match and int(match.group(1)) == _cli._QUICKSTART_STEPS


def test_reproduce_runs_the_script(tmp_path, monkeypatch):
    monkeypatch.setattr("dynlearn._cli._project_root", lambda: tmp_path)
    (tmp_path / "benchmarks").mkdir()
    marker = tmp_path / "ran.txt"
    script = (
        '"""Writes a marker."""\nimport sys\n'
        f'open({str(marker)!r}, "w").write(" ".join(sys.argv[1:]))\n'
    )
    (tmp_path / "benchmarks" / "demo.py").write_text(script)
    assert main(["bench", "demo", "--quick"]) == 0
    assert marker.read_text() == "--quick"


def test_quickstart_small_run_learns_and_writes_figure(tmp_path):
    from dynlearn._quickstart import quickstart

    result = quickstart(steps=300, out=str(tmp_path), seed=1)
    assert (tmp_path / "quickstart.png").stat().st_size > 10_000
    # 300 steps are far from converged, but the one-step dynamics must already be learned
    # well beyond the trivial model (NRMSE of ~1 over half a Lyapunov time).
    assert result["test_nrmse_half_lyapunov_time"] < 0.5
    assert result["valid_prediction_time_median"] > 0.2


def test_systems_lists_the_zoo():
    out = _run("systems", "-v")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    names = [line.split()[0] for line in lines]
    assert "Lorenz" in names and "Henon" in names
    kinds = {line.split()[0]: line.split()[1] for line in lines}
    lorenz = next(line for line in lines if line.split()[0] == "Lorenz")
    assert kinds["Lorenz"] == "flow" and "dim=3" in lorenz
    assert kinds["Henon"] == "map"
    assert kinds["MackeyGlass"] == "delay"


@pytest.mark.parametrize("command", ["reproduce", "bench"])
def test_outside_a_clone_one_line_says_a_clone_is_needed(command, capsys, tmp_path, monkeypatch):
    """As installed from a wheel: no examples/ or benchmarks/ beside the package."""
    monkeypatch.setattr("dynlearn._cli._project_root", lambda: tmp_path)
    assert main([command, "lorenz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a clone" in err and f"`dynlearn {command}`" in err
    assert main([command, "--list"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "needs a clone" in out


def test_reproduce_gives_the_example_agg_unless_a_backend_is_chosen(tmp_path, monkeypatch):
    """The examples leave the backend alone; run by the command, they get MPLBACKEND=Agg."""
    monkeypatch.setattr("dynlearn._cli._project_root", lambda: tmp_path)
    (tmp_path / "examples").mkdir()
    marker = tmp_path / "backend.txt"
    (tmp_path / "examples" / "demo.py").write_text(
        '"""Writes its backend."""\nimport os\n'
        f"open({str(marker)!r}, 'w').write(os.environ.get('MPLBACKEND', 'unset'))\n"
    )
    monkeypatch.delenv("MPLBACKEND", raising=False)
    assert main(["reproduce", "demo"]) == 0
    assert marker.read_text() == "Agg"
    monkeypatch.setenv("MPLBACKEND", "svg")
    assert main(["reproduce", "demo"]) == 0
    assert marker.read_text() == "svg"
