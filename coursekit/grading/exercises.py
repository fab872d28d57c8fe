"""Student versions: ``exercises/`` generated from ``solutions/`` with nbgrader.

``python -m coursekit.grading.exercises`` (``make exercises``) rewrites
``exercises/`` from ``solutions/``; ``--check`` lists what is out of date and
exits 1. Generation runs ``nbgrader generate_assignment`` in a temporary course
folder (``source/<ex>/<ex>.ipynb`` -> ``release/<ex>/<ex>.ipynb``): answers
become ``# SEU CÓDIGO AQUI`` stubs, hidden tests disappear, test and given
cells are locked and carry nbgrader checksums, outputs are cleared. The grader's raw cells
(probes, checks, references) are removed before nbgrader sees the notebook.

Examples
--------
>>> from coursekit.grading.exercises import nbgrader_config
>>> nbgrader_config("/tmp/curso").ClearSolutions.code_stub["python"].splitlines()[0]
'# SEU CÓDIGO AQUI'
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import nbformat

from coursekit.grading.notebooks import (
    CODE_STUB,
    SOLUTION_MARKERS,
    TEXT_STUB,
    discover_solutions,
    read_solution,
    role,
    without_grader_cells,
)

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = ROOT / "solutions"
EXERCISES_DIR = ROOT / "exercises"


def nbgrader_env() -> None:
    """nbgrader calls ``alembic`` by name when it creates a gradebook: put this venv's bin first."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    warnings.filterwarnings("ignore", module="nbgrader")
    warnings.filterwarnings("ignore", message=".*not in session.*")


def nbgrader_config(course: str | Path):
    """The traitlets Config for a course folder ``course`` (gradebook inside it)."""
    from traitlets.config import Config

    course = Path(course)
    c = Config()
    c.CourseDirectory.root = str(course)
    c.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    c.Exchange.root = str(course / "exchange")
    return c


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Silence nbgrader's and traitlets' INFO chatter while it runs in this process."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def build_course(solutions: Mapping[str, Path], course: str | Path) -> dict[str, Path]:
    """Run ``nbgrader generate_assignment`` for every solution into course folder ``course``.

    Parameters
    ----------
    solutions : mapping
        ``{exercise_name: solution_path}``; each is validated first.
    course : path
        An empty folder; gets ``source/``, ``release/`` and ``gradebook.db``.

    Returns
    -------
    dict
        ``{exercise_name: path of the generated student version}``.

    Raises
    ------
    FormatError
        A solution breaks the exercise format (the message lists why).
    RuntimeError
        nbgrader failed; the message carries its log.
    """
    nbgrader_env()
    course = Path(course)
    for name, path in solutions.items():
        nb = read_solution(path)  # FormatError with every problem listed
        target = course / "source" / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(without_grader_cells(nb), target)  # probes, checks, references stay here
    from nbgrader.apps import NbGraderAPI

    with quiet_logs():
        api = NbGraderAPI(config=nbgrader_config(course))
        results = {name: api.generate_assignment(name, force=True) for name in solutions}
    released = {}
    for name, result in results.items():
        out = course / "release" / name / f"{name}.ipynb"
        if not result.get("success") or not out.exists():
            raise RuntimeError(
                f"nbgrader generate_assignment falhou para {name}:\n"
                f"{result.get('error', '')}\n{result.get('log', '')[-3000:]}"
            )
        released[name] = out
    return released


def normalized(nb) -> dict:
    """What must match between a committed student version and a fresh one."""
    return {
        "metadata": {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "coursekit")},
        "cells": [
            {
                "cell_type": c.cell_type,
                "source": c.source,
                "metadata": {
                    k: v
                    for k, v in c.metadata.items()
                    if k not in ("execution", "collapsed", "scrolled")
                },
            }
            for c in nb.cells
        ],
    }


def differences(expected, actual) -> list[str]:
    """Readable differences between two student versions (empty when equal)."""
    a, b = normalized(expected), normalized(actual)
    if a == b:
        return []
    out = []
    if a["metadata"] != b["metadata"]:
        out.append("metadados do notebook diferem")
    if len(a["cells"]) != len(b["cells"]):
        out.append(f"número de células: esperado {len(a['cells'])}, encontrado {len(b['cells'])}")
    for i, (x, y) in enumerate(zip(a["cells"], b["cells"], strict=False)):
        for key in ("cell_type", "source", "metadata"):
            if x[key] != y[key]:
                out.append(f"célula {i}: {key} difere")
    return out or ["conteúdo difere"]


def student_version_problems(nb) -> list[str]:
    """Leaks in a student version: solution/hidden-test markers, grader cells or outputs."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if role(cell) is not None or cell.cell_type == "raw":
            problems.append(f"célula {index}: célula do corretor (probe/check/reference)")
        if SOLUTION_MARKERS.search(cell.source):
            problems.append(f"célula {index}: contém marcadores de solução ou testes ocultos")
        if cell.cell_type == "code" and cell.get("outputs"):
            problems.append(f"célula {index}: tem saídas")
    return problems


def generate(
    solutions_dir: str | Path = SOLUTIONS_DIR,
    exercises_dir: str | Path = EXERCISES_DIR,
    *,
    check: bool = False,
) -> list[str]:
    """Regenerate (or, with ``check=True``, only compare) ``exercises_dir``.

    Returns
    -------
    list of str
        With ``check``: what is out of date (empty = up to date). Otherwise the
        names of the files written or removed.
    """
    solutions = discover_solutions(solutions_dir)
    exercises_dir = Path(exercises_dir)
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="coursekit-exercises-") as tmp:
        released = build_course(solutions, tmp) if solutions else {}
        for name, path in released.items():
            fresh = nbformat.read(path, as_version=4)
            leaks = student_version_problems(fresh)
            if leaks:
                raise RuntimeError(f"{name}: a versão gerada vaza a solução: {leaks}")
            target = exercises_dir / f"{name}.ipynb"
            if check:
                if not target.exists():
                    report.append(f"{target.name}: falta (rode `make exercises`)")
                    continue
                diff = differences(fresh, nbformat.read(target, as_version=4))
                if diff:
                    report.append(
                        f"{target.name}: desatualizado ({'; '.join(diff[:3])}); rode `make exercises`"
                    )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(fresh, target)
                report.append(f"escrito {target}")
    stale = [p for p in sorted(exercises_dir.glob("ex*.ipynb")) if p.stem not in solutions]
    for path in stale:
        if check:
            report.append(
                f"{path.name}: não há solução correspondente em {Path(solutions_dir).name}/"
            )
        else:
            path.unlink()
            report.append(f"removido {path} (sem solução)")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.grading.exercises",
        description="Gera exercises/ (versões dos alunos) a partir de solutions/ com nbgrader.",
    )
    parser.add_argument("--solutions", default=str(SOLUTIONS_DIR), help="pasta das soluções")
    parser.add_argument("--exercises", default=str(EXERCISES_DIR), help="pasta de saída")
    parser.add_argument(
        "--check", action="store_true", help="só compara; sai com 1 se desatualizado"
    )
    args = parser.parse_args(argv)
    try:
        report = generate(args.solutions, args.exercises, check=args.check)
    except (ValueError, RuntimeError) as exc:
        print(f"erro: {exc}", file=sys.stderr)
        return 2
    if not discover_solutions(args.solutions):
        print(f"nenhuma solução exNN_*.ipynb em {args.solutions}")
    for line in report:
        print(line)
    if args.check:
        print("exercises/ está atualizado" if not report else "exercises/ está desatualizado")
        return 1 if report else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
