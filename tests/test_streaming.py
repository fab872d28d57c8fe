"""coursekit.streaming.FileDropper: deterministic files, atomic delivery, read back by a real stream."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from coursekit.streaming import FileDropper

SCHEMA = "transaction_id BIGINT, timestamp TIMESTAMP, amount DOUBLE, channel STRING"


def _rows(n: int = 50) -> pd.DataFrame:
    start = dt.datetime(2025, 1, 1, 8, 30, 0)
    return pd.DataFrame(
        {
            "transaction_id": list(range(n))[::-1],  # reversed: order_by must sort it
            "timestamp": [start + dt.timedelta(minutes=7 * i) for i in range(n)],
            "amount": [round(10.0 + 1.25 * i, 2) for i in range(n)],
            "channel": [("online", "app", "presencial")[i % 3] for i in range(n)],
        }
    )


def _contents(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_split_sizes_and_names(tmp_path):
    dropper = FileDropper(_rows(10), tmp_path / "in", n_files=3, order_by="transaction_id")
    assert dropper.sizes == [4, 3, 3] and dropper.total_rows == 10
    assert dropper.files == [] and dropper.rows_dropped == 0 and not dropper.done
    written = dropper.drop(2)
    assert [p.name for p in written] == ["transactions-00001.csv", "transactions-00002.csv"]
    assert dropper.rows_dropped == 7
    assert dropper.drop() == [tmp_path / "in" / "transactions-00003.csv"]
    assert dropper.done and dropper.drop_next() is None


def test_same_rows_give_the_same_files(tmp_path):
    for name in ("a", "b"):
        FileDropper(_rows(), tmp_path / name, n_files=4, order_by="transaction_id").drop()
    assert _contents(tmp_path / "a") == _contents(tmp_path / "b")
    first = pd.read_csv(tmp_path / "a" / "transactions-00001.csv")
    assert list(first["transaction_id"]) == list(range(13))  # ordered, first chunk of 50/4
    # transaction 0 is row 49 of _rows(): 08:30 + 49 x 7 min, written in ISO 8601 (Spark's default)
    assert first["timestamp"].iloc[0] == "2025-01-01T14:13:00"


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_no_hidden_temporary_files_left(tmp_path, fmt):
    folder = tmp_path / "in"
    FileDropper(_rows(), folder, n_files=5, fmt=fmt).drop()
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 5 and all(n.endswith("." + fmt) and not n.startswith(".") for n in names)


def test_background_delivery_and_stop(tmp_path):
    dropper = FileDropper(_rows(), tmp_path / "in", n_files=5)
    assert dropper.start(interval=0.0).wait(timeout=30) is True
    assert dropper.rows_dropped == 50 and len(dropper.files) == 5

    slow = FileDropper(_rows(), tmp_path / "slow", n_files=5)
    slow.start(interval=30.0)  # first file now, the next one in 30 s
    slow.stop()
    assert 1 <= len(slow.files) < 5 and not slow.done


def test_stream_reads_every_row_exactly_once(spark, tmp_path):
    """A file stream with an explicit schema sees each delivered row once, across restarts."""
    inbox, sink, checkpoint = tmp_path / "inbox", tmp_path / "sink", tmp_path / "checkpoint"
    rows = _rows(60)
    dropper = FileDropper(rows, inbox, n_files=6, order_by="transaction_id")
    stream = (
        spark.readStream.schema(SCHEMA)
        .option("header", True)
        .option("maxFilesPerTrigger", 2)
        .csv(str(inbox))
    )

    def run_available_now() -> None:
        query = (
            stream.writeStream.format("parquet")
            .option("path", str(sink))
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()

    dropper.drop(3)
    run_available_now()
    assert spark.read.parquet(str(sink)).count() == dropper.rows_dropped == 30
    dropper.drop()
    run_available_now()  # restart from the checkpoint: only the new files
    out = (
        spark.read.parquet(str(sink))
        .toPandas()
        .sort_values("transaction_id")
        .reset_index(drop=True)
    )
    assert len(out) == 60 and out["transaction_id"].is_unique
    expected = rows.sort_values("transaction_id").reset_index(drop=True)
    assert list(out["transaction_id"]) == list(expected["transaction_id"])
    assert list(out["amount"]) == list(expected["amount"])
    assert list(out["timestamp"]) == list(expected["timestamp"])  # session time zone is UTC


def test_accepts_a_spark_dataframe(spark, tmp_path):
    df = spark.range(20).selectExpr("id AS transaction_id", "id * 2.5 AS amount")
    dropper = FileDropper(df, tmp_path / "in", n_files=2, order_by="transaction_id")
    assert dropper.sizes == [10, 10]
    with pytest.raises(ValueError, match="max_rows=10"):
        FileDropper(df, tmp_path / "big", n_files=2, max_rows=10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_files": 0}, "'n_files' deve ser um inteiro >= 1. Recebido: 0"),
        ({"n_files": 2.5}, "'n_files'.*Recebido: 2.5"),
        (
            {"n_files": 2, "fmt": "xlsx"},
            "'fmt' deve ser um de csv, json, parquet. Recebido: 'xlsx'",
        ),
        ({"n_files": 2, "order_by": "valor"}, "'order_by'.*Recebido: 'valor'.*colunas"),
        ({"n_files": 99}, "'n_files' \\(99\\) é maior que o número de linhas \\(50\\)"),
    ],
)
def test_bad_arguments_say_what_was_received(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        FileDropper(_rows(), tmp_path / "in", **kwargs)


def test_bad_rows_type(tmp_path):
    with pytest.raises(
        TypeError, match="pandas.DataFrame ou um DataFrame do Spark. Recebido: list"
    ):
        FileDropper([1, 2, 3], tmp_path, n_files=1)


def test_bad_interval_and_k(tmp_path):
    dropper = FileDropper(_rows(), tmp_path / "in", n_files=2)
    with pytest.raises(ValueError, match="'interval' deve ser um número >= 0. Recebido: -1"):
        dropper.start(interval=-1)
    with pytest.raises(ValueError, match="'k' deve ser um inteiro >= 0 ou None. Recebido: -2"):
        dropper.drop(-2)
