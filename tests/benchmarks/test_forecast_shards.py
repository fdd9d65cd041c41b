"""benchmarks/forecast.py: per-cell result files, resume, and `--shard I/N` + `--merge`."""

import csv
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "forecast.py"


@pytest.fixture(scope="module")
def forecast():
    spec = importlib.util.spec_from_file_location("forecast_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(forecast, monkeypatch, out, *extra):
    # a tiny configuration: one system, a closed-form and a seeded (random reservoir) model,
    # both training-data regimes (4 periods and the data-limited 1 period)
    options = ("--quick --systems Lorenz --models linear esn --train-periods 4 --n-tests 1 "
               "--regime full limited")
    argv = ["forecast.py", *options.split(), "--n-seeds", "2", "--out", str(out), *extra]
    monkeypatch.setattr(sys, "argv", argv)
    forecast.main()


def _table(out):
    with (out / "forecast.csv").open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        del row["fit_s"], row["cell_s"], row["cpu_s"]  # wall time differs between runs
    return rows


def test_sharded_runs_merge_to_the_unsharded_table(forecast, monkeypatch, tmp_path, capsys):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _run(forecast, monkeypatch, whole)
    _run(forecast, monkeypatch, parts, "--shard", "0/2")
    _run(forecast, monkeypatch, parts, "--shard", "1/2")
    assert not (parts / "forecast.csv").exists()  # shards write cells, not tables
    cells = sorted(p.name for p in (parts / "forecast_cells").iterdir())
    assert len(cells) == 8 and cells == sorted(p.name for p in (whole / "forecast_cells").iterdir())
    _run(forecast, monkeypatch, parts, "--merge")
    merged, unsharded = _table(parts), _table(whole)
    assert len(unsharded) == 8 and all(r["status"] == "ok" for r in unsharded)
    assert merged == unsharded
    # each cell records its regime and training length (4 periods and 1 period of 100 points)
    assert {(r["regime"], r["train_points"]) for r in unsharded} == {("full", "400"),
                                                                      ("limited", "100")}
    # the ESN's random reservoir follows the seed: the two seeds' cells differ
    esn = [r for r in unsharded if r["model"] == "esn" and r["regime"] == "full"]
    assert esn[0]["vpts_nrmse"] != esn[1]["vpts_nrmse"] or esn[0]["d_h"] != esn[1]["d_h"]

    # resume: a rerun finds every cell done and recomputes nothing
    capsys.readouterr()
    _run(forecast, monkeypatch, parts, "--shard", "1/2")
    assert "4 in this shard, 4 already done" in capsys.readouterr().out


def test_shard_argument(forecast):
    cells = forecast.all_cells(["A", "B"], ["m1", "m2", "m3"], [0])
    parts = [forecast.shard_cells(cells, f"{i}/4") for i in range(4)]
    assert sorted(c for p in parts for c in p) == sorted(cells)
    assert all(not set(p) & set(q) for i, p in enumerate(parts) for q in parts[i + 1 :])
    for bad in ("2/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="--shard"):
            forecast.parse_shard(bad)


def test_regime_data_keeps_the_stretch_before_the_tests(forecast):
    rng = np.random.default_rng(0)
    data = dict(train=rng.normal(size=(1000, 3)) * [1.0, 2.0, 3.0] + 5.0, other="kept")
    limited = forecast.regime_data(data, 1)
    np.testing.assert_array_equal(limited["train"], data["train"][-100:])
    np.testing.assert_allclose(limited["mean"], data["train"][-100:].mean(0))
    np.testing.assert_allclose(limited["std"], data["train"][-100:].std(0))
    assert limited["other"] == "kept"
    full = forecast.regime_data(data, 10)
    np.testing.assert_array_equal(full["train"], data["train"])


def test_medium_configuration(forecast):
    closed, trained = forecast.medium_systems()
    flows = forecast.systems.names("flows")
    every = flows[:: forecast.MEDIUM_EVERY]
    assert closed == [n for n in every if n not in forecast.MEDIUM_NOT_CHAOTIC]
    assert len(closed) >= 20 and "Torus" in every and "Torus" not in closed
    assert set(trained) <= set(closed) and len(trained) >= 5 and "Lorenz" in trained
    cells = forecast.medium_cells([0, 1, 2], ["full", "limited"])
    assert len(cells) == len(set(cells))
    assert {c[0] for c in cells if c[1] in forecast.TRAINED} == set(trained)
    assert {c[0] for c in cells if c[1] in forecast.CLOSED_FORM} == set(closed)
