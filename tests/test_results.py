"""coursekit.results.record."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from coursekit.results import load, record


def test_record_prints_and_merges(tmp_path, monkeypatch, capsys):
    path = tmp_path / "sub" / "results.json"
    monkeypatch.setenv("COURSEKIT_RESULTS", str(path))
    assert record("auc_rf", np.float64(0.912345)) == pytest.approx(0.912345)
    record("n_rows", np.int64(1000))
    record("promoted", True)
    record("auc_rf", 0.95)  # overwrite keeps one entry
    assert capsys.readouterr().out.splitlines() == [
        "auc_rf = 0.9123",
        "n_rows = 1000",
        "promoted = True",
        "auc_rf = 0.9500",
    ]
    assert json.loads(path.read_text()) == {"auc_rf": 0.95, "n_rows": 1000, "promoted": True}
    assert load(path)["n_rows"] == 1000


def test_record_without_results_file_only_shows(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("COURSEKIT_RESULTS", raising=False)
    assert record("k", 5) == 5
    assert capsys.readouterr().out == "k = 5\n"
    assert load(tmp_path / "missing.json") == {}


@pytest.mark.parametrize(
    ("name", "value", "error", "match"),
    [
        ("bad name", 1, ValueError, "identificador"),
        ("x", math.nan, ValueError, "não finito"),
        ("x", object(), TypeError, "Recebido: object"),
    ],
)
def test_record_refuses_bad_input(name, value, error, match, monkeypatch):
    monkeypatch.delenv("COURSEKIT_RESULTS", raising=False)
    with pytest.raises(error, match=match):
        record(name, value)
