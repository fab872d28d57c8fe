"""The Examples sections of coursekit's docstrings run and give what they show.

Modules whose examples need a SparkSession (session, datasets, monitor, cluster, ...) are
exercised by their own test files with real sessions; here run the ones that need none.
"""

from __future__ import annotations

import doctest
import importlib

import matplotlib
import pytest

matplotlib.use("Agg")

MODULES = [
    "coursekit.bench",
    "coursekit.cli",
    "coursekit.cluster.__main__",
    "coursekit.cluster.daemons",
    "coursekit.constants",
    "coursekit.handouts",
    "coursekit.java",
    "coursekit.cds",
    "coursekit.net",
    "coursekit.progress",
    "coursekit.results",
    "coursekit.datasets._lookups",
    "coursekit.grading",
    "coursekit.grading.exercises",
    "coursekit.grading.report",
    "coursekit.grading.assemble",
    "coursekit.grading.grader",
    "coursekit.grading.intake",
    "coursekit.grading.judge",
    "coursekit.grading.lint",
    "coursekit.grading.notebooks",
    "coursekit.grading.release",
    "coursekit.grading.runner",
    "coursekit.grading.sandbox",
    "coursekit.grading.selftest",
    "coursekit.grading.__main__",
    "coursekit.plots._common",
    "coursekit.plots.classification",
    "coursekit.plots.clustering",
    "coursekit.plots.forecast",
    "coursekit.plots.monitoring",
    "coursekit.plots.performance",
    "coursekit.plots.recommend",
    "coursekit.plots.tuning",
    "mlplatform.config",
]


#: Developer benchmarks in tools/ (scripts, not part of the installed package).
TOOLS = ["cluster_bench", "grading_bench", "jvm_archive_bench"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples: drop it from MODULES"
    assert result.failed == 0, f"{result.failed} example(s) of {name} failed (output above)"


@pytest.mark.parametrize("name", TOOLS)
def test_tools_docstring_examples(name, monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "tools"))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"tools/{name}.py has no examples: drop it from TOOLS"
    assert result.failed == 0, f"{result.failed} example(s) of tools/{name}.py failed"
