"""Small Spark jobs that tests/test_cluster.py runs in a child process.

A child process keeps the test process free of JVMs and of Spark Connect's
process-wide switch (``SPARK_CONNECT_MODE_ENABLED``), which would turn every
later classic session of the suite into a Connect one.

Usage::

    python tests/cluster_jobs.py classic --master spark://127.0.0.1:7077 [--events DIR] [--hold]
    python tests/cluster_jobs.py connect --remote sc://127.0.0.1:15002

``classic`` runs the job on ``local[2]``, then on ``--master`` (writing an event
log to ``--events``), and prints one JSON line ``{"local": {...}, "cluster": {...}}``.
With ``--hold`` it then prints ``READY`` and keeps the cluster application (and
its executors) alive until a line arrives on stdin. ``connect`` runs the same
job over Spark Connect and prints ``{"connect": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import pandas as pd

ROWS = 50_000
PARTITIONS = 4


def job(spark) -> dict:
    """Aggregation, a pandas UDF (Python on the executors) and a small ML pipeline."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import StandardScaler, StringIndexer, VectorAssembler
    from pyspark.sql import functions as F

    started = time.perf_counter()
    u = (F.abs(F.xxhash64("id", F.lit(42))) % 1_000_000) / 1_000_000.0
    df = (
        spark.range(0, ROWS, numPartitions=PARTITIONS)
        .withColumn("k", (F.col("id") % 7).cast("int"))
        .withColumn("x", u)
        .withColumn("cat", F.concat(F.lit("c"), (F.col("id") % 5).cast("string")))
    )
    groups = [
        [r["k"], r["n"], round(r["sx"], 6)]
        for r in df.groupBy("k")
        .agg(F.count("*").alias("n"), F.sum("x").alias("sx"))
        .orderBy("k")
        .collect()
    ]

    @F.pandas_udf("double")
    def plus_one(s: pd.Series) -> pd.Series:
        return s + 1.0

    udf_mean = df.select(plus_one("x").alias("y")).agg(F.avg("y")).first()[0]

    noise = (F.abs(F.xxhash64("id", F.lit(7))) % 1000) / 1000.0
    data = df.withColumn("label", ((F.col("x") + F.col("k") / 14.0 + noise) > 1.25).cast("double"))
    pipeline = Pipeline(
        stages=[
            StringIndexer(inputCol="cat", outputCol="cat_idx"),
            VectorAssembler(inputCols=["cat_idx", "x", "k"], outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features"),
            LogisticRegression(labelCol="label", maxIter=10),
        ]
    )
    model = pipeline.fit(data)
    auc = BinaryClassificationEvaluator(labelCol="label").evaluate(model.transform(data))
    return {
        "groups": groups,
        "udf_mean": round(udf_mean, 9),
        "auc": auc,
        "stages": len(model.stages),
        "seconds": round(time.perf_counter() - started, 2),
    }


def classic(master: str, events: str | None, hold: bool) -> None:
    from coursekit.cluster import event_log_conf
    from coursekit.session import get_spark

    out = {}
    os.environ["COURSEKIT_MASTER"] = "local[2]"
    spark = get_spark("cluster-job-local")
    out["local"] = job(spark)
    spark.stop()

    os.environ["COURSEKIT_MASTER"] = master
    spark = get_spark("cluster-job", event_log_conf(events) if events else None)
    out["cluster"] = job(spark)
    sc = spark.sparkContext
    out["cluster"]["master"] = sc.master
    out["cluster"]["app_id"] = sc.applicationId
    out["cluster"]["executors"] = sorted(
        e.host for e in sc.statusTracker().getExecutorInfos()
    )  # the driver is listed too
    print(json.dumps(out), flush=True)
    if hold:
        print("READY", flush=True)
        sys.stdin.readline()
    spark.stop()


def connect(remote: str) -> None:
    os.environ["SPARK_REMOTE"] = remote
    os.environ.pop("COURSEKIT_MASTER", None)
    from coursekit.session import get_spark, is_connect

    spark = get_spark("cluster-job-connect")
    result = job(spark)
    result["is_connect"] = is_connect(spark)
    print(json.dumps({"connect": result}), flush=True)
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    p_classic = sub.add_parser("classic")
    p_classic.add_argument("--master", required=True)
    p_classic.add_argument("--events")
    p_classic.add_argument("--hold", action="store_true")
    p_connect = sub.add_parser("connect")
    p_connect.add_argument("--remote", required=True)
    args = parser.parse_args()
    if args.mode == "classic":
        classic(args.master, args.events, args.hold)
    else:
        connect(args.remote)


if __name__ == "__main__":
    main()
