"""Step 5 - Deployment: the champion model, loaded from the registry, scores batches and a stream.

* ``load_champion`` resolves the alias ``champion`` to a version and loads that
  version (``models:/<name>/<version>``), so the scores name the exact version
  (a process keeps each loaded version in memory: versions are immutable).
* ``score`` = online feature lookup (join on ``customer_id``) + the pipeline.
* ``score_batch`` scores Parquet files in one job.
* ``run_stream`` is lesson 09's pattern: a file source with an explicit schema
  (``serving/incoming``), ``foreachBatch`` writing each scored micro-batch to
  ``serving/scored/batch_id=<id>`` with mode overwrite (a replayed batch
  rewrites the same folder: idempotent), a ``checkpointLocation`` (a second run
  processes only new files) and ``trigger(availableNow=True)`` (process what is
  there, then stop). Each batch also appends its rows, seconds and latency to
  ``monitoring/throughput.jsonl`` for the monitor.
* ``write_traffic`` plays the clients: it drops new transaction files, without
  labels, into the incoming folder (written aside, then moved in atomically, so
  the stream never reads a half-written file).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from mlplatform import features
from mlplatform.config import PlatformConfig, read_report, write_report
from mlplatform.tracking import load_version, mlflow_setup, with_score

#: Schema of the incoming transactions (no label: fraud is known only weeks later).
STREAM_SCHEMA = StructType(
    [
        StructField("transaction_id", LongType()),
        StructField("customer_id", LongType()),
        StructField("timestamp", TimestampType()),
        StructField("amount", DoubleType()),
        StructField("merchant_category", StringType()),
        StructField("channel", StringType()),
        StructField("city", StringType()),
        StructField("state", StringType()),
        StructField("hour", IntegerType()),
        StructField("day_of_week", IntegerType()),
        StructField("distance_from_home_km", DoubleType()),
        StructField("avg_amount_30d", DoubleType()),
        StructField("n_tx_24h", IntegerType()),
    ]
)
#: Input columns kept next to the score (the monitor needs them for drift).
KEPT = ("transaction_id", "customer_id", "timestamp", "amount", "merchant_category", "channel",
        "hour", "distance_from_home_km", "avg_amount_30d", "n_tx_24h")  # fmt: skip


def incoming(cfg: PlatformConfig) -> Path:
    """Folder the stream reads new transaction files from."""
    return cfg.serving / "incoming"


def stream_output(cfg: PlatformConfig) -> Path:
    """Folder of the stream's scores (``cfg.scored``, where the monitor reads them)."""
    return cfg.scored


def checkpoint(cfg: PlatformConfig) -> Path:
    """The stream's checkpoint (exactly-once bookkeeping)."""
    return cfg.serving / "checkpoint"


def load_champion(cfg: PlatformConfig) -> tuple[PipelineModel, str]:
    """The model the alias ``champion`` points to, and its version number."""
    from mlflow.exceptions import MlflowException

    client = mlflow_setup(cfg)
    try:
        version = client.get_model_version_by_alias(cfg.model_name, "champion").version
    except MlflowException:
        raise LookupError(
            f"Nenhum modelo 'champion' registrado para {cfg.model_name!r} em {cfg.tracking_uri}. "
            "Rode antes: python -m mlplatform train && python -m mlplatform gate"
        ) from None
    return load_version(cfg, str(version)), str(version)


def score(
    transactions: DataFrame,
    model: PipelineModel,
    online: DataFrame,
    version: str,
    extra: tuple[str, ...] = (),
) -> DataFrame:
    """Online features + model: ``KEPT`` (+ ``extra``) columns, ``p_fraud``, ``prediction``, version, time."""
    enriched = features.fill_defaults(transactions.join(F.broadcast(online), "customer_id", "left"))
    predictions = with_score(model.transform(enriched))
    return predictions.select(
        *KEPT,
        *extra,
        "p_fraud",
        F.col("prediction").cast("int").alias("prediction"),
        F.lit(version).alias("model_version"),
        F.current_timestamp().alias("scored_at"),
    )


def score_batch(
    spark: SparkSession, cfg: PlatformConfig, transactions: DataFrame, name: str
) -> dict:
    """Score a DataFrame of transactions, write ``serving/batch/<name>``; return a report."""
    model, version = load_champion(cfg)
    online = features.online_features(spark, cfg)
    target = cfg.serving / "batch" / name
    started = time.perf_counter()
    score(transactions, model, online, version).write.mode("overwrite").parquet(str(target))
    seconds = time.perf_counter() - started
    stats = (
        spark.read.parquet(str(target))
        .agg(F.count("*").alias("rows"), F.avg("p_fraud").alias("score_mean"))
        .first()
    )
    report = {
        "name": name,
        "model_version": version,
        "rows": stats["rows"],
        "score_mean": stats["score_mean"],
        "seconds": seconds,
        "rows_per_second": stats["rows"] / seconds,
        "output": str(target),
    }
    write_report(cfg, "score", report)
    return report


def score_recent_lake(spark: SparkSession, cfg: PlatformConfig) -> dict:
    """The batch job of the CLI: score the lake's transactions from the holdout period on."""

    cutoff = read_report(cfg, "train")["cutoff"]
    recent = spark.read.parquet(str(cfg.lake)).filter(
        F.col("timestamp") >= F.lit(cutoff).cast("timestamp")
    )
    return score_batch(spark, cfg, recent.select(*[f.name for f in STREAM_SCHEMA.fields]), "recent")


def write_traffic(
    spark: SparkSession,
    cfg: PlatformConfig,
    label: str,
    *,
    seed: int,
    drift: float = 0.0,
    n: int | None = None,
    files: int = 3,
) -> list[str]:
    """Drop ``files`` JSON files of new, unlabelled transactions into ``serving/incoming``.

    ``drift`` is passed to the course's generator (0 = same distributions as
    the training data; 0.8 = strongly shifted amounts, distances and channels).
    """
    from coursekit.datasets import generate

    data = generate("transactions", spark, scale=cfg.scale, seed=seed, n=n, drift=drift)
    staging = cfg.serving / "staging" / label
    (
        data.df.select(*[f.name for f in STREAM_SCHEMA.fields])
        .repartition(files, "transaction_id")
        .write.mode("overwrite").json(str(staging))
    )  # fmt: skip
    target = incoming(cfg)
    target.mkdir(parents=True, exist_ok=True)
    names = []
    for i, part in enumerate(sorted(staging.glob("part-*.json"))):
        name = f"{label}-{i:03d}.json"
        os.replace(part, target / name)  # atomic: the stream sees whole files only
        names.append(name)
        time.sleep(0.01)  # distinct modification times keep the arrival order
    shutil.rmtree(staging, ignore_errors=True)
    return names


def run_stream(spark: SparkSession, cfg: PlatformConfig, label: str) -> list[dict]:
    """Score every file not yet processed in ``serving/incoming``, one file per micro-batch.

    Returns
    -------
    list of dict
        One record per micro-batch: ``batch_id``, ``rows``, ``seconds``,
        ``rows_per_second``, ``latency_s_mean`` (file arrival -> scores written).
    """
    model, version = load_champion(cfg)
    online = features.online_features(spark, cfg).cache()
    out = stream_output(cfg)
    metrics_file = cfg.monitoring / "throughput.jsonl"
    cfg.monitoring.mkdir(parents=True, exist_ok=True)
    batches: list[dict] = []

    def score_micro_batch(batch: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        target = out / f"batch_id={batch_id}"
        scored = score(batch, model, online, version, extra=("arrived_at",))
        scored.write.mode("overwrite").parquet(str(target))  # same batch_id -> same folder
        seconds = time.perf_counter() - started
        stats = (
            spark.read.parquet(str(target))
            .agg(
                F.count("*").alias("rows"),
                F.avg(F.unix_micros("scored_at") - F.unix_micros("arrived_at")).alias("latency_us"),
            )
            .first()
        )
        if stats["rows"] == 0:
            return
        record = {
            "batch_id": batch_id,
            "traffic": label,
            "model_version": version,
            "rows": stats["rows"],
            "seconds": round(seconds, 3),
            "rows_per_second": round(stats["rows"] / seconds, 1),
            "latency_s_mean": round(stats["latency_us"] / 1e6, 3),
            "finished_at": datetime.now(UTC).isoformat(),
        }
        batches.append(record)
        with open(metrics_file, "a") as sink:
            sink.write(json.dumps(record) + "\n")

    stream = (
        spark.readStream.schema(STREAM_SCHEMA)  # a streaming file source needs its schema
        .option("maxFilesPerTrigger", 1)  # one file per micro-batch = one monitoring window
        .json(str(incoming(cfg)))
        .withColumn("arrived_at", F.col("_metadata.file_modification_time"))
    )
    query = (
        stream.writeStream.foreachBatch(score_micro_batch)
        .option("checkpointLocation", str(checkpoint(cfg)))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    online.unpersist()
    return batches
