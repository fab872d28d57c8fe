"""The course's one command: ``aula10 <comando> [opções]`` (also ``python -m coursekit``).

Each command is a module's own command line, run with the rest of the arguments; the Makefile
and the README call these. ``aula10 <comando> --help`` shows each command's options.

Examples
--------
>>> from coursekit.cli import COMMANDS, usage
>>> sorted(COMMANDS)
['cluster', 'datasets', 'doctor', 'exercises', 'grade', 'html', 'lab', 'release']
>>> usage().splitlines()[0]
'uso: aula10 <comando> [opções]   (aula10 <comando> --help para as opções)'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: ``{command: (module whose main(argv) runs it, one-line help in pt-BR)}``.
COMMANDS: dict[str, tuple[str, str]] = {
    "lab": (
        "coursekit.lab",
        "abre o JupyterLab do curso (127.0.0.1, progresso do Spark nas células)",
    ),
    "doctor": (
        "coursekit.doctor",
        "diagnóstico: Python, Java, PySpark, pandas; inicia o Spark uma vez",
    ),
    "datasets": ("coursekit.datasets.__main__", "gera os dados em Parquet ou as amostras CSV"),
    "html": ("coursekit.handouts", "apostilas: executa as aulas e exporta HTML com os gráficos"),
    "cluster": (
        "coursekit.cluster.__main__",
        "cluster standalone, Spark Connect e history server locais (up, down, status, connect, history)",
    ),
    "exercises": (
        "coursekit.grading.exercises",
        "gera exercises/ a partir de solutions/ (nbgrader)",
    ),
    "grade": (
        "coursekit.grading.__main__",
        "corrige as entregas de uma turma, cada uma numa sandbox",
    ),
    "release": ("coursekit.grading.release", "monta o pacote dos alunos (sem soluções) e o zip"),
}


def usage() -> str:
    """The help text: every command with its one-line description."""
    width = max(map(len, COMMANDS))
    lines = [
        "uso: aula10 <comando> [opções]   (aula10 <comando> --help para as opções)",
        "",
        "comandos:",
    ]
    lines += [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aula10 <command> ...``; the command's exit code (2 for an unknown command)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"comando desconhecido: {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
