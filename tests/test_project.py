"""The repository's own files agree with each other (one dependency list, one test command)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from helpers import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _names(requirements):
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_required_dependencies_are_declared():
    deps = _names(PYPROJECT["project"]["dependencies"])
    assert {
        "pyspark",
        "pandas",
        "pyarrow",
        "numpy",
        "matplotlib",
        "seaborn",
        "jupyterlab",
        "ipykernel",
    } <= deps
    pins = " ".join(PYPROJECT["project"]["dependencies"])
    assert "pyspark[connect]==4.3.*" in pins
    assert "pandas>=2.2,<3" in pins
    dev = _names(PYPROJECT["project"]["optional-dependencies"]["dev"])
    assert {"pytest", "papermill", "nbval", "ruff", "nbstripout", "pre-commit"} <= dev


def test_environment_yml_lists_no_second_set_of_packages():
    text = (ROOT / "environment.yml").read_text()
    body = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    conda_deps = body[body.index("dependencies:") + 1 :]
    allowed = {"- python=3.11", "- openjdk=17", "- pip", "- pip:", "- -e .[dev]"}
    assert set(conda_deps) == allowed, conda_deps
    assert "- conda-forge" in body


def test_python_requirement_matches_pyspark():
    assert PYPROJECT["project"]["requires-python"].startswith(">=3.11")
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_generated_folders_are_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    for entry in (
        ".venv/",
        "build/",
        "data/generated/",
        "spark-warehouse/",
        "metastore_db/",
        "checkpoints/",
    ):
        assert entry in ignored


def test_ruff_lint_and_format_are_clean():
    import subprocess
    import sys

    targets = [
        p
        for p in (
            "coursekit",
            "tests",
            "notebooks",
            "solutions",
            "mlplatform",
            "tools",
        )  # exercises/ is generated
        if (ROOT / p).exists()
    ]
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *targets], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, "rode `make format`:\n" + fmt.stdout[-3000:]


NOTEBOOK_DIRS = ("notebooks", "exercises", "solutions")
#: Code no notebook may hold: jars from Maven (offline classrooms) and paths of one machine.
FORBIDDEN = [
    (
        re.compile(r"spark\.jars\.packages|--packages"),
        "baixa jars do Maven (a sala não tem internet)",
    ),
    (
        re.compile(r"(?<![\w.])(/tmp/|/root/|/home/\w+|/Users/\w+|[A-Z]:\\\\)"),
        "caminho desta máquina",
    ),
]


def _course_notebooks() -> list[Path]:
    return sorted(p for d in NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb"))


@pytest.mark.parametrize("path", _course_notebooks(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_follows_the_course_conventions(path):
    """What every lesson, exercise and solution meets (DESIGN.md, "Conventions in notebooks")."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    problems = []
    if nb.nbformat != 4:
        problems.append(f"nbformat {nb.nbformat}, esperado 4")
    if (
        not nb.cells
        or nb.cells[0].cell_type != "markdown"
        or not nb.cells[0].source.startswith("# ")
    ):
        problems.append("a primeira célula deve ser o título em markdown ('# ...')")
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(params) != 1:
        problems.append(
            f"precisa de exatamente uma célula 'parameters' (encontradas {len(params)})"
        )
    elif not all(re.search(rf"^{n}\s*=", params[0].source, re.M) for n in ("SCALE", "SEED")):
        problems.append("a célula 'parameters' deve definir SCALE e SEED")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or "spark.stop()" not in code[-1].source:
        problems.append("a última célula de código deve ser spark.stop()")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("outputs"):
            if "keep_output" not in cell.get("metadata", {}).get("tags", []):
                problems.append(f"célula {index}: tem saídas (limpe-as ou use a tag keep_output)")
        if cell.cell_type in ("code", "raw"):
            for pattern, why in FORBIDDEN:
                if match := pattern.search(cell.source):
                    problems.append(f"célula {index}: '{match.group(0)}' ({why})")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append("kernelspec deve ser python3")
    if path.parent.name == "exercises" and any(
        re.search(r"BEGIN SOLUTION|END SOLUTION|HIDDEN TESTS", c.source) for c in nb.cells
    ):
        problems.append("a versão do aluno ainda tem marcadores de solução")
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)


def test_conventions_cover_every_notebook_folder():
    assert {p.parent.name for p in _course_notebooks()} == set(NOTEBOOK_DIRS)


def test_console_command_aula10_runs_every_user_command():
    """`aula10` (pyproject [project.scripts]) lists the commands users run and dispatches them."""
    import subprocess
    import sys

    from coursekit.cli import COMMANDS, usage

    assert PYPROJECT["project"]["scripts"] == {"aula10": "coursekit.cli:main"}
    assert set(COMMANDS) == {
        "lab", "doctor", "datasets", "html", "cluster", "exercises", "grade", "release",
    }  # fmt: skip
    exe = Path(sys.executable).with_name("aula10")
    assert exe.exists(), "aula10 not installed: run `make setup` (pip install -e .)"
    listing = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and all(name in listing.stdout for name in COMMANDS)
    unknown = subprocess.run([exe, "nada"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "comando desconhecido" in unknown.stderr
    status = subprocess.run(
        [exe, "cluster", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COURSEKIT_CLUSTER_DIR": str(ROOT / "build" / "cluster-cli-test")},
    )
    assert status.returncode == 0 and "cluster standalone: parado" in status.stdout, status
    assert usage() in (ROOT / "README.md").read_text(), "README shows an outdated `aula10` help"
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "exercises", "grade", "release", "html", "cluster up"):
        assert f"$(AULA10) {target}" in makefile, f"make does not call `aula10 {target}`"
