"""Scaling benchmark: the fraud pipeline at three sizes, on local[2] and on the cluster.

Not a test (nothing is asserted about time): a measurement for the README's
section on scaling. For each size the transactions are generated once
(``coursekit.datasets.generate("transactions", spark, n=...)``) and written to
Parquet under ``build/bench/``; then, for each target, the pipeline
StringIndexer -> VectorAssembler -> StandardScaler -> RandomForest (small) is
fitted on that Parquet and timed. It prints rows/s and the scaling exponent b of
``time ~ rows**b`` (least-squares slope of log(time) against log(rows)): b near
1 means time grows in proportion to data; b well below 1 means fixed costs
(scheduling, JVM, task start-up) dominate at these sizes.

Command line::

    python tools/cluster_bench.py                      # 1e5, 1e6, 1e7 rows; local + cluster
    python tools/cluster_bench.py --sizes 1e5,1e6 --targets local

The ``cluster`` target uses the cluster of ``make cluster-up`` when it is up,
otherwise starts one and stops it at the end.

Examples
--------
>>> from cluster_bench import scaling_exponent
>>> round(scaling_exponent([1e5, 1e6, 1e7], [1.0, 10.0, 100.0]), 3)
1.0
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from coursekit import cluster

BENCH_DIR = cluster.REPO_ROOT / "build" / "bench"
DEFAULT_SIZES = (100_000, 1_000_000, 10_000_000)
TARGETS = ("local", "cluster")
NUMERIC = ["amount", "hour", "distance_from_home_km", "avg_amount_30d", "n_tx_24h", "day_of_week"]


@dataclass
class Row:
    """One measurement: a target, a size, the fit time and the model's training AUC."""

    target: str
    rows: int
    fit_seconds: float
    rows_per_second: float
    auc: float


def scaling_exponent(rows: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) against log(rows)."""
    if len(rows) != len(seconds) or len(rows) < 2:
        raise ValueError(
            f"scaling_exponent: precisa de >= 2 pares (rows, seconds). Recebido: {len(rows)} e {len(seconds)}."
        )
    xs = [math.log(r) for r in rows]
    ys = [math.log(s) for s in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def data_path(n: int, seed: int) -> Path:
    return BENCH_DIR / f"transactions-n{n}-seed{seed}.parquet"


def ensure_data(spark, sizes: list[int], seed: int) -> None:
    """Write each size's transactions to Parquet once (skipped when already there)."""
    from coursekit.datasets import generate

    for n in sizes:
        path = data_path(n, seed)
        if (path / "_SUCCESS").exists():
            continue
        started = time.perf_counter()
        generate("transactions", spark, seed=seed, n=n).df.write.mode("overwrite").parquet(
            str(path)
        )
        print(
            f"  dados: {n:,} linhas em {time.perf_counter() - started:.1f} s -> {path}", flush=True
        )


def pipeline(trees: int, depth: int, seed: int):
    """The lesson-02 pipeline, small: two indexers, assembler, scaler, random forest."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import RandomForestClassifier
    from pyspark.ml.feature import StandardScaler, StringIndexer, VectorAssembler

    return Pipeline(
        stages=[
            StringIndexer(
                inputCols=["merchant_category", "channel"],
                outputCols=["category_idx", "channel_idx"],
                handleInvalid="keep",
            ),
            VectorAssembler(inputCols=[*NUMERIC, "category_idx", "channel_idx"], outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features"),
            RandomForestClassifier(
                labelCol="is_fraud",
                numTrees=trees,
                maxDepth=depth,
                seed=seed,
                featuresCol="features",
            ),
        ]
    )


def measure(spark, target: str, sizes: list[int], trees: int, depth: int, seed: int) -> list[Row]:
    """Fit the pipeline at each size on ``spark`` (after one discarded warm-up fit)."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    evaluator = BinaryClassificationEvaluator(labelCol="is_fraud")
    warm = spark.read.parquet(str(data_path(sizes[0], seed)))
    pipeline(trees, depth, seed).fit(warm)  # JIT and executor start-up, not counted
    rows = []
    for n in sizes:
        df = spark.read.parquet(str(data_path(n, seed)))
        started = time.perf_counter()
        model = pipeline(trees, depth, seed).fit(df)
        seconds = time.perf_counter() - started
        auc = evaluator.evaluate(model.transform(df))
        rows.append(Row(target, n, round(seconds, 2), round(n / seconds), round(auc, 4)))
        print(
            f"  {target:8s} {n:>11,} linhas  fit {seconds:7.1f} s  {n / seconds:>10,.0f} linhas/s"
            f"  AUC {auc:.4f}",
            flush=True,
        )
    return rows


def _br(value: float, decimals: int = 0) -> str:
    """Brazilian number format: 1.234.567,8."""
    return f"{value:,.{decimals}f}".translate(str.maketrans(",.", ".,"))


def table(rows: list[Row]) -> str:
    """Markdown table of the measurements plus one exponent line per target."""
    lines = ["| alvo | linhas | fit (s) | linhas/s | AUC (treino) |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r.target} | {_br(r.rows)} | {_br(r.fit_seconds, 1)} | {_br(r.rows_per_second)} "
            f"| {_br(r.auc, 4)} |"
        )
    lines.append("")
    for target in dict.fromkeys(r.target for r in rows):
        mine = [r for r in rows if r.target == target]
        if len(mine) >= 2:
            b = scaling_exponent([r.rows for r in mine], [r.fit_seconds for r in mine])
            lines.append(f"- expoente de escala ({target}): tempo ~ linhas^{_br(b, 2)}")
    return "\n".join(lines)


def run(sizes: list[int], targets: list[str], trees: int, depth: int, seed: int) -> list[Row]:
    """Measure every target; start (and later stop) a cluster only if none is up."""
    from coursekit.session import get_spark

    os.environ.setdefault("COURSEKIT_UI", "0")
    os.environ.setdefault("COURSEKIT_DRIVER_MEMORY", "3g")
    os.environ.pop("SPARK_REMOTE", None)
    rows: list[Row] = []
    started_cluster = False
    try:
        for target in targets:
            if target == "local":
                os.environ["COURSEKIT_MASTER"] = "local[2]"
            else:
                info = cluster.cluster_info()
                if info is None:
                    print("Iniciando o cluster (2 workers x 1 core)...", flush=True)
                    info = cluster.up()
                    started_cluster = True
                os.environ["COURSEKIT_MASTER"] = info.master_url
            spark = get_spark("cluster-bench")
            ensure_data(spark, sizes, seed)
            rows += measure(spark, target, sizes, trees, depth, seed)
            spark.stop()
    finally:
        if started_cluster:
            cluster.down()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/cluster_bench.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="tamanhos separados por vírgula, ex. 1e5,1e6,1e7",
    )
    parser.add_argument("--targets", default=",".join(TARGETS), help="local,cluster")
    parser.add_argument("--trees", type=int, default=10)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        sizes = sorted(int(float(s)) for s in args.sizes.split(","))
    except ValueError:
        print(
            f"Erro: --sizes deve ser uma lista de números, ex. 1e5,1e6. Recebido: {args.sizes!r}",
            file=sys.stderr,
        )
        return 2
    targets = [t.strip() for t in args.targets.split(",")]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        print(
            f"Erro: --targets aceita {', '.join(TARGETS)}. Recebido: {args.targets!r}",
            file=sys.stderr,
        )
        return 2
    print(
        f"Pipeline de fraude (RF {args.trees} árvores, profundidade {args.depth}) em {targets}, "
        f"tamanhos {sizes}",
        flush=True,
    )
    rows = run(sizes, targets, args.trees, args.depth, args.seed)
    text = table(rows)
    print("\n" + text)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "scaling.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    (BENCH_DIR / "scaling.md").write_text(text + "\n")
    print(f"\nSalvo em {BENCH_DIR / 'scaling.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
