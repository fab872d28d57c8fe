"""Counter-based randomness for Spark column expressions.

Every random number is a pure function of ``(seed, salt, key columns)``:
``xxhash64`` of the key columns, seeded with a 63-bit number derived from the
seed and a salt naming the column. So a row gets the same values whatever the
partitioning, the master or the order of evaluation — unlike ``F.rand()``, whose
stream depends on the partition a row lands in.

Examples
--------
>>> from coursekit.datasets._random import Rng
>>> rng = Rng(42, "demo")
>>> rng.key("amount") == Rng(42, "demo").key("amount")
True
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

_TWO_53 = float(2**53)


def col_or_lit(value) -> Column:
    """``value`` as a Column (column names are not accepted: pass ``F.col``)."""
    return value if isinstance(value, Column) else F.lit(value)


class Rng:
    """Random column expressions for one generator run.

    Parameters
    ----------
    seed : int
        The user's seed.
    namespace : str
        The dataset name; keeps two datasets with the same seed independent.
    """

    def __init__(self, seed: int, namespace: str) -> None:
        self.seed = int(seed)
        self.namespace = namespace

    def key(self, salt: str) -> int:
        """A stable signed 63-bit key for ``salt`` (same in every Python process)."""
        digest = hashlib.blake2b(f"{self.namespace}|{self.seed}|{salt}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big") >> 1

    def hash(self, salt: str, *cols: Column) -> Column:
        """A 64-bit hash (long column) of ``cols`` under ``salt``.

        One key column is XOR-ed with the salt's key and hashed once (small
        generated code); several are hashed together first.
        """
        key = F.lit(self.key(salt))
        base = cols[0].cast("long") if len(cols) == 1 else F.xxhash64(*cols)
        return F.xxhash64(base.bitwiseXOR(key))

    def uniform(self, salt: str, *cols: Column) -> Column:
        """Uniform in the open interval (0, 1), 53 bits of resolution."""
        bits = F.shiftrightunsigned(self.hash(salt, *cols), 11).cast("double")
        return (bits + F.lit(0.5)) / F.lit(_TWO_53)

    def normal(self, salt: str, *cols: Column) -> Column:
        """Standard normal by Box–Muller from two independent uniforms."""
        u1 = self.uniform(salt + ".u1", *cols)
        u2 = self.uniform(salt + ".u2", *cols)
        return F.sqrt(F.lit(-2.0) * F.log(u1)) * F.cos(F.lit(2.0 * math.pi) * u2)

    def bernoulli(self, salt: str, p, *cols: Column) -> Column:
        """Boolean column, true with probability ``p`` (number or Column)."""
        return self.uniform(salt, *cols) < col_or_lit(p)

    def integer(self, salt: str, low: int, high, *cols: Column) -> Column:
        """Integer uniform in ``[low, high)`` (``high`` may be a Column)."""
        span = col_or_lit(high) - F.lit(low)
        return (F.lit(low) + F.floor(self.uniform(salt, *cols) * span)).cast("long")

    def exponential(self, salt: str, mean, *cols: Column) -> Column:
        """Exponential with the given mean."""
        return -F.log(self.uniform(salt, *cols)) * col_or_lit(mean)

    def geometric(self, salt: str, mean, *cols: Column) -> Column:
        """Count in {0, 1, 2, ...} with the given mean (geometric distribution)."""
        mean_col = col_or_lit(mean)
        q = mean_col / (mean_col + F.lit(1.0))  # P(X >= k+1 | X >= k)
        return F.floor(F.log(self.uniform(salt, *cols)) / F.log(q)).cast("int")

    def weighted_index(self, salt: str, weights: Sequence[float], *cols: Column) -> Column:
        """Index in ``range(len(weights))`` drawn with the given (unnormalised) weights."""
        return weighted_choice(self.uniform(salt, *cols), weights)


def range_ids(spark, n: int, partitions: int | None, name: str = "id"):
    """``spark.range(n)`` (optionally with ``partitions`` slices) with its column renamed."""
    ids = spark.range(0, n, 1, partitions) if partitions else spark.range(n)
    return ids.withColumnRenamed("id", name) if name != "id" else ids


def codegen_barrier(df, column: str):
    """Return ``df`` with a cut in whole-stage code generation at this point.

    Spark fuses all the projections of a generator into one generated Java
    method. Past 8,000 bytes of bytecode the JVM refuses to JIT-compile a
    method, and the generator runs 5–10x slower. ``reflect`` has no code
    generation (it is a ``CodegenFallback``), so a projection that re-reads
    ``column`` (a long) through ``Long.valueOf`` ends the fused stage here;
    the value is unchanged.
    """
    same = F.reflect(F.lit("java.lang.Long"), F.lit("valueOf"), F.col(column)).cast("long")
    return df.withColumn(column, same)


def geometric_from(u: Column, mean: Column) -> Column:
    """Geometric count in {0, 1, ...} with the given mean, from a uniform column ``u``."""
    q = mean / (mean + F.lit(1.0))
    return F.floor(F.log(u) / F.log(q)).cast("int")


#: Buckets of the inverse-CDF tables used by :func:`weighted_choice`.
RESOLUTION = 4096


def quantize_weights(weights: Sequence[float], resolution: int = RESOLUTION) -> list[int]:
    """Bucket counts per index (sum = ``resolution``; every positive weight gets >= 1).

    >>> quantize_weights([1, 1, 2], 8)
    [2, 2, 4]
    """
    total = float(sum(weights))
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative with a positive sum")
    exact = [w / total * resolution for w in weights]
    counts = [max(1, int(x)) if w > 0 else 0 for x, w in zip(exact, weights, strict=True)]
    while sum(counts) < resolution:  # largest remainder first
        k = max(range(len(exact)), key=lambda j: exact[j] - counts[j])
        counts[k] += 1
    while sum(counts) > resolution:
        k = max((j for j in range(len(exact)) if counts[j] > 1), key=lambda j: counts[j] - exact[j])
        counts[k] -= 1
    return counts


def _inverse_cdf_table(weights: Sequence[float], resolution: int = RESOLUTION) -> list[int]:
    table: list[int] = []
    for index, count in enumerate(quantize_weights(weights, resolution)):
        table.extend([index] * count)
    return table


def weighted_choice(u: Column, weights: Sequence[float]) -> Column:
    """Map a uniform column to an int index with probabilities ``weights / sum``.

    The probabilities are quantized to multiples of 1/4096 (see
    :func:`quantize_weights`); a literal lookup table keeps the generated code
    small (a long CASE chain makes Spark's generated method too big to be JIT-compiled).
    """
    table = _inverse_cdf_table(weights)
    bucket = F.floor(u * F.lit(len(table))).cast("int")
    return lookup(table, bucket)


def weighted_choice_by(u: Column, selector: Column, tables: Sequence[Sequence[float]]) -> Column:
    """Like :func:`weighted_choice` with a different weight table per ``selector`` value (0, 1, ...)."""
    flat: list[int] = []
    for weights in tables:
        flat.extend(_inverse_cdf_table(weights))
    bucket = F.floor(u * F.lit(RESOLUTION)).cast("int")
    return lookup(flat, selector.cast("int") * F.lit(RESOLUTION) + bucket)


def sql_literal(value) -> str:
    """A Spark SQL literal for a Python bool, int, float or str (doubles get the ``D`` suffix)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -(2**31) <= value < 2**31 else f"{value}L"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite literal {value!r}")
        return repr(value).upper() + "D"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise TypeError(f"unsupported literal type {type(value).__name__}")


def literal_array(values: Sequence) -> Column:
    """A literal array column built from one SQL expression (one JVM call, not one per element)."""
    if not values:
        raise ValueError("literal_array needs at least one value")
    kinds = {type(v) for v in values}
    if kinds == {int, float}:
        values = [float(v) for v in values]
    return F.expr("array(" + ", ".join(sql_literal(v) for v in values) + ")")


def lookup(values: Sequence, index: Column) -> Column:
    """``values[index]`` for a 0-based int column (a literal array, no join)."""
    return F.element_at(literal_array(values), index.cast("int") + F.lit(1))


def round_to(x: Column, digits: int = 2) -> Column:
    """Round a double to ``digits`` decimals (``F.round`` goes through BigDecimal: ~10x slower)."""
    scale = float(10**digits)
    return F.rint(x * F.lit(scale)) / F.lit(scale)


def sigmoid(x: Column) -> Column:
    """Logistic function."""
    return F.lit(1.0) / (F.lit(1.0) + F.exp(-x))


def haversine_km(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    """Great-circle distance in km between two points given in degrees."""
    rlat1, rlat2 = F.radians(lat1), F.radians(lat2)
    dlat = rlat2 - rlat1
    dlon = F.radians(lon2) - F.radians(lon1)
    a = F.pow(F.sin(dlat / 2), 2) + F.cos(rlat1) * F.cos(rlat2) * F.pow(F.sin(dlon / 2), 2)
    return F.lit(2 * 6371.0) * F.asin(F.sqrt(F.least(F.lit(1.0), a)))


def scramble(index: Column, n: int, salt_key: int) -> Column:
    """A bijection of ``0..n-1`` (affine map modulo n) that hides generation order."""
    a = _coprime_multiplier(n, salt_key)
    b = salt_key % max(n, 1)
    return F.pmod(index * F.lit(a) + F.lit(b), F.lit(n)).cast("long")


def _coprime_multiplier(n: int, salt_key: int) -> int:
    if n <= 2:
        return 1
    a = (salt_key % (n - 1)) + 1
    while math.gcd(a, n) != 1:
        a += 1
    # keep the product index * a inside a long for n up to ~3e9
    return a % n or 1
