"""Customers with RFM-style features drawn from k known segments (clustering truth).

Each customer belongs to one of ``k`` segments (5 by default). A segment has a
center and its own spread per feature (so the segments differ in shape and
scale). Features are drawn as ``mean_f + sd_f * (center[s, f] + spread[s, f] * z)``
with z ~ N(0, 1): after a StandardScaler the segments are compact, well
separated blobs, so KMeans recovers them (ARI > 0.9) and the silhouette curve
peaks at the true k.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from coursekit.datasets._base import Dataset, Truth
from coursekit.datasets._random import Rng, lookup, range_ids, round_to, weighted_choice

NAME = "customers"
SIZES = {"ci": 2_000, "aula": 100_000, "grande": 20_000_000}
OPTIONS = {"k": 5}

FEATURES = (
    "recency_days",
    "frequency",
    "monetary",
    "tenure_months",
    "pct_online",
    "avg_ticket",
    "n_categories",
)
SCHEMA = {"customer_id": "bigint", **{f: "double" for f in FEATURES}}

#: (feature, mean, sd, lower bound, upper bound, decimals): raw = mean + sd * z, clipped.
SCALING = (
    ("recency_days", 120.0, 40.0, 0.0, None, 0),
    ("frequency", 12.0, 4.0, 1.0, None, 0),
    ("monetary", 3000.0, 1000.0, 50.0, None, 2),
    ("tenure_months", 30.0, 10.0, 1.0, None, 0),
    ("pct_online", 0.5, 0.15, 0.0, 1.0, 3),
    ("avg_ticket", 250.0, 80.0, 10.0, None, 2),
    ("n_categories", 6.0, 2.0, 1.0, None, 0),
)

#: Segments: name, share, center (z units, FEATURES order), spread per feature.
SEGMENTS = (
    ("Campeões", 0.12, (-1.0, 1.6, 1.8, 1.0, 0.4, 1.2, 1.5), (0.30, 0.40, 0.45, 0.35, 0.30, 0.40, 0.35)),
    ("Leais econômicos", 0.20, (-0.8, 1.2, 0.0, 1.2, -1.3, -1.0, 0.3), (0.25, 0.30, 0.25, 0.40, 0.20, 0.20, 0.30)),
    ("Novos", 0.25, (-1.0, -1.0, -1.0, -1.6, 1.5, 0.0, -1.0), (0.30, 0.20, 0.25, 0.15, 0.35, 0.45, 0.25)),
    ("Em risco", 0.18, (1.0, 0.0, 0.6, 0.3, 0.2, 1.2, 0.0), (0.40, 0.35, 0.45, 0.40, 0.40, 0.35, 0.40)),
    ("Hibernando", 0.25, (1.8, -1.4, -1.2, 0.0, -1.0, -1.0, -1.2), (0.35, 0.20, 0.20, 0.45, 0.25, 0.25, 0.20)),
)  # fmt: skip


def _segments(k: int) -> tuple:
    if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= len(SEGMENTS):
        raise ValueError(
            f"A opção 'k' de customers deve ser um inteiro entre 2 e {len(SEGMENTS)}. Recebido: {k!r}."
        )
    return SEGMENTS[:k]


def build(
    spark: SparkSession, n: int, seed: int, partitions: int | None, options: dict, scale: str = "ci"
) -> Dataset:
    """Generate ``n`` customers from ``k`` segments (see the module docstring)."""
    segments = _segments(options["k"])
    k = len(segments)
    rng = Rng(seed, NAME)
    cid = F.col("customer_id")
    nf = len(FEATURES)
    centers = [c for seg in segments for c in seg[2]]
    spreads = [s for seg in segments for s in seg[3]]

    df = range_ids(spark, n, partitions, "customer_id").select(
        cid,
        weighted_choice(rng.uniform("segment", cid), [seg[1] for seg in segments]).alias("segment"),
        *[rng.normal(f"z.{f}", cid).alias(f"_z{j}") for j, f in enumerate(FEATURES)],
    )
    seg = F.col("segment")
    columns = []
    for j, (feature, mean, sd, low, high, decimals) in enumerate(SCALING):
        z = lookup(centers, seg * F.lit(nf) + F.lit(j)) + lookup(
            spreads, seg * F.lit(nf) + F.lit(j)
        ) * F.col(f"_z{j}")
        value = F.lit(mean) + F.lit(sd) * z
        value = F.greatest(F.lit(low), value)
        if high is not None:
            value = F.least(F.lit(high), value)
        columns.append(round_to(value, decimals).alias(feature))
    full = df.select(cid, seg.cast("int").alias("segment"), *columns)
    features = full.select(*[F.col(c).cast(t).alias(c) for c, t in SCHEMA.items()])
    labels = full.select("customer_id", "segment")

    truth = Truth(
        {
            "k": k,
            "segments": labels,
            "segment_names": {j: seg[0] for j, seg in enumerate(segments)},
            "segment_shares": {
                j: round(seg[1] / sum(x[1] for x in segments), 4) for j, seg in enumerate(segments)
            },
            "feature_columns": list(FEATURES),
            "centers": {
                seg[0]: {
                    f: round(mean + sd * seg[2][j], 3)
                    for j, (f, mean, sd, *_rest) in enumerate(SCALING)
                }
                for seg in segments
            },
            "segment_sizes": lambda: _sizes(labels),
        }
    )
    return Dataset(NAME, scale, seed, n, features, {}, truth, dict(options))


def _sizes(labels: DataFrame) -> dict[int, int]:
    rows = labels.groupBy("segment").count().collect()
    return {int(r["segment"]): int(r["count"]) for r in sorted(rows)}
