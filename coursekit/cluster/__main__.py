"""``python -m coursekit.cluster <command>`` (also ``aula10 cluster <command>``, ``make cluster-up``...).

One function per command in :data:`COMMANDS`; each prints what a user needs (the URL to export)
and returns the exit code.

Examples
--------
>>> from coursekit.cluster.__main__ import COMMANDS, parser
>>> sorted(COMMANDS)[:3]
['connect-down', 'connect-up', 'down']
>>> parser().parse_args(["up", "--workers", "3"]).workers
3
>>> parser().parse_args(["connect", "--master", "local"]).master
'local'
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from coursekit.cluster import (
    EVENTS_DIR,
    ClusterError,
    Paths,
    connect_down,
    connect_up,
    down,
    history_down,
    history_up,
    status_text,
    stop_all,
    up,
)


def _how(started_in: float) -> str:
    return f"pronto em {started_in:.1f} s" if started_in else "já estava rodando"


def _up(args, paths: Paths) -> None:
    info = up(paths, workers=args.workers, cores=args.cores, memory=args.memory)
    if not args.quiet:
        print(
            f"Cluster standalone {_how(info.started_in)}:\n{info.summary()}\n  logs:      {paths.logs}"
        )
        print(f"Use: export COURSEKIT_MASTER={info.master_url}")
    print(info.master_url)


def _connect_up(args, paths: Paths) -> None:
    info = connect_up(paths, master=args.master)
    if not args.quiet:
        print(f"Spark Connect {_how(info.started_in)} (master {info.master}), UI {info.ui_url}")
        print(f"Use: export SPARK_REMOTE={info.remote_url}")
    print(info.remote_url)


def _history_up(args, paths: Paths) -> None:
    info = history_up(paths, events_dir=args.events_dir)
    print(f"History server {_how(info.started_in)}, lendo {info.events_dir}")
    print(info.url)


def _stopper(stop: Callable[[Paths], bool], done: str, nothing: str):
    def command(args, paths: Paths) -> None:
        print(done if stop(paths) else nothing)

    return command


#: ``{command: (help, function(args, paths))}``.
COMMANDS: dict[str, tuple[str, Callable]] = {
    "up": ("inicia master + workers e espera o registro", _up),
    "down": (
        "para o cluster (e o Spark Connect que roda nele)",
        _stopper(down, "Cluster parado.", "Nenhum cluster rodando."),
    ),
    "status": ("mostra o que está rodando", lambda args, paths: print(status_text(paths))),
    "connect-up": ("inicia o servidor Spark Connect", _connect_up),
    "connect-down": (
        "para o servidor Spark Connect",
        _stopper(connect_down, "Spark Connect parado.", "Nenhum Spark Connect rodando."),
    ),
    "history-up": ("inicia o history server", _history_up),
    "history-down": (
        "para o history server",
        _stopper(history_down, "History server parado.", "Nenhum history server rodando."),
    ),
    "stop-all": (
        "para tudo (Connect, history server, cluster)",
        _stopper(stop_all, "Tudo parado.", "Nada estava rodando."),
    ),
}


#: Short names: ``aula10 cluster connect`` = ``connect-up``, ``history`` = ``history-up``.
ALIASES = {"connect": "connect-up", "history": "history-up"}


def parser(prog: str = "python -m coursekit.cluster") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Cluster Spark local (standalone), Spark Connect e history server em 127.0.0.1.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    commands = {
        name: sub.add_parser(name, help=text, aliases=[a for a, n in ALIASES.items() if n == name])
        for name, (text, _) in COMMANDS.items()
    }
    commands["up"].add_argument("--workers", type=int, default=2)
    commands["up"].add_argument("--cores", type=int, default=1)
    commands["up"].add_argument("--memory", default="2g")
    commands["up"].add_argument("--quiet", action="store_true", help="imprime só a URL do master")
    commands["connect-up"].add_argument(
        "--master", default="auto", help="auto (padrão), local, cluster ou URL"
    )
    commands["connect-up"].add_argument(
        "--quiet", action="store_true", help="imprime só a URL sc://"
    )
    commands["history-up"].add_argument(
        "--events-dir", default=None, help=f"pasta dos event logs (padrão {EVENTS_DIR})"
    )
    return p


def main(argv: list[str] | None = None, prog: str = "python -m coursekit.cluster") -> int:
    """Run one command; 0 on success, 1 with a pt-BR message on failure."""
    args = parser(prog).parse_args(argv)
    try:
        COMMANDS[ALIASES.get(args.command, args.command)][1](args, Paths.default())
    except (ClusterError, ValueError) as exc:
        print(f"Erro: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # JavaNotFoundError and friends carry their own advice
        print(f"Erro ({type(exc).__name__}): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
