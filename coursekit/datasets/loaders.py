"""Load a user's own file in a course dataset's schema, with clear schema errors.

A student can swap a generated dataset for a real one (e.g. a fraud CSV) if it
has the same columns. ``load_csv`` reads the file as text, converts each
expected column to its type and says, in Portuguese, which columns are missing
and which values do not convert, listing the columns that are there.

Examples
--------
>>> from coursekit.session import get_spark
>>> from coursekit.datasets import load_csv
>>> spark = get_spark("DocLoaders")
>>> df = load_csv("transactions", "data/samples/transactions.csv", spark)
>>> df.schema["amount"].dataType.simpleString()
'double'
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from coursekit.constants import DATASETS

DATASHEET = "data/DATASHEET.md"


class SchemaError(ValueError):
    """A DataFrame or file does not follow a dataset's schema (message in pt-BR)."""


def _expected(name: str) -> dict[str, str]:
    from coursekit.datasets import schema_of  # late import: avoids a cycle

    if name not in DATASETS:
        raise ValueError(
            f"Conjunto de dados desconhecido: {name!r}. Nomes válidos: {', '.join(DATASETS)}."
        )
    return schema_of(name)


def _select(expected: dict[str, str], columns: Iterable[str] | None) -> dict[str, str]:
    if columns is None:
        return expected
    wanted = list(columns)
    unknown = [c for c in wanted if c not in expected]
    if unknown:
        raise ValueError(
            f"O parâmetro 'columns' tem colunas fora do esquema: {unknown}. "
            f"Colunas do esquema: {list(expected)}."
        )
    return {c: expected[c] for c in wanted}


def schema_problems(
    df: DataFrame, name: str, *, columns: Iterable[str] | None = None, check_values: bool = True
) -> list[str]:
    """List what keeps ``df`` from following dataset ``name``'s schema (empty list = fine).

    Parameters
    ----------
    df : DataFrame
        The user's data.
    name : str
        Dataset whose schema to check, e.g. ``"transactions"``.
    columns : iterable of str, optional
        Only these schema columns are required (default: all of them).
    check_values : bool, default=True
        For columns of another type, run one Spark job counting the values that
        do not convert (``try_cast``). With False only names and types are checked.

    Returns
    -------
    list of str
        One pt-BR line per problem.
    """
    expected = _select(_expected(name), columns)
    actual = {field.name: field.dataType.simpleString() for field in df.schema.fields}
    problems = [
        f"coluna ausente: {col!r} (tipo esperado: {kind})"
        for col, kind in expected.items()
        if col not in actual
    ]
    to_check = [c for c, kind in expected.items() if c in actual and actual[c] != kind]
    if not to_check:
        return problems
    if not check_values:
        problems += [f"coluna {c!r} tem tipo {actual[c]}, esperado {expected[c]}" for c in to_check]
        return problems
    aggs = []
    for c in to_check:
        bad = F.col(c).isNotNull() & F.col(c).try_cast(expected[c]).isNull()
        aggs.append(F.sum(bad.cast("long")).alias(f"n{len(aggs)}"))
        aggs.append(
            F.first(F.when(bad, F.col(c).cast("string")), ignorenulls=True).alias(f"e{len(aggs)}")
        )
    row = df.agg(*aggs).first()
    for j, c in enumerate(to_check):
        n_bad, example = row[2 * j], row[2 * j + 1]
        if n_bad:
            problems.append(
                f"coluna {c!r}: {n_bad} valor(es) não convertem de {actual[c]} para "
                f"{expected[c]} (ex.: {example!r})"
            )
    return problems


def check_schema(
    df: DataFrame, name: str, *, columns: Iterable[str] | None = None, cast: bool = True
) -> DataFrame:
    """Check ``df`` against dataset ``name``'s schema; return it with the expected types.

    Parameters
    ----------
    df : DataFrame
        The user's data (extra columns are kept, after the schema's columns).
    name : str
        Dataset whose schema to check.
    columns : iterable of str, optional
        Only these schema columns are required (default: all of them).
    cast : bool, default=True
        Convert the schema's columns to their expected types.

    Returns
    -------
    DataFrame

    Raises
    ------
    SchemaError
        Missing columns or values that do not convert; the message lists
        ``df.columns`` and how to fix the data.
    """
    expected = _select(_expected(name), columns)
    problems = schema_problems(df, name, columns=expected)
    if problems:
        raise SchemaError(
            f"Os dados não seguem o esquema de {name!r}:\n  - "
            + "\n  - ".join(problems)
            + f"\nColunas encontradas: {df.columns}\n"
            "Como corrigir: renomeie ou converta as colunas (ex.: "
            "df.withColumnRenamed('valor', 'amount'), F.col('hora').cast('int')); "
            f"o esquema completo está em {DATASHEET}."
        )
    if not cast:
        return df
    typed = [F.col(c).cast(kind).alias(c) for c, kind in expected.items()]
    rest = [F.col(c) for c in df.columns if c not in expected]
    return df.select(*typed, *rest)


def load_csv(
    name: str,
    path: str | Path,
    spark: SparkSession,
    *,
    columns: Iterable[str] | None = None,
    **read_options: str,
) -> DataFrame:
    """Read a CSV with a header in dataset ``name``'s schema, typed and checked.

    Parameters
    ----------
    name : str
        Dataset whose schema the file follows, e.g. ``"transactions"``.
    path : str or Path
        CSV file or folder of CSV files (with a header line).
    spark : SparkSession
    columns : iterable of str, optional
        Only these schema columns are required (e.g. leave out a label you do not have).
    **read_options : str
        Passed to ``spark.read.options`` (e.g. ``sep=";"``).

    Returns
    -------
    DataFrame
        Schema columns with their types, then any extra columns as text.

    Raises
    ------
    FileNotFoundError
        The path does not exist (local paths only are checked).
    SchemaError
        Missing columns or values that do not convert.
    """
    _expected(name)
    text = str(path)
    if "://" not in text and not Path(text).exists():
        raise FileNotFoundError(
            f"Arquivo não encontrado: {text!r}. Confira o caminho (relativo à pasta atual: {Path.cwd()})."
        )
    options = {"header": "true", "inferSchema": "false", **read_options}
    df = spark.read.options(**options).csv(text)
    return check_schema(df, name, columns=columns)
