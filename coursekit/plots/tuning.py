"""Plots for lesson 05 (tuning and feature selection): grid metrics, costs, feature scores.

Every function takes a small pandas object (a few rows: one per grid point,
variant or feature) and returns the matplotlib ``Axes`` it drew on.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from coursekit.plots.tuning import grid_heatmap
>>> table = pd.DataFrame({"numTrees": [10, 10, 20, 20], "maxDepth": [3, 5, 3, 5],
...                       "auc": [0.90, 0.93, 0.91, 0.94]})
>>> ax = grid_heatmap(table, row="maxDepth", col="numTrees", value="auc")
>>> ax.get_xlabel(), ax.get_ylabel()
('numTrees', 'maxDepth')
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from coursekit.plots._common import new_axes, require_columns

__all__ = ["cost_bars", "feature_scores", "grid_heatmap"]


def grid_heatmap(
    table: pd.DataFrame,
    *,
    row: str,
    col: str,
    value: str = "auc",
    best: str = "max",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of a metric over a two-parameter grid, best cell outlined.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per grid point, with columns ``row``, ``col`` and ``value``
        (e.g. built from ``CrossValidatorModel.avgMetrics``).
    row, col : str
        The parameters on the y and x axes, e.g. ``"maxDepth"`` and ``"numTrees"``.
    value : str, default="auc"
        The metric column.
    best : {"max", "min"}, default="max"
        Which cell to outline: ``"max"`` for AUC, ``"min"`` for an error.
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
        A column is missing, ``best`` is not "max"/"min", or the table is empty.
    """
    require_columns(
        table, (row, col, value), "grid_heatmap", hint="Passe os nomes certos em row=/col=/value=."
    )
    if best not in ("max", "min"):
        raise ValueError(f"O parâmetro 'best' deve ser 'max' ou 'min'. Recebido: {best!r}.")
    if table.empty:
        raise ValueError("grid_heatmap: a tabela está vazia; passe uma linha por ponto do grid.")
    pivot = table.pivot_table(index=row, columns=col, values=value, aggfunc="mean")
    ax = new_axes(ax, (1.6 + 1.3 * pivot.shape[1], 1.2 + 0.8 * pivot.shape[0]))
    sns.heatmap(pivot, annot=True, fmt=".4f", cmap="viridis", cbar_kws={"label": value}, ax=ax)
    flat = pivot.stack()
    r, c = flat.idxmax() if best == "max" else flat.idxmin()
    ax.add_patch(
        plt.Rectangle(
            (list(pivot.columns).index(c), list(pivot.index).index(r)),
            1,
            1,
            fill=False,
            edgecolor="red",
            lw=3,
        )
    )
    ax.set_xlabel(col)
    ax.set_ylabel(row)
    ax.set_title(title or f"{value} por combinação (melhor em vermelho)")
    return ax


def cost_bars(
    seconds: Mapping[str, float],
    *,
    estimated: Collection[str] = (),
    log: bool = False,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Horizontal bars of wall-clock seconds per variant, estimates hatched.

    Parameters
    ----------
    seconds : mapping of str to float
        Variant name -> seconds (measured in this run, or estimated).
    estimated : collection of str, default=()
        Names in ``seconds`` that are estimates, not measurements (drawn hatched).
    log : bool, default=False
        Logarithmic x axis (use it when an estimate dwarfs the measurements).
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
        ``seconds`` is empty, has a negative value, or ``estimated`` names an unknown variant.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from coursekit.plots.tuning import cost_bars
    >>> ax = cost_bars({"CV": 30.0, "TVS": 12.0, "grid do plano": 900.0},
    ...                estimated={"grid do plano"}, log=True)
    >>> len(ax.patches)
    3
    """
    if not seconds:
        raise ValueError("cost_bars: 'seconds' está vazio; passe {nome: segundos}.")
    bad = {k: v for k, v in seconds.items() if not v >= 0}
    if bad:
        raise ValueError(f"cost_bars: os tempos devem ser >= 0. Recebido: {bad}.")
    unknown = sorted(set(estimated) - set(seconds))
    if unknown:
        raise ValueError(
            f"cost_bars: 'estimated' cita variantes inexistentes {unknown}. "
            f"Variantes em 'seconds': {list(seconds)}."
        )
    names = list(seconds)
    ax = new_axes(ax, (7, 0.6 + 0.5 * len(names)))
    palette = sns.color_palette("deep", len(names))
    for i, name in enumerate(names):
        is_estimate = name in estimated
        ax.barh(
            i,
            seconds[name],
            color=palette[i],
            hatch="//" if is_estimate else None,
            alpha=0.55 if is_estimate else 1.0,
            edgecolor="black",
        )
        label = f"{seconds[name]:,.0f} s" + (" (estimado)" if is_estimate else "")
        ax.text(seconds[name], i, " " + label, va="center", fontsize=9)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlim(right=max(seconds.values()) * (8 if log else 1.35))
    ax.set_xlabel("segundos (relógio de parede)")
    ax.set_title(title or "Custo de cada estratégia")
    return ax


def feature_scores(
    scores: pd.Series,
    *,
    selected: Collection[str] = (),
    xlabel: str = "estatística",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Horizontal bars of one score per feature, selected features highlighted.

    Parameters
    ----------
    scores : pandas.Series
        Feature name (index) -> score (e.g. the chi-square statistic).
    selected : collection of str, default=()
        Features a selector kept (drawn in a strong colour).
    xlabel : str, default="estatística"
        Label of the x axis.
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
        ``scores`` is empty or ``selected`` names a feature not in ``scores``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from coursekit.plots.tuning import feature_scores
    >>> ax = feature_scores(pd.Series({"amount": 90.0, "hour": 40.0, "day": 1.0}), selected=["amount"])
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['amount', 'hour', 'day']
    """
    if len(scores) == 0:
        raise ValueError("feature_scores: 'scores' está vazio; passe uma Series feature -> valor.")
    unknown = sorted(set(selected) - set(scores.index))
    if unknown:
        raise ValueError(
            f"feature_scores: 'selected' cita features inexistentes {unknown}. "
            f"Features em 'scores': {list(scores.index)}."
        )
    ordered = scores.sort_values(ascending=False)
    ax = new_axes(ax, (6.5, 0.6 + 0.4 * len(ordered)))
    colors = ["tab:blue" if name in selected else "lightgray" for name in ordered.index]
    ax.barh(range(len(ordered)), ordered.to_numpy(), color=colors, edgecolor="black")
    ax.set_yticks(range(len(ordered)), list(ordered.index))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title or "Pontuação de cada feature (azul = selecionada)")
    return ax
