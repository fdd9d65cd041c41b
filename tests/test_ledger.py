"""The reproduction ledger (`dynlearn._ledger`): the results file's fields, statuses, medians and
per-seed resumption."""

import json
import time

import numpy as np
import pytest

from dynlearn import _ledger


def _reproduction(tmp_path, config=None):
    return _ledger.Reproduction(
        "demo",
        paper="A paper",
        claim="Something holds.",
        paper_figures=[{"quantity": "error", "value": 0.1, "source": "Table 1"}],
        config=config or {"steps": 10, "full": False},
        directory=tmp_path,
    )


def test_results_file_has_every_field(tmp_path, monkeypatch):
    monkeypatch.setenv(_ledger.COMMAND_ENV, "dynlearn reproduce demo --results-dir x")
    run = _reproduction(tmp_path)
    for seed, error in zip((0, 1, 2), (0.3, np.float32(0.1), 0.2)):
        run.seed(seed, lambda s, e=error: {"error": e, "ok": True, "curve": np.arange(2)})
    path = run.finish(
        ours="median error 0.2", status="partial", gap="2x the paper's", differences=["smaller"]
    )
    record = json.loads(path.read_text())
    assert path == tmp_path / "demo.json"
    assert record["seeds"] == [0, 1, 2]
    assert record["median"] == {"error": pytest.approx(0.2)}
    assert record["per_seed"]["1"]["error"] == pytest.approx(0.1)
    assert record["per_seed"]["0"]["curve"] == [0, 1]
    assert record["command"] == "dynlearn reproduce demo --results-dir x"
    assert record["status"] == "partial" and record["differences"] == ["smaller"]
    assert record["paper_figures"][0]["source"] == "Table 1"
    assert len(record["commit"]) == 40
    assert record["versions"]["jax"] and record["versions"]["jaxlib"]
    assert len(record["machine"]["load_average_start"]) == 3
    assert len(record["machine"]["load_average_end"]) == 3
    assert record["wall_time_s"] >= 0 and record["seeds_resumed"] == []


def test_seeds_are_resumed_only_with_the_same_config(tmp_path):
    calls = []

    def compute(seed):
        calls.append(seed)
        return {"error": float(seed)}

    first = _reproduction(tmp_path)
    first.seed(0, compute)
    assert (tmp_path / "demo.seeds" / "seed-0.json").is_file()
    again = _reproduction(tmp_path)
    assert again.seed(0, compute) == {"error": 0.0}
    again.seed(1, compute)
    assert calls == [0, 1] and again.resumed == [0]
    changed = _reproduction(tmp_path, config={"steps": 20, "full": False})
    changed.seed(0, compute)
    assert calls == [0, 1, 0] and changed.resumed == []


def test_bad_status_and_missing_fields_are_errors(tmp_path):
    run = _reproduction(tmp_path)
    with pytest.raises(ValueError, match="no seed"):
        run.finish(ours="", status="partial", gap="", differences=[])
    run.seed(0, lambda s: {"error": 1.0})
    with pytest.raises(ValueError, match="status must be one of"):
        run.finish(ours="", status="almost", gap="", differences=[])
    with pytest.raises(ValueError, match="lacks"):
        _ledger.Reproduction(
            "x", paper="p", claim="c", paper_figures=[{"value": 1}], config={}, directory=tmp_path
        )
    with pytest.raises(TypeError, match="cannot write"):
        run.seed(1, lambda s: {"error": object()})


def test_results_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(_ledger.RESULTS_DIR_ENV, raising=False)
    assert str(_ledger.results_dir()) == "dynlearn-out"
    monkeypatch.setenv(_ledger.RESULTS_DIR_ENV, str(tmp_path))
    assert _ledger.results_dir() == tmp_path


def test_each_seed_records_its_cpu_seconds(tmp_path):
    """A seed's CPU time is the process's, measured around its computation (a busy loop of
    known CPU cost), kept when the seed is resumed, summed in the results file."""

    def busy(seed):
        start = time.process_time()
        while time.process_time() - start < 0.2:
            pass
        return {"error": 1.0}

    run = _reproduction(tmp_path)
    run.seed(0, busy)
    run.seed(1, lambda s: {"error": 2.0})
    assert 0.2 <= run.per_seed[0]["cpu_time_s"] < 1.0
    assert run.per_seed[1]["cpu_time_s"] < 0.1
    again = _reproduction(tmp_path)
    again.seed(0, busy)  # resumed: the saved CPU time, not a new one
    assert again.resumed == [0] and again.per_seed[0]["cpu_time_s"] == run.per_seed[0]["cpu_time_s"]
    record = json.loads(
        run.finish(ours="o", status="partial", gap="g", differences=["d"]).read_text()
    )
    assert record["cpu_time_s"] == pytest.approx(
        run.per_seed[0]["cpu_time_s"] + run.per_seed[1]["cpu_time_s"], abs=0.11
    )
    assert "cpu_time_s" not in record["median"]
