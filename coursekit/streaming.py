"""New files arriving in a folder over time: the source of the streaming demo (lesson 09).

A Structured Streaming file source watches a folder and treats every new file
as new input. :class:`FileDropper` plays the part of the system that exports
transactions: it splits a table into ``n_files`` consecutive chunks (ordered by
a column, so the same rows always give the same files) and writes them into the
folder one at a time, either on demand (:meth:`FileDropper.drop`) or from a
background thread, one every ``interval`` seconds (:meth:`FileDropper.start`).

Each file is written under a hidden name (``.name.tmp``, which Spark ignores) and
then renamed, so a stream never reads half a file.

Examples
--------
>>> import tempfile
>>> import pandas as pd
>>> from coursekit.streaming import FileDropper
>>> rows = pd.DataFrame({"transaction_id": range(10), "amount": [float(i) for i in range(10)]})
>>> dropper = FileDropper(rows, tempfile.mkdtemp(), n_files=3, order_by="transaction_id")
>>> dropper.sizes
[4, 3, 3]
>>> [p.name for p in dropper.drop(2)]
['transactions-00001.csv', 'transactions-00002.csv']
>>> dropper.rows_dropped, dropper.done
(7, False)
>>> dropper.start(interval=0.01).wait(timeout=10)
True
>>> dropper.rows_dropped
10
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMATS = ("csv", "json", "parquet")
#: How timestamps are written in CSV/JSON: ISO 8601, which Spark parses by default.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


class FileDropper:
    """Write the rows of a table into ``folder`` as ``n_files`` numbered files, over time.

    Parameters
    ----------
    rows : pandas.DataFrame or pyspark.sql.DataFrame
        The rows to deliver. A Spark DataFrame is collected (at most ``max_rows`` rows).
    folder : str or path-like
        The folder a stream reads; created if missing.
    n_files : int
        Number of files (consecutive chunks of almost equal size).
    fmt : {"csv", "json", "parquet"}, default="csv"
        File format (CSV has a header line; JSON is one object per line).
    order_by : str, optional
        Column that orders the rows before splitting (stable sort). Default: the
        given order.
    prefix : str, default="transactions"
        File names are ``<prefix>-00001.<fmt>``, ``<prefix>-00002.<fmt>``, ...
    max_rows : int, default=1_000_000
        Refuse to collect a Spark DataFrame larger than this.

    Notes
    -----
    The same rows, ``n_files``, ``fmt`` and ``order_by`` always produce the same
    files with the same contents; only the moment each appears depends on the clock.
    """

    def __init__(
        self,
        rows: Any,
        folder: str | os.PathLike,
        *,
        n_files: int,
        fmt: str = "csv",
        order_by: str | None = None,
        prefix: str = "transactions",
        max_rows: int = 1_000_000,
    ) -> None:
        if isinstance(n_files, bool) or not isinstance(n_files, int) or n_files < 1:
            raise ValueError(
                f"O parâmetro 'n_files' deve ser um inteiro >= 1. Recebido: {n_files!r}"
            )
        if fmt not in FORMATS:
            raise ValueError(
                f"O parâmetro 'fmt' deve ser um de {', '.join(FORMATS)}. Recebido: {fmt!r}"
            )
        table = _as_pandas(rows, max_rows)
        if order_by is not None:
            if order_by not in table.columns:
                raise ValueError(
                    f"O parâmetro 'order_by' deve ser uma coluna da tabela. Recebido: {order_by!r}; "
                    f"colunas: {list(table.columns)}"
                )
            table = table.sort_values(order_by, kind="mergesort")
        if len(table) < n_files:
            raise ValueError(
                f"O parâmetro 'n_files' ({n_files}) é maior que o número de linhas ({len(table)}); "
                "use menos arquivos ou mais linhas."
            )
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self.prefix = prefix
        self._chunks = [
            table.iloc[idx].reset_index(drop=True)
            for idx in np.array_split(np.arange(len(table)), n_files)
        ]
        self._written: list[Path] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def __repr__(self) -> str:
        return (
            f"FileDropper(folder={str(self.folder)!r}, files={len(self._written)}/{self.n_files}, "
            f"rows={self.rows_dropped}/{self.total_rows})"
        )

    # what will be / has been delivered
    @property
    def n_files(self) -> int:
        """How many files the dropper delivers in total."""
        return len(self._chunks)

    @property
    def sizes(self) -> list[int]:
        """Rows in each file, in order."""
        return [len(c) for c in self._chunks]

    @property
    def total_rows(self) -> int:
        """Rows in all the files together."""
        return sum(self.sizes)

    @property
    def files(self) -> list[Path]:
        """The files written so far, in order."""
        with self._lock:
            return list(self._written)

    @property
    def rows_dropped(self) -> int:
        """Rows in the files written so far."""
        with self._lock:
            return sum(len(c) for c in self._chunks[: len(self._written)])

    @property
    def done(self) -> bool:
        """True when every file has been written."""
        with self._lock:
            return len(self._written) == len(self._chunks)

    def file_name(self, number: int) -> str:
        """The name of file ``number`` (1-based)."""
        return f"{self.prefix}-{number:05d}.{self.fmt}"

    # writing
    def _write(self, chunk: pd.DataFrame, target: Path) -> None:
        tmp = target.with_name(f".{target.name}.tmp")
        if self.fmt == "csv":
            chunk.to_csv(tmp, index=False, date_format=TIMESTAMP_FORMAT)
        elif self.fmt == "json":
            chunk.to_json(tmp, orient="records", lines=True, date_format="iso", date_unit="s")
        else:
            chunk.to_parquet(tmp, index=False)
        os.replace(tmp, target)  # atomic: the stream sees the whole file or nothing

    def drop_next(self) -> Path | None:
        """Write the next file now; return its path (``None`` when all were written)."""
        with self._lock:
            number = len(self._written)
            if number == len(self._chunks):
                return None
            target = self.folder / self.file_name(number + 1)
            self._write(self._chunks[number], target)
            self._written.append(target)
            return target

    def drop(self, k: int | None = None) -> list[Path]:
        """Write the next ``k`` files now (all remaining when ``k`` is None)."""
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise ValueError(f"O parâmetro 'k' deve ser um inteiro >= 0 ou None. Recebido: {k!r}")
        out = []
        while k is None or len(out) < k:
            path = self.drop_next()
            if path is None:
                break
            out.append(path)
        return out

    # background delivery
    def start(self, interval: float = 1.0) -> FileDropper:
        """Deliver the remaining files from a background thread, one every ``interval`` seconds."""
        if not isinstance(interval, int | float) or interval < 0:
            raise ValueError(
                f"O parâmetro 'interval' deve ser um número >= 0. Recebido: {interval!r}"
            )
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(
                "Este FileDropper já está entregando arquivos; chame wait() ou stop() antes."
            )
        self._stop.clear()

        def run() -> None:
            try:
                while not self._stop.is_set():
                    if self.drop_next() is None:
                        return
                    self._stop.wait(interval)
            except BaseException as exc:  # surfaced by wait()
                self.error = exc

        self._thread = threading.Thread(target=run, name="FileDropper", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background delivery to finish; True when every file was written."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise RuntimeError(
                f"O FileDropper falhou ao gravar um arquivo: {self.error!r}"
            ) from self.error
        return self.done

    def stop(self) -> None:
        """Stop the background delivery (files already written stay)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FileDropper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _as_pandas(rows: Any, max_rows: int) -> pd.DataFrame:
    if isinstance(rows, pd.DataFrame):
        return rows.reset_index(drop=True)
    if hasattr(rows, "toPandas") and hasattr(rows, "limit"):
        n = rows.limit(max_rows + 1).count()
        if n > max_rows:
            raise ValueError(
                f"O DataFrame tem mais de max_rows={max_rows} linhas; o FileDropper coleta as linhas "
                "no driver. Filtre antes (ex.: df.where(...)) ou aumente max_rows."
            )
        return rows.toPandas()
    raise TypeError(
        "O parâmetro 'rows' deve ser um pandas.DataFrame ou um DataFrame do Spark. "
        f"Recebido: {type(rows).__name__}"
    )
