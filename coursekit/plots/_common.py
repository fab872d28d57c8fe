"""Input checks and axes shared by the plot modules (one place for their error messages)."""

from __future__ import annotations

from collections.abc import Collection

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes


def require_columns(
    table: pd.DataFrame,
    names: Collection[str],
    where: str,
    *,
    hint: str = "Renomeie as colunas ou passe os nomes certos nos parâmetros.",
    allow_empty: bool = True,
) -> None:
    """Raise a clear pt-BR error unless ``table`` is a DataFrame with every column in ``names``.

    Parameters
    ----------
    table : pandas.DataFrame
        The small table a plot function received.
    names : collection of str
        Columns the function needs.
    where : str
        The function's name, first in the message.
    hint : str, optional
        How to fix it, appended to the message about missing columns.
    allow_empty : bool, default=True
        When False, an empty table is an error too.

    Raises
    ------
    TypeError
        ``table`` is not a pandas DataFrame (e.g. a Spark DataFrame).
    ValueError
        A column is missing, or the table is empty and ``allow_empty`` is False.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"k": [2]}), ["k"], "demo")
    >>> require_columns(pd.DataFrame({"k": [2]}), ["k", "cost"], "demo")
    Traceback (most recent call last):
    ...
    ValueError: demo: coluna(s) ['cost'] não encontrada(s). Colunas existentes: ['k']. Renomeie as colunas ou passe os nomes certos nos parâmetros.
    """  # noqa: E501
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"{where}: esperava um pandas.DataFrame pequeno (agregue no Spark e use toPandas()). "
            f"Recebido: {type(table).__name__}."
        )
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise ValueError(
            f"{where}: coluna(s) {missing} não encontrada(s). "
            f"Colunas existentes: {list(table.columns)}. {hint}"
        )
    if not allow_empty and table.empty:
        raise ValueError(f"{where}: a tabela está vazia; não há nada para desenhar.")


def new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """``ax`` itself, or the axes of a new figure of ``size`` inches when ``ax`` is None."""
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax
