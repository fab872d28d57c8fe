"""Unit and integration tests of the reference platform (``mlplatform``), on real Spark and files."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest
from pyspark.sql import functions as F

from mlplatform import etl, features, gate, monitor, serve, train
from mlplatform.config import PlatformConfig, write_report

pytestmark = pytest.mark.spark


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- feature store
@pytest.fixture
def pit_tables(spark):
    events = spark.createDataFrame(
        [
            (1, 10, ts("2025-01-05 10:00:00")),  # features of 01-02 and 01-04 exist before
            (2, 10, ts("2025-01-03 09:00:00")),  # only the 01-02 row is in the past
            (3, 10, ts("2025-01-04 00:00:00")),  # a row stamped exactly at the event is usable
            (4, 20, ts("2025-01-05 12:00:00")),  # customer 20 has only a FUTURE row
        ],
        "transaction_id long, customer_id long, timestamp timestamp",
    )
    feats = spark.createDataFrame(
        [
            (10, ts("2025-01-02 00:00:00"), 1.0),
            (10, ts("2025-01-04 00:00:00"), 2.0),
            (10, ts("2025-01-06 00:00:00"), 999.0),  # after every event: must never be used
            (20, ts("2025-01-07 00:00:00"), 999.0),
        ],
        "customer_id long, feature_ts timestamp, cust_tx_7d double",
    )
    return events, feats


def test_point_in_time_join_takes_latest_past_row_only(pit_tables):
    events, feats = pit_tables
    joined = features.point_in_time_join(events, feats)
    got = {r["transaction_id"]: r["cust_tx_7d"] for r in joined.collect()}
    assert got == {1: 2.0, 2: 1.0, 3: 2.0, 4: None}
    assert joined.count() == events.count()  # one row per event, none lost
    assert features.count_leakage(joined) == 0


def test_naive_join_leaks_and_the_leakage_check_sees_it(pit_tables):
    events, feats = pit_tables
    naive = features.naive_latest_join(events, feats)
    assert {r["cust_tx_7d"] for r in naive.collect()} == {999.0}
    assert features.count_leakage(naive) == events.count()


def test_customer_features_become_available_the_next_day(spark):
    tx = spark.createDataFrame(
        [
            (1, ts("2025-01-01 10:00:00"), 100.0, "online", 2),
            (1, ts("2025-01-01 20:00:00"), 300.0, "presencial", 20),
            (1, ts("2025-01-03 08:00:00"), 50.0, "app", 8),
        ],
        "customer_id long, timestamp timestamp, amount double, channel string, hour int",
    )
    rows = features.compute_customer_features(tx).orderBy("feature_ts").collect()
    assert [r["feature_ts"] for r in rows] == [ts("2025-01-02 00:00:00"), ts("2025-01-04 00:00:00")]
    first, second = rows
    assert first["cust_tx_7d"] == 2 and first["cust_amount_avg_30d"] == 200.0
    assert first["cust_online_share_30d"] == 0.5 and first["cust_night_share_30d"] == 0.5
    assert second["cust_tx_7d"] == 3 and second["cust_amount_max_30d"] == 300.0
    assert {r["feature_version"] for r in rows} == {features.FEATURE_VERSION}


# --------------------------------------------------------------------------- ETL
GOOD = [
    "1",
    "7",
    "2025-01-02 10:00:00",
    "120.50",
    "farmacia",
    "app",
    "Recife",
    "PE",
    "10",
    "5",
    "3.2",
    "90.0",
    "1",
    "0",
]


def _row(**changes) -> list:
    values = dict(zip(etl.COLUMNS, GOOD, strict=True))
    values.update(changes)
    return [values[c] for c in etl.COLUMNS]


def test_etl_quarantines_each_bad_record_with_its_reason_and_counts_exactly(spark, tmp_path):
    cfg = PlatformConfig(root=tmp_path)
    csv_rows = [
        _row(transaction_id="1"),
        _row(transaction_id="2", amount="1.234,56"),  # Brazilian decimal comma: not a number
        _row(transaction_id="3", amount="NaN"),
        _row(transaction_id="4", timestamp="2025-02-30 10:00:00"),  # no such day
        _row(transaction_id="5", customer_id=""),
        _row(transaction_id="6", channel="fax"),
        _row(transaction_id="7"),
    ]
    json_rows = [
        _row(transaction_id="1"),  # duplicate of a CSV row
        _row(transaction_id="7"),  # duplicate
        _row(transaction_id="8", is_fraud="2"),
        _row(transaction_id="9", timestamp="2025-01-03 11:00:00"),
    ]
    (cfg.landing / "csv").mkdir(parents=True)
    (cfg.landing / "json").mkdir(parents=True)
    lines = [",".join(etl.COLUMNS)] + [",".join(f'"{v}"' for v in r) for r in csv_rows]
    (cfg.landing / "csv" / "a.csv").write_text("\n".join(lines) + "\n")
    with open(cfg.landing / "json" / "b.json", "w") as out:
        for r in json_rows:
            out.write(json.dumps(dict(zip(etl.COLUMNS, r, strict=True))) + "\n")
        out.write('{"transaction_id": "10", "amount": \n')  # truncated line

    report = etl.run_etl(spark, cfg)

    assert report["rows_in"] == 12
    assert report["by_reason"] == {
        "invalid_amount": 2,
        "invalid_timestamp": 1,
        "missing_customer_id": 1,
        "invalid_channel": 1,
        "invalid_label": 1,
        "malformed_record": 1,
    }
    assert report["duplicates_removed"] == 2
    assert report["clean_rows"] == 3  # ids 1, 7, 9
    assert report["balanced"]
    lake = spark.read.parquet(str(cfg.lake))
    assert sorted(r[0] for r in lake.select("transaction_id").collect()) == [1, 7, 9]
    assert dict(lake.dtypes)["amount"] == "double" and dict(lake.dtypes)["timestamp"] == "timestamp"
    assert {r[0] for r in lake.select(F.col("date").cast("string")).collect()} == {
        "2025-01-02",
        "2025-01-03",
    }


# --------------------------------------------------------------------------- monitoring
def test_psi_of_identical_distributions_is_zero():
    assert monitor.psi([0.1, 0.2, 0.7], [0.1, 0.2, 0.7]) == pytest.approx(0.0, abs=1e-12)
    assert monitor.psi([10, 20, 70], [1, 2, 7]) == pytest.approx(
        0.0, abs=1e-12
    )  # counts are normalised


def test_psi_matches_a_hand_computed_value():
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert monitor.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected, rel=1e-12)
    assert monitor.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.2747, abs=1e-4)


def test_psi_rejects_different_bins():
    with pytest.raises(ValueError, match="mesmos bins"):
        monitor.psi([0.5, 0.5], [0.2, 0.3, 0.5])


def test_drift_by_window_separates_shifted_from_stable_windows(spark):
    # reference: x uniform on [0, 1); window 0 the same law, window 1 shifted by +0.5
    base = spark.range(20_000).select(((F.col("id") * 7919) % 10_000 / 10_000).alias("x"))
    reference_spec = {"kind": "numeric", "edges": [i / 10 for i in range(1, 10)]}
    counts = monitor.bin_counts(base, {"x": reference_spec})
    expected = monitor.bin_vector(counts, reference_spec)
    reference_spec["expected"] = (expected / expected.sum()).tolist()
    reference = {"columns": {"x": reference_spec}, "score": {**reference_spec}}
    windows = base.select(F.lit(0).alias("batch_id"), "x", F.col("x").alias("p_fraud")).unionByName(
        base.select(
            F.lit(1).alias("batch_id"),
            (F.col("x") * 0.5 + 0.5).alias("x"),
            F.col("x").alias("p_fraud"),
        )
    )
    table = monitor.drift_by_window(windows, reference)
    assert list(table["batch_id"]) == [0, 1]
    assert table.loc[0, "psi_x"] < 0.01
    assert table.loc[1, "psi_x"] > 1.0  # half the bins emptied: a large shift
    assert table["psi_score"].max() < 0.01  # the score column was not shifted


# --------------------------------------------------------------------------- gate (pure rule)
OK = {"fraud_rate": gate.Check(0.02, "in [0.002, 0.1]", True)}
FAILED = {**OK, "quarantine_rate": gate.Check(0.2, "<= 0.05", False)}


def test_gate_promotes_a_better_model():
    promoted, reasons = gate.decide(0.92, 0.90, OK, margin=0.005, min_auc=0.75)
    assert promoted and "supera" in reasons[0]


def test_gate_rejects_a_model_that_is_not_better_by_the_margin():
    for candidate in (0.903, 0.85):
        promoted, reasons = gate.decide(candidate, 0.90, OK, margin=0.005, min_auc=0.75)
        assert not promoted and "não supera" in reasons[0]


def test_gate_rejects_a_better_model_when_data_checks_fail():
    promoted, reasons = gate.decide(0.99, 0.90, FAILED, margin=0.005, min_auc=0.75)
    assert not promoted
    assert any("quarantine_rate" in r for r in reasons)


def test_gate_without_champion_requires_the_minimum_auc():
    assert gate.decide(0.80, None, OK, margin=0.005, min_auc=0.75)[0]
    assert not gate.decide(0.70, None, OK, margin=0.005, min_auc=0.75)[0]


def test_data_checks_flag_a_high_quarantine_rate_and_leakage():
    cfg = PlatformConfig()
    etl_report = {"quarantine_rate": 0.2, "balanced": True}
    train_report = {
        "train_fraud_rate": 0.02,
        "n_train": 5000,
        "leakage_violations": 3,
        "feature_version": "v1",
    }
    checks = gate.data_checks(cfg, etl_report, train_report)
    assert {name for name, c in checks.items() if not c.ok} == {
        "quarantine_rate",
        "leakage_violations",
    }


# --------------------------------------------------------------------------- registry + gate + stream
def _synthetic(spark, n: int, seed: int):
    """Rows with every model column; fraud depends strongly on amount_ratio."""
    r = lambda k: F.rand(seed + k)  # noqa: E731
    df = spark.range(n).select(
        F.col("id").alias("transaction_id"),
        (F.col("id") % 50).alias("customer_id"),
        F.timestamp_seconds(F.lit(1735689600) + F.col("id") * 60).alias("timestamp"),
        (50 + 400 * r(1)).alias("amount"),
        F.when(r(2) < 0.5, "farmacia").otherwise("eletronicos").alias("merchant_category"),
        F.when(r(3) < 0.5, "app").otherwise("online").alias("channel"),
        F.lit("Recife").alias("city"),
        F.lit("PE").alias("state"),
        F.lit(3).alias("day_of_week"),
        (F.floor(r(4) * 24)).cast("int").alias("hour"),
        (r(5) * 100).alias("distance_from_home_km"),
        F.lit(100.0).alias("avg_amount_30d"),
        F.floor(r(6) * 5).cast("int").alias("n_tx_24h"),
        *[F.lit(0.0).alias(c) for c in features.FEATURE_COLUMNS],
    )
    return df.withColumn("is_fraud", ((F.col("amount") > 300) & (r(7) < 0.8)).cast("int"))


@pytest.fixture(scope="module")
def registry(spark, tmp_path_factory):
    """A platform root with a holdout, reports, an online table and two registered models."""
    import mlflow
    import mlflow.spark

    root = tmp_path_factory.mktemp("platform")
    cfg = PlatformConfig(root=root, grid={"numTrees": [5], "maxDepth": [3]})
    data = _synthetic(spark, 3000, seed=1)
    data.write.parquet(str(cfg.datasets / "holdout"))
    write_report(cfg, "etl", {"quarantine_rate": 0.01, "balanced": True})
    write_report(
        cfg,
        "train",
        {
            "train_fraud_rate": 0.05,
            "n_train": 3000,
            "leakage_violations": 0,
            "feature_version": "v1",
            "model_version": "1",
        },
    )
    online = spark.range(50).select(
        F.col("id").alias("customer_id"), *[F.lit(0.0).alias(c) for c in features.FEATURE_COLUMNS]
    )
    online.write.parquet(str(features.online_path(cfg)))

    client = train.mlflow_setup(cfg)
    pipeline, forest = train.build_pipeline(cfg)
    forest.setNumTrees(5).setMaxDepth(3)
    good = pipeline.fit(_synthetic(spark, 3000, seed=2))
    shuffled = _synthetic(spark, 3000, seed=3).withColumn("is_fraud", (F.rand(9) < 0.2).cast("int"))
    bad = pipeline.fit(shuffled)
    versions = {}
    for name, model in (("good", good), ("bad", bad)):
        with mlflow.start_run(run_name=name) as run:
            info = mlflow.spark.log_model(
                model, artifact_path="model", pip_requirements=train.MODEL_REQUIREMENTS
            )
            versions[name] = train.register(client, cfg, run.info.run_id, info.model_uri)
    return cfg, versions


def test_gate_with_real_models_promotes_better_rejects_worse_and_bad_data(spark, registry):
    cfg, versions = registry
    first = gate.run_gate(spark, cfg, candidate_version=versions["good"])
    assert first.promoted and first.champion_version is None and first.candidate_auc > 0.8

    worse = gate.run_gate(spark, cfg, candidate_version=versions["bad"])
    assert not worse.promoted and worse.champion_version == versions["good"]
    assert worse.candidate_auc < worse.champion_auc

    bad_data = {"quarantine_rate": gate.Check(0.3, "<= 0.05", False)}
    blocked = gate.run_gate(spark, cfg, candidate_version=versions["bad"], checks=bad_data)
    assert not blocked.promoted and any("quarantine_rate" in r for r in blocked.reasons)

    client = train.mlflow_setup(cfg)
    assert (
        str(client.get_model_version_by_alias(cfg.model_name, "champion").version)
        == versions["good"]
    )
    table = gate.read_decisions(cfg)
    assert list(table["promoted"]) == [True, False, False]
    tags = client.get_run(
        client.get_model_version(cfg.model_name, versions["bad"]).run_id
    ).data.tags
    assert tags["gate.promoted"] == "False"


def test_stream_scores_each_file_once_and_writes_by_batch_id(spark, registry):
    cfg, versions = registry
    client = train.mlflow_setup(cfg)
    client.set_registered_model_alias(cfg.model_name, "champion", versions["good"])
    incoming = serve.incoming(cfg)
    incoming.mkdir(parents=True, exist_ok=True)
    rows = (
        _synthetic(spark, 40, seed=4)
        .select(*[f.name for f in serve.STREAM_SCHEMA.fields])
        .toPandas()
    )
    for i in range(2):
        part = rows.iloc[i * 20 : (i + 1) * 20]
        part.to_json(incoming / f"f{i}.json", orient="records", lines=True, date_format="iso")

    batches = serve.run_stream(spark, cfg, "test")
    assert [b["rows"] for b in batches] == [20, 20]
    assert serve.run_stream(spark, cfg, "test") == []  # checkpoint: nothing new to do

    scored = spark.read.parquet(str(serve.stream_output(cfg)))
    assert scored.count() == 40
    assert scored.select("transaction_id").distinct().count() == 40
    assert {r[0] for r in scored.select("batch_id").distinct().collect()} == {0, 1}
    bounds = scored.agg(F.min("p_fraud"), F.max("p_fraud")).first()
    assert 0.0 <= bounds[0] <= bounds[1] <= 1.0
