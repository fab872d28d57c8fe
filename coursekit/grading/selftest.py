"""Try a solution while writing it: grade the solution, its untouched version and each part blanked.

``python -m coursekit.grading.selftest solutions/ex01_deteccao_anomalias.ipynb [--jobs 2]``
builds that small class in a temporary folder, grades it like ``make grade`` (sandbox, probes,
checks) and prints the table and every reason. Expected: the solution full marks, ``vazio`` 0,
``sem_parte_x`` loses exactly part x. Exit code 1 when that is not what happened.

Examples
--------
>>> from coursekit.grading.selftest import parser
>>> parser().parse_args(["solutions/ex01.ipynb"]).jobs
2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import nbformat

from coursekit.grading import notebooks as fmt
from coursekit.grading.exercises import build_course


def fabricate(folder: Path, solution: Path) -> dict[str, dict[str, float]]:
    """Write the class for ``solution``; return the expected ``{student: {part: score}}``."""
    sol = fmt.read_solution(solution)
    parts = fmt.parts_of(sol)
    with tempfile.TemporaryDirectory() as tmp:
        released = nbformat.read(
            build_course({solution.stem: solution}, tmp)[solution.stem], as_version=4
        )
    variants = {
        "solucao": (sol, {p.name: p.points for p in parts}),
        "vazio": (released, {p.name: 0.0 for p in parts}),
    }
    for blank in parts:
        expected = {p.name: (0.0 if p.name == blank.name else p.points) for p in parts}
        variants[f"sem_{blank.name}"] = (fmt.blank_part(sol, blank.name), expected)
    for student, (nb, _) in variants.items():
        target = folder / student / f"{solution.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    return {s: e for s, (_, e) in variants.items()}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m coursekit.grading.selftest", description=__doc__.splitlines()[0]
    )
    p.add_argument("solution", type=Path)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--grades", type=Path, default=None, help="guarda notas e feedback nesta pasta")
    return p


def main(argv: list[str] | None = None) -> int:
    from coursekit.grading.grader import grade

    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coursekit-selftest-") as tmp:
        subs = Path(tmp) / "entregas"
        expected = fabricate(subs, args.solution)
        run = grade(
            subs,
            args.grades or Path(tmp) / "notas",
            solutions_dir=args.solution.parent,
            exercises=[args.solution.stem],
            jobs=args.jobs,
            data_dir=Path("data"),
            progress=lambda line: print(line, flush=True),
        )
    wrong = 0
    for r in sorted(run.results, key=lambda r: r.student):
        for p in r.parts:
            want = expected[r.student][p.part]
            flag = "ok " if p.score == want else "ERRO"
            wrong += p.score != want
            print(
                f"{flag} {r.student:14s} {p.part:8s} {p.score:g}/{p.max_score:g} (esperado {want:g})  {p.reason}"
            )
        for note in r.notes:
            print(f"     {r.student:14s} nota: {note}")
    print("tudo como esperado" if not wrong else f"{wrong} parte(s) fora do esperado")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
