"""Command line: write the course datasets to Parquet, or the small CSV samples.

Usage::

    python -m coursekit.datasets generate --scale aula --out data/generated
    python -m coursekit.datasets generate --scale ci --only transactions ratings --force
    python -m coursekit.datasets sample --out data/samples

``generate`` skips a dataset already written with the same seed and size
(unless ``--force``) and prints a plain-text progress bar.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from coursekit.constants import DATASETS, GENERATED_DIR, SAMPLES_DIR, SCALES, SEED

BAR_WIDTH = 24


def _bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / max(total, 1))
    return "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + f"] {done}/{total}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.datasets",
        description="Gera os conjuntos de dados do curso (sintéticos, com verdade conhecida).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="grava os conjuntos em Parquet")
    gen.add_argument("--scale", choices=SCALES, default="aula", help="tamanho (padrão: aula)")
    gen.add_argument(
        "--out", default=GENERATED_DIR, help=f"pasta de saída (padrão: {GENERATED_DIR})"
    )
    gen.add_argument(
        "--only", nargs="+", choices=DATASETS, metavar="NOME", help="só estes conjuntos"
    )
    gen.add_argument("--seed", type=int, default=SEED, help=f"semente (padrão: {SEED})")
    gen.add_argument("--force", action="store_true", help="regrava mesmo se já existir")
    sample = sub.add_parser("sample", help="grava amostras CSV pequenas (data/samples)")
    sample.add_argument(
        "--out", default=SAMPLES_DIR, help=f"pasta de saída (padrão: {SAMPLES_DIR})"
    )
    sample.add_argument("--rows", type=int, default=300, help="linhas por arquivo (padrão: 300)")
    sample.add_argument("--seed", type=int, default=SEED, help=f"semente (padrão: {SEED})")
    return parser


def cmd_generate(args: argparse.Namespace, spark) -> int:
    """Write each requested dataset; return the number written (skips not counted)."""
    from coursekit.datasets import default_size, generate
    from coursekit.datasets.store import is_complete, write_dataset

    names = list(args.only or DATASETS)
    print(f"Gerando {len(names)} conjunto(s) na escala {args.scale!r} em {args.out}/{args.scale}/")
    written = 0
    for index, name in enumerate(names):
        n = default_size(name, args.scale)
        head = f"{_bar(index, len(names))} {name}"
        if not args.force and is_complete(args.out, args.scale, name, args.seed, n):
            print(f"{head}: já existe, pulado (use --force para regravar)", flush=True)
            continue
        started = time.perf_counter()
        ds = generate(name, spark, scale=args.scale, seed=args.seed)

        def progress(part: str, head: str = head, started: float = started) -> None:
            print(f"{head}: {part} [{time.perf_counter() - started:.1f} s]", flush=True)

        write_dataset(ds, args.out, progress=progress)
        written += 1
    print(
        f"{_bar(len(names), len(names))} pronto: {written} gravado(s), {len(names) - written} pulado(s)"
    )
    return written


def cmd_sample(args: argparse.Namespace, spark) -> list[Path]:
    """Write ``<out>/<name>.csv`` (and a few companion files) from the "ci" scale."""
    from coursekit.datasets.samples import write_samples

    paths = write_samples(spark, args.out, rows=args.rows, seed=args.seed)
    total = sum(p.stat().st_size for p in paths)
    for path in paths:
        print(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
    print(f"{len(paths)} arquivos, {total / 1024:.0f} KiB no total")
    return paths


def main(argv: Sequence[str] | None = None, spark=None) -> int:
    """Entry point; pass ``spark`` to reuse a session (tests), else one is started and stopped."""
    args = _parser().parse_args(argv)
    own = spark is None
    if own:
        os.environ.setdefault("COURSEKIT_UI", "0")
        from coursekit.session import get_spark

        spark = get_spark("coursekit-datasets")
    try:
        if args.command == "generate":
            cmd_generate(args, spark)
        else:
            cmd_sample(args, spark)
    finally:
        if own:
            spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
