"""Step 2 - Feature store: customer features with event timestamps, offline and online.

* **Definitions are versioned.** ``FEATURE_DEFINITIONS`` lists each feature
  with its meaning; ``FEATURE_VERSION`` names that list. The version is stored
  in the data (partition column ``feature_version``) and in
  ``features/definitions/<version>.json``: changing a definition means a new
  version, written next to the old one, never over it.
* **Offline table** (``features/offline``): one row per customer and day with
  activity, ``feature_ts`` = the end of that day (when the daily batch job
  could have computed it). Values summarise the 7/30 days up to that day.
* **Point-in-time join** (``point_in_time_join``): for each labelled
  transaction, the latest feature row of its customer with
  ``feature_ts <= transaction timestamp``. A plain join on ``customer_id``
  would hand the model values computed AFTER the transaction (leakage).
* **Online table** (``features/online``): the latest row per customer, what a
  scoring job looks up (a key-value store in production; Parquet here).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from mlplatform.config import PlatformConfig, write_report

FEATURE_VERSION = "v1"
ENTITY = "customer_id"
FEATURE_TS = "feature_ts"

#: Feature name -> definition (the contract of version ``FEATURE_VERSION``).
FEATURE_DEFINITIONS: dict[str, str] = {
    "cust_tx_7d": "transações do cliente nos 7 dias até o fim do dia do snapshot",
    "cust_tx_30d": "transações do cliente nos 30 dias até o fim do dia do snapshot",
    "cust_amount_avg_30d": "valor médio (R$) das transações do cliente em 30 dias",
    "cust_amount_max_30d": "maior valor (R$) de uma transação do cliente em 30 dias",
    "cust_online_share_30d": "fração das transações do cliente em 30 dias feitas no canal online",
    "cust_night_share_30d": "fração das transações do cliente em 30 dias entre 0h e 5h",
}
FEATURE_COLUMNS: tuple[str, ...] = tuple(FEATURE_DEFINITIONS)
#: Value used when a customer has no history yet (no feature row before the event).
FEATURE_DEFAULTS: dict[str, float] = {name: 0.0 for name in FEATURE_COLUMNS}


def compute_customer_features(transactions: DataFrame) -> DataFrame:
    """Daily snapshots of customer features from clean transactions.

    Returns
    -------
    DataFrame
        ``customer_id``, ``feature_ts`` (end of the day), the columns of
        ``FEATURE_DEFINITIONS`` and ``feature_version``.
    """
    daily = transactions.groupBy(ENTITY, F.to_date("timestamp").alias("day")).agg(
        F.count("*").alias("n"),
        F.sum("amount").alias("amount_sum"),
        F.max("amount").alias("amount_max"),
        F.sum((F.col("channel") == "online").cast("int")).alias("n_online"),
        F.sum((F.col("hour") < 6).cast("int")).alias("n_night"),
    )
    day_number = F.unix_date("day")  # days since 1970-01-01: a numeric order for range windows
    by_customer = Window.partitionBy(ENTITY).orderBy(day_number)
    last_7 = by_customer.rangeBetween(-6, 0)
    last_30 = by_customer.rangeBetween(-29, 0)
    n_30 = F.sum("n").over(last_30)
    return daily.select(
        ENTITY,
        # the snapshot of day D is complete at midnight of D+1: only then may it be used
        F.to_timestamp(F.date_add("day", 1)).alias(FEATURE_TS),
        F.sum("n").over(last_7).cast("double").alias("cust_tx_7d"),
        n_30.cast("double").alias("cust_tx_30d"),
        (F.sum("amount_sum").over(last_30) / n_30).alias("cust_amount_avg_30d"),
        F.max("amount_max").over(last_30).alias("cust_amount_max_30d"),
        (F.sum("n_online").over(last_30) / n_30).alias("cust_online_share_30d"),
        (F.sum("n_night").over(last_30) / n_30).alias("cust_night_share_30d"),
        F.lit(FEATURE_VERSION).alias("feature_version"),
    )


def point_in_time_join(
    events: DataFrame,
    features: DataFrame,
    *,
    event_id: str = "transaction_id",
    event_ts: str = "timestamp",
    key: str = ENTITY,
    feature_ts: str = FEATURE_TS,
) -> DataFrame:
    """Attach to each event the latest feature row of its key with ``feature_ts <= event_ts``.

    Events with no earlier feature row are kept, with NULL features (left join).

    Parameters
    ----------
    events : DataFrame
        One row per ``event_id``, with ``key`` and ``event_ts``.
    features : DataFrame
        Rows of ``key``, ``feature_ts`` and feature columns.

    Returns
    -------
    DataFrame
        The events' columns plus ``feature_ts`` and the feature columns.
    """
    feats = features.withColumnRenamed(key, "_key")
    candidates = events.join(
        feats,
        (events[key] == feats["_key"]) & (feats[feature_ts] <= events[event_ts]),
        "left",
    )
    latest_first = Window.partitionBy(event_id).orderBy(F.col(feature_ts).desc_nulls_last())
    return (
        candidates.withColumn("_rank", F.row_number().over(latest_first))
        .filter("_rank = 1")
        .drop("_rank", "_key")
    )


def count_leakage(
    joined: DataFrame, *, event_ts: str = "timestamp", feature_ts: str = FEATURE_TS
) -> int:
    """How many rows use a feature value computed after the event (must be 0)."""
    return joined.filter(F.col(feature_ts) > F.col(event_ts)).count()


def naive_latest_join(events: DataFrame, features: DataFrame, *, key: str = ENTITY) -> DataFrame:
    """The WRONG way, for comparison: each event gets its customer's most recent row, ever."""
    newest = Window.partitionBy(key).orderBy(F.col(FEATURE_TS).desc())
    latest = features.withColumn("_r", F.row_number().over(newest)).filter("_r = 1").drop("_r")
    return events.join(latest, key, "left")


def fill_defaults(df: DataFrame) -> DataFrame:
    """Replace missing features (customer without history) by ``FEATURE_DEFAULTS``."""
    return df.fillna(FEATURE_DEFAULTS)


# --------------------------------------------------------------------------- store I/O
def offline_path(cfg: PlatformConfig):
    return cfg.features / "offline"


def online_path(cfg: PlatformConfig):
    return cfg.features / "online" / f"feature_version={FEATURE_VERSION}"


def materialize(spark: SparkSession, cfg: PlatformConfig) -> dict:
    """Compute the features from the lake, write the offline and online tables.

    Returns
    -------
    dict
        Report (also ``reports/features.json``): rows, customers, version.
    """
    transactions = spark.read.parquet(str(cfg.lake))
    feats = compute_customer_features(transactions)
    (
        feats.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")  # other versions stay untouched
        .partitionBy("feature_version")
        .parquet(str(offline_path(cfg)))
    )
    offline = read_offline(spark, cfg)
    newest = Window.partitionBy(ENTITY).orderBy(F.col(FEATURE_TS).desc())
    online = offline.withColumn("_r", F.row_number().over(newest)).filter("_r = 1").drop("_r")
    online.coalesce(1).write.mode("overwrite").parquet(str(online_path(cfg)))

    definitions = {
        "version": FEATURE_VERSION,
        "entity": ENTITY,
        "timestamp": FEATURE_TS,
        "definitions": FEATURE_DEFINITIONS,
        "defaults": FEATURE_DEFAULTS,
        "created_at": datetime.now(UTC).isoformat(),
    }
    defs_dir = cfg.features / "definitions"
    defs_dir.mkdir(parents=True, exist_ok=True)
    (defs_dir / f"{FEATURE_VERSION}.json").write_text(
        json.dumps(definitions, indent=2, ensure_ascii=False)
    )
    report = {
        "feature_version": FEATURE_VERSION,
        "offline_rows": offline.count(),
        "online_rows": spark.read.parquet(str(online_path(cfg))).count(),
        "features": list(FEATURE_COLUMNS),
    }
    write_report(cfg, "features", report)
    return report


def read_offline(
    spark: SparkSession, cfg: PlatformConfig, version: str = FEATURE_VERSION
) -> DataFrame:
    """The offline feature table of one version (error if that version was never written)."""
    table = spark.read.parquet(str(offline_path(cfg)))
    versions = [r[0] for r in table.select("feature_version").distinct().collect()]
    if version not in versions:
        raise ValueError(
            f"Versão de features {version!r} não existe em {offline_path(cfg)}. "
            f"Versões disponíveis: {sorted(versions)}. Rode: python -m mlplatform features"
        )
    return table.filter(F.col("feature_version") == version)


def training_frame(spark: SparkSession, cfg: PlatformConfig, labelled: DataFrame) -> DataFrame:
    """Offline retrieval: labelled transactions + point-in-time-correct customer features."""
    joined = point_in_time_join(labelled, read_offline(spark, cfg))
    return fill_defaults(joined)


def online_features(spark: SparkSession, cfg: PlatformConfig) -> DataFrame:
    """Online lookup table: the latest features of every customer (one row each)."""
    path = online_path(cfg)
    if not path.exists():
        raise FileNotFoundError(
            f"Tabela online de features não encontrada em {path}. Rode: python -m mlplatform features"
        )
    return spark.read.parquet(str(path)).select(ENTITY, *FEATURE_COLUMNS)


def lookup_online(spark: SparkSession, cfg: PlatformConfig, customer_ids: list[int]):
    """Features of a few customers as pandas (what an API would fetch per request)."""
    table = online_features(spark, cfg)
    return table.filter(F.col(ENTITY).isin(customer_ids)).toPandas()
