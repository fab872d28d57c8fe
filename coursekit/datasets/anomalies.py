"""Card transactions per customer with three kinds of injected anomaly.

Each customer has a home city, a typical ticket and a typical gap between
purchases; its transactions follow in time (``seq`` = 0, 1, 2, ...). Some
rows are replaced by anomalies:

- ``amount_spike``: the amount is 8–20x the customer's typical ticket;
- ``impossible_travel``: a purchase in one of the cities farthest from home,
  20–90 minutes after the previous one (hundreds of km/h);
- ``burst``: a block of 6 purchases squeezed into a few minutes, small
  online amounts (card testing); the 5 rows after the first are labelled.

Per-row features (``distance_from_prev_km``, ``seconds_since_prev``,
``implied_speed_kmh``, ``n_tx_1h``, ``amount_z``...) come from window functions over each
customer's history. Labels are only in ``truth["labels"]``.
"""

from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

from coursekit.datasets._base import Dataset, Truth
from coursekit.datasets._lookups import CITIES, CITY_LAT, CITY_LON, CITY_WEIGHTS, haversine_km
from coursekit.datasets._random import Rng, lookup, range_ids, round_to, weighted_choice
from coursekit.datasets._random import haversine_km as haversine_col

NAME = "anomalies"
SIZES = {"ci": 20_000, "aula": 200_000, "grande": 50_000_000}
OPTIONS = {"start": "2025-01-01"}
TX_PER_CUSTOMER = 40
SPIKE_RATE = 0.008
TRAVEL_RATE = 0.008
BURST_BLOCK_RATE = 0.004
BURST_SIZE = 6
FAR_CITIES = 5

SCHEMA = {
    "transaction_id": "bigint",
    "customer_id": "bigint",
    "timestamp": "timestamp",
    "amount": "double",
    "merchant_category": "string",
    "channel": "string",
    "lat": "double",
    "lon": "double",
    "distance_from_home_km": "double",
    "distance_from_prev_km": "double",
    "seconds_since_prev": "double",
    "implied_speed_kmh": "double",
    "n_tx_1h": "int",
    "amount_z": "double",
}
CATEGORIES = ("supermercado", "restaurante", "posto_combustivel", "farmacia", "vestuario",
              "eletronicos", "servicos_digitais", "viagens")  # fmt: skip
CATEGORY_WEIGHTS = (25, 20, 12, 10, 10, 8, 10, 5)
CHANNELS = ("presencial", "app", "online")
CHANNEL_WEIGHTS = (0.6, 0.25, 0.15)

#: For each home city, its FAR_CITIES farthest cities (flattened).
FAR_TABLE = [
    j
    for a in CITIES
    for j in sorted(
        range(len(CITIES)), key=lambda k: -haversine_km(a[2], a[3], CITIES[k][2], CITIES[k][3])
    )[:FAR_CITIES]
]


def build(
    spark: SparkSession, n: int, seed: int, partitions: int | None, options: dict, scale: str = "ci"
) -> Dataset:
    """Generate ``n`` transactions with injected anomalies and their labels."""
    try:
        start = dt.date.fromisoformat(str(options["start"]))
    except ValueError:
        raise ValueError(
            f"A opção 'start' de anomalies deve ser uma data 'AAAA-MM-DD'. Recebido: {options['start']!r}."
        ) from None
    start_epoch = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    n_customers = max(10, n // TX_PER_CUSTOMER)
    rng = Rng(seed, NAME)
    tid, cid, seq = F.col("transaction_id"), F.col("customer_id"), F.col("_seq")
    gap = F.lit(3600.0) * (F.lit(12.0) + F.lit(36.0) * rng.uniform("gap", cid))  # seconds

    def normal_time(s):
        return (
            F.lit(float(start_epoch))
            + s * gap
            + F.lit(0.4) * gap * (rng.uniform("jitter", cid, s) - 0.5)
        )

    df = range_ids(spark, n, partitions, "transaction_id").select(
        tid,
        (tid % n_customers).alias("customer_id"),
        (tid / n_customers).cast("long").alias("_seq"),
    )
    block = (seq / BURST_SIZE).cast("long")
    in_burst = rng.bernoulli("burst", BURST_BLOCK_RATE, cid, block) & (seq % BURST_SIZE > 0)
    u_kind = rng.uniform("kind", tid)
    kind = (
        F.when(in_burst, F.lit("burst"))
        .when(u_kind < SPIKE_RATE, F.lit("amount_spike"))
        .when((u_kind < SPIKE_RATE + TRAVEL_RATE) & (seq > 0), F.lit("impossible_travel"))
    )
    home = weighted_choice(rng.uniform("home", cid), CITY_WEIGHTS)
    df = df.select("*", kind.alias("anomaly_type"), home.alias("_home"))
    k = F.col("anomaly_type")
    far_city = lookup(
        FAR_TABLE, F.col("_home") * F.lit(FAR_CITIES) + rng.integer("far", 0, FAR_CITIES, tid)
    )
    city = F.when(k == "impossible_travel", far_city).otherwise(F.col("_home"))
    seconds = (
        F.when(k == "burst", normal_time(block * BURST_SIZE) + (seq % BURST_SIZE) * (F.lit(30.0) + F.lit(90.0) * rng.uniform("burst_gap", tid)))
        .when(k == "impossible_travel", normal_time(seq - 1) + F.lit(60.0) * (F.lit(20.0) + F.lit(70.0) * rng.uniform("travel_gap", tid)))
        .otherwise(normal_time(seq))
    )  # fmt: skip
    mu = F.lit(math.log(80.0)) + F.lit(0.6) * rng.normal("ticket", cid)
    log_amount = mu + F.lit(0.45) * rng.normal("amount", tid)
    amount = (
        F.when(
            k == "amount_spike", F.exp(mu) * (F.lit(8.0) + F.lit(12.0) * rng.uniform("spike", tid))
        )
        .when(k == "burst", F.lit(1.0) + F.lit(19.0) * rng.uniform("small", tid))
        .otherwise(F.exp(log_amount))
    )
    jitter_km = 0.05  # degrees of jitter around a city centre (~5 km)
    df = df.select(
        "transaction_id",
        "customer_id",
        "anomaly_type",
        F.timestamp_seconds(F.floor(seconds).cast("long")).alias("timestamp"),
        round_to(amount, 2).alias("amount"),
        lookup(
            list(CATEGORIES), weighted_choice(rng.uniform("category", tid), CATEGORY_WEIGHTS)
        ).alias("merchant_category"),
        F.when(k == "burst", F.lit("online"))
        .otherwise(
            lookup(list(CHANNELS), weighted_choice(rng.uniform("channel", tid), CHANNEL_WEIGHTS))
        )
        .alias("channel"),
        round_to(lookup(list(CITY_LAT), city) + F.lit(jitter_km) * rng.normal("lat", tid), 5).alias(
            "lat"
        ),
        round_to(lookup(list(CITY_LON), city) + F.lit(jitter_km) * rng.normal("lon", tid), 5).alias(
            "lon"
        ),
        lookup(list(CITY_LAT), F.col("_home")).alias("_home_lat"),
        lookup(list(CITY_LON), F.col("_home")).alias("_home_lon"),
    )
    history = Window.partitionBy("customer_id").orderBy("timestamp", "transaction_id")
    last_hour = (
        Window.partitionBy("customer_id")
        .orderBy(F.col("timestamp").cast("long"))
        .rangeBetween(-3600, 0)
    )
    whole = Window.partitionBy("customer_id")
    prev_lat, prev_lon = F.lag("lat").over(history), F.lag("lon").over(history)
    prev_ts = F.lag(F.col("timestamp").cast("long")).over(history)
    df = df.select(
        "*",
        round_to(haversine_col(F.col("_home_lat"), F.col("_home_lon"), F.col("lat"), F.col("lon")), 2).alias("distance_from_home_km"),
        round_to(F.when(prev_lat.isNull(), F.lit(0.0)).otherwise(haversine_col(prev_lat, prev_lon, F.col("lat"), F.col("lon"))), 2).alias("distance_from_prev_km"),
        F.coalesce((F.col("timestamp").cast("long") - prev_ts).cast("double"), F.lit(86400.0 * 30)).alias("seconds_since_prev"),
        F.count("*").over(last_hour).cast("int").alias("n_tx_1h"),
        round_to((F.col("amount") - F.avg("amount").over(whole)) / F.stddev("amount").over(whole), 4).alias("amount_z"),
    )  # fmt: skip
    # km/h needed to go from the previous purchase to this one (gaps under a minute count as 1 min)
    speed = F.col("distance_from_prev_km") / F.greatest(F.col("seconds_since_prev"), F.lit(60.0))
    df = df.withColumn("implied_speed_kmh", round_to(speed * F.lit(3600.0), 1))
    features = df.select(*[F.col(c).cast(t).alias(c) for c, t in SCHEMA.items()])
    labels = df.select(
        "transaction_id",
        F.col("anomaly_type").isNotNull().cast("int").alias("is_anomaly"),
        "anomaly_type",
    )
    truth = Truth(
        {
            "labels": labels,
            "anomaly_rate": lambda: float(labels.agg(F.avg("is_anomaly")).first()[0]),
            "counts": lambda: {
                r["anomaly_type"]: r["count"]
                for r in labels.groupBy("anomaly_type").count().collect()
                if r["anomaly_type"]
            },
            "params": {
                "spike_rate": SPIKE_RATE,
                "travel_rate": TRAVEL_RATE,
                "burst_block_rate": BURST_BLOCK_RATE,
                "burst_size": BURST_SIZE,
                "n_customers": n_customers,
                "start": start.isoformat(),
            },
        }
    )
    return Dataset(NAME, scale, seed, n, features, {}, truth, dict(options))
