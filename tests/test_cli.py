"""The `dynlearn` command: help, version, errors with exit code 2, listing, quickstart."""

import os
import subprocess
import sys

import pytest

import dynlearn
from dynlearn._cli import main


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "dynlearn", *args], capture_output=True, text=True, cwd=cwd,
        timeout=600, env=dict(os.environ, JAX_PLATFORMS="cpu"),
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
    lorenz = next(line for line in lines if line.split()[0] == "Lorenz")
    assert "flow" in lorenz and "dim=3" in lorenz
