"""Tests of coursekit.datasets: determinism, truth, learnability, validation, CLI, samples."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from coursekit.constants import ANOMALY_TYPES, DATASETS
from coursekit.datasets import (
    SchemaError,
    check_schema,
    default_size,
    generate,
    load_csv,
    schema_of,
)

pytestmark = pytest.mark.spark

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"

#: Small sizes for the partitioning tests (n means users for ratings, days for sales).
SMALL = {
    "transactions": 3_000,
    "ratings": 40,
    "customers": 1_000,
    "sales": 60,
    "reviews": 1_000,
    "anomalies": 3_000,
}


def checksum(df) -> tuple[int, int]:
    """Order-independent fingerprint: row count and the sum of a hash of every row."""
    row_hash = F.xxhash64(*[F.col(c) for c in df.columns]).cast("decimal(38,0)")
    row = df.agg(F.count(F.lit(1)).alias("n"), F.sum(row_hash).alias("h")).first()
    return int(row["n"]), int(row["h"] or 0)


def fingerprints(ds) -> dict[str, tuple[int, int]]:
    frames = {"df": ds.df, **ds.tables}
    # truth frames that are cheap at this size (top10 needs a cross join; checked elsewhere)
    for key in ("fraud_probability", "segments", "expected", "true_sentiment", "labels"):
        if key in ds.truth:
            frames[f"truth.{key}"] = ds.truth[key]
    return {key: checksum(frame) for key, frame in frames.items()}


# --- determinism ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS)
def test_same_rows_for_1_and_7_partitions(spark, name):
    one = fingerprints(generate(name, spark, n=SMALL[name], partitions=1))
    seven = fingerprints(generate(name, spark, n=SMALL[name], partitions=7))
    assert one == seven
    assert all(n > 0 for n, _ in one.values())


def test_another_seed_gives_other_rows(spark):
    a = checksum(generate("transactions", spark, n=2_000, seed=1).df)
    b = checksum(generate("transactions", spark, n=2_000, seed=2).df)
    assert a[0] == b[0] and a[1] != b[1]


@pytest.mark.parametrize("name", DATASETS)
def test_schema_matches_the_datasheet(spark, name):
    ds = generate(name, spark, n=SMALL[name])
    assert dict(ds.df.dtypes) == schema_of(name)
    assert list(ds.df.columns) == list(schema_of(name))
    assert (ds.name, ds.scale, ds.seed, ds.n) == (name, "ci", 42, SMALL[name])
    datasheet = (ROOT / "data" / "DATASHEET.md").read_text()
    for column in schema_of(name):
        assert column in datasheet, f"{name}.{column} is not documented in data/DATASHEET.md"


@pytest.mark.skipif(
    os.environ.get("SPARK_REMOTE") is not None, reason="codegen stats need classic mode"
)
@pytest.mark.parametrize("name", DATASETS)
def test_generated_code_stays_jit_compilable(spark, name):
    """No generated Java method above HotSpot's 8,000-byte JIT limit (else 5-10x slower)."""
    ds = generate(name, spark, n=SMALL[name])
    buffer = io.StringIO()
    adaptive = spark.conf.get("spark.sql.adaptive.enabled")
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # AQE plans show no codegen stats
    try:
        with contextlib.redirect_stdout(buffer):
            ds.df.explain(mode="codegen")
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", adaptive)
    sizes = [int(x) for x in re.findall(r"maxMethodCodeSize:(\d+)", buffer.getvalue())]
    assert sizes and max(sizes) < 8000, sizes


# --- transactions --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def transactions(spark):
    return generate("transactions", spark, scale="ci")


def test_fraud_rate_and_bayes_auc_in_band(transactions):
    truth = transactions.truth
    assert 0.01 <= truth["fraud_rate"] <= 0.02
    assert truth["fraud_rate"] == pytest.approx(truth["expected_fraud_rate"], abs=0.003)
    assert 0.92 <= truth["bayes_auc"] <= 0.98
    assert truth["fraud_rate"] < truth["bayes_pr_auc"] < truth["bayes_auc"]
    assert "p_fraud" not in transactions.df.columns


def test_p_fraud_is_the_documented_function_of_the_features(transactions):
    from coursekit.datasets import transactions as tx

    risk = F.element_at(
        F.create_map(*[F.lit(x) for c in tx.CATEGORIES for x in (c[0], c[4])]),
        F.col("merchant_category"),
    )
    logit = tx.fraud_logit(
        F.col("amount"),
        F.col("avg_amount_30d"),
        F.col("distance_from_home_km"),
        F.col("hour"),
        F.col("channel"),
        risk,
        F.col("n_tx_24h"),
    )
    joined = transactions.df.join(transactions.truth["fraud_probability"], "transaction_id")
    worst = joined.agg(F.max(F.abs(tx.fraud_probability(logit) - F.col("p_fraud")))).first()[0]
    assert worst < 1e-12
    assert not any("day" in term for term in transactions.truth["params"]["coefficients"])


def test_transactions_look_brazilian(transactions):
    df = transactions.df
    row = df.agg(
        F.min("timestamp"),
        F.max("timestamp"),
        F.countDistinct("merchant_category"),
        F.countDistinct("state"),
        F.expr("percentile(amount, 0.5)"),
    ).first()
    assert str(row[0]).startswith("2025-01") and str(row[1]).startswith("2025-06")
    assert row[2] == 15 and row[3] >= 20
    assert 30 < row[4] < 300  # median ticket in R$
    assert set(r[0] for r in df.select("channel").distinct().collect()) == {
        "online",
        "presencial",
        "app",
    }
    hours = df.where(F.hour("timestamp") != F.col("hour")).count()
    days = df.where(F.dayofweek("timestamp") != F.col("day_of_week")).count()
    assert hours == 0 and days == 0


def test_drift_shifts_amount_distance_and_channel(spark):
    def profile(drift):
        df = generate("transactions", spark, n=20_000, drift=drift).df
        return df.agg(
            F.avg(F.log("amount")),
            F.avg((F.col("distance_from_home_km") > 100).cast("double")),
            F.avg((F.col("channel") == "online").cast("double")),
        ).first()

    base, drifted = profile(0.0), profile(1.0)
    assert drifted[0] > base[0] + 0.2
    assert drifted[1] > base[1] + 0.1
    assert drifted[2] > base[2] + 0.15


# --- ratings -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ratings(spark):
    return generate("ratings", spark, scale="ci")


def test_als_reaches_the_noise_floor(ratings):
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS

    train, test = ratings.df.randomSplit([0.8, 0.2], seed=42)
    als = ALS(
        userCol="user_id",
        itemCol="item_id",
        ratingCol="rating",
        rank=ratings.truth["rank"],
        regParam=0.05,
        maxIter=10,
        seed=42,
        coldStartStrategy="drop",
    )
    model = als.fit(train)
    rmse = RegressionEvaluator(labelCol="rating", metricName="rmse").evaluate(model.transform(test))
    sigma, floor = ratings.truth["sigma"], ratings.truth["rmse_floor"]
    assert floor == pytest.approx(sigma, rel=0.05)
    assert rmse < 1.3 * sigma
    assert rmse <= 1.15 * floor
    assert ratings.truth["mae_floor"] < floor


def test_ratings_truth_is_consistent(ratings):
    truth = ratings.truth
    counts = ratings.df.groupBy("user_id").count().agg(F.min("count"), F.avg("count")).first()
    assert counts[0] >= 30 and counts[1] >= 50  # dense enough for ALS at ci scale
    # augmented factors reproduce the expected ratings exactly
    u = truth["user_factors"].withColumnRenamed("features", "p")
    i = truth["item_factors"].withColumnRenamed("features", "q")
    dot = F.aggregate(F.zip_with("p", "q", lambda a, b: a * b), F.lit(0.0), lambda acc, x: acc + x)
    check = truth["expected"].join(u, "user_id").join(i, "item_id")
    assert check.agg(F.max(F.abs(dot - F.col("expected_rating")))).first()[0] < 1e-9
    assert truth["rank"] == truth["latent_rank"] + 2
    # top-10: ten items per user, none of them already rated
    top = truth["top10"]
    assert top.count() == ratings.n
    assert top.where(F.size("items") != 10).count() == 0
    seen = top.select("user_id", F.explode("items").alias("item_id")).join(
        ratings.df, ["user_id", "item_id"]
    )
    assert seen.count() == 0


def test_item_descriptions_carry_the_category_signal(ratings):
    items = ratings.tables["items"]
    assert items.count() == ratings.truth["params"]["n_items"]
    rows = items.collect()
    assert all(r.description and r.title and r.tags for r in rows)
    assert len({r.category for r in rows}) == 8
    # words of the "technology" side appear only in items on that side of factor 0
    tech = {"tecnologia", "digital", "bluetooth", "inteligente", "bateria", "aplicativo"}
    techy_categories = {
        "Acessórios de Informática",
        "Eletrônicos",
        "Brinquedos Eletrônicos",
        "Games",
    }
    for r in rows:
        if set(re.findall(r"\w+", r.tags.lower())) & tech:
            assert r.category in techy_categories


# --- customers -----------------------------------------------------------------------------


def test_kmeans_recovers_the_segments(spark):
    from pyspark.ml import Pipeline
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.evaluation import ClusteringEvaluator
    from pyspark.ml.feature import StandardScaler, VectorAssembler
    from sklearn.metrics import adjusted_rand_score

    ds = generate("customers", spark, scale="ci")
    k_true = ds.truth["k"]
    prep = Pipeline(
        stages=[
            VectorAssembler(inputCols=ds.truth["feature_columns"], outputCol="raw"),
            StandardScaler(inputCol="raw", outputCol="features", withMean=True),
        ]
    ).fit(ds.df)
    data = prep.transform(ds.df).select("customer_id", "features").cache()
    silhouettes = {}
    for k in (k_true - 1, k_true, k_true + 1):
        predictions = KMeans(k=k, seed=42).fit(data).transform(data)
        silhouettes[k] = ClusteringEvaluator().evaluate(predictions)
        if k == k_true:
            pdf = predictions.join(ds.truth["segments"], "customer_id").toPandas()
            ari = adjusted_rand_score(pdf["segment"], pdf["prediction"])
    data.unpersist()
    assert ari > 0.9
    assert max(silhouettes, key=silhouettes.get) == k_true, silhouettes
    assert set(ds.truth["segment_sizes"]) == set(range(k_true))


# --- sales ---------------------------------------------------------------------------------


def test_sales_history_holidays_and_floor(spark):
    ds = generate("sales", spark, scale="ci")
    df = ds.df
    span = df.agg(F.datediff(F.max("date"), F.min("date"))).first()[0]
    assert span >= 2 * 365  # yearly seasonality and lag-364/365 features need two years
    series = df.select("store_id", "product_id").distinct().count()
    assert df.count() == series * ds.n
    carnaval = df.where(F.col("date") == "2024-02-13").select("is_holiday", "holiday_name").first()
    assert carnaval["is_holiday"] == 1 and carnaval["holiday_name"] == "Carnaval"
    assert df.where((F.col("is_holiday") == 1) != F.col("holiday_name").isNotNull()).count() == 0
    mean_units = df.agg(F.avg("units")).first()[0]
    mae, rmse = ds.truth["mae_floor"], ds.truth["rmse_floor"]
    assert 0 < mae < rmse < mean_units
    joined = df.join(ds.truth["expected"], ["date", "store_id", "product_id"])
    assert joined.count() == df.count()
    assert joined.where(F.col("expected_units") <= 0).count() == 0


# --- reviews -------------------------------------------------------------------------------


def test_reviews_are_portuguese_and_learnable(spark):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.feature import IDF, HashingTF, RegexTokenizer

    ds = generate("reviews", spark, scale="ci")
    texts = [r.text for r in ds.df.limit(200).collect()]
    assert all(t and len(t) > 10 for t in texts)
    joined = " ".join(texts).lower()
    for marker in (" não ", " muito ", "produto", "recomendo"):
        assert marker in f" {joined} ", marker
    assert ds.truth["observed_noise"] == pytest.approx(ds.truth["label_noise"], abs=0.015)
    positive, negative = set(ds.truth["positive_words"]), set(ds.truth["negative_words"])
    assert {"excelente", "exelente", "ótima"} <= positive and {"péssimo", "ruin"} <= negative
    assert not positive & negative, "a word of the lexicon is both positive and negative"
    words = set(joined.replace(",", " ").replace(".", " ").split())
    assert positive & words and negative & words, "the texts use the lexicon"
    train, test = ds.df.randomSplit([0.8, 0.2], seed=42)
    pipeline = Pipeline(
        stages=[
            RegexTokenizer(inputCol="text", outputCol="words", pattern="\\W+"),
            HashingTF(inputCol="words", outputCol="tf", numFeatures=1 << 14),
            IDF(inputCol="tf", outputCol="features"),
            LogisticRegression(labelCol="sentiment", maxIter=30, regParam=0.01),
        ]
    )
    scored = pipeline.fit(train).transform(test)
    accuracy = MulticlassClassificationEvaluator(
        labelCol="sentiment", metricName="accuracy"
    ).evaluate(scored)
    assert ds.truth["accuracy_ceiling"] - 0.05 <= accuracy <= ds.truth["accuracy_ceiling"] + 0.02


# --- anomalies -----------------------------------------------------------------------------


def test_anomaly_kinds_present_and_detectable(spark):
    ds = generate("anomalies", spark, scale="ci")
    labels = ds.truth["labels"]
    assert "is_anomaly" not in ds.df.columns and "anomaly_type" not in ds.df.columns
    assert 0.01 <= ds.truth["anomaly_rate"] <= 0.03
    assert set(ds.truth["counts"]) == set(ANOMALY_TYPES)
    rows = ds.df.join(labels, "transaction_id")
    speed = F.col("implied_speed_kmh")
    stats = {
        r["anomaly_type"]: r
        for r in rows.groupBy("anomaly_type")
        .agg(
            F.expr("percentile(amount_z, 0.5)").alias("z"),
            F.expr("percentile(n_tx_1h, 0.5)").alias("n1h"),
            F.avg((speed > 500).cast("double")).alias("fast"),
        )
        .collect()
    }
    assert stats["amount_spike"]["z"] > 3 > stats[None]["z"]
    assert stats["burst"]["n1h"] >= 3 > stats[None]["n1h"]
    assert stats["impossible_travel"]["fast"] > 0.9 > 0.1 > stats[None]["fast"]


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"name": "fraude"}, ValueError, r"desconhecido: 'fraude'.*transactions, ratings"),
        ({"scale": "gigante"}, ValueError, r"'scale'.*'ci', 'aula', 'grande'.*Recebido: 'gigante'"),
        ({"n": 0}, ValueError, r"'n' deve ser > 0\. Recebido: 0"),
        ({"n": -5}, ValueError, r"Recebido: -5"),
        ({"n": 10.5}, TypeError, r"'n' deve ser um inteiro"),
        ({"seed": "42"}, TypeError, r"'seed' deve ser um inteiro"),
        ({"colour": "red"}, ValueError, r"Opção desconhecida.*colour.*Opções válidas: days, drift"),
        ({"drift": 1.5}, ValueError, r"'drift'.*\[0, 1\]\. Recebido: 1\.5"),
        ({"partitions": 0}, ValueError, r"'partitions'.*Recebido: 0"),
    ],
)
def test_arguments_are_validated(spark, kwargs, error, pattern):
    args = {"name": "transactions", **kwargs}
    name = args.pop("name")
    with pytest.raises(error, match=pattern):
        generate(name, spark, **args)


def test_sizes_per_scale_grow():
    for name in DATASETS:
        sizes = [default_size(name, scale) for scale in ("ci", "aula", "grande")]
        assert sizes == sorted(sizes) and sizes[0] < sizes[2], name
    assert default_size("transactions", "grande") >= 50_000_000


# --- loaders and samples -------------------------------------------------------------------


def test_samples_are_small_and_load_with_their_schema(spark):
    files = sorted(SAMPLES.glob("*.csv"))
    assert {p.stem for p in files} >= set(DATASETS)
    assert sum(p.stat().st_size for p in files) < 2 * 1024 * 1024
    for name in DATASETS:
        df = load_csv(name, SAMPLES / f"{name}.csv", spark)
        assert dict(df.dtypes) == schema_of(name)
        assert 100 <= df.count() <= 1000


def test_schema_errors_name_missing_and_mistyped_columns(spark, tmp_path):
    bad = tmp_path / "fraud.csv"
    bad.write_text(
        "transaction_id,customer_id,timestamp,valor,merchant_category,channel,city,state,"
        "hour,day_of_week,distance_from_home_km,avg_amount_30d,n_tx_24h,is_fraud\n"
        "1,7,2025-01-02 10:00:00,99.9,farmacia,app,Natal,RN,meio-dia,5,1.0,80.0,0,0\n"
    )
    with pytest.raises(SchemaError) as info:
        load_csv("transactions", bad, spark)
    message = str(info.value)
    assert "coluna ausente: 'amount'" in message
    assert "coluna 'hour'" in message and "'meio-dia'" in message
    assert "Colunas encontradas: ['transaction_id'" in message and "'valor'" in message
    # the same file passes once the column is renamed and the label is not required
    df = spark.read.option("header", True).csv(str(bad)).withColumnRenamed("valor", "amount")
    ok = check_schema(df.withColumn("hour", F.lit("10")), "transactions")
    assert dict(ok.dtypes)["amount"] == "double"
    with pytest.raises(FileNotFoundError, match="não encontrado"):
        load_csv("transactions", tmp_path / "nope.csv", spark)


# --- CLI -----------------------------------------------------------------------------------


def test_cli_writes_parquet_then_skips(spark, tmp_path, capsys):
    from coursekit.datasets.__main__ import main
    from coursekit.datasets.store import read_dataset

    argv = ["generate", "--scale", "ci", "--out", str(tmp_path), "--only", "customers", "sales"]
    main(argv, spark=spark)
    first = capsys.readouterr().out
    assert "customers: df (2,000 linhas)" in first and "truth.json" in first
    assert "2 gravado(s), 0 pulado(s)" in first
    folder = tmp_path / "ci" / "customers"
    assert (folder / "df").is_dir() and (folder / "truth" / "segments").is_dir()
    assert json.loads((folder / "truth.json").read_text())["k"] == 5
    main(argv, spark=spark)
    assert "0 gravado(s), 2 pulado(s)" in capsys.readouterr().out
    main([*argv, "--force"], spark=spark)
    assert "2 gravado(s)" in capsys.readouterr().out
    back = read_dataset("sales", spark, tmp_path, scale="ci")
    assert back.df.count() == generate("sales", spark, scale="ci").df.count()
    with pytest.raises(FileNotFoundError, match="--only reviews"):
        read_dataset("reviews", spark, tmp_path, scale="ci")


# --- scale: 10 million rows with a 1 GB driver ---------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(os.environ.get("SPARK_REMOTE") is not None, reason="starts a classic session")
def test_ten_million_transactions_with_a_1g_driver(tmp_path):
    """Rows are never held by the driver: 10M rows go to Parquet with spark.driver.memory=1g."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from pyspark.sql import functions as F
        from coursekit.datasets import generate
        from coursekit.session import get_spark
        spark = get_spark("datasets-10m", {{"spark.sql.shuffle.partitions": "4"}})
        out = {str(tmp_path / "tx")!r}
        generate("transactions", spark, n=10_000_000).df.write.mode("overwrite").parquet(out)
        back = spark.read.parquet(out)
        row = back.agg(F.count("*"), F.avg("is_fraud")).first()
        memory = spark.sparkContext.getConf().get("spark.driver.memory")
        print(json.dumps({{"rows": row[0], "rate": row[1], "memory": memory}}))
        spark.stop()
        """
    )
    env = {**os.environ, "COURSEKIT_DRIVER_MEMORY": "1g", "COURSEKIT_UI": "0"}
    env.pop("COURSEKIT_JAVA_OPTS", None)  # make test's C1-only JIT: 115 s here instead of ~60 s
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=880
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"rows": 10_000_000, "rate": pytest.approx(0.015, abs=0.006), "memory": "1g"}


# --- the grader's dataset cache ------------------------------------------------------------


def test_dataset_cache_writes_once_and_reads_the_same_rows(spark, tmp_path, monkeypatch):
    """With COURSEKIT_DATASET_CACHE, generate() writes a dataset once, then reads that copy back;
    a read-only cache is only read; other options are other entries."""
    from coursekit.datasets.store import CACHE_ENV, MARKER

    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv(CACHE_ENV, str(cache))
    first = generate("customers", spark, scale="ci", seed=7)
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 1 and entries[0].startswith("customers-ci-")
    marker = cache / entries[0] / MARKER
    written = marker.stat().st_mtime_ns
    again = generate("customers", spark, scale="ci", seed=7)
    assert marker.stat().st_mtime_ns == written  # read, not written again
    monkeypatch.delenv(CACHE_ENV)
    fresh = generate("customers", spark, scale="ci", seed=7)
    cols = fresh.df.columns
    assert first.df.columns == again.df.columns == cols
    key = cols[0]
    assert sorted(map(tuple, again.df.orderBy(key).collect())) == sorted(
        map(tuple, fresh.df.orderBy(key).collect())
    )
    assert again.truth["k"] == fresh.truth["k"] == 5
    assert again.scale == "ci" and again.seed == 7 and again.n == fresh.n
    # another seed is another entry, but a cache the process cannot write (the sandbox's
    # read-only mount) is only read: the dataset is generated and nothing is written
    import coursekit.datasets.store as store

    monkeypatch.setenv(CACHE_ENV, str(cache))
    monkeypatch.setattr(store.os, "access", lambda path, mode: False)
    other = generate("customers", spark, scale="ci", seed=8)
    assert other.df.count() == fresh.df.count()
    assert len(list(cache.iterdir())) == 1
    # the grader's hidden inputs: inside no_cache() the cache is neither read nor written
    monkeypatch.undo()
    monkeypatch.setenv(CACHE_ENV, str(cache))
    with store.no_cache():
        hidden = generate("customers", spark, scale="ci", seed=9)
        cached = generate("customers", spark, scale="ci", seed=7)
    assert hidden.df.count() == fresh.df.count()
    assert len(list(cache.iterdir())) == 1, "no_cache() wrote to the cache"
    assert not any(str(cache) in f for f in cached.df.inputFiles()), "no_cache() read the cache"
    assert any(str(cache) in f for f in again.df.inputFiles()), "the cached copy is read back"
