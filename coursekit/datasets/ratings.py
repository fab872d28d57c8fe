"""Ratings from a known low-rank model (recommendation with an RMSE floor).

expected(u, i) = global_mean + b_u + b_i + p_u . q_i, with latent factors of
known rank, and rating = expected + N(0, sigma^2) (not clipped, not rounded to
stars: the noise is the only error no model can remove, so RMSE ~ sigma is the floor).

Who rates what: each user draws a number of items from a Zipf-like popularity
(a few blockbusters, a long tail); repeated draws collapse to one rating.
Items carry a title, a category, tags and a pt-BR description whose words
follow the item's latent factors (the category is the sign pattern of the first
three factors), so content-based filtering has real signal.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from coursekit.datasets._base import Dataset, Truth
from coursekit.datasets._random import (
    Rng,
    lookup,
    range_ids,
    round_to,
    scramble,
)

NAME = "ratings"
#: n = number of users.
SIZES = {"ci": 300, "aula": 1_200, "grande": 1_000_000}
ITEMS = {"ci": 200, "aula": 600, "grande": 50_000}
# Draws per user, dense enough that ALS with the lesson plan's parameters (rank 50, regParam 0.1)
# gets within ~10% of the noise floor (measured: 1.10x at ci, 1.11x at aula; 1.15x with (90, 150) and
# zipf 0.8). Repeated draws of a popular item collapse into one rating.
DRAWS = {"ci": (150, 200), "aula": (120, 180), "grande": (100, 160)}
OPTIONS = {
    "items": None,
    "rank": 3,
    "sigma": 0.5,
    "zipf": 0.5,
    "min_draws": None,
    "max_draws": None,
}
SCHEMA = {
    "user_id": "int",
    "item_id": "int",
    "rating": "double",
    "timestamp": "timestamp",
}
ITEMS_SCHEMA = {
    "item_id": "int",
    "title": "string",
    "category": "string",
    "tags": "string",
    "description": "string",
}

GLOBAL_MEAN = 3.5
USER_BIAS_SD = 0.3
ITEM_BIAS_SD = 0.35
FACTOR_SD = 0.55
START_EPOCH = 1704067200  # 2024-01-01 00:00:00 UTC
SPAN_SECONDS = 2 * 365 * 86400

#: Category per sign pattern of the first three factors (bit k set = factor k positive).
CATEGORIES = (
    "Utilidades Domésticas",  # ---
    "Acessórios de Informática",  # +--  (tech, budget, practical)
    "Cozinha Gourmet",  # -+-  (premium, practical)
    "Eletrônicos",  # ++-
    "Livros",  # --+  (leisure, budget)
    "Brinquedos Eletrônicos",  # +-+
    "Esporte e Lazer",  # -++
    "Games",  # +++
)
NOUNS = (
    ("Organizador", "Pote Hermético", "Escorredor", "Cesto", "Varal Dobrável"),
    ("Mouse", "Cabo USB-C", "Hub USB", "Teclado", "Suporte para Notebook"),
    ("Panela", "Faca do Chef", "Cafeteira", "Tábua de Corte", "Jogo de Taças"),
    ("Fone Bluetooth", "Smartwatch", "Caixa de Som", "Câmera", "Tablet"),
    ("Livro", "Romance", "Coletânea de Contos", "Livro de Receitas", "HQ"),
    (
        "Robô Educativo",
        "Carrinho de Controle",
        "Drone Infantil",
        "Kit de Robótica",
        "Pelúcia Interativa",
    ),
    ("Bicicleta", "Barraca", "Bola Oficial", "Prancha", "Kit de Trilha"),
    ("Console", "Controle Sem Fio", "Headset Gamer", "Jogo de Aventura", "Volante Gamer"),
)
BRANDS = ("Aurora", "Jabuti", "Ipê", "Boitatá", "Carcará", "Guará", "Tucano", "Araponga",
          "Sabiá", "Cajá", "Tupã", "Ybirá", "Jandaia", "Maracá", "Piracema", "Caiçara")  # fmt: skip
#: Words that describe each factor's negative and positive side (first three factors).
FACTOR_WORDS = (
    (
        ("artesanal", "madeira maciça", "feito à mão", "tradicional", "clássico", "natural"),
        (
            "tecnologia",
            "digital",
            "conexão bluetooth",
            "inteligente",
            "bateria recarregável",
            "aplicativo",
        ),
    ),
    (
        ("econômico", "custo-benefício", "básico", "simples", "leve", "preço acessível"),
        (
            "premium",
            "sofisticado",
            "importado",
            "acabamento refinado",
            "alta durabilidade",
            "edição especial",
        ),
    ),
    (
        (
            "o uso diário",
            "organizar a casa",
            "o dia a dia",
            "quem quer praticidade",
            "tarefas do lar",
            "quem precisa de algo resistente",
        ),
        (
            "momentos de lazer",
            "presentear",
            "a família se divertir",
            "horas de diversão",
            "os fins de semana",
            "entretenimento em casa",
        ),
    ),
)
FILLER = (
    "Produto com garantia de 12 meses.",
    "Acompanha manual em português.",
    "Envio em até 2 dias úteis.",
    "Disponível em várias cores.",
    "Confira as medidas antes de comprar.",
    "Nota fiscal inclusa.",
)


def _validate(options: dict, scale: str) -> dict:
    out = dict(options)
    out["items"] = ITEMS[scale] if options["items"] is None else options["items"]
    lo, hi = DRAWS[scale]
    out["min_draws"] = lo if options["min_draws"] is None else options["min_draws"]
    out["max_draws"] = hi if options["max_draws"] is None else options["max_draws"]
    checks = (
        ("items", isinstance(out["items"], int) and out["items"] >= 10, "um inteiro >= 10"),
        (
            "rank",
            isinstance(out["rank"], int) and 3 <= out["rank"] <= 20,
            "um inteiro entre 3 e 20",
        ),
        (
            "sigma",
            isinstance(out["sigma"], int | float) and 0 < out["sigma"] <= 3,
            "um número em (0, 3]",
        ),
        (
            "zipf",
            isinstance(out["zipf"], int | float) and 0 <= out["zipf"] <= 2,
            "um número em [0, 2]",
        ),
        (
            "min_draws",
            isinstance(out["min_draws"], int) and out["min_draws"] >= 1,
            "um inteiro >= 1",
        ),
        (
            "max_draws",
            isinstance(out["max_draws"], int) and out["max_draws"] >= out["min_draws"],
            "um inteiro >= min_draws",
        ),
    )
    for key, ok, rule in checks:
        if not ok:
            raise ValueError(
                f"A opção {key!r} de ratings deve ser {rule}. Recebido: {options[key]!r}."
            )
    return out


def _zipf_rank(u: Column, n_items: int, s: float, r0: float = 2.0) -> Column:
    """Popularity rank in 0..n_items-1 with P(rank r) ~ 1/(r + r0)^s (continuous inverse CDF)."""
    if abs(s - 1.0) < 1e-9:
        value = F.lit(r0) * F.pow(F.lit((n_items + r0) / r0), u) - F.lit(r0)
    else:
        a = (n_items + r0) ** (1 - s)
        b = r0 ** (1 - s)
        value = F.pow(F.lit(a) * u + F.lit(b) * (F.lit(1.0) - u), F.lit(1 / (1 - s))) - F.lit(r0)
    return F.least(F.floor(value), F.lit(n_items - 1)).cast("long")


class _Model:
    """Column expressions of the true model for user/item id columns."""

    def __init__(self, rng: Rng, rank: int) -> None:
        self.rng = rng
        self.rank = rank

    def user_factor(self, k: int, uid: Column) -> Column:
        return F.lit(FACTOR_SD) * self.rng.normal(f"user.f{k}", uid)

    def item_factor(self, k: int, iid: Column) -> Column:
        return F.lit(FACTOR_SD) * self.rng.normal(f"item.f{k}", iid)

    def user_bias(self, uid: Column) -> Column:
        return F.lit(USER_BIAS_SD) * self.rng.normal("user.bias", uid)

    def item_bias(self, iid: Column) -> Column:
        return F.lit(ITEM_BIAS_SD) * self.rng.normal("item.bias", iid)

    def user_columns(self, uid: Column) -> list[Column]:
        return [self.user_factor(k, uid).alias(f"_p{k}") for k in range(self.rank)] + [
            self.user_bias(uid).alias("_bu")
        ]

    def item_columns(self, iid: Column) -> list[Column]:
        return [self.item_factor(k, iid).alias(f"_q{k}") for k in range(self.rank)] + [
            self.item_bias(iid).alias("_bi")
        ]

    def expected(self) -> Column:
        """Expected rating from the ``_p*``, ``_q*``, ``_bu``, ``_bi`` columns."""
        dot = F.lit(GLOBAL_MEAN) + F.col("_bu") + F.col("_bi")
        for k in range(self.rank):
            dot = dot + F.col(f"_p{k}") * F.col(f"_q{k}")
        return dot


def build(
    spark: SparkSession, n: int, seed: int, partitions: int | None, options: dict, scale: str = "ci"
) -> Dataset:
    """Generate ratings for ``n`` users (see the module docstring)."""
    opts = _validate(options, scale)
    n_items, rank, sigma, zipf = (
        opts["items"],
        opts["rank"],
        float(opts["sigma"]),
        float(opts["zipf"]),
    )
    lo, hi = opts["min_draws"], opts["max_draws"]
    rng = Rng(seed, NAME)
    model = _Model(rng, rank)
    uid, iid = F.col("user_id"), F.col("item_id")

    # (user, slot) pairs; slots beyond the user's number of draws are dropped.
    slots = range_ids(spark, n * hi, partitions, "slot_id")
    pairs = slots.select(
        (F.col("slot_id") / F.lit(hi)).cast("long").alias("user_id"),
        F.pmod(F.col("slot_id"), F.lit(hi)).alias("slot"),
        rng.uniform("item.draw", F.col("slot_id")).alias("_u_item"),
    )
    pairs = pairs.where(F.col("slot") < rng.integer("user.draws", lo, hi + 1, uid))
    popularity_rank = _zipf_rank(F.col("_u_item"), n_items, zipf)
    pairs = pairs.select(
        uid.cast("int").alias("user_id"),
        scramble(popularity_rank, n_items, rng.key("item.perm")).cast("int").alias("item_id"),
    ).dropDuplicates(["user_id", "item_id"])

    # Rating = expected + noise: every value a function of (user_id, item_id) only,
    # so the duplicate draws removed above were identical rows.
    pair_key = F.xxhash64(uid, iid)
    rated = pairs.select(
        uid,
        iid,
        *model.user_columns(uid),
        *model.item_columns(iid),
        rng.normal("noise", pair_key).alias("_z"),
        rng.integer("time", 0, SPAN_SECONDS, pair_key).alias("_t"),
    )
    rated = rated.select(
        uid,
        iid,
        model.expected().alias("expected_rating"),
        F.col("_z"),
        F.col("_t"),
    ).select(
        uid,
        iid,
        round_to(F.col("expected_rating") + F.lit(sigma) * F.col("_z"), 3).alias("rating"),
        F.timestamp_seconds(F.lit(START_EPOCH) + F.col("_t")).alias("timestamp"),
        F.col("expected_rating"),
    )
    features = rated.select(*[F.col(c).cast(t).alias(c) for c, t in SCHEMA.items()])
    expected = rated.select("user_id", "item_id", "expected_rating")

    items = _items_table(spark, rng, model, n_items, partitions)
    user_factors, item_factors = _factor_tables(spark, model, n, n_items, partitions)
    top10 = _top10(spark, model, n, n_items, pairs, partitions)

    params = {
        "global_mean": GLOBAL_MEAN,
        "user_bias_sd": USER_BIAS_SD,
        "item_bias_sd": ITEM_BIAS_SD,
        "factor_sd": FACTOR_SD,
        "zipf_exponent": zipf,
        "n_users": n,
        "n_items": n_items,
        "draws_per_user": [lo, hi],
        "formula": "rating = global_mean + b_u + b_i + p_u . q_i + N(0, sigma^2)",
    }
    truth = Truth(
        {
            "sigma": sigma,
            "rmse_floor": lambda: _floor(rated, "rmse"),
            "mae_floor": lambda: _floor(rated, "mae"),
            "rank": rank + 2,
            "latent_rank": rank,
            "global_mean": GLOBAL_MEAN,
            "user_factors": user_factors,
            "item_factors": item_factors,
            "expected": expected,
            "top10": top10,
            "n_ratings": lambda: features.count(),
            "params": params,
        }
    )
    return Dataset(NAME, scale, seed, n, features, {"items": items}, truth, opts)


def _floor(rated: DataFrame, kind: str) -> float:
    err = F.col("rating") - F.col("expected_rating")
    if kind == "rmse":
        return float(rated.agg(F.sqrt(F.avg(err * err))).first()[0])
    return float(rated.agg(F.avg(F.abs(err))).first()[0])


def _factor_tables(
    spark: SparkSession, model: _Model, n_users: int, n_items: int, partitions: int | None
) -> tuple[DataFrame, DataFrame]:
    """Augmented factors: [p_u, b_u, 1] . [q_i, 1, mean + b_i] = expected rating, exactly."""
    uid, iid = F.col("user_id"), F.col("item_id")
    users = range_ids(spark, n_users, partitions, "user_id").select(
        uid.cast("int").alias("user_id")
    )
    users = users.select(
        uid,
        F.array(
            *[model.user_factor(k, uid) for k in range(model.rank)],
            model.user_bias(uid),
            F.lit(1.0),
        ).alias("features"),
    )
    items = range_ids(spark, n_items, partitions, "item_id").select(
        iid.cast("int").alias("item_id")
    )
    items = items.select(
        iid,
        F.array(
            *[model.item_factor(k, iid) for k in range(model.rank)],
            F.lit(1.0),
            F.lit(GLOBAL_MEAN) + model.item_bias(iid),
        ).alias("features"),
    )
    return users, items


def _top10(
    spark: SparkSession,
    model: _Model,
    n_users: int,
    n_items: int,
    rated_pairs: DataFrame,
    partitions: int | None,
) -> DataFrame:
    """True top-10 per user by expected rating among the items the user has NOT rated."""
    uid, iid = F.col("user_id"), F.col("item_id")
    users = range_ids(spark, n_users, partitions, "user_id").select(
        uid.cast("int").alias("user_id"), *model.user_columns(uid)
    )
    items = spark.range(n_items).select(F.col("id").cast("int").alias("item_id"))
    items = items.select(iid, *model.item_columns(iid))
    candidates = users.crossJoin(F.broadcast(items)).join(
        rated_pairs, ["user_id", "item_id"], "left_anti"
    )
    scored = candidates.select(uid, iid, model.expected().alias("expected_rating"))
    order = Window.partitionBy("user_id").orderBy(F.desc("expected_rating"), F.asc("item_id"))
    top = scored.withColumn("_rank", F.row_number().over(order)).where(F.col("_rank") <= 10)
    return top.groupBy("user_id").agg(
        F.transform(
            F.array_sort(F.collect_list(F.struct("_rank", "item_id"))), lambda s: s["item_id"]
        ).alias("items")
    )


def _items_table(
    spark: SparkSession, rng: Rng, model: _Model, n_items: int, partitions: int | None
) -> DataFrame:
    """Item metadata whose words follow the item's factors (content-based signal)."""
    iid = F.col("item_id")
    items = range_ids(spark, n_items, partitions, "item_id").select(
        iid.cast("int").alias("item_id")
    )
    items = items.select(iid, *[model.item_factor(k, iid).alias(f"_q{k}") for k in range(3)])
    sign = [(F.col(f"_q{k}") > 0).cast("int") for k in range(3)]
    cat = sign[0] + sign[1] * 2 + sign[2] * 4
    nouns_flat = [noun for group in NOUNS for noun in group]
    noun = lookup(nouns_flat, cat * F.lit(5) + rng.integer("item.noun", 0, 5, iid))
    brand = lookup(list(BRANDS), rng.integer("item.brand", 0, len(BRANDS), iid))

    def word(k: int, slot: int) -> Column:
        flat = list(FACTOR_WORDS[k][0]) + list(FACTOR_WORDS[k][1])
        pick = rng.integer(f"item.word{k}.{slot}", 0, 6, iid)
        return lookup(flat, sign[k] * F.lit(6) + pick)

    def strong(k: int) -> Column:
        return F.abs(F.col(f"_q{k}")) > F.lit(0.5 * FACTOR_SD)

    intensity = F.when(F.abs(F.col("_q0")) > FACTOR_SD, "Muito ").otherwise("")
    description = F.concat_ws(
        " ",
        F.concat(
            noun,
            F.lit(" "),
            brand,
            F.lit(": "),
            intensity,
            word(0, 0),
            F.lit(", "),
            word(1, 0),
            F.lit("."),
        ),
        F.concat(F.lit("Ideal para "), word(2, 0), F.lit(".")),
        F.when(strong(0), F.concat(F.lit("Destaque: "), word(0, 1), F.lit("."))),
        F.when(strong(1), F.concat(F.lit("Faixa: "), word(1, 1), F.lit("."))),
        F.when(strong(2), F.concat(F.lit("Também serve para "), word(2, 1), F.lit("."))),
        lookup(list(FILLER), rng.integer("item.filler", 0, len(FILLER), iid)),
    )
    tags = F.concat_ws(
        ",",
        lookup(list(CATEGORIES), cat),
        word(0, 2),
        F.when(strong(1), word(1, 2)),
        F.when(strong(2), word(2, 2)),
    )
    model_code = F.concat(
        lookup(list("ABCDEFGHJKLMNPRSTXZ"), rng.integer("item.code", 0, 19, iid)),
        rng.integer("item.num", 10, 1000, iid).cast("string"),
    )
    items = items.select(
        iid,
        F.concat_ws(" ", noun, brand, model_code).alias("title"),
        lookup(list(CATEGORIES), cat).alias("category"),
        F.lower(tags).alias("tags"),
        description.alias("description"),
    )
    return items
