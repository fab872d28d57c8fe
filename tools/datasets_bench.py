"""Benchmark: rows per second of every generator at the "ci" and "aula" scales.

Not a timed test: run it by hand and read the table. Each generator is first
warmed up on a tiny size (JVM start, code generation), then its main
DataFrame is computed in full with the ``noop`` sink (every column, nothing
written) and the best of ``--repeat`` runs is kept.

Usage::

    python tools/datasets_bench.py [--scales ci aula] [--only NAME ...] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from coursekit.constants import DATASETS, SCALES, SEED


def time_generator(spark, name: str, scale: str, repeat: int = 2) -> dict:
    """Best wall time (s) to compute ``generate(name, scale).df`` in full, and its row count."""
    from coursekit.datasets import generate

    generate(name, spark, n=50).df.write.format("noop").mode("overwrite").save()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        ds = generate(name, spark, scale=scale, seed=SEED)
        ds.df.write.format("noop").mode("overwrite").save()
        best = min(best, time.perf_counter() - started)
    rows = ds.df.count()
    return {"name": name, "scale": scale, "rows": rows, "seconds": best, "rows_per_s": rows / best}


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python tools/datasets_bench.py")
    parser.add_argument("--scales", nargs="+", choices=SCALES, default=["ci", "aula"])
    parser.add_argument("--only", nargs="+", choices=DATASETS)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("COURSEKIT_UI", "0")
    from coursekit.session import get_spark

    spark = get_spark("coursekit-datasets-bench")
    results = []
    print(f"{'conjunto':<14}{'escala':<8}{'linhas':>12}{'segundos':>10}{'linhas/s':>12}")
    try:
        for scale in args.scales:
            for name in args.only or DATASETS:
                r = time_generator(spark, name, scale, args.repeat)
                results.append(r)
                print(
                    f"{name:<14}{scale:<8}{r['rows']:>12,}{r['seconds']:>10.2f}{r['rows_per_s']:>12,.0f}",
                    flush=True,
                )
    finally:
        spark.stop()
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
