"""Command line: ``python -m coursekit.grading <submissions> [--grades DIR] [--jobs N] [--no-sandbox]``.

Examples
--------
>>> from coursekit.grading.__main__ import parser
>>> parser().parse_args(["entregas", "--jobs", "3"]).jobs
3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coursekit.grading.grader import grade
from coursekit.grading.notebooks import FormatError
from coursekit.grading.sandbox import SandboxUnavailable


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m coursekit.grading",
        description=(
            "Corrige <entregas>/<aluno>/<exercicio>.ipynb (pasta ou .zip) em SCALE='ci', cada entrega "
            "numa sandbox. Escreve grades.csv, totals.csv e feedback/<aluno>/<exercicio>.html. "
            "As entregas nunca são alteradas."
        ),
    )
    p.add_argument("submissions", help="pasta (ou .zip) com uma pasta por aluno")
    p.add_argument("--grades", default="build/grades", help="pasta de saída (padrão: build/grades)")
    p.add_argument(
        "--solutions",
        action="append",
        default=None,
        help="pasta das soluções (padrão: solutions/; pode repetir)",
    )
    p.add_argument("--data", default="data", help="pasta de dados do curso (padrão: data/)")
    p.add_argument(
        "--timeout",
        type=int,
        default=None,
        help="segundos por notebook (padrão: o do exercício, ou 600)",
    )
    p.add_argument("--jobs", type=int, default=None, help="sandboxes ao mesmo tempo (padrão: 2)")
    p.add_argument("--exercises", default=None, help="só estes exercícios, separados por vírgula")
    p.add_argument(
        "--all-cells",
        action="store_true",
        help="roda também as células depois do último teste (não valem pontos; padrão: puladas)",
    )
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="corrige SEM isolamento (só para entregas confiáveis; dito no resumo e no feedback)",
    )
    p.add_argument(
        "--keep", action="store_true", help="guarda a pasta de trabalho em <grades>/work"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.submissions.strip():
        print("erro: informe a pasta (ou .zip) das entregas", file=sys.stderr)
        return 2
    try:
        run = grade(
            args.submissions,
            args.grades,
            solutions_dir=[Path(s) for s in args.solutions or ["solutions"]],
            timeout=args.timeout,
            jobs=args.jobs,
            exercises=[e.strip() for e in args.exercises.split(",") if e.strip()]
            if args.exercises
            else None,
            all_cells=args.all_cells,
            sandbox=not args.no_sandbox,
            data_dir=args.data,
            keep=args.keep,
            progress=lambda line: print(line, flush=True),
        )
    except (FileNotFoundError, ValueError, FormatError, SandboxUnavailable) as exc:
        print(f"erro: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrompido: nada foi gravado", file=sys.stderr)
        return 130
    print(summary_table(run.results))
    if args.no_sandbox:
        print("ATENÇÃO: corrigido SEM sandbox (--no-sandbox)")
    print(f"totais: {run.totals_csv}\nfeedback: {run.feedback_dir}")
    return 0


def summary_table(results) -> str:
    """Students x exercises, ``score/max`` per cell (known exercises only)."""
    exercises = sorted({r.exercise for r in results if any(p.max_score for p in r.parts)})
    students = sorted({r.student for r in results})
    cells = {
        (
            r.student,
            r.exercise,
        ): f"{sum(p.score for p in r.parts):g}/{sum(p.max_score for p in r.parts):g}"
        for r in results
    }
    width = max([len("aluno"), *map(len, students)])
    cols = [max(len(e), 7) for e in exercises]
    head = "  ".join(e.ljust(w) for e, w in zip(exercises, cols, strict=True))
    lines = ["aluno".ljust(width) + "  " + head]
    for s in students:
        row = [cells.get((s, e), "-").ljust(w) for e, w in zip(exercises, cols, strict=True)]
        lines.append(s.ljust(width) + "  " + "  ".join(row))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
