"""Step 3 - Automated training: one call builds the training set, tunes, evaluates and logs.

1. labelled transactions from the lake + customer features, joined point in time;
2. a time split: the latest ``holdout_fraction`` of the period is the holdout
   (the model is always judged on transactions that happen after the ones it
   learned from, as in production); both sets are saved in ``datasets/``;
3. a Pipeline (SQLTransformer -> StringIndexer -> VectorAssembler ->
   RandomForestClassifier) tuned with TrainValidationSplit on a small grid;
4. MLflow: parameters, the validation AUC of every grid point, holdout AUC and
   PR-AUC, the model (``mlflow.spark.log_model``) and the reference profile the
   monitor compares new data with. The model becomes a new version of the
   registered model ``cfg.model_name``; the gate decides if it becomes champion.

MLflow runs with no server: a SQLite file (``cfg.tracking_uri``) holds runs and
registry, artifacts go to ``cfg.artifacts``.
"""

from __future__ import annotations

import time

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import SQLTransformer, StringIndexer, VectorAssembler
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mlplatform import features
from mlplatform.config import PlatformConfig, read_report, write_report
from mlplatform.tracking import (  # noqa: F401 (mlflow_setup, register: the step's API)
    build_reference,
    load_version,
    mlflow_setup,
    quiet_mlflow,
    register,
    with_score,
)

LABEL = "is_fraud"
CATEGORICAL: tuple[str, ...] = ("merchant_category", "channel")
NUMERIC: tuple[str, ...] = (
    "amount",
    "hour",
    "distance_from_home_km",
    "avg_amount_30d",
    "n_tx_24h",
    *features.FEATURE_COLUMNS,
)
#: Columns derived inside the pipeline (so training and scoring compute them the same way).
DERIVED = (
    "SELECT *, amount / avg_amount_30d AS amount_ratio, "
    "amount / greatest(cust_amount_avg_30d, 1.0) AS amount_vs_history FROM __THIS__"
)
DERIVED_COLUMNS: tuple[str, ...] = ("amount_ratio", "amount_vs_history")
#: The pip requirement written with the model (given explicitly: inferring it
#: would start a second Python process that loads the model, and a second JVM).
MODEL_REQUIREMENTS = ["pyspark==4.3.*"]


def build_pipeline(cfg: PlatformConfig) -> tuple[Pipeline, RandomForestClassifier]:
    """The model: derived columns, indexed categories, one vector, a random forest."""
    derive = SQLTransformer(statement=DERIVED)
    indexer = StringIndexer(
        inputCols=list(CATEGORICAL),
        outputCols=[f"{c}_idx" for c in CATEGORICAL],
        handleInvalid="keep",  # a category never seen in training gets its own index
    )
    assembler = VectorAssembler(
        inputCols=[*NUMERIC, *DERIVED_COLUMNS, *[f"{c}_idx" for c in CATEGORICAL]],
        outputCol="features",
    )
    forest = RandomForestClassifier(labelCol=LABEL, featuresCol="features", seed=cfg.seed)
    return Pipeline(stages=[derive, indexer, assembler, forest]), forest


def evaluator(metric: str = "areaUnderROC") -> BinaryClassificationEvaluator:
    # labelCol must be named: the default "label" does not exist here (see the Errata)
    return BinaryClassificationEvaluator(labelCol=LABEL, metricName=metric)


def split_by_time(df: DataFrame, holdout_fraction: float) -> tuple[DataFrame, DataFrame, str]:
    """Train = before the cutoff, holdout = from the cutoff on; cutoff = a time quantile."""
    seconds = df.select(F.unix_timestamp("timestamp").alias("s"))
    cutoff_s = seconds.approxQuantile("s", [1.0 - holdout_fraction], 0.0)[0]
    cutoff = F.timestamp_seconds(F.lit(int(cutoff_s)))
    train = df.filter(F.col("timestamp") < cutoff)
    holdout = df.filter(F.col("timestamp") >= cutoff)
    cutoff_text = df.sparkSession.range(1).select(cutoff.cast("string")).first()[0]
    return train, holdout, cutoff_text


def build_datasets(spark: SparkSession, cfg: PlatformConfig) -> dict:
    """Point-in-time training frame, time split, snapshots in ``datasets/``."""
    labelled = spark.read.parquet(str(cfg.lake)).drop("date")
    frame = features.training_frame(spark, cfg, labelled).cache()  # used by 3 jobs below
    train, holdout, cutoff = split_by_time(frame, cfg.holdout_fraction)
    train.write.mode("overwrite").parquet(str(cfg.datasets / "train"))
    holdout.write.mode("overwrite").parquet(str(cfg.datasets / "holdout"))
    frame.unpersist()
    train = spark.read.parquet(str(cfg.datasets / "train"))
    stats = train.agg(F.count("*").alias("n"), F.avg(LABEL).alias("rate")).first()
    return {
        "cutoff": cutoff,
        "n_train": stats["n"],
        "train_fraud_rate": float(stats["rate"]),
        "n_holdout": spark.read.parquet(str(cfg.datasets / "holdout")).count(),
        "leakage_violations": features.count_leakage(train),
        "feature_version": features.FEATURE_VERSION,
    }


def load_split(spark: SparkSession, cfg: PlatformConfig, name: str) -> DataFrame:
    """``train`` or ``holdout`` as saved by the last ``build_datasets``."""
    return spark.read.parquet(str(cfg.datasets / name))


def train(spark: SparkSession, cfg: PlatformConfig, *, run_name: str = "train") -> dict:
    """Train, tune, evaluate on the holdout and log everything to MLflow.

    Returns
    -------
    dict
        Report (also ``reports/train.json``): ``run_id``, ``model_version``,
        ``holdout_auc``, grid results, data stats.
    """
    import mlflow
    import mlflow.spark

    client = mlflow_setup(cfg)
    data = build_datasets(spark, cfg)
    train_df = load_split(spark, cfg, "train").cache()
    holdout = load_split(spark, cfg, "holdout")

    pipeline, forest = build_pipeline(cfg)
    grid = (
        ParamGridBuilder()
        .addGrid(forest.numTrees, cfg.grid["numTrees"])
        .addGrid(forest.maxDepth, cfg.grid["maxDepth"])
        .build()
    )
    tuner = TrainValidationSplit(
        estimator=pipeline,
        estimatorParamMaps=grid,
        evaluator=evaluator(),
        trainRatio=0.75,
        seed=cfg.seed,
    )
    with mlflow.start_run(run_name=run_name) as run:
        started = time.perf_counter()
        tuned = tuner.fit(train_df)
        fit_seconds = time.perf_counter() - started
        model: PipelineModel = tuned.bestModel
        scored = with_score(model.transform(holdout)).cache()
        holdout_auc = evaluator("areaUnderROC").evaluate(scored)
        holdout_pr_auc = evaluator("areaUnderPR").evaluate(scored)

        grid_results = [
            {
                "numTrees": params[forest.numTrees],
                "maxDepth": params[forest.maxDepth],
                "val_auc": auc,
            }
            for params, auc in zip(grid, tuned.validationMetrics, strict=True)
        ]
        best = max(grid_results, key=lambda g: g["val_auc"])
        mlflow.log_params(
            {
                "model": "RandomForestClassifier",
                "grid": str(cfg.grid),
                "best_numTrees": best["numTrees"],
                "best_maxDepth": best["maxDepth"],
                "feature_version": data["feature_version"],
                "cutoff": data["cutoff"],
                "n_train": data["n_train"],
                "n_holdout": data["n_holdout"],
                "scale": cfg.scale,
                "seed": cfg.seed,
            }
        )
        for step, g in enumerate(grid_results):
            mlflow.log_metric("val_auc", g["val_auc"], step=step)
        mlflow.log_metrics(
            {
                "holdout_auc": holdout_auc,
                "holdout_pr_auc": holdout_pr_auc,
                "fit_seconds": fit_seconds,
                "train_fraud_rate": data["train_fraud_rate"],
                "leakage_violations": data["leakage_violations"],
            }
        )
        reference = build_reference(train_df, scored, cfg)
        mlflow.log_dict(reference, "monitoring/reference.json")
        info = mlflow.spark.log_model(
            model, artifact_path="model", pip_requirements=MODEL_REQUIREMENTS
        )
        version = register(client, cfg, run.info.run_id, info.model_uri)
        scored.unpersist()
    train_df.unpersist()

    report = {
        "run_id": run.info.run_id,
        "model_uri": info.model_uri,
        "model_version": version,
        "holdout_auc": holdout_auc,
        "holdout_pr_auc": holdout_pr_auc,
        "grid": grid_results,
        "best": best,
        "fit_seconds": fit_seconds,
        **data,
    }
    write_report(cfg, "train", report)
    return report


def last_training(cfg: PlatformConfig) -> dict:
    """The report of the last training (what the gate evaluates)."""
    return read_report(cfg, "train")
