"""Benchmark the grader: N fabricated students x the available exercises.

``python tools/grading_bench.py --students 30 --jobs 2`` builds a class in
a temporary folder (a third of the students hand in the solution, a third the
untouched exercise, a third the solution with its last part blanked), grades
it like ``make grade`` and reports submissions per minute. Exercises are the
``solutions/ex*.ipynb`` of the repository, or the format example
``tests/fixtures/grading/ex00_exemplo.ipynb`` while there are none. Each submission
runs in its own sandbox with its own local Spark, as in ``make grade``.

This is a measurement, not a test: nothing is asserted.

Examples
--------
>>> from grading_bench import parser
>>> parser().parse_args(["--students", "4"]).students
4
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from coursekit.grading import notebooks as fmt
from coursekit.grading.exercises import build_course
from coursekit.grading.grader import grade

ROOT = Path.cwd()  # run from the repository root (a developer tool)
FIXTURES = ROOT / "tests" / "fixtures" / "grading"


def fabricate(folder: Path, solutions: dict[str, Path], students: int) -> int:
    """Write ``students`` student folders under ``folder``; return the number of notebooks."""
    with tempfile.TemporaryDirectory() as tmp:
        released = build_course(solutions, tmp)
        versions = {}
        for name, path in solutions.items():
            sol = nbformat.read(path, as_version=4)
            last = fmt.last_answered_part(sol)
            versions[name] = [
                sol,
                nbformat.read(released[name], as_version=4),
                fmt.blank_part(sol, last) if last else sol,
            ]
    count = 0
    for i in range(students):
        for name, kinds in versions.items():
            target = folder / f"aluno{i:02d}" / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(kinds[i % 3], target)
            count += 1
    return count


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python tools/grading_bench.py", description=__doc__.splitlines()[0]
    )
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument(
        "--solutions", default=None, help="pasta das soluções (padrão: solutions/ ou o exemplo)"
    )
    p.add_argument("--exercises", default=None, help="só estes exercícios, separados por vírgula")
    p.add_argument(
        "--no-sandbox", action="store_true", help="sem isolamento (só para medir o custo)"
    )
    p.add_argument("--timeout", type=int, default=None)
    p.add_argument("--grades", default=None, help="guarda notas, feedback e logs nesta pasta")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    folder = Path(args.solutions) if args.solutions else ROOT / "solutions"
    solutions = fmt.discover_solutions(folder) or fmt.discover_solutions(FIXTURES)
    if args.exercises:
        wanted = {e.strip() for e in args.exercises.split(",")}
        solutions = {k: v for k, v in solutions.items() if k in wanted}
    with tempfile.TemporaryDirectory(prefix="coursekit-bench-") as tmp:
        subs = Path(tmp) / "entregas"
        n = fabricate(subs, solutions, args.students)
        print(
            f"{args.students} alunos x {len(solutions)} exercício(s) = {n} notebooks: {', '.join(solutions)}"
        )
        start = time.monotonic()
        run = grade(
            subs,
            Path(args.grades) if args.grades else Path(tmp) / "notas",
            solutions_dir=sorted({str(p.parent) for p in solutions.values()}),
            jobs=args.jobs,
            timeout=args.timeout,
            sandbox=not args.no_sandbox,
            data_dir=ROOT / "data",
            progress=lambda line: print(line, flush=True),
        )
        seconds = time.monotonic() - start
    per_exercise: dict[str, list[float]] = {}
    for r in run.results:
        per_exercise.setdefault(r.exercise, []).append(r.seconds)
    for name, times in per_exercise.items():
        times.sort()
        print(
            f"{name}: mediana {times[len(times) // 2]:.1f} s por notebook (máx {times[-1]:.1f} s)"
        )
    print(
        f"total: {n} notebooks em {seconds:.0f} s = {n / seconds * 60:.1f} entregas/minuto "
        f"(jobs={args.jobs or 2}, sandbox={not args.no_sandbox})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
