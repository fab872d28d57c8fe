"""The object every generator returns, and its lazily computed truth."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame


class Truth(Mapping[str, Any]):
    """A read-only dict of ground-truth values, some computed on first access.

    Scalars that need a Spark job (for example the Bayes-optimal AUC) are stored
    as zero-argument functions and evaluated once, when first read, so that
    generating a large dataset costs nothing until the truth is used.

    Examples
    --------
    >>> t = Truth({"k": 5, "double_k": lambda: 10})
    >>> t["k"], t["double_k"]
    (5, 10)
    >>> sorted(t)
    ['double_k', 'k']
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values: dict[str, Any] = dict(values)
        self._lazy: set[str] = {key for key, value in values.items() if _is_thunk(value)}

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            raise KeyError(
                f"A verdade (truth) não tem a chave {key!r}. Chaves disponíveis: {sorted(self._values)}"
            )
        if key in self._lazy:
            self._values[key] = self._values[key]()
            self._lazy.discard(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def frames(self) -> dict[str, DataFrame]:
        """The truth entries that are Spark DataFrames."""
        return {key: value for key, value in self.items() if isinstance(value, DataFrame)}

    def scalars(self) -> dict[str, Any]:
        """The truth entries that are not DataFrames (numbers, dicts, lists, strings)."""
        return {key: value for key, value in self.items() if not isinstance(value, DataFrame)}

    def __repr__(self) -> str:
        shown = []
        for key, value in self._values.items():
            if key in self._lazy:
                shown.append(f"{key}=<calculado ao acessar>")
            elif isinstance(value, DataFrame):
                shown.append(f"{key}=DataFrame[{', '.join(value.columns)}]")
            else:
                text = repr(value)
                shown.append(f"{key}={text if len(text) < 60 else text[:57] + '...'}")
        return "Truth(" + ", ".join(shown) + ")"


def _is_thunk(value: Any) -> bool:
    return callable(value) and not isinstance(value, DataFrame | type)


@dataclass
class Dataset:
    """A generated dataset: the features, further tables and the ground truth.

    Attributes
    ----------
    name : str
        Dataset name, e.g. ``"transactions"``.
    scale : str
        ``"ci"``, ``"aula"`` or ``"grande"`` (or ``"custom"`` when ``n`` was given).
    seed : int
        The seed used.
    n : int
        The size parameter used (rows, users, days... see the DATASHEET).
    df : pyspark.sql.DataFrame
        The main table: what a model may see.
    tables : dict of str to DataFrame
        Further tables (e.g. ``items`` for ratings).
    truth : Truth
        Parameters, best achievable scores and truth DataFrames kept apart from ``df``.
    options : dict
        The options used (defaults filled in).
    """

    name: str
    scale: str
    seed: int
    n: int
    df: DataFrame
    tables: dict[str, DataFrame] = field(default_factory=dict)
    truth: Truth = field(default_factory=lambda: Truth({}))
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        tables = ", ".join(self.tables) or "-"
        return (
            f"Dataset(name={self.name!r}, scale={self.scale!r}, seed={self.seed}, n={self.n}, "
            f"df=[{', '.join(self.df.columns)}], tables=[{tables}], truth={sorted(self.truth)})"
        )


Thunk = Callable[[], Any]
