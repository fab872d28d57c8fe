"""Synthetic datasets with ground truth, generated in Spark.

One entry point, :func:`generate`, returns a :class:`Dataset` with ``.df`` (what
a model may see), ``.tables`` (further tables) and ``.truth`` (parameters, best
achievable scores and truth DataFrames). Rows are built from ``spark.range``
and column expressions, with randomness derived from a hash of (row id, seed,
column): the same ``(name, n, seed)`` gives the same rows whatever the number
of partitions or executors, and no row is ever held by the driver.
See ``data/DATASHEET.md`` for schemas, generation, truth and sizes.

Examples
--------
>>> from coursekit.session import get_spark
>>> from coursekit.datasets import generate
>>> spark = get_spark("DocDatasets")
>>> ds = generate("customers", spark, scale="ci")
>>> ds.truth["k"]
5
>>> ds.df.count() == ds.n
True
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from coursekit.constants import DATASETS, DEFAULT_SCALE, SCALES, SEED
from coursekit.datasets import (
    anomalies,
    customers,
    ratings,
    reviews,
    sales,
    transactions,
)
from coursekit.datasets._base import Dataset, Truth
from coursekit.datasets.loaders import SchemaError, check_schema, load_csv, schema_problems

__all__ = [
    "DATASETS",
    "SCALES",
    "Dataset",
    "SchemaError",
    "Truth",
    "check_schema",
    "default_size",
    "generate",
    "load_csv",
    "schema_of",
    "schema_problems",
]

GENERATORS: dict[str, ModuleType] = {
    "transactions": transactions,
    "ratings": ratings,
    "customers": customers,
    "sales": sales,
    "reviews": reviews,
    "anomalies": anomalies,
}
assert tuple(GENERATORS) == DATASETS  # keep constants.DATASETS and this registry in step

#: Options every generator accepts.
COMMON_OPTIONS: dict[str, Any] = {"partitions": None}


def _check_name(name: Any) -> ModuleType:
    if not isinstance(name, str) or name not in GENERATORS:
        raise ValueError(
            f"Conjunto de dados desconhecido: {name!r}. Nomes válidos: {', '.join(DATASETS)}. "
            "Exemplo: generate('transactions', spark)."
        )
    return GENERATORS[name]


def _check_scale(scale: Any) -> str:
    if scale not in SCALES:
        raise ValueError(
            f"O parâmetro 'scale' deve ser um de {', '.join(repr(s) for s in SCALES)}. "
            f"Recebido: {scale!r}. Use 'ci' nos testes, 'aula' em sala e 'grande' em um cluster."
        )
    return scale


def default_size(name: str, scale: str = DEFAULT_SCALE) -> int:
    """The ``n`` a dataset uses at a scale (see the DATASHEET for what ``n`` counts).

    >>> default_size("transactions", "ci")
    20000
    """
    return _check_name(name).SIZES[_check_scale(scale)]


def schema_of(name: str) -> dict[str, str]:
    """Column -> Spark SQL type of the main DataFrame ``.df`` of dataset ``name``.

    >>> schema_of("ratings")["rating"]
    'double'
    """
    return dict(_check_name(name).SCHEMA)


def generate(
    name: str,
    spark,
    scale: str = DEFAULT_SCALE,
    seed: int = SEED,
    n: int | None = None,
    **options: Any,
) -> Dataset:
    """Generate dataset ``name`` with its ground truth.

    Parameters
    ----------
    name : {"transactions", "ratings", "customers", "sales", "reviews", "anomalies"}
        Which dataset.
    spark : SparkSession
        From ``coursekit.session.get_spark`` (classic or Spark Connect).
    scale : {"ci", "aula", "grande"}, default="ci"
        Size preset. ``n`` overrides the main size; secondary sizes (items,
        stores...) still follow the scale.
    seed : int, default=42
        Same seed, same rows (whatever the partitioning).
    n : int, optional
        Size override: rows for transactions, customers, reviews and anomalies;
        users for ratings; days for sales.
    **options
        ``partitions`` (int, any dataset) plus dataset options, e.g.
        ``drift`` for transactions (see the DATASHEET).

    Returns
    -------
    Dataset
        ``.df``, ``.tables``, ``.truth``, ``.name``, ``.scale``, ``.seed``, ``.n``.

    Raises
    ------
    ValueError
        Unknown name, scale or option, or an invalid value (message in pt-BR).
    TypeError
        ``n`` or ``seed`` is not an integer.

    Examples
    --------
    >>> from coursekit.session import get_spark
    >>> from coursekit.datasets import generate
    >>> spark = get_spark("DocGenerate")
    >>> ds = generate("transactions", spark, scale="ci")
    >>> ds.df.columns[:3]
    ['transaction_id', 'customer_id', 'timestamp']
    """
    module = _check_name(name)
    _check_scale(scale)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"O parâmetro 'seed' deve ser um inteiro. Recebido: {seed!r}.")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(
                f"O parâmetro 'n' deve ser um inteiro > 0 ou None. Recebido: {n!r} ({type(n).__name__})."
            )
        if n <= 0:
            raise ValueError(
                f"O parâmetro 'n' deve ser > 0. Recebido: {n}. "
                f"Omita n para usar o tamanho da escala (ex.: {name} em 'ci' = {module.SIZES['ci']})."
            )
    allowed = {**COMMON_OPTIONS, **module.OPTIONS}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"Opção desconhecida para {name!r}: {', '.join(unknown)}. "
            f"Opções válidas: {', '.join(sorted(allowed)) or '(nenhuma)'}."
        )
    settings = {**allowed, **options}
    partitions = settings.pop("partitions")
    if partitions is not None and (
        isinstance(partitions, bool) or not isinstance(partitions, int) or partitions <= 0
    ):
        raise ValueError(
            f"A opção 'partitions' deve ser um inteiro > 0 ou None. Recebido: {partitions!r}."
        )
    size = n if n is not None else module.SIZES[scale]

    def build() -> Dataset:
        dataset = module.build(spark, size, seed, partitions, settings, scale)
        dataset.scale = scale
        dataset.options = {**settings, "partitions": partitions}
        return dataset

    from coursekit.datasets.store import cache_key, through_cache

    key = cache_key(name, scale, seed, size, {**settings, "partitions": partitions})
    return through_cache(key, spark, build)
