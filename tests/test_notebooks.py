"""The notebook runner itself (tests/nbrun.py): its preparation and its failures.

The notebooks are executed by nbval on the prepared copies in build/nbrun
(collected through pyproject's testpaths), once per run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import nbrun
import pytest
from helpers import ROOT

SOURCES = nbrun.source_notebooks()


@pytest.mark.parametrize("src", SOURCES, ids=[p.name for p in SOURCES])
def test_notebook_has_a_usable_parameters_cell(src):
    nb = nbformat.read(src, as_version=4)
    problem = nbrun.parameters_problem(nb)
    assert problem is None, f"{src.relative_to(nbrun.ROOT)}: {problem}"
    assert nbrun.prepare_errors().get(str(src)) is None


LESSONS = (
    "00_introducao_ml_distribuido", "01_engenharia_de_features", "02_deteccao_de_fraudes",
    "03_recomendacao_als", "04_segmentacao_kmeans", "05_tuning_e_selecao_de_features",
    "06_previsao_de_demanda", "07_performance_cache_particionamento", "08_monitoramento_e_debugging",
    "09_deploy_persistencia_streaming", "10_projeto_final_plataforma",
)  # fmt: skip


def test_lesson_names_follow_the_contract():
    """Every lesson file carries one of the contract names (DESIGN.md), numbered in plan order."""
    names = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert names and names[0] == LESSONS[0]
    unknown = sorted(set(names) - set(LESSONS))
    assert not unknown, f"notebooks fora do contrato de nomes: {unknown}"


def _write(path: Path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _params():
    cell = nbformat.v4.new_code_cell('SCALE = "aula"  # size\nSEED = 42  # seed')
    cell.metadata["tags"] = ["parameters"]
    return cell


def _outcomes(report: Path) -> dict[str, str]:
    """``{test id: "passed" | "failed" | "skipped" | "error"}`` from a JUnit XML report, in order."""
    import xml.etree.ElementTree as ET

    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcome = {"failure": "failed"}.get(kinds[0], kinds[0]) if kinds else "passed"
        found[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return found


def test_runner_reports_notebook_cell_and_error(tmp_path):
    code = nbformat.v4.new_code_cell
    _write(
        tmp_path / "notebooks" / "good.ipynb",
        [
            _params(),
            code("from coursekit.results import record\nrecord('scale_seen', SCALE)"),
        ],
    )
    _write(
        tmp_path / "notebooks" / "broken.ipynb",
        [
            _params(),
            code("from coursekit.results import record\nrecord('x', 1)"),
            code("1 / 0"),
            code("print('never runs')"),
        ],
    )
    _write(tmp_path / "notebooks" / "silent.ipynb", [_params(), code("x = 1")])
    _write(tmp_path / "notebooks" / "noparams.ipynb", [code("print(1)")])
    (tmp_path / "pyproject.toml").write_text("")
    env = dict(os.environ, COURSEKIT_NBRUN_ROOT=str(tmp_path), COURSEKIT_NOTEBOOK_DIRS="notebooks")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "nbrun",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            "-c",
            str(tmp_path / "pyproject.toml"),
            str(tmp_path / "build" / "nbrun"),
            str(ROOT / "tests" / "test_notebooks.py::test_notebook_has_a_usable_parameters_cell"),
            f"--junitxml={tmp_path / 'report.xml'}",
        ],
        env=env | {"PYTHONPATH": str(ROOT / "tests")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout
    assert done.returncode == 1, out[-3000:]
    # Cell numbers count the prepared copy's code cells (setup + injected parameters first).
    assert "broken.ipynb::Cell 4" in out and "ZeroDivisionError" in out
    assert "silent.ipynb" in out and "não registrou nenhum resultado" in out
    assert "noparams.ipynb" in out and "parameters" in out
    report = _outcomes(tmp_path / "report.xml")
    params = {k: v for k, v in report.items() if "usable_parameters_cell" in k}
    outcomes = {k: v for k, v in report.items() if k not in params}  # the notebooks' cells
    broken = [v for k, v in outcomes.items() if "broken.ipynb" in k]
    # setup, injected parameters, parameters, record: passed; 1 / 0 fails; the rest is skipped
    assert broken == ["passed"] * 4 + ["failed", "skipped", "skipped"], broken
    silent = [v for k, v in outcomes.items() if "silent.ipynb" in k]
    assert silent == ["passed"] * 4 + ["failed"], silent  # the injected "recorded nothing" check
    good = [v for k, v in outcomes.items() if "good.ipynb" in k]
    assert good and set(good) == {"passed"}, good
    assert [v for k, v in params.items() if "noparams" in k] == ["failed"], params
    assert {v for k, v in params.items() if "noparams" not in k} == {"passed"}, params
    assert (tmp_path / "build" / "executed" / "notebooks" / "good.ipynb").exists()
    assert '"scale_seen": "ci"' in (tmp_path / "build" / "results" / "good.json").read_text()
    # every notebook cell is marked `notebooks`: deselecting the marker leaves none of them
    only = subprocess.run(
        [*done.args[:-1], "--collect-only", "-m", "not notebooks"],
        env=env | {"PYTHONPATH": str(ROOT / "tests")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "usable_parameters_cell" in only.stdout and ".ipynb::Cell" not in only.stdout, (
        only.stdout
    )
