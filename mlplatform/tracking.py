"""What train, serve and monitor share: MLflow, registered models, the drift reference.

* :func:`mlflow_setup` points MLflow at the platform's SQLite store (no server);
* :func:`register` / :func:`load_version`: a trained pipeline as a registered model version;
* :func:`with_score`: the score column every consumer reads (``p_fraud``);
* :func:`build_reference` / :func:`reference_for`: the bins and expected proportions of every
  monitored column, computed at training time and logged with the model, which the monitor
  compares new windows with.

``train`` writes through this module, ``serve`` and ``monitor`` read through it; none of the
three imports another.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mlplatform.config import PlatformConfig

MONITORED_NUMERIC: tuple[str, ...] = (
    "amount",
    "distance_from_home_km",
    "hour",
    "n_tx_24h",
    "avg_amount_30d",
)
MONITORED_CATEGORICAL: tuple[str, ...] = ("channel", "merchant_category")
SCORE = "p_fraud"


def quiet_mlflow() -> None:
    """Keep MLflow's and alembic's INFO lines out of notebook cells."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def mlflow_setup(cfg: PlatformConfig):
    """Point MLflow at the project's SQLite store and experiment; return an MlflowClient."""
    import mlflow

    quiet_mlflow()
    cfg.root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(cfg.tracking_uri)
    mlflow.set_registry_uri(cfg.tracking_uri)
    if mlflow.get_experiment_by_name(cfg.experiment) is None:
        cfg.artifacts.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(cfg.experiment, artifact_location=cfg.artifacts.resolve().as_uri())
    mlflow.set_experiment(cfg.experiment)
    return mlflow.MlflowClient()


def register(client, cfg: PlatformConfig, run_id: str, model_uri: str) -> str:
    """Add the logged model as a new version of ``cfg.model_name`` (alias ``candidate``)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(cfg.model_name)
    except MlflowException:
        client.create_registered_model(
            cfg.model_name, description="Detecção de fraude (plataforma de referência da Aula 10)"
        )
    mv = client.create_model_version(cfg.model_name, source=model_uri, run_id=run_id)
    client.set_registered_model_alias(cfg.model_name, "candidate", mv.version)
    return str(mv.version)


_LOADED: dict[tuple, PipelineModel] = {}


def load_version(cfg: PlatformConfig, version: str) -> PipelineModel:
    """Load a registered model version (kept in memory: a registry version never changes)."""
    import mlflow.spark
    from pyspark import SparkContext

    # a new SparkContext (after spark.stop()) cannot use models loaded by the old one
    key = (id(SparkContext._active_spark_context), cfg.tracking_uri, cfg.model_name, str(version))
    if key not in _LOADED:
        mlflow_setup(cfg)
        tmp = cfg.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        uri = f"models:/{cfg.model_name}/{version}"
        _LOADED[key] = mlflow.spark.load_model(uri, dfs_tmpdir=str(tmp))
    return _LOADED[key]


def with_score(predictions: DataFrame) -> DataFrame:
    """Add ``p_fraud``: the probability of class 1 as a plain double."""
    return predictions.withColumn("p_fraud", vector_to_array("probability")[1])


def bin_column(column: str, spec: dict) -> Column:
    """The bin index of ``column`` under ``spec`` (numeric edges or categories)."""
    c = F.col(column)
    if spec["kind"] == "numeric":
        index = F.lit(0)
        for edge in spec["edges"]:
            index = index + (c >= F.lit(edge)).cast("int")
        return F.coalesce(index, F.lit(len(spec["edges"]) + 1))  # NULL: a bin of its own
    known = F.array(*[F.lit(v) for v in spec["categories"]])
    position = F.array_position(known, c).cast("int")  # 1-based, 0 when absent
    return F.when(position > 0, position - 1).otherwise(len(spec["categories"]))


def n_bins(spec: dict) -> int:
    """Bins of a spec, including the NULL / unseen-category bin."""
    if spec["kind"] == "numeric":
        return len(spec["edges"]) + 2
    return len(spec["categories"]) + 1


def bin_counts(df: DataFrame, specs: dict[str, dict], by: str | None = None) -> pd.DataFrame:
    """Counts per (group, column, bin) in ONE Spark aggregation; small pandas result."""
    pairs = F.explode(
        F.array(
            *[
                F.struct(F.lit(c).alias("column"), bin_column(c, s).alias("bin"))
                for c, s in specs.items()
            ]
        )
    ).alias("p")
    keys = [by] if by else []
    long = df.select(*keys, pairs).select(*keys, "p.column", "p.bin")
    return long.groupBy(*keys, "column", "bin").count().toPandas()


def bin_vector(counts: pd.DataFrame, spec: dict) -> np.ndarray:
    """Counts per bin (a dense vector) from the rows of ``bin_counts`` of one column."""
    v = np.zeros(n_bins(spec))
    for b, n in zip(counts["bin"], counts["count"], strict=True):
        v[int(b)] += n
    return v


def build_reference(train_df: DataFrame, scored_holdout: DataFrame, cfg: PlatformConfig) -> dict:
    """Bins and expected proportions of every monitored column (saved with the model)."""
    probs = [i / cfg.psi_bins for i in range(1, cfg.psi_bins)]
    specs: dict[str, dict] = {}
    quantiles = train_df.approxQuantile(list(MONITORED_NUMERIC), probs, 0.001)
    for column, qs in zip(MONITORED_NUMERIC, quantiles, strict=True):
        specs[column] = {"kind": "numeric", "edges": sorted(set(qs))}
    for column in MONITORED_CATEGORICAL:
        values = [r[0] for r in train_df.select(column).distinct().orderBy(column).collect()]
        specs[column] = {"kind": "categorical", "categories": values}
    score_edges = scored_holdout.approxQuantile(SCORE, probs, 0.001)
    score_spec = {"kind": "numeric", "edges": sorted(set(score_edges))}

    counts = bin_counts(train_df, specs)
    score_counts = bin_counts(scored_holdout, {SCORE: score_spec})
    for column, spec in specs.items():
        v = bin_vector(counts[counts["column"] == column], spec)
        spec["expected"] = (v / v.sum()).tolist()
    v = bin_vector(score_counts, score_spec)
    score_spec["expected"] = (v / v.sum()).tolist()
    return {"columns": specs, "score": score_spec, "threshold": cfg.psi_threshold}


def reference_for(cfg: PlatformConfig, model_version: str) -> dict:
    """The reference profile logged with a registered model version."""
    import mlflow

    client = mlflow_setup(cfg)
    run_id = client.get_model_version(cfg.model_name, str(model_version)).run_id
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/monitoring/reference.json")
