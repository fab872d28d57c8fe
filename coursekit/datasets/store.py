"""Write generated datasets to Parquet (with their truth) and read them back.

Layout of one dataset under ``<out>/<scale>/<name>/``::

    df/                  the main DataFrame (Parquet)
    tables/<table>/      further tables, e.g. tables/items
    truth/<key>/         truth DataFrames, e.g. truth/fraud_probability
    truth.json           scalar truth (numbers, dicts, lists)
    _COMPLETE.json       written last: seed, n, row counts, seconds

A dataset counts as present only when ``_COMPLETE.json`` exists with the same
seed and n, so an interrupted run is redone, not half-reused.

Examples
--------
>>> from coursekit.session import get_spark
>>> from coursekit.datasets import generate
>>> from coursekit.datasets.store import write_dataset, read_dataset
>>> import tempfile
>>> spark = get_spark("DocStore")
>>> out = tempfile.mkdtemp()
>>> info = write_dataset(generate("customers", spark, n=500), out)
>>> read_dataset("customers", spark, out, scale="ci").truth["k"]
5
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from coursekit.datasets._base import Dataset, Truth

MARKER = "_COMPLETE.json"
#: A folder of datasets already generated (written by the grader before the sandboxes run);
#: ``generate`` reads a dataset from there instead of computing it again, and writes a missing
#: one there when the folder is writable.
CACHE_ENV = "COURSEKIT_DATASET_CACHE"


def dataset_dir(out: str | Path, scale: str, name: str) -> Path:
    """Folder of one dataset: ``<out>/<scale>/<name>``."""
    return Path(out) / scale / name


def is_complete(out: str | Path, scale: str, name: str, seed: int, n: int) -> bool:
    """True when the folder holds a finished write with the same seed and n."""
    marker = dataset_dir(out, scale, name) / MARKER
    if not marker.exists():
        return False
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("seed") == seed and meta.get("n") == n


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def write_dataset(
    ds: Dataset,
    out: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write ``ds`` (df, tables, truth) under ``<out>/<scale>/<name>``, replacing what is there.

    Parameters
    ----------
    ds : Dataset
        From :func:`coursekit.datasets.generate`.
    out : str or Path
        Root folder, e.g. ``"data/generated"``.
    progress : callable, optional
        Called with a short pt-BR line after each part is written.

    Returns
    -------
    dict
        The metadata written to ``_COMPLETE.json`` (rows per part, seconds).
    """
    return _write(ds, dataset_dir(out, ds.scale, ds.name), progress)


def _write(ds: Dataset, target: Path, progress=None) -> dict[str, Any]:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    started = time.perf_counter()
    parts: dict[str, DataFrame] = {"df": ds.df}
    parts.update({f"tables/{key}": frame for key, frame in ds.tables.items()})
    parts.update({f"truth/{key}": frame for key, frame in ds.truth.frames().items()})
    rows: dict[str, int] = {}
    for part, frame in parts.items():
        path = target / part
        frame.write.mode("overwrite").parquet(str(path))
        rows[part] = frame.sparkSession.read.parquet(str(path)).count()
        if progress:
            progress(f"{part} ({rows[part]:,} linhas)")
    scalars = _json_safe(ds.truth.scalars())
    (target / "truth.json").write_text(json.dumps(scalars, indent=2, ensure_ascii=False))
    if progress:
        progress("truth.json")
    meta = {
        "name": ds.name,
        "scale": ds.scale,
        "seed": ds.seed,
        "n": ds.n,
        "options": _json_safe(ds.options),
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (target / MARKER).write_text(json.dumps(meta, indent=2))
    return meta


def read_dataset(
    name: str, spark: SparkSession, out: str | Path = "data/generated", *, scale: str = "aula"
) -> Dataset:
    """Read a dataset written by :func:`write_dataset` (or the CLI) back as a Dataset.

    Raises
    ------
    FileNotFoundError
        Nothing complete there; the message gives the command that writes it.
    """
    target = dataset_dir(out, scale, name)
    marker = target / MARKER
    if not marker.exists():
        raise FileNotFoundError(
            f"Não há dados completos de {name!r} em {str(target)!r}. Gere-os com:\n"
            f"  python -m coursekit.datasets generate --scale {scale} --out {out} --only {name}"
        )
    return _read(target, spark)


def _read(target: Path, spark: SparkSession) -> Dataset:
    meta = json.loads((target / MARKER).read_text())
    df = spark.read.parquet(str(target / "df"))
    tables = {
        p.name: spark.read.parquet(str(p))
        for p in sorted((target / "tables").glob("*"))
        if p.is_dir()
    }
    truth: dict[str, Any] = json.loads((target / "truth.json").read_text())
    for p in sorted((target / "truth").glob("*")):
        if p.is_dir():
            truth[p.name] = spark.read.parquet(str(p))
    return Dataset(
        meta["name"],
        meta["scale"],
        meta["seed"],
        meta["n"],
        df,
        tables,
        Truth(truth),
        meta["options"],
    )


def cache_key(name: str, scale: str, seed: int, n: int, options: dict[str, Any]) -> str:
    """Folder name of one generated dataset in a cache: name, scale and a hash of every input.

    >>> cache_key("reviews", "ci", 42, 4000, {"partitions": None})
    'reviews-ci-...'
    """
    blob = json.dumps([name, scale, seed, n, _json_safe(options)], sort_keys=True, default=str)
    return f"{name}-{scale}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


_BYPASS: list[bool] = []


@contextlib.contextmanager
def no_cache() -> Iterator[None]:
    """Inside this block ``generate`` neither reads nor writes ``$COURSEKIT_DATASET_CACHE``.

    The grader's references generate its hidden inputs here: the dataset folder is shown to
    every sandbox, and those inputs' truth must never reach it.

    >>> import os, tempfile
    >>> os.environ[CACHE_ENV] = tempfile.mkdtemp()
    >>> with no_cache():
    ...     through_cache("k", None, lambda: "made")
    'made'
    >>> os.listdir(os.environ.pop(CACHE_ENV))
    []
    """
    _BYPASS.append(True)
    try:
        yield
    finally:
        _BYPASS.pop()


def through_cache(key: str, spark: SparkSession, make: Callable[[], Dataset]) -> Dataset:
    """``make()``, or the copy of its result in the folder ``$COURSEKIT_DATASET_CACHE``.

    Without the variable this is ``make()``. A complete copy is read back from Parquet (same
    rows, truth already computed); a missing one is generated, written and read back when the
    folder is writable, so every reader sees the very same files.
    """
    folder = os.environ.get(CACHE_ENV)
    if not folder or _BYPASS:
        return make()
    target = Path(folder) / key
    if (target / MARKER).is_file():
        return _read(target, spark)
    ds = make()
    if not os.access(folder, os.W_OK):
        return ds
    partial = target.with_name(f".{key}.{os.getpid()}")
    _write(ds, partial)
    if not (target / MARKER).is_file():
        shutil.rmtree(target, ignore_errors=True)  # an interrupted copy
        partial.rename(target)
    else:
        shutil.rmtree(partial, ignore_errors=True)
    return _read(target, spark)
