"""Plots for lesson 06 (demand forecasting): forecast vs actual, errors vs the floor.

Aggregate in Spark first (one series, or a daily total): every function takes
a small pandas frame and returns the matplotlib ``Axes`` it drew on.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from coursekit.plots.forecast import forecast_vs_actual
>>> frame = pd.DataFrame({"date": pd.date_range("2025-01-01", periods=3),
...                       "units": [10.0, 12.0, 9.0], "gbt": [11.0, 11.5, 9.5]})
>>> ax = forecast_vs_actual(frame, forecasts=["gbt"])
>>> [line.get_label() for line in ax.get_lines()]
['real', 'gbt']
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

__all__ = ["error_bars", "forecast_vs_actual"]

#: Largest number of points a line plot here accepts (aggregate in Spark first).
MAX_POINTS = 20_000


def forecast_vs_actual(
    frame: pd.DataFrame,
    *,
    forecasts: Sequence[str],
    date: str = "date",
    actual: str = "units",
    split: object | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Actual values and one line per forecast, over time.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per date (a single series, or a total aggregated in Spark),
        with columns ``date``, ``actual`` and every name in ``forecasts``.
    forecasts : sequence of str
        Forecast columns to draw (e.g. ``["naive", "gbt"]``).
    date, actual : str
        Column names of the time axis and of the observed values.
    split : date-like, optional
        Where training ends; drawn as a vertical line.
    title : str, optional
        Axes title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        A column is missing, ``forecasts`` is empty, or the frame has more than
        ``MAX_POINTS`` rows (aggregate or filter in Spark first).
    """
    if not forecasts:
        raise ValueError(
            "forecast_vs_actual: 'forecasts' está vazio; passe ao menos uma coluna de previsão."
        )
    missing = [c for c in (date, actual, *forecasts) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"forecast_vs_actual: coluna(s) {missing} não encontrada(s). "
            f"Colunas existentes: {list(frame.columns)}."
        )
    if len(frame) > MAX_POINTS:
        raise ValueError(
            f"forecast_vs_actual: {len(frame):,} linhas é demais (máximo {MAX_POINTS:,}); "
            "agregue por data no Spark ou filtre uma série antes do toPandas()."
        )
    data = frame.sort_values(date)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.8))
    ax.plot(data[date], data[actual], color="black", lw=2, label="real")
    palette = sns.color_palette("deep", len(forecasts))
    for color, name in zip(palette, forecasts, strict=True):
        ax.plot(data[date], data[name], lw=1.3, color=color, label=name)
    if split is not None:
        ax.axvline(split, color="gray", ls="--", lw=1)
    ax.set_xlabel(date)
    ax.set_ylabel(actual)
    ax.set_title(title or "Previsão x real")
    ax.legend(fontsize=8, ncol=min(4, len(forecasts) + 1))
    ax.figure.autofmt_xdate()
    return ax


def error_bars(
    metrics: pd.DataFrame,
    *,
    metric: str = "mae",
    model: str = "model",
    floor: float | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Bars of one error metric per model, with the irreducible floor as a line.

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per model, with columns ``model`` and ``metric``.
    metric : str, default="mae"
        The error column to draw.
    model : str, default="model"
        The column naming each model.
    floor : float, optional
        The best error any model can reach (from the data's truth); a dashed line.
    title : str, optional
        Axes title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from coursekit.plots.forecast import error_bars
    >>> m = pd.DataFrame({"model": ["naive", "gbt"], "mae": [3.0, 2.1]})
    >>> ax = error_bars(m, floor=2.0)
    >>> len(ax.patches)
    2
    """
    missing = [c for c in (model, metric) if c not in metrics.columns]
    if missing:
        raise ValueError(
            f"error_bars: coluna(s) {missing} não encontrada(s). Colunas existentes: {list(metrics.columns)}."
        )
    if metrics.empty:
        raise ValueError("error_bars: 'metrics' está vazio; passe uma linha por modelo.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.8 + 0.5 * len(metrics)))
    palette = sns.color_palette("deep", len(metrics))
    ax.barh(metrics[model].astype(str), metrics[metric], color=palette, edgecolor="black")
    for i, value in enumerate(metrics[metric]):
        ax.text(value, i, f" {value:.3g}", va="center", fontsize=9)
    if floor is not None:
        ax.axvline(floor, color="black", ls="--", lw=1.2, label=f"piso irredutível = {floor:.3g}")
        ax.legend(fontsize=8, loc="lower right")
    ax.invert_yaxis()
    ax.set_xlim(right=max(metrics[metric].max(), floor or 0) * 1.25)
    ax.set_xlabel(metric)
    ax.set_title(title or f"{metric} por modelo (menor é melhor)")
    return ax
