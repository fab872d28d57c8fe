"""Explicit ratings from latent factors of known rank (noise floor = sigma).

rating(u, i) = mu + b_u + b_i + p_u . q_i + sigma * eps, with Gaussian user
and item factors of rank ``RANK`` (each a hash of the id), Gaussian biases,
and eps ~ N(0, 1). Who rates what follows a skewed popularity: a user picks
item ``floor(n_items * u**POPULARITY_POWER)``, so low item ids are popular.
Duplicate (user, item) picks are dropped (all their values are functions of
the pair, so which duplicate survives does not matter).

Items carry metadata for content-based filtering: an item's category is the
latent dimension where its factor is largest, and its tags/description use
that category's vocabulary, so text and factors agree.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from coursekit.datasets._base import Dataset, Truth
from coursekit.datasets._random import Rng, lookup, range_ids, round_to

NAME = "ratings"
#: n = number of users; items and ratings per user follow the scale.
SIZES = {"ci": 500, "aula": 2_000, "grande": 1_000_000}
ITEMS = {"ci": 200, "aula": 1_000, "grande": 50_000}
RATINGS_PER_USER = {"ci": 150, "aula": 150, "grande": 100}  # mean picks before de-duplication
OPTIONS = {"n_items": None, "sigma": 0.5}
RANK = 5
MU = 3.5
USER_BIAS_SD = 0.3
ITEM_BIAS_SD = 0.4
FACTOR_SD = 0.45  # per dimension: interaction sd ~ sqrt(RANK) * FACTOR_SD**2
POPULARITY_POWER = 1.5

SCHEMA = {"user_id": "int", "item_id": "int", "rating": "double", "timestamp": "timestamp"}
ITEM_SCHEMA = {
    "item_id": "int",
    "title": "string",
    "category": "string",
    "tags": "string",
    "description": "string",
}

#: One category per latent dimension: (name, nouns, tags/adjectives).
CATEGORIES = (
    ("livros", ("romance", "biografia", "guia", "coletânea", "manual"),
     ("leitura", "literatura", "autor", "capítulo", "edição", "história")),
    ("eletronicos", ("fone", "carregador", "caixa de som", "smartwatch", "teclado"),
     ("bateria", "bluetooth", "tecnologia", "tela", "conexão", "digital")),
    ("cozinha", ("panela", "liquidificador", "faqueiro", "cafeteira", "frigideira"),
     ("receita", "culinária", "inox", "antiaderente", "preparo", "sabor")),
    ("esportes", ("tênis de corrida", "bola", "garrafa térmica", "luva", "mochila"),
     ("treino", "academia", "corrida", "fitness", "resistência", "desempenho")),
    ("jogos", ("jogo de tabuleiro", "quebra-cabeça", "controle", "cartas", "console"),
     ("diversão", "estratégia", "multiplayer", "aventura", "desafio", "partida")),
)  # fmt: skip
GENERIC = ("qualidade", "entrega", "preço", "presente", "original", "novo", "durável", "prático")


def _factor(rng: Rng, prefix: str, k: int, key):
    return rng.normal(f"{prefix}{k}", key) * F.lit(FACTOR_SD)


def build(
    spark: SparkSession, n: int, seed: int, partitions: int | None, options: dict, scale: str = "ci"
) -> Dataset:
    """Generate ratings for ``n`` users, the items table and the truth."""
    sigma = float(options["sigma"])
    if not 0.0 < sigma <= 3.0:
        raise ValueError(f"A opção 'sigma' de ratings deve estar em (0, 3]. Recebido: {sigma!r}.")
    n_items = int(options["n_items"] or ITEMS[scale])
    if n_items < 10:
        raise ValueError(f"A opção 'n_items' de ratings deve ser >= 10. Recebido: {n_items!r}.")
    per_user = RATINGS_PER_USER[scale]
    max_picks = min(3 * per_user, n_items)
    rng = Rng(seed, NAME)
    start = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())

    slot = F.col("_slot")
    user = F.col("user_id")
    item = F.col("item_id")
    picks = range_ids(spark, n * max_picks, partitions, "_row").select(
        (F.col("_row") / max_picks).cast("int").alias("user_id"),
        (F.col("_row") % max_picks).cast("int").alias("_slot"),
    )
    # each user makes 10 + Exp(per_user - 10) picks (skewed activity)
    n_picks = F.lit(10) + rng.exponential("activity", per_user - 10, user)
    picks = picks.where(slot < n_picks).select(
        user,
        F.floor(F.pow(rng.uniform("pick", user, slot), F.lit(POPULARITY_POWER)) * F.lit(n_items))
        .cast("int")
        .alias("item_id"),
    )
    pairs = picks.dropDuplicates(["user_id", "item_id"])
    expected = _expected(rng, user, item)
    full = pairs.select(
        user,
        item,
        expected.alias("expected_rating"),
        F.timestamp_seconds(F.lit(start) + rng.integer("time", 0, 365 * 86400, user, item)).alias(
            "timestamp"
        ),
        rng.normal("noise", user, item).alias("_eps"),
    ).withColumn("rating", round_to(F.col("expected_rating") + F.lit(sigma) * F.col("_eps"), 3))
    df = full.select(*[F.col(c).cast(t).alias(c) for c, t in SCHEMA.items()])

    items = _items(spark, rng, n_items, partitions)
    user_factors = range_ids(spark, n, partitions, "user_id").select(
        F.col("user_id").cast("int").alias("user_id"),
        F.array(*[_factor(rng, "p", k, F.col("user_id").cast("int")) for k in range(RANK)]).alias("features"),
    )
    item_factors = range_ids(spark, n_items, partitions, "item_id").select(
        F.col("item_id").cast("int").alias("item_id"),
        F.array(*[_factor(rng, "q", k, F.col("item_id").cast("int")) for k in range(RANK)]).alias("features"),
    )
    truth = Truth(
        {
            "sigma": sigma,
            "rank": RANK,
            "mu": MU,
            "n_items": n_items,
            "rmse_floor": lambda: _floor(full, "rmse"),
            "mae_floor": lambda: _floor(full, "mae"),
            "expected": full.select("user_id", "item_id", "expected_rating"),
            "user_factors": user_factors,
            "item_factors": item_factors,
            "top10": lambda: _true_top(spark, rng, df, n, n_items, partitions, 10),
        }
    )
    return Dataset(NAME, scale, seed, n, df, {"items": items}, truth, dict(options))


def _expected(rng: Rng, user, item):
    dot = sum((_factor(rng, "p", k, user) * _factor(rng, "q", k, item) for k in range(RANK)), F.lit(0.0))
    return (
        F.lit(MU)
        + F.lit(USER_BIAS_SD) * rng.normal("user_bias", user)
        + F.lit(ITEM_BIAS_SD) * rng.normal("item_bias", item)
        + dot
    )


def _items(spark, rng: Rng, n_items: int, partitions):
    iid = F.col("item_id")
    base = range_ids(spark, n_items, partitions, "item_id").select(iid.cast("int").alias("item_id"))
    factors = [_factor(rng, "q", k, iid) for k in range(RANK)]
    best = F.greatest(*factors)
    category = F.coalesce(*[F.when(f == best, F.lit(k)) for k, f in enumerate(factors)])
    base = base.withColumn("_cat", category)
    n_words = len(CATEGORIES[0][2])
    nouns = [noun for c in CATEGORIES for noun in c[1]]
    words = [w for c in CATEGORIES for w in c[2]]

    def word(salt: str):
        return lookup(words, F.col("_cat") * F.lit(n_words) + rng.integer(salt, 0, n_words, iid))

    noun = lookup(nouns, F.col("_cat") * F.lit(len(CATEGORIES[0][1])) + rng.integer("noun", 0, 5, iid))
    generic = lookup(list(GENERIC), rng.integer("generic", 0, len(GENERIC), iid))
    return base.select(
        "item_id",
        F.concat_ws(" ", F.initcap(noun), F.lit("modelo"), F.col("item_id").cast("string")).alias("title"),
        lookup([c[0] for c in CATEGORIES], F.col("_cat")).alias("category"),
        F.concat_ws(",", word("tag1"), word("tag2"), word("tag3")).alias("tags"),
        F.concat_ws(
            " ", noun, F.lit("com"), word("d1"), F.lit("e"), word("d2"), F.lit("—"), generic,
            F.lit("e"), word("d3"),
        ).alias("description"),
    )


def _floor(full: DataFrame, metric: str) -> float:
    err = F.col("rating") - F.col("expected_rating")
    agg = F.sqrt(F.avg(err * err)) if metric == "rmse" else F.avg(F.abs(err))
    return float(full.agg(agg).first()[0])


def _true_top(spark, rng: Rng, rated: DataFrame, n_users: int, n_items: int, partitions, k: int):
    users = range_ids(spark, n_users, partitions, "user_id").select(F.col("user_id").cast("int").alias("user_id"))
    items = range_ids(spark, n_items, partitions, "item_id").select(F.col("item_id").cast("int").alias("item_id"))
    grid = users.crossJoin(items).join(rated.select("user_id", "item_id"), ["user_id", "item_id"], "left_anti")
    scored = grid.withColumn("expected_rating", _expected(rng, F.col("user_id"), F.col("item_id")))
    order = Window.partitionBy("user_id").orderBy(F.desc("expected_rating"), "item_id")
    return (
        scored.withColumn("_r", F.row_number().over(order))
        .where(F.col("_r") <= k)
        .groupBy("user_id")
        .agg(F.sort_array(F.collect_list(F.struct("_r", "item_id"))).alias("_s"))
        .select("user_id", F.col("_s.item_id").alias("items"))
    )
