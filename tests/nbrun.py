"""Prepare notebooks for nbval: papermill parameters + results/cwd plumbing.

One prepared copy per notebook goes to ``build/nbrun/<dir>/<name>.ipynb``;
nbval (``--nbval-lax``) collects only those. Each copy gets:

1. papermill's injected-parameters cell (``SCALE="ci"``);
2. a first cell that sets the working directory to the notebook's own folder
   and ``COURSEKIT_RESULTS`` to ``build/results/<name>.json``;
3. a last cell that fails when the notebook recorded nothing.

A notebook without a ``parameters`` cell (SCALE, SEED) fails at preparation.

This module is a pytest plugin (``-p nbrun`` in pyproject.toml), so its hooks
apply whether pytest is given ``tests/`` or ``build/nbrun`` paths.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

# COURSEKIT_NBRUN_ROOT lets the runner's own tests point it at a scratch project.
ROOT = Path(os.environ.get("COURSEKIT_NBRUN_ROOT") or Path(__file__).resolve().parents[1])
BUILD = ROOT / "build"
RUN_DIR = BUILD / "nbrun"
EXECUTED = BUILD / "executed"
RESULTS = BUILD / "results"
# solutions/ are executed once, by the grading self-test (tests/test_grading.py), which
# grades them as a student submission and checks full marks; running them here too
# would execute each twice per run.
NOTEBOOK_DIRS = ("notebooks",)
CI_PARAMETERS = {"SCALE": "ci"}

# pytest resolves `testpaths` before any hook runs; the folder must exist by then.
RUN_DIR.mkdir(parents=True, exist_ok=True)

_prepare_errors: dict[str, str] = {}
_executed: dict[Path, nbformat.NotebookNode] = {}
_failed_files: set[str] = set()
_selection = "all"


def pytest_addoption(parser):
    parser.addoption(
        "--notebooks",
        action="store",
        default="all",
        help="which notebooks to run: 'all', 'none' or a comma list of name fragments",
    )


def pytest_configure(config):
    global _selection
    _selection = config.getoption("--notebooks")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    # Under xdist only the controller prepares; workers collect what it wrote.
    if not hasattr(session.config, "workerinput") and _collects_notebooks(session.config):
        prepare_all(session.config)


def _collects_notebooks(config) -> bool:
    """False when the command line names only paths outside build/nbrun (``pytest tests/x.py``):
    preparing would then wipe the recorded figures of the last full run for nothing."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return True  # the testpaths, which include build/nbrun
    for arg in config.args:
        path = (Path(config.invocation_params.dir) / arg.split("::")[0]).resolve()
        if path == RUN_DIR or RUN_DIR in path.parents or path in RUN_DIR.parents:
            return True
    return False


def source_notebooks() -> list[Path]:
    """Every notebook this runner executes (the lessons; see NOTEBOOK_DIRS)."""
    dirs = os.environ.get("COURSEKIT_NOTEBOOK_DIRS", ",".join(NOTEBOOK_DIRS)).split(",")
    found = []
    for d in dirs:
        folder = ROOT / d.strip()
        if folder.is_dir():
            found += sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    return found


def selected(path: Path) -> bool:
    if _selection == "all":
        return True
    if _selection == "none":
        return False
    return any(frag.strip() and frag.strip() in path.name for frag in _selection.split(","))


def parameters_problem(nb) -> str | None:
    """Why a notebook's parameters cell is unusable, or None when it is fine."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        return (
            f"precisa de exatamente uma célula com a tag 'parameters' (encontradas: {len(cells)})"
        )
    for name in ("SCALE", "SEED"):
        if not re.search(rf"^{name}\s*=", cells[0].source, re.M):
            return f"a célula 'parameters' não define {name}"
    return None


def prepared_path(src: Path) -> Path:
    return RUN_DIR / src.parent.name / src.name


def results_path(src: Path) -> Path:
    return RESULTS / f"{src.stem}.json"


def prepare(src: Path) -> Path:
    """Write the parameterised copy of ``src`` for nbval and return its path."""
    import papermill

    nb = nbformat.read(src, as_version=4)
    problem = parameters_problem(nb)
    if problem:
        raise ValueError(f"{src.relative_to(ROOT)}: {problem}")
    out = prepared_path(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(src),
        str(out),
        parameters=CI_PARAMETERS,
        prepare_only=True,
        kernel_name="python3",
        log_output=False,
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    results = results_path(src)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.unlink(missing_ok=True)
    setup = nbformat.v4.new_code_cell(
        "# injected by tests/nbrun.py\n"
        "import os\n"
        f"os.chdir({str(src.parent)!r})\n"
        f"os.environ['COURSEKIT_RESULTS'] = {str(results)!r}"
    )
    check = nbformat.v4.new_code_cell(
        "# injected by tests/nbrun.py\n"
        "from coursekit.results import load as _load_results\n"
        f"_recorded = _load_results({str(results)!r})\n"
        f"assert _recorded, 'o notebook {src.name} não registrou nenhum resultado com record()'\n"
        "print(sorted(_recorded))"
    )
    nb.cells = [setup, *nb.cells, check]
    nbformat.write(nb, out)
    return out


def prepare_all(config) -> None:
    """Write fresh prepared copies of the selected notebooks (controller process only)."""
    if RUN_DIR.exists():
        for old in RUN_DIR.rglob("*.ipynb"):
            old.unlink()
    for src in source_notebooks():
        if not selected(src):
            continue
        try:
            prepare(src)
        except Exception as exc:  # reported by tests/test_notebooks.py
            _prepare_errors[str(src)] = str(exc)


def prepare_errors() -> dict[str, str]:
    return dict(_prepare_errors)


def pytest_ignore_collect(collection_path, config):
    """Let nbval collect only the prepared copies under build/nbrun."""
    path = Path(collection_path)
    if path.suffix == ".ipynb":
        return RUN_DIR not in path.parents
    return None


def _is_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def pytest_itemcollected(item):
    """Every notebook cell carries the ``notebooks`` marker (``-m "not notebooks"`` skips them)."""
    if _is_cell(item):
        item.add_marker(pytest.mark.notebooks)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """After a cell fails, the rest of that notebook is reported as skipped, not as noise."""
    if _is_cell(item) and str(item.fspath) in _failed_files:
        pytest.skip("uma célula anterior deste notebook falhou")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not _is_cell(item) or call.when != "call":
        return
    path = Path(str(item.fspath))
    nb = item.parent.nb
    _executed[path] = nb
    item.cell.outputs = list(getattr(item, "test_outputs", None) or [])
    if report.failed:
        _failed_files.add(str(item.fspath))


def pytest_sessionfinish(session):
    """Keep every executed notebook (with outputs) under build/executed/."""
    for path, nb in _executed.items():
        out = EXECUTED / path.parent.name / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)


def load_results(src: Path) -> dict:
    path = results_path(src)
    return json.loads(path.read_text()) if path.exists() else {}


def keep_outputs(src: Path) -> int:
    """Copy outputs of ``keep_output``-tagged cells from the executed copy into ``src``.

    Use after changing such a cell: ``python tests/nbrun.py keep-outputs notebooks/X.ipynb``.
    Returns how many cells were updated.
    """
    executed = nbformat.read(EXECUTED / src.parent.name / src.name, as_version=4)
    by_source = {c.source: c for c in executed.cells if c.cell_type == "code"}
    nb = nbformat.read(src, as_version=4)
    updated = 0
    for cell in nb.cells:
        if "keep_output" in cell.get("metadata", {}).get("tags", []) and cell.source in by_source:
            cell.outputs = by_source[cell.source].outputs
            cell.execution_count = 1
            updated += 1
    nbformat.write(nb, src)
    return updated


def strip(path: Path) -> bool:
    """nbstripout, except that ``keep_output`` cells keep an execution count.

    nbval compares a ``# NBVAL_CHECK_OUTPUT`` cell only when its reference
    cell has an execution count, which plain nbstripout removes.
    Returns True when the file changed.
    """
    from nbstripout import strip_output

    before = path.read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=4)
    nb = strip_output(nb, keep_output=False, keep_count=False, keep_id=False)
    for cell in nb.cells:
        if "keep_output" in cell.get("metadata", {}).get("tags", []) and cell.get("outputs"):
            cell.execution_count = 1
    after = nbformat.writes(nb) + "\n"
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


if __name__ == "__main__":
    import sys

    commands = {"keep-outputs": keep_outputs, "strip": strip}
    if len(sys.argv) < 3 or sys.argv[1] not in commands:
        sys.exit("usage: python tests/nbrun.py {keep-outputs|strip} NOTEBOOK...")
    for name in sys.argv[2:]:
        print(name, commands[sys.argv[1]](Path(name).resolve()))
