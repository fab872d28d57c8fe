"""Time variants A/B in the same run: repeats, median, a tidy table.

Examples
--------
>>> from coursekit.bench import Timer, compare
>>> with Timer() as t:
...     _ = sum(range(1000))
>>> t.seconds >= 0
True
>>> table = compare({"a": lambda: sum(range(10)), "b": lambda: sum(range(20))}, repeats=3, warmup=0)
>>> list(table.columns)
['variant', 'median_s', 'min_s', 'max_s', 'repeats', 'relative']
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import pandas as pd


class Timer:
    """Context manager measuring wall-clock seconds (``with Timer() as t: ...; t.seconds``)."""

    def __init__(self) -> None:
        self.seconds: float = float("nan")
        self._start: float | None = None

    def __enter__(self) -> Timer:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


def time_call(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1) -> list[float]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times; return the seconds of each."""
    if repeats < 1:
        raise ValueError(f"O parâmetro 'repeats' deve ser >= 1. Recebido: {repeats}")
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def compare(
    variants: Mapping[str, Callable[[], object]], *, repeats: int = 3, warmup: int = 1
) -> pd.DataFrame:
    """Time each variant in turn (same run, same data) and return one row per variant.

    Parameters
    ----------
    variants : mapping of name -> zero-argument callable
        Each callable must do the complete work (end with an action such as ``count()``).
    repeats, warmup : int
        Timed and untimed runs per variant.

    Returns
    -------
    pandas.DataFrame
        Columns variant, median_s, min_s, max_s, repeats, relative (median / the first variant's median).
    """
    if not variants:
        raise ValueError("compare() precisa de pelo menos uma variante.")
    rows = []
    for name, fn in variants.items():
        times = time_call(fn, repeats=repeats, warmup=warmup)
        rows.append(
            {
                "variant": name,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "repeats": repeats,
            }
        )
    table = pd.DataFrame(rows)
    table["relative"] = table["median_s"] / table["median_s"].iloc[0]
    return table


def speedup(table: pd.DataFrame, slow: str, fast: str) -> float:
    """Median of ``slow`` divided by median of ``fast`` from a ``compare`` table."""
    medians = table.set_index("variant")["median_s"]
    for name in (slow, fast):
        if name not in medians.index:
            raise KeyError(
                f"Variante {name!r} não está na tabela; existentes: {list(medians.index)}"
            )
    return float(medians[slow] / medians[fast])
