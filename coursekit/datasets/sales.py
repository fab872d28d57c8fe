"""Daily unit sales per store and product with known expected demand.

expected_units = base(store, product) * trend(t) * weekly(dow) * yearly(doy)
                 * holiday * promo * (price / list_price) ** ELASTICITY
units = max(0, round(expected_units * exp(NOISE_SD * z - NOISE_SD**2 / 2)))

Brazilian national holidays (fixed dates, Carnaval, Sexta-feira Santa and
Corpus Christi from Easter) come from a small literal table. The truth keeps
``expected_units`` apart, so the irreducible error (``mae_floor``,
``rmse_floor``) is measured on the generated rows themselves.
"""

from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from coursekit.datasets._base import Dataset, Truth
from coursekit.datasets._lookups import brazilian_holidays
from coursekit.datasets._random import Rng, range_ids, round_to

NAME = "sales"
#: n = number of days of history (starting at OPTIONS["start"]).
SIZES = {"ci": 900, "aula": 1_095, "grande": 1_460}
STORES = {"ci": 2, "aula": 5, "grande": 200}
PRODUCTS = {"ci": 3, "aula": 8, "grande": 300}
OPTIONS = {"start": "2023-01-01", "n_stores": None, "n_products": None}

SCHEMA = {
    "date": "date",
    "store_id": "int",
    "product_id": "int",
    "units": "double",
    "price": "double",
    "promo": "int",
    "is_holiday": "int",
    "holiday_name": "string",
}
WEEKLY = (1.25, 0.85, 0.85, 0.9, 0.95, 1.1, 1.35)  # Spark dayofweek 1 = Sunday ... 7 = Saturday
YEARLY_AMPLITUDE = 0.25  # peak in December
TREND_PER_YEAR = 0.08
HOLIDAY_EFFECT = 0.6  # most stores close early on national holidays
PROMO_EFFECT = 1.6
PROMO_RATE = 0.08
PROMO_DISCOUNT = 0.15
ELASTICITY = -1.2
NOISE_SD = 0.18


def build(
    spark: SparkSession, n: int, seed: int, partitions: int | None, options: dict, scale: str = "ci"
) -> Dataset:
    """Generate ``n`` days x stores x products of sales and the expected demand."""
    try:
        start = dt.date.fromisoformat(str(options["start"]))
    except ValueError:
        raise ValueError(
            f"A opção 'start' de sales deve ser uma data 'AAAA-MM-DD'. Recebido: {options['start']!r}."
        ) from None
    n_stores = int(options["n_stores"] or STORES[scale])
    n_products = int(options["n_products"] or PRODUCTS[scale])
    if n_stores <= 0 or n_products <= 0:
        raise ValueError(
            f"As opções 'n_stores' e 'n_products' devem ser > 0. Recebido: {n_stores}, {n_products}."
        )
    rng = Rng(seed, NAME)
    last = start + dt.timedelta(days=n - 1)
    holidays = brazilian_holidays(start.year, last.year)
    holiday_map = F.create_map(
        *[x for day, name in holidays.items() for x in (F.lit(day.isoformat()), F.lit(name))]
    )
    series = n_stores * n_products
    row = F.col("_row")
    store = F.col("store_id")
    product = F.col("product_id")
    base = range_ids(spark, n * series, partitions, "_row").select(
        (row / series).cast("int").alias("_day"),
        ((row % series) / n_products).cast("int").alias("store_id"),
        (row % n_products).cast("int").alias("product_id"),
    )
    day = F.col("_day")
    date = F.date_add(F.lit(start), day)
    df = base.select(
        "*",
        date.alias("date"),
        holiday_map[date.cast("string")].alias("holiday_name"),
        # per-series level: store size x product popularity (lognormal)
        F.exp(
            F.lit(math.log(20.0))
            + F.lit(0.5) * rng.normal("store", store)
            + F.lit(0.6) * rng.normal("product", product)
        ).alias("_level"),
        round_to(F.lit(10.0) * F.exp(F.lit(1.2) * rng.uniform("list_price", product)), 2).alias(
            "_list_price"
        ),
        rng.bernoulli("promo", PROMO_RATE, store, product, day).cast("int").alias("promo"),
        rng.normal("price_jitter", store, product, (day / 28).cast("int")).alias("_pj"),
        rng.normal("noise", store, product, day).alias("_z"),
    )
    price = round_to(
        F.col("_list_price")
        * (F.lit(1.0) + F.lit(0.03) * F.col("_pj"))
        * F.when(F.col("promo") == 1, 1 - PROMO_DISCOUNT).otherwise(1.0),
        2,
    )
    weekly = F.element_at(F.array(*[F.lit(w) for w in WEEKLY]), F.dayofweek(F.col("date")))
    yearly = F.lit(1.0) + F.lit(YEARLY_AMPLITUDE) * F.cos(
        F.lit(2 * math.pi) * (F.dayofyear(F.col("date")) - F.lit(355)) / F.lit(365.25)
    )
    trend = F.lit(1.0) + F.lit(TREND_PER_YEAR) * day / F.lit(365.25)
    df = df.select(
        "*",
        price.alias("price"),
        F.col("holiday_name").isNotNull().cast("int").alias("is_holiday"),
    )
    expected = (
        F.col("_level") * trend * weekly * yearly
        * F.when(F.col("is_holiday") == 1, HOLIDAY_EFFECT).otherwise(1.0)
        * F.when(F.col("promo") == 1, PROMO_EFFECT).otherwise(1.0)
        * F.pow(F.col("price") / F.col("_list_price"), F.lit(ELASTICITY))
    )  # fmt: skip
    df = df.withColumn("expected_units", expected)
    units = F.greatest(
        F.lit(0.0),
        F.rint(
            F.col("expected_units") * F.exp(F.lit(NOISE_SD) * F.col("_z") - F.lit(NOISE_SD**2 / 2))
        ),
    )
    full = df.withColumn("units", units)
    features = full.select(*[F.col(c).cast(t).alias(c) for c, t in SCHEMA.items()])
    truth = Truth(
        {
            "expected": full.select("date", "store_id", "product_id", "expected_units"),
            "mae_floor": lambda: _floor(full, "mae"),
            "rmse_floor": lambda: _floor(full, "rmse"),
            "holidays": {d.isoformat(): name for d, name in holidays.items()},
            "params": {
                "weekly": dict(zip(range(1, 8), WEEKLY, strict=True)),
                "yearly_amplitude": YEARLY_AMPLITUDE,
                "trend_per_year": TREND_PER_YEAR,
                "holiday_effect": HOLIDAY_EFFECT,
                "promo_effect": PROMO_EFFECT,
                "promo_rate": PROMO_RATE,
                "elasticity": ELASTICITY,
                "noise_sd": NOISE_SD,
                "n_stores": n_stores,
                "n_products": n_products,
                "start": start.isoformat(),
            },
        }
    )
    return Dataset(NAME, scale, seed, n, features, {}, truth, dict(options))


def _floor(full: DataFrame, metric: str) -> float:
    err = F.col("units") - F.col("expected_units")
    agg = F.sqrt(F.avg(err * err)) if metric == "rmse" else F.avg(F.abs(err))
    return float(full.agg(agg).first()[0])
