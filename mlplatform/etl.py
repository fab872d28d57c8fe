"""Step 1 - ETL: raw CSV/JSON files in ``landing/`` -> typed, deduplicated Parquet by date.

Rules of the step:

* files are read with an explicit all-text schema, so no value is lost or
  silently turned into NULL on the way in (malformed lines keep their text in
  ``_corrupt_record``);
* every rule of ``validation_rules()`` is checked in order; a row that breaks one goes to the
  quarantine table with the FIRST broken rule as ``reason``;
* valid rows are cast with ``try_cast``/``try_to_timestamp`` (Spark 4 runs in
  ANSI mode, where a plain ``cast("abc" AS double)`` raises an error instead of
  returning NULL), deduplicated on ``transaction_id`` and written partitioned by
  ``date``;
* nothing is dropped silently: ``rows_in == clean + quarantined + duplicates``
  is checked with counts taken independently (the written tables are read back).

``write_landing`` plays the source systems: it writes the course's synthetic
transactions as CSV and JSON files and injects known bad records, with a
manifest of what it injected, so the ETL's counts can be checked exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from coursekit.datasets import schema_of
from coursekit.datasets.transactions import CHANNELS
from mlplatform.config import PlatformConfig, write_report

#: Spark SQL type of each column once validated: the course's ``transactions`` dataset.
TYPES: dict[str, str] = schema_of("transactions")
#: Columns of a transaction, in file order.
COLUMNS: tuple[str, ...] = tuple(TYPES)
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"
CORRUPT = "_corrupt_record"

#: Every column as text: how the raw files are read (nothing is parsed yet).
RAW_SCHEMA = StructType(
    [StructField(c, StringType()) for c in COLUMNS] + [StructField(CORRUPT, StringType())]
)

#: Kinds of bad records ``write_landing`` injects, with the bad values it uses.
BAD_AMOUNTS = ("abc", "1.234,56", "-15.00", "NaN")
BAD_TIMESTAMPS = ("2025-02-30 10:00:00", "ontem", "2025-13-01 08:00:00", "31/01/2025 10:00")
N_MALFORMED_LINES = 3


# --------------------------------------------------------------------------- landing
def write_landing(
    spark: SparkSession, cfg: PlatformConfig, *, n: int | None = None, data=None
) -> dict:
    """Write raw transaction files (CSV + JSON) with known bad records into ``cfg.landing``.

    Per 1,000 rows (chosen by a hash of the id, so deterministic): 5 get an
    invalid amount, 3 lose ``customer_id``, 2 lose ``transaction_id``, 5 get an
    invalid timestamp, and 10 are sent twice (once in each format). A legacy
    export adds ``N_MALFORMED_LINES`` truncated JSON lines.

    Parameters
    ----------
    n : int, optional
        Rows to generate (default: the size of ``cfg.scale``).
    data : coursekit.datasets.Dataset, optional
        An already generated ``transactions`` dataset (to keep its ``.truth`` at hand).

    Returns
    -------
    dict
        The manifest (also written to ``landing/_manifest.json``): rows written,
        bad records injected per reason, duplicates.
    """
    from coursekit.datasets import generate

    if data is None:
        data = generate("transactions", spark, scale=cfg.scale, seed=cfg.seed, n=n)
    tid = F.col("transaction_id")
    bucket = F.pmod(F.xxhash64(tid, F.lit(cfg.seed), F.lit("defect")), F.lit(1000))
    variant = F.pmod(F.xxhash64(tid, F.lit(cfg.seed), F.lit("variant")), F.lit(4)).cast("int") + 1
    fmt = F.pmod(F.xxhash64(tid, F.lit(cfg.seed), F.lit("format")), F.lit(2)).cast("int")
    defect = (
        F.when(bucket < 5, "invalid_amount")
        .when(bucket < 8, "missing_customer_id")
        .when(bucket < 10, "missing_transaction_id")
        .when(bucket < 15, "invalid_timestamp")
    )
    as_text = [
        F.date_format(c, TIMESTAMP_FORMAT).alias(c) if c == "timestamp" else F.col(c).cast("string")
        for c in COLUMNS
    ]
    raw = data.df.select(
        *as_text, defect.alias("_defect"), bucket.between(15, 24).alias("_dup"), fmt.alias("_fmt")
    )
    d = F.col("_defect")

    def pick(values: tuple[str, ...]) -> Column:
        return F.element_at(F.array(*[F.lit(v) for v in values]), variant)

    raw = raw.select(
        F.when(d == "missing_transaction_id", None).otherwise(tid).alias("transaction_id"),
        F.when(d == "missing_customer_id", None)
        .otherwise(F.col("customer_id"))
        .alias("customer_id"),
        F.when(d == "invalid_timestamp", pick(BAD_TIMESTAMPS))
        .otherwise(F.col("timestamp"))
        .alias("timestamp"),
        F.when(d == "invalid_amount", pick(BAD_AMOUNTS)).otherwise(F.col("amount")).alias("amount"),
        *COLUMNS[4:],
        "_defect",
        "_dup",
        "_fmt",
    )
    # computed once: the writes and counts below reuse it instead of re-generating
    raw = raw.localCheckpoint(eager=True)
    # a duplicate is the same record delivered again, in the other format
    copies = raw.filter("_dup").withColumn("_fmt", 1 - F.col("_fmt"))
    delivered = raw.unionByName(copies)
    cfg.landing.mkdir(parents=True, exist_ok=True)
    (
        delivered.filter("_fmt = 0").select(*COLUMNS).coalesce(2)
        .write.mode("overwrite").option("header", True).csv(str(cfg.landing / "csv"))
    )  # fmt: skip
    (
        delivered.filter("_fmt = 1").select(*COLUMNS).coalesce(2)
        .write.mode("overwrite").json(str(cfg.landing / "json"))
    )  # fmt: skip
    legacy = cfg.landing / "json" / "legacy-export.json"
    legacy.write_text(
        "".join(
            f'{{"transaction_id": "9{i:08d}", "amount": "1{i}.50", "channel": \n'
            for i in range(N_MALFORMED_LINES)
        )
    )

    counts = raw.groupBy("_defect").count().collect()
    injected = {r["_defect"]: r["count"] for r in counts if r["_defect"] is not None}
    for kind in (
        "invalid_amount",
        "missing_customer_id",
        "missing_transaction_id",
        "invalid_timestamp",
    ):
        injected.setdefault(kind, 0)
    injected["malformed_record"] = N_MALFORMED_LINES
    duplicates = raw.filter("_dup").count()
    manifest = {
        "dataset": "transactions",
        "scale": cfg.scale,
        "seed": cfg.seed,
        "n": data.n,
        "rows_written": data.n + duplicates + N_MALFORMED_LINES,
        "injected": dict(sorted(injected.items())),
        "bad_records": sum(injected.values()),
        "duplicates": duplicates,
    }
    (cfg.landing / "_manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


# --------------------------------------------------------------------------- ETL
def read_landing(spark: SparkSession, cfg: PlatformConfig) -> DataFrame:
    """All raw records from ``landing/csv`` and ``landing/json``, as text, with their file."""
    csv = (
        spark.read.schema(RAW_SCHEMA)
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .csv(str(cfg.landing / "csv"))
    )
    jsn = (
        spark.read.schema(RAW_SCHEMA)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .json(str(cfg.landing / "json"))
    )
    source = [F.col("_metadata.file_name").alias("source_file")]  # hidden column of file sources
    return csv.select("*", F.lit("csv").alias("source_format"), *source).unionByName(
        jsn.select("*", F.lit("json").alias("source_format"), *source)
    )


def _blank(name: str) -> Column:
    return F.col(name).isNull() | (F.trim(F.col(name)) == "")


def typed(name: str) -> Column:
    """The raw text column ``name`` parsed to its type, or NULL when it does not parse."""
    if name == "timestamp":
        return F.try_to_timestamp(F.col(name), F.lit(TIMESTAMP_FORMAT))
    return F.col(name).try_cast(TYPES[name])


def validation_rules() -> list[tuple[str, Column]]:
    """Validation rules, checked in this order: (reason, condition that BREAKS the rule)."""
    return [
        ("malformed_record", F.col(CORRUPT).isNotNull()),
        ("missing_transaction_id", _blank("transaction_id")),
        ("invalid_transaction_id", typed("transaction_id").isNull()),
        ("missing_customer_id", _blank("customer_id")),
        ("invalid_customer_id", typed("customer_id").isNull()),
        ("invalid_timestamp", typed("timestamp").isNull()),
        (
            "invalid_amount",
            typed("amount").isNull() | F.isnan(typed("amount")) | (typed("amount") <= 0),
        ),
        ("invalid_channel", ~F.coalesce(F.col("channel").isin(*CHANNELS), F.lit(False))),
        ("invalid_label", ~F.coalesce(typed("is_fraud").isin(0, 1), F.lit(False))),
        (
            "invalid_numeric",
            ~F.coalesce(typed("hour").between(0, 23), F.lit(False))
            | typed("distance_from_home_km").isNull()
            | typed("avg_amount_30d").isNull()
            | typed("n_tx_24h").isNull(),
        ),
    ]


def first_broken_rule(rules: list[tuple[str, Column]] | None = None) -> Column:
    """A column with the reason of the first broken rule, NULL when the row is valid."""
    rules = rules if rules is not None else validation_rules()
    reason = F.when(rules[0][1], rules[0][0])
    for name, broken in rules[1:]:
        reason = reason.when(broken, name)
    return reason


def run_etl(spark: SparkSession, cfg: PlatformConfig) -> dict:
    """Validate, quarantine, type, deduplicate and write the landing files.

    Returns
    -------
    dict
        The report (also ``reports/etl.json``): ``rows_in``, ``clean_rows``,
        ``quarantined_rows``, ``duplicates_removed``, ``by_reason``, ...

    Raises
    ------
    RuntimeError
        When the counts do not add up (a row was lost or invented).
    """
    started = datetime.now(UTC)
    checked = read_landing(spark, cfg).withColumn("reason", first_broken_rule()).cache()
    rows_in = checked.count()

    quarantined = checked.filter(F.col("reason").isNotNull()).select(
        *COLUMNS, CORRUPT, "source_format", "source_file", "reason",
        F.lit(started.isoformat()).alias("etl_run_at"),
    )  # fmt: skip
    quarantined.write.mode("overwrite").parquet(str(cfg.quarantine))

    # valid rows: typed, then one row per transaction_id (the first delivery wins)
    valid = checked.filter(F.col("reason").isNull()).select(
        *[typed(c).alias(c) for c in COLUMNS], "source_format", "source_file"
    )
    first_delivery = Window.partitionBy("transaction_id").orderBy("source_format", "source_file")
    ranked = valid.withColumn("delivery", F.row_number().over(first_delivery))
    duplicates = ranked.filter("delivery > 1").count()
    clean = ranked.filter("delivery = 1").drop("delivery", "source_format", "source_file")
    (
        clean.withColumn("date", F.to_date("timestamp"))
        .repartition("date")
        .write.mode("overwrite").partitionBy("date").parquet(str(cfg.lake))
    )  # fmt: skip

    # count what was WRITTEN, independently of the counts above
    clean_rows = spark.read.parquet(str(cfg.lake)).count()
    q = spark.read.parquet(str(cfg.quarantine))
    by_reason = {r["reason"]: r["count"] for r in q.groupBy("reason").count().collect()}
    quarantined_rows = sum(by_reason.values())
    checked.unpersist()

    report = {
        "rows_in": rows_in,
        "clean_rows": clean_rows,
        "quarantined_rows": quarantined_rows,
        "duplicates_removed": duplicates,
        "by_reason": dict(sorted(by_reason.items())),
        "quarantine_rate": quarantined_rows / rows_in if rows_in else 0.0,
        "balanced": rows_in == clean_rows + quarantined_rows + duplicates,
        "started_at": started.isoformat(),
    }
    write_report(cfg, "etl", report)
    if not report["balanced"]:
        raise RuntimeError(
            f"ETL não fecha a conta: entrada={rows_in}, limpos={clean_rows}, "
            f"quarentena={quarantined_rows}, duplicatas={duplicates}. "
            "Alguma linha foi perdida ou criada: confira as regras e a deduplicação."
        )
    return report
