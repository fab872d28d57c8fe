"""Small CSV samples of every dataset (committed under data/samples for a first look).

Each sample is a few hundred rows of the "ci" scale, chosen to be readable:
whole customer histories for anomalies, one store-product series for sales.
Written with pandas (one plain CSV file each), read back with
:func:`coursekit.datasets.load_csv`.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from coursekit.constants import SEED


def _to_csv(df: DataFrame, path: Path) -> Path:
    pdf = df.toPandas()
    for column, kind in df.dtypes:
        if kind == "timestamp":
            pdf[column] = pdf[column].dt.strftime("%Y-%m-%d %H:%M:%S")
    pdf.to_csv(path, index=False)
    return path


def sample_frames(spark: SparkSession, rows: int = 300, seed: int = SEED) -> dict[str, DataFrame]:
    """The DataFrames written as samples, by file stem (small: at most ``rows`` rows each)."""
    from coursekit.datasets import generate

    frames: dict[str, DataFrame] = {}
    tx = generate("transactions", spark, scale="ci", seed=seed)
    frames["transactions"] = tx.df.orderBy("transaction_id").limit(rows)

    ratings = generate("ratings", spark, scale="ci", seed=seed)
    few_users = ratings.df.where(F.col("user_id") < 6)
    frames["ratings"] = few_users.orderBy("user_id", "item_id").limit(rows)
    frames["ratings_items"] = ratings.tables["items"].orderBy("item_id").limit(rows)

    customers = generate("customers", spark, scale="ci", seed=seed)
    frames["customers"] = customers.df.orderBy("customer_id").limit(rows)

    sales = generate("sales", spark, scale="ci", seed=seed)
    one_series = sales.df.where((F.col("store_id") == 0) & (F.col("product_id") == 0))
    frames["sales"] = one_series.orderBy("date").limit(rows)

    reviews = generate("reviews", spark, scale="ci", seed=seed)
    frames["reviews"] = reviews.df.orderBy("review_id").limit(rows)

    anomalies = generate("anomalies", spark, scale="ci", seed=seed)
    first = anomalies.df.orderBy("customer_id", "timestamp", "transaction_id").limit(rows)
    frames["anomalies"] = first
    frames["anomalies_labels"] = (
        anomalies.truth["labels"]
        .join(first.select("transaction_id"), "transaction_id")
        .orderBy("transaction_id")
    )
    return frames


def write_samples(
    spark: SparkSession, out: str | Path = "data/samples", *, rows: int = 300, seed: int = SEED
) -> list[Path]:
    """Write every sample as ``<out>/<stem>.csv``; return the paths."""
    if not isinstance(rows, int) or rows <= 0:
        raise ValueError(f"O parâmetro 'rows' deve ser um inteiro > 0. Recebido: {rows!r}.")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _to_csv(df, folder / f"{stem}.csv") for stem, df in sample_frames(spark, rows, seed).items()
    ]
