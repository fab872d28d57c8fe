"""Card transactions with fraud drawn from a known probability (Bayes-optimal truth).

How a row is made (every number is a hash of the row id, the seed and a salt):

1. the row picks a customer; the customer's home city, typical ticket and
   activity are functions of ``customer_id`` (no customer table is joined);
2. a hidden "suspicious context" flag (about 4%) makes the transaction look
   like an attack: risky categories, online channel, night hours, far from
   home, large amount, many recent transactions. The flag only shapes the
   features; it is NOT the label;
3. the label ``is_fraud`` is drawn from ``p_fraud = f(features)``, an explicit
   logistic function of the features a model sees (with interactions), mixed
   with label noise (some frauds are never reported, a few legit transactions
   are charged back). So ``p_fraud`` is the Bayes-optimal score: no model can
   beat its ROC-AUC on these features except by chance.
"""

from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from coursekit.datasets._base import Dataset, Truth
from coursekit.datasets._lookups import CITY_DISTANCE_KM, CITY_NAMES, CITY_UF, CITY_WEIGHTS
from coursekit.datasets._random import (
    Rng,
    codegen_barrier,
    geometric_from,
    lookup,
    range_ids,
    round_to,
    sigmoid,
    weighted_choice,
    weighted_choice_by,
)

NAME = "transactions"
SIZES = {"ci": 20_000, "aula": 100_000, "grande": 50_000_000}
OPTIONS = {"drift": 0.0, "start": "2025-01-01", "days": 181}

SCHEMA = {
    "transaction_id": "bigint",
    "customer_id": "bigint",
    "timestamp": "timestamp",
    "amount": "double",
    "merchant_category": "string",
    "channel": "string",
    "city": "string",
    "state": "string",
    "hour": "int",
    "day_of_week": "int",
    "distance_from_home_km": "double",
    "avg_amount_30d": "double",
    "n_tx_24h": "int",
    "is_fraud": "int",
}
LABEL = "is_fraud"

#: (category, weight when normal, weight when suspicious, log-amount offset, fraud risk)
CATEGORIES = (
    ("supermercado", 18, 3, 0.0, -0.8),
    ("restaurante", 14, 3, -0.5, -0.5),
    ("posto_combustivel", 10, 3, 0.1, -0.2),
    ("farmacia", 9, 2, -0.6, -0.6),
    ("transporte", 8, 3, -1.0, -0.3),
    ("vestuario", 7, 6, 0.3, 0.1),
    ("saude_beleza", 6, 3, -0.2, -0.3),
    ("casa_construcao", 5, 4, 0.6, 0.0),
    ("entretenimento", 5, 5, -0.2, 0.2),
    ("educacao", 3, 1, 0.7, -0.7),
    ("servicos_digitais", 5, 10, -0.8, 0.6),
    ("viagens", 3, 9, 1.2, 0.5),
    ("eletronicos", 4, 18, 1.0, 0.9),
    ("games", 2, 12, -0.2, 0.8),
    ("joalheria", 1, 10, 1.3, 1.0),
)
CHANNELS = ("presencial", "app", "online")

_HOURS_NORMAL = (0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.2, 2.2, 3.0, 3.4, 3.8,
                 4.6, 4.2, 3.6, 3.4, 3.5, 3.9, 4.5, 4.8, 4.2, 3.0, 1.8, 0.8)  # fmt: skip
_HOURS_SUSPICIOUS = (2.6, 2.8, 3.0, 2.8, 2.4, 1.8, 1.2, 1.2, 1.5, 2.0, 2.0, 2.2,
                     2.4, 2.2, 2.0, 2.0, 2.0, 2.2, 2.4, 2.5, 2.6, 2.6, 2.5, 2.5)  # fmt: skip

#: Coefficients of the fraud log-odds (documented in the DATASHEET and returned in truth).
COEF = {
    "intercept": -7.3,
    "log_amount_ratio_pos": 1.5,  # max(0, ln(amount / avg_amount_30d))
    "log_distance_over_50km": 0.55,  # max(0, ln(1 + distance) - ln(51))
    "night": 0.9,  # hour in 0..5
    "online": 0.7,
    "app": 0.2,
    "category_risk": 1.0,  # times the category's risk value
    "n_tx_24h": 0.28,  # times min(n_tx_24h, 12)
    "night_x_online": 1.1,
    "ratio_gt_3_x_far": 1.2,  # amount > 3 x avg and distance > 100 km
    "digital_x_burst": 0.9,  # online/app, risky category (risk >= 0.5) and n_tx_24h >= 5
}
#: Label noise: share of frauds never reported, and of legit rows labelled fraud.
MISSED_FRAUD = 0.05
FALSE_FRAUD = 0.0004
SUSPICIOUS_RATE = 0.04


def fraud_logit(
    amount: Column,
    avg_amount: Column,
    distance_km: Column,
    hour: Column,
    channel: Column,
    category_risk: Column,
    n_tx_24h: Column,
) -> Column:
    """The true fraud log-odds as a function of the observed features only."""
    c = COEF
    ratio = F.log(amount / avg_amount)
    far = F.greatest(F.lit(0.0), F.log1p(distance_km) - F.lit(math.log(51.0)))
    night = (hour < 6).cast("double")
    online = (channel == "online").cast("double")
    app = (channel == "app").cast("double")
    n24 = F.least(n_tx_24h, F.lit(12)).cast("double")
    ratio_far = ((amount > avg_amount * 3) & (distance_km > 100)).cast("double")
    digital_burst = ((channel != "presencial") & (category_risk >= 0.5) & (n_tx_24h >= 5)).cast(
        "double"
    )
    return (
        F.lit(c["intercept"])
        + F.lit(c["log_amount_ratio_pos"]) * F.greatest(F.lit(0.0), ratio)
        + F.lit(c["log_distance_over_50km"]) * far
        + F.lit(c["night"]) * night
        + F.lit(c["online"]) * online
        + F.lit(c["app"]) * app
        + F.lit(c["category_risk"]) * category_risk
        + F.lit(c["n_tx_24h"]) * n24
        + F.lit(c["night_x_online"]) * night * online
        + F.lit(c["ratio_gt_3_x_far"]) * ratio_far
        + F.lit(c["digital_x_burst"]) * digital_burst
    )


def fraud_probability(logit: Column) -> Column:
    """P(is_fraud = 1 | features): the logistic model mixed with label noise."""
    return F.lit(FALSE_FRAUD) + F.lit(1.0 - MISSED_FRAUD - FALSE_FRAUD) * sigmoid(logit)


def _validate(options: dict) -> None:
    drift = options["drift"]
    if not isinstance(drift, int | float) or not 0.0 <= float(drift) <= 1.0:
        raise ValueError(
            f"A opção 'drift' de transactions deve ser um número em [0, 1]. Recebido: {drift!r}. "
            "Use, por exemplo, drift=0.5."
        )
    try:
        dt.date.fromisoformat(str(options["start"]))
    except ValueError:
        raise ValueError(
            f"A opção 'start' de transactions deve ser uma data 'AAAA-MM-DD'. Recebido: {options['start']!r}."
        ) from None
    days = options["days"]
    if not isinstance(days, int) or days <= 0:
        raise ValueError(
            f"A opção 'days' de transactions deve ser um inteiro > 0. Recebido: {days!r}."
        )


def build(
    spark: SparkSession, n: int, seed: int, partitions: int | None, options: dict, scale: str = "ci"
) -> Dataset:
    """Generate ``n`` transactions (see the module docstring)."""
    _validate(options)
    drift = float(options["drift"])
    days = int(options["days"])
    start = dt.date.fromisoformat(str(options["start"]))
    start_epoch = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    start_dow = (start.isoweekday() % 7) + 1  # Spark dayofweek: 1 = Sunday ... 7 = Saturday
    n_customers = max(50, n // 25)
    rng = Rng(seed, NAME)

    i = F.col("transaction_id")
    cid = F.col("customer_id")
    ids = range_ids(spark, n, partitions, "transaction_id")

    # Stage 1: raw draws. Each draw is its own column, so Spark computes each
    # hash once (a CASE chain over an inline hash would recompute it per branch).
    df = ids.select(
        i,
        F.floor(rng.uniform("customer", i) * F.lit(n_customers)).cast("long").alias("customer_id"),
        rng.bernoulli("suspicious", SUSPICIOUS_RATE, i).cast("int").alias("_s"),
        rng.uniform("category", i).alias("_u_cat"),
        rng.uniform("channel", i).alias("_u_chan"),
        rng.uniform("hour", i).alias("_u_hour"),
        rng.uniform("away", i).alias("_u_away"),
        rng.uniform("away.city", i).alias("_u_city"),
        rng.normal("amount", i).alias("_z_amount"),
        rng.normal("avg30", i).alias("_z_avg"),
        rng.uniform("local.km", i).alias("_u_km"),
        rng.uniform("n24", i).alias("_u_n24"),
        rng.uniform("n24.burst", i).alias("_u_burst"),
        rng.integer("second", 0, 3600, i).alias("_second"),
        rng.uniform("label", i).alias("_u_label"),
    )
    df = codegen_barrier(df, "transaction_id")
    # Stage 2: the customer's profile, a pure function of customer_id (no join).
    df = df.select(
        "*",
        rng.uniform("cust.home", cid).alias("_u_home"),
        (F.lit(math.log(90.0)) + F.lit(0.6) * rng.normal("cust.mu", cid)).alias("_mu"),
        F.exp(F.lit(math.log(1.2)) + F.lit(0.5) * rng.normal("cust.act", cid)).alias("_act"),
    )
    s = F.col("_s")
    cat_tables = [[c[1] for c in CATEGORIES], [c[2] for c in CATEGORIES]]
    channel_tables = [[0.55 - 0.25 * drift, 0.25, 0.20 + 0.25 * drift], [0.12, 0.25, 0.63]]
    away_p = F.when(s == 1, 0.5).otherwise(0.08 + 0.20 * drift)
    # Stage 3: categorical choices.
    df = df.select(
        "*",
        weighted_choice(F.col("_u_home"), CITY_WEIGHTS).alias("_home"),
        weighted_choice(F.col("_u_city"), CITY_WEIGHTS).alias("_away_city"),
        weighted_choice_by(F.col("_u_cat"), s, cat_tables).alias("_cat"),
        weighted_choice_by(F.col("_u_chan"), s, channel_tables).alias("_chan"),
        weighted_choice_by(F.col("_u_hour"), s, [_HOURS_NORMAL, _HOURS_SUSPICIOUS]).alias("hour"),
        F.floor(i * F.lit(days) / F.lit(n)).cast("long").alias("_day"),
    )
    away = (F.col("_u_away") < away_p) & (F.col("_away_city") != F.col("_home"))
    cat_offset = lookup([c[3] for c in CATEGORIES], F.col("_cat"))
    amount_sd = F.when(s == 1, 0.8).otherwise(0.55)
    amount_shift = F.when(s == 1, 1.1).otherwise(0.0) + F.lit(0.35 * drift)
    log_amount = F.col("_mu") + cat_offset + amount_shift + amount_sd * F.col("_z_amount")
    local_km = -F.log(F.col("_u_km")) * F.when(s == 1, 8.0).otherwise(4.0 + 4.0 * drift)
    n24 = geometric_from(F.col("_u_n24"), F.col("_act")) + F.when(
        s == 1, geometric_from(F.col("_u_burst"), F.lit(3.0))
    ).otherwise(0)
    df = codegen_barrier(df, "transaction_id")
    # Stage 4: numeric features.
    df = df.select(
        "*",
        F.when(away, F.col("_away_city")).otherwise(F.col("_home")).alias("_city"),
        F.greatest(F.lit(1.0), round_to(F.exp(log_amount), 2)).alias("amount"),
        round_to(F.exp(F.col("_mu") + F.lit(0.17) + F.lit(0.12) * F.col("_z_avg")), 2).alias(
            "avg_amount_30d"
        ),
        n24.alias("n_tx_24h"),
        local_km.alias("_local_km"),
    )
    city = F.col("_city")
    distance = lookup(CITY_DISTANCE_KM, F.col("_home") * F.lit(len(CITY_NAMES)) + city)
    seconds = F.lit(start_epoch) + F.col("_day") * 86400 + F.col("hour") * 3600 + F.col("_second")
    # Stage 5: the remaining columns.
    df = df.select(
        "*",
        round_to(distance + F.col("_local_km"), 2).alias("distance_from_home_km"),
        F.timestamp_seconds(seconds).alias("timestamp"),
        (F.pmod(F.col("_day") + F.lit(start_dow - 1), F.lit(7)) + 1)
        .cast("int")
        .alias("day_of_week"),
        lookup([c[0] for c in CATEGORIES], F.col("_cat")).alias("merchant_category"),
        lookup(list(CHANNELS), F.col("_chan")).alias("channel"),
        lookup(CITY_NAMES, city).alias("city"),
        lookup(CITY_UF, city).alias("state"),
        lookup([c[4] for c in CATEGORIES], F.col("_cat")).alias("_risk"),
    )
    logit = fraud_logit(
        F.col("amount"),
        F.col("avg_amount_30d"),
        F.col("distance_from_home_km"),
        F.col("hour"),
        F.col("channel"),
        F.col("_risk"),
        F.col("n_tx_24h"),
    )
    df = df.withColumn("p_fraud", fraud_probability(logit))
    df = df.withColumn("is_fraud", (F.col("_u_label") < F.col("p_fraud")).cast("int"))
    full = df.select(*[F.col(c).cast(t).alias(c) for c, t in SCHEMA.items()], F.col("p_fraud"))
    full = codegen_barrier(full, "transaction_id")
    features = full.select(*SCHEMA)
    probabilities = full.select("transaction_id", "p_fraud")

    params = {
        "coefficients": dict(COEF),
        "category_risk": {c[0]: c[4] for c in CATEGORIES},
        "missed_fraud_rate": MISSED_FRAUD,
        "false_fraud_rate": FALSE_FRAUD,
        "suspicious_context_rate": SUSPICIOUS_RATE,
        "n_customers": n_customers,
        "drift": drift,
        "start": start.isoformat(),
        "days": days,
        "formula": (
            "p_fraud = false_fraud_rate + (1 - missed_fraud_rate - false_fraud_rate) * sigmoid(logit); "
            "logit = intercept + sum(coefficient * term), terms as named in 'coefficients'"
        ),
    }
    truth = Truth(
        {
            "fraud_probability": probabilities,
            "fraud_rate": lambda: _rate(full),
            "expected_fraud_rate": lambda: _expected_rate(full),
            "bayes_auc": lambda: _bayes_metric(full, "areaUnderROC"),
            "bayes_pr_auc": lambda: _bayes_metric(full, "areaUnderPR"),
            "params": params,
        }
    )
    return Dataset(NAME, scale, seed, n, features, {}, truth, dict(options))


def _rate(df: DataFrame) -> float:
    return float(df.agg(F.avg("is_fraud")).first()[0])


def _expected_rate(df: DataFrame) -> float:
    return float(df.agg(F.avg("p_fraud")).first()[0])


def _bayes_metric(df: DataFrame, metric: str) -> float:
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol="p_fraud", labelCol="is_fraud", metricName=metric
    )
    scored = df.select(F.col("p_fraud"), F.col("is_fraud").cast("double").alias("is_fraud"))
    return float(evaluator.evaluate(scored))
