"""The repository's own files agree with each other (one dependency list, one test command)."""

from __future__ import annotations

import re
import tomllib

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


def test_course_conventions():
    """The shared conformance check (../shared/check/conformance) reports no FAIL."""
    import subprocess
    import sys

    script = ROOT.parent / "shared" / "check" / "conformance"
    if not script.exists():
        import pytest

        pytest.skip(f"{script} não existe nesta máquina (só no ambiente do curso)")
    done = subprocess.run([sys.executable, str(script), str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
