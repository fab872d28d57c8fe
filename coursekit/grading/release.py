"""The student release: what students get, and nothing of the solutions or the grader's cells.

``python -m coursekit.grading.release [--root .] [--out build/release]`` (``make release``) copies
the lessons, the generated student versions of the exercises, the data samples, the course
package, the README and the environment files into ``build/release/aula10/`` and zips it as
``build/release/aula10.zip``. It first checks ``exercises/`` against ``solutions/`` (stale student
versions stop it) and then refuses to ship any notebook that holds an answer, a probe, a check, a
reference or an output.

Examples
--------
>>> from coursekit.grading.release import INCLUDE
>>> "solutions" in INCLUDE, "exercises" in INCLUDE
(False, True)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat

from coursekit.grading.exercises import generate, student_version_problems

#: Top-level entries of the release (what exists of them is copied).
INCLUDE = (
    "README.md",
    "GLOSSARIO.md",
    "LICENSE",
    "Makefile",
    "pyproject.toml",
    "environment.yml",
    "notebooks",
    "exercises",
    "data",
    "coursekit",
    "mlplatform",
)
#: Never shipped, wherever they appear.
EXCLUDE_NAMES = {"__pycache__", ".ipynb_checkpoints", "generated", ".pytest_cache", "build"}
NAME = "aula10"


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in EXCLUDE_NAMES or n.endswith((".pyc", ".log"))}


def leaks(folder: Path) -> list[str]:
    """Notebooks under ``folder`` that hold grader cells, answers, hidden tests or outputs."""
    problems = []
    for path in sorted(folder.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for problem in student_version_problems(nb):
            problems.append(f"{path.relative_to(folder)}: {problem}")
    for path in sorted(folder.rglob("*")):
        if path.name.startswith("ex") and path.suffix == ".ipynb" and "solutions" in path.parts:
            problems.append(f"{path.relative_to(folder)}: solução no pacote")
    return problems


def build(root: Path, out: Path) -> Path:
    """Build ``out/aula10/`` and ``out/aula10.zip`` from the checkout ``root``; return the zip."""
    stale = generate(root / "solutions", root / "exercises", check=True)
    if stale:
        raise RuntimeError(
            "exercises/ desatualizado; rode `make exercises`:\n  " + "\n  ".join(stale)
        )
    target = out / NAME
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in INCLUDE:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, target / name, ignore=_ignore, symlinks=False)
        elif src.is_file():
            shutil.copy2(src, target / name)
    for folder in ("notebooks", "exercises"):  # strip any output left by a local run
        for path in (target / folder).glob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "code" and "keep_output" not in cell.metadata.get("tags", []):
                    cell.outputs, cell.execution_count = [], None
            nbformat.write(nb, path)
    problems = leaks(target / "exercises") + [
        p for p in leaks(target) if "célula do corretor" in p or "marcadores" in p
    ]
    if problems:
        raise RuntimeError(
            "o pacote dos alunos vazaria conteúdo do corretor:\n  " + "\n  ".join(problems)
        )
    archive = out / f"{NAME}.zip"
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(target.rglob("*")):
            if path.is_file():
                zf.write(path, Path(NAME) / path.relative_to(target))
    return archive


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m coursekit.grading.release", description=__doc__.splitlines()[0]
    )
    p.add_argument("--root", type=Path, default=Path.cwd(), help="raiz do repositório (padrão: .)")
    p.add_argument("--out", type=Path, default=Path("build/release"), help="pasta de saída")
    args = p.parse_args(argv)
    try:
        archive = build(args.root.resolve(), args.out.resolve())
    except RuntimeError as exc:
        print(f"erro: {exc}", file=sys.stderr)
        return 2
    print(f"pacote dos alunos: {archive} ({archive.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
