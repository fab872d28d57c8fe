"""Product reviews in Portuguese with a sentiment label and known label noise.

A review has a true sentiment (positive with probability ``POSITIVE_RATE``).
Its text is 2 to 4 opinion clauses that all express that sentiment — some
directly ("a entrega foi muito rápida"), some through negation of the
opposite word ("o produto não é ruim") — mixed with neutral sentences and
occasional typos ("otimo", "pessimo"). So the text determines the true
sentiment; the observed label ``sentiment`` is then flipped with probability
``LABEL_NOISE``, which makes ``1 - LABEL_NOISE`` the accuracy ceiling.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from coursekit.datasets._base import Dataset, Truth
from coursekit.datasets._random import Rng, codegen_barrier, lookup, range_ids

NAME = "reviews"
SIZES = {"ci": 4_000, "aula": 40_000, "grande": 20_000_000}
OPTIONS = {"label_noise": 0.05}
POSITIVE_RATE = 0.6
NEGATION_RATE = 0.12
INTENSIFIER_RATE = 0.4
TYPO_RATE = 0.08
N_PRODUCTS = 500

SCHEMA = {
    "review_id": "bigint",
    "product_id": "int",
    "text": "string",
    "rating": "int",
    "sentiment": "int",
}

SUBJECTS = ("o produto", "a entrega", "a qualidade", "o atendimento", "a embalagem", "o acabamento",
            "o preço", "a bateria", "o material", "o tamanho")  # fmt: skip
VERBS = ("é", "foi", "ficou", "parece", "está")
POSITIVE = ("bom", "ótimo", "excelente", "maravilhoso", "rápido", "perfeito", "bonito", "resistente",
            "confortável", "incrível")  # fmt: skip
NEGATIVE = ("ruim", "péssimo", "horrível", "lento", "frágil", "decepcionante", "fraco", "defeituoso",
            "caro", "terrível")  # fmt: skip
#: Feminine forms (same positions), for "a entrega", "a bateria"...
POSITIVE_F = ("boa", "ótima", "excelente", "maravilhosa", "rápida", "perfeita", "bonita", "resistente",
              "confortável", "incrível")  # fmt: skip
NEGATIVE_F = ("ruim", "péssima", "horrível", "lenta", "frágil", "decepcionante", "fraca", "defeituosa",
              "cara", "terrível")  # fmt: skip
POSITIVE_F_TYPO = ("boa", "otima", "exelente", "maravilhoza", "rapida", "perfeta", "bunita", "resistente",
                   "confortavel", "incrivel")  # fmt: skip
NEGATIVE_F_TYPO = ("ruin", "pessima", "horrivel", "lenta", "fragil", "decepsionante", "fraca", "defeituoza",
                   "cara", "terivel")  # fmt: skip
#: The same words with a typo (same positions as above).
POSITIVE_TYPO = ("bon", "otimo", "exelente", "maravilhozo", "rapido", "perfeto", "bunito", "resistente",
                 "confortavel", "incrivel")  # fmt: skip
NEGATIVE_TYPO = ("ruin", "pessimo", "horrivel", "lento", "fragil", "decepsionante", "fraco", "defeituozo",
                 "caro", "terivel")  # fmt: skip
INTENSIFIERS = ("muito", "super", "bem", "extremamente", "bastante")
#: What may follow "não <verbo>": "não é ruim", "não é nada ruim", "não é nem um pouco ruim".
NEGATION_TAILS = ("", "nada", "nem um pouco")
NEUTRAL = ("comprei pela internet", "uso todos os dias", "foi um presente para minha mãe",
           "chegou numa terça-feira", "vi a propaganda na televisão", "é a segunda vez que compro",
           "veio na cor azul", "paguei no cartão", "comparei com outras marcas", "uso no trabalho")  # fmt: skip
CLOSINGS_POS = ("recomendo", "compraria de novo", "valeu cada centavo", "nota dez")
CLOSINGS_NEG = ("não recomendo", "quero devolver", "dinheiro jogado fora", "nunca mais compro")
MIN_CLAUSES = 2
MAX_CLAUSES = 4
CLOSING_RATE = 0.7


def build(
    spark: SparkSession, n: int, seed: int, partitions: int | None, options: dict, scale: str = "ci"
) -> Dataset:
    """Generate ``n`` reviews, their observed labels and the true sentiment."""
    noise = options["label_noise"]
    if not isinstance(noise, int | float) or not 0.0 <= float(noise) < 0.5:
        raise ValueError(
            f"A opção 'label_noise' de reviews deve estar em [0, 0.5). Recebido: {noise!r}."
        )
    rng = Rng(seed, NAME)
    rid = F.col("review_id")
    base = range_ids(spark, n, partitions, "review_id").select(
        rid,
        rng.integer("product", 1, N_PRODUCTS + 1, rid).cast("int").alias("product_id"),
        rng.bernoulli("sentiment", POSITIVE_RATE, rid).cast("int").alias("true_sentiment"),
        rng.integer("n_clauses", MIN_CLAUSES, MAX_CLAUSES + 1, rid).cast("int").alias("_n"),
    )
    positive = F.col("true_sentiment") == 1
    # one flat word table: [typo][feminine][polarity][word]
    table = [
        w
        for group in (
            NEGATIVE, POSITIVE, NEGATIVE_F, POSITIVE_F,
            NEGATIVE_TYPO, POSITIVE_TYPO, NEGATIVE_F_TYPO, POSITIVE_F_TYPO,
        )
        for w in group
    ]  # fmt: skip
    size = len(POSITIVE)
    feminine_flags = [int(x.startswith("a ")) for x in SUBJECTS]
    df = base
    for k in range(MAX_CLAUSES):
        # draws first, as columns; then the sentence; then a codegen cut (see codegen_barrier)
        df = df.select(
            "*",
            rng.bernoulli(f"neg{k}", NEGATION_RATE, rid).alias("_neg"),
            rng.integer(f"word{k}", 0, size, rid).alias("_word"),
            rng.bernoulli(f"typo{k}", TYPO_RATE, rid).cast("int").alias("_typo"),
            rng.integer(f"subj{k}", 0, len(SUBJECTS), rid).alias("_subj"),
            rng.bernoulli(f"int{k}", INTENSIFIER_RATE, rid).alias("_int"),
            rng.integer(f"intw{k}", 0, len(INTENSIFIERS), rid).alias("_intw"),
            rng.integer(f"negw{k}", 0, len(NEGATION_TAILS), rid).alias("_negw"),
            rng.integer(f"verb{k}", 0, len(VERBS), rid).alias("_verb"),
            rng.bernoulli(f"neutral{k}", 0.3, rid).alias("_neutral"),
            rng.integer(f"neutralw{k}", 0, len(NEUTRAL), rid).alias("_neutralw"),
        )
        negated = F.col("_neg")
        # a negated clause uses a word of the opposite polarity: "não é ruim" is positive
        word_is_positive = (positive != negated).cast("int")
        feminine = lookup(feminine_flags, F.col("_subj"))
        slot = F.col("_typo") * 4 + feminine * 2 + word_is_positive
        word = lookup(table, slot * F.lit(size) + F.col("_word"))
        intens = F.when(F.col("_int") & ~negated, lookup(list(INTENSIFIERS), F.col("_intw")))
        tail = F.when(negated, F.nullif(lookup(list(NEGATION_TAILS), F.col("_negw")), F.lit("")))
        clause = F.concat_ws(
            " ",
            lookup(list(SUBJECTS), F.col("_subj")),
            F.when(negated, F.lit("não")),
            lookup(list(VERBS), F.col("_verb")),
            tail,
            intens,
            word,
        )
        neutral = F.when(F.col("_neutral"), lookup(list(NEUTRAL), F.col("_neutralw")))
        sentence = F.concat_ws(", ", clause, neutral)
        sentence = F.concat(F.upper(F.substring(sentence, 1, 1)), F.substring(sentence, 2, 10_000))
        kept = [c for c in df.columns if not c.startswith("_") or c == "_n" or c[2:].isdigit()]
        df = df.select(*kept, F.when(F.lit(k) < F.col("_n"), sentence).alias(f"_s{k}"))
        df = codegen_barrier(df, "review_id")
    parts = [F.col(f"_s{k}") for k in range(MAX_CLAUSES)]
    closing = F.when(
        rng.bernoulli("closing", CLOSING_RATE, rid),
        F.when(positive, lookup(list(CLOSINGS_POS), rng.integer("closew", 0, 4, rid))).otherwise(
            lookup(list(CLOSINGS_NEG), rng.integer("closew", 0, 4, rid))
        ),
    )
    closing = F.concat(F.upper(F.substring(closing, 1, 1)), F.substring(closing, 2, 100))
    text = F.concat(F.concat_ws(". ", *parts, closing), F.lit("."))
    flipped = rng.bernoulli("label_noise", float(noise), rid)
    # stars follow the TRUE sentiment (4-5 or 1-2); the noisy label is the one to learn
    strong = rng.bernoulli("stars", 0.55, rid).cast("int")
    stars = F.when(positive, F.lit(4) + strong).otherwise(F.lit(2) - strong)
    full = df.select(
        rid,
        "product_id",
        text.alias("text"),
        stars.alias("rating"),
        F.when(flipped, F.lit(1) - F.col("true_sentiment"))
        .otherwise(F.col("true_sentiment"))
        .alias("sentiment"),
        "true_sentiment",
    )
    df = full.select(*[F.col(c).cast(t).alias(c) for c, t in SCHEMA.items()])
    truth = Truth(
        {
            "label_noise": float(noise),
            "accuracy_ceiling": 1.0 - float(noise),
            "true_sentiment": full.select("review_id", "true_sentiment"),
            "observed_noise": lambda: float(
                full.agg(
                    F.avg((F.col("sentiment") != F.col("true_sentiment")).cast("double"))
                ).first()[0]
            ),
            "positive_rate": POSITIVE_RATE,
            # every form a sentiment word takes in the texts (gender, typos): the lexicon
            "positive_words": sorted({*POSITIVE, *POSITIVE_F, *POSITIVE_TYPO, *POSITIVE_F_TYPO}),
            "negative_words": sorted({*NEGATIVE, *NEGATIVE_F, *NEGATIVE_TYPO, *NEGATIVE_F_TYPO}),
        }
    )
    return Dataset(NAME, scale, seed, n, df, {}, truth, dict(options))
