"""The figures tier: what every notebook recorded, against the dataset truth, in one table.

``make test`` runs this file AFTER the suite (``pytest -m figures tests/figures``): by then every
lesson has run (tests/nbrun.py writes ``build/results/<notebook>.json``), the solutions have been
graded (tests/test_grading.py writes ``build/results/exNN_*.json``) and the scale-out runs are done
(tests/test_cluster.py writes ``build/results/cluster/<mode>/<notebook>.json``). Nothing here waits
for anything: a missing or stale file fails with the command that writes it.

Each figure's tolerance is written once, in :data:`CHECKS`, so a changed threshold shows up in
review. The truth comes from the generators (``generate(...).truth`` at ``SCALE="ci"``), never
from what a notebook printed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "build" / "results"
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted(p.stem for p in (ROOT / "solutions").glob("ex[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.figures


@pytest.fixture(scope="module")
def truth():
    """The truth the checks compare with, from the generators at SCALE="ci" (seed 42)."""
    from coursekit.datasets import generate
    from coursekit.session import get_spark

    spark = get_spark("figures-tier", {"spark.ui.enabled": "false"})
    transactions = generate("transactions", spark, scale="ci").truth
    ratings = generate("ratings", spark, scale="ci").truth
    sales = generate("sales", spark, scale="ci").truth
    values = {
        "bayes_auc": float(transactions["bayes_auc"]),
        "rmse_floor": float(ratings["rmse_floor"]),
        "mae_floor_sales": float(sales["mae_floor"]),
        "k_customers": int(generate("customers", spark, scale="ci", n=1_000).truth["k"]),
    }
    spark.stop()
    return values


def figures(name: str, mode: str = "") -> dict:
    """The figures ``name`` recorded (in ``mode``: "" = the local suite, "cluster", "connect")."""
    path = RESULTS / ("cluster/" + mode if mode else "") / f"{name}.json"
    assert path.exists(), f"{path.relative_to(ROOT)} missing: run `make test` (the suite first)"
    sources = (ROOT / d / f"{name}.ipynb" for d in ("notebooks", "solutions"))
    source = next((s for s in sources if s.exists()), None)
    if source is not None:
        assert path.stat().st_mtime >= source.stat().st_mtime, (
            f"{path.relative_to(ROOT)} is older than {source.relative_to(ROOT)}: run it again"
        )
    data = json.loads(path.read_text())
    assert data, f"{path.relative_to(ROOT)} is empty"
    return data


Check = Callable[[dict, dict], bool]

#: ``(notebook, description, check(figures, truth))``: the one place for every tolerance.
CHECKS: list[tuple[str, str, Check]] = [
    # lesson 02: the fraud models against the Bayes-optimal AUC. The lesson scores the generator's
    # true probabilities on its own test split (auc_bayes); that figure must agree with the
    # generator's whole-data Bayes AUC up to the sampling noise of a finite test set
    ("02_deteccao_de_fraudes", "test-split Bayes AUC within 0.03 of the generator's Bayes AUC",
     lambda f, t: abs(f["auc_bayes"] - t["bayes_auc"]) <= 0.03),
    ("02_deteccao_de_fraudes", "random forest AUC within 0.03 below Bayes on the same test (+0.02 noise)",
     lambda f, t: f["auc_bayes"] - 0.03 <= f["auc_rf"] <= f["auc_bayes"] + 0.02),
    ("02_deteccao_de_fraudes", "GBT and logistic regression better than chance, not above Bayes + 0.02",
     lambda f, t: all(0.5 < f[k] <= f["auc_bayes"] + 0.02 for k in ("auc_gbt", "auc_lr"))),
    # lesson 03: ALS against the noise floor (the lesson measures it on its test split)
    ("03_recomendacao_als", "test-split RMSE floor within 5% of the generator's",
     lambda f, t: math.isclose(f["rmse_floor"], t["rmse_floor"], rel_tol=0.05)),
    ("03_recomendacao_als", "ALS RMSE at most 1.3x the floor (and not below it - 0.02)",
     lambda f, t: f["rmse_floor"] - 0.02 <= f["rmse"] <= 1.3 * f["rmse_floor"]),
    ("03_recomendacao_als", "ALS beats popularity on precision@10 (truth relevance)",
     lambda f, t: f["precision_at_10"] > f["popularity_precision_at_10"]),
    # lesson 04: the true number of segments is found
    ("04_segmentacao_kmeans", "k chosen = the generator's k",
     lambda f, t: f["k_chosen"] == f["k_true"] == t["k_customers"]),
    ("04_segmentacao_kmeans", "ARI against the true segments at least 0.8",
     lambda f, t: f["ari"] >= 0.8),
    # lesson 06: demand models against the irreducible error. The floor of the test weeks differs
    # from the whole history's (the noise grows with the level, which has seasons): within 10%
    ("06_previsao_de_demanda", "test-window MAE floor within 10% of the generator's",
     lambda f, t: math.isclose(f["mae_floor"], t["mae_floor_sales"], rel_tol=0.10)),
    ("06_previsao_de_demanda", "random forest beats the seasonal naive forecast",
     lambda f, t: f["mae_rf"] < f["mae_naive"]),
    ("06_previsao_de_demanda", "no model below 0.9x the floor (that would be leakage), none above 1.3x",
     lambda f, t: all(0.9 * f["mae_floor"] <= f[k] <= 1.3 * f["mae_floor"] for k in ("mae_lr", "mae_rf"))),
    # lesson 07: the cache demonstration shows caching winning (issue 17)
    ("07_performance_cache_particionamento", "cache speed-up above 1.2 at ci",
     lambda f, t: f["cache_speedup"] > 1.2),
    # lessons 09 and 10: exactly-once streaming, no leakage, nothing lost
    ("09_deploy_persistencia_streaming", "reloaded model predicts the same, stream loses nothing",
     lambda f, t: f["reload_prediction_mismatches"] == 0 and f["stream_lost"] == 0
     and f["stream_duplicates"] == 0 and f["stream_rows_scored"] == f["stream_rows_in"]),
    ("10_projeto_final_plataforma", "no point-in-time leakage, champion above chance",
     lambda f, t: f["leakage_violations"] == 0 and f["champion_auc"] > 0.5),
    # the solutions, run by the grader's self-test (tests/test_grading.py) on the visible data
    ("ex01_deteccao_anomalias", "Isolation Forest above the z-score rule on PR-AUC",
     lambda f, t: f["ex01_pr_auc_iforest"] > f["ex01_pr_auc_zscore"]),
    ("ex03_recomendacao_hibrida", "the hybrid at least as precise as ALS alone",
     lambda f, t: f["ex03_precision_at_k_hibrido"] >= f["ex03_precision_at_k_als"]),
    ("ex04_series_temporais", "forecast between 0.9x the floor (leakage) and the seasonal naive",
     lambda f, t: 0.9 * f["ex04_mae_floor"] <= f["ex04_mae_model"] < f["ex04_mae_seasonal_naive"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("notebook", "what", "check"), CHECKS, ids=[f"{n[:2]}: {w}" for n, w, _ in CHECKS]
)
def test_recorded_figure_against_truth(truth, notebook, what, check):
    got = figures(notebook)
    assert check(got, truth), f"{notebook}: {what}: recorded {got}, truth {truth}"


@pytest.mark.parametrize("notebook", LESSONS + SOLUTIONS)
def test_every_notebook_recorded_figures(notebook):
    assert figures(notebook)


# --- the same lesson in another mode gives the same figures -----------------------------------

#: Recorded figures that measure time or the machine, not the model: not compared across modes.
VOLATILE = re.compile(
    r"(^|_)(time|times|seconds|secs|sec|s|ms|elapsed|duration|speedup|ratio_time|"
    r"partitions|executors|cores|mode|master|url)($|_)"
)
REL_TOL, ABS_TOL = 0.05, 0.02


def compare(local: dict, remote: dict) -> list[str]:
    """Differences beyond tolerance between two sets of recorded figures (empty: same)."""
    problems = []
    keys = [k for k in local if not VOLATILE.search(k)]
    if not keys:
        return ["no comparable figure recorded"]
    for key in keys:
        if key not in remote:
            problems.append(f"{key}: recorded locally ({local[key]!r}) but not in this mode")
        elif not _close(local[key], remote[key]):
            problems.append(f"{key}: {remote[key]!r} vs local {local[key]!r}")
    return problems


def _close(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def _scale_out_runs() -> list[tuple[str, str]]:
    """The runs tests/test_cluster.py makes (one lesson per mode, or COURSEKIT_CLUSTER_LESSONS)."""
    from test_cluster import _lessons

    return [(mode, name) for mode in ("cluster", "connect") for name in _lessons(mode)]


@pytest.mark.parametrize(("mode", "notebook"), _scale_out_runs())
def test_scale_out_run_matches_local(mode, notebook):
    problems = compare(figures(notebook), figures(notebook, mode))
    assert not problems, f"{notebook} in mode {mode} differs from local:\n  " + "\n  ".join(
        problems
    )


def test_compare_flags_a_real_difference():
    """The comparison itself: same figures pass, a changed metric or a missing one fails."""
    local = {"auc_rf": 0.91, "n_test": 4000, "fit_seconds": 3.0}
    assert compare(local, {"auc_rf": 0.915, "n_test": 4010, "fit_seconds": 9.0}) == []
    assert compare(local, {"auc_rf": 0.80, "n_test": 4000})
    assert compare(local, {"n_test": 4000})
