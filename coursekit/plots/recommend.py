"""Plots for recommendation (lesson 03): popularity long tail, errors vs floor, top-K metrics, factors.

Every function takes small pandas objects already aggregated in Spark (one row
per item, per model or per metric) and returns the matplotlib ``Axes``.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from coursekit.plots.recommend import plot_long_tail
>>> ax = plot_long_tail(pd.Series([50, 20, 5, 1]))
>>> ax.get_xlabel()
'itens, do mais ao menos avaliado'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from coursekit.plots._common import require_columns


def plot_long_tail(counts, *, ax: plt.Axes | None = None) -> plt.Axes:
    """Ratings per item, most rated first, with the cumulative share on a second axis.

    Parameters
    ----------
    counts : array-like of int
        Number of ratings of each item (any order; e.g. ``groupBy("item_id").count()``).
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The left axis (counts); the share is drawn on ``ax.right_ax``-style twin axis.
    """
    values = np.sort(np.asarray(counts, dtype=float))[::-1]
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"plot_long_tail: 'counts' deve ser uma lista não vazia de contagens por item. "
            f"Recebido: forma {values.shape}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    rank = np.arange(1, values.size + 1)
    ax.bar(rank, values, width=1.0, color="tab:blue")
    ax.set(
        xlabel="itens, do mais ao menos avaliado",
        ylabel="avaliações por item",
        title="Cauda longa da popularidade",
    )
    share = ax.twinx()
    share.plot(rank, values.cumsum() / values.sum(), color="tab:red")
    share.set_ylabel("fração acumulada das avaliações", color="tab:red")
    share.set_ylim(0, 1.02)
    return ax


def plot_errors_vs_floor(
    table: pd.DataFrame,
    *,
    floors: Mapping[str, float],
    model_col: str = "modelo",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Grouped bars of error metrics per model, with each metric's noise floor as a dashed line.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model: ``model_col`` plus one column per metric in ``floors``.
    floors : mapping of str to float
        Metric column -> its irreducible value (e.g. ``{"rmse": 0.52, "mae": 0.41}``).
    model_col : str, default="modelo"
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"modelo": ["ALS", "média"], "rmse": [0.9, 1.1], "mae": [0.7, 0.9]})
    >>> plot_errors_vs_floor(t, floors={"rmse": 0.8, "mae": 0.6}).get_ylabel()
    'erro (estrelas)'
    """
    if not floors:
        raise ValueError(
            "plot_errors_vs_floor: 'floors' está vazio; ex.: {'rmse': 0.5, 'mae': 0.4}."
        )
    metrics = list(floors)
    require_columns(table, [model_col, *metrics], "plot_errors_vs_floor")
    long = table.melt(id_vars=model_col, value_vars=metrics, var_name="métrica", value_name="erro")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    sns.barplot(data=long, x="métrica", y="erro", hue=model_col, ax=ax)
    for i, metric in enumerate(metrics):
        ax.hlines(floors[metric], i - 0.45, i + 0.45, colors="black", linestyles="--",
                  label="piso de ruído" if i == 0 else None)  # fmt: skip
    ax.set(xlabel="", ylabel="erro (estrelas)", title="Erro de previsão × piso de ruído")
    ax.legend(fontsize="small")
    return ax


def plot_ranking_metrics(
    table: pd.DataFrame,
    *,
    metrics: Sequence[str],
    model_col: str = "modelo",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Grouped bars of top-K ranking metrics (precision@K, recall@K, NDCG@K...) per model.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model: ``model_col`` plus the ``metrics`` columns.
    metrics : sequence of str
    model_col : str, default="modelo"
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"modelo": ["ALS", "popular"], "precision@10": [0.2, 0.1]})
    >>> plot_ranking_metrics(t, metrics=["precision@10"]).get_title()
    'Métricas de ranking (top-K)'
    """
    require_columns(table, [model_col, *metrics], "plot_ranking_metrics")
    long = table.melt(
        id_vars=model_col, value_vars=list(metrics), var_name="métrica", value_name="valor"
    )
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    sns.barplot(data=long, x="métrica", y="valor", hue=model_col, ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize="small")
    ax.set(xlabel="", ylabel="", title="Métricas de ranking (top-K)")
    ax.legend(fontsize="small")
    return ax


def plot_factor_recovery(
    true_values: pd.DataFrame,
    reconstructed: pd.DataFrame,
    *,
    max_panels: int = 4,
    sample: int = 2000,
    seed: int = 0,
) -> np.ndarray:
    """Scatter each true latent factor against its reconstruction from the learned factors.

    Parameters
    ----------
    true_values, reconstructed : pandas.DataFrame
        Same shape: one row per item (or user), one column per true factor.
    max_panels : int, default=4
        Draw at most this many factors.
    sample : int, default=2000
        Draw at most this many points per panel (a seeded sample).
    seed : int, default=0

    Returns
    -------
    numpy.ndarray of Axes
    """
    if not isinstance(true_values, pd.DataFrame) or not isinstance(reconstructed, pd.DataFrame):
        raise TypeError(
            "plot_factor_recovery: 'true_values' e 'reconstructed' devem ser pandas.DataFrame "
            f"(recebidos {type(true_values).__name__} e {type(reconstructed).__name__})."
        )
    if true_values.shape != reconstructed.shape:
        raise ValueError(
            "plot_factor_recovery: 'true_values' e 'reconstructed' devem ter a mesma forma. "
            f"Recebido: {true_values.shape} e {reconstructed.shape}."
        )
    columns = list(true_values.columns)[:max_panels]
    rows = np.random.default_rng(seed).permutation(len(true_values))[:sample]
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3.2), squeeze=False)
    for ax, col in zip(axes[0], columns, strict=True):
        x, y = true_values[col].to_numpy()[rows], reconstructed[col].to_numpy()[rows]
        ax.scatter(x, y, s=6, alpha=0.4)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], color="tab:red", lw=1)
        r = np.corrcoef(true_values[col], reconstructed[col])[0, 1]
        ax.set(title=f"fator {col}: r = {r:.2f}", xlabel="verdadeiro", ylabel="reconstruído")
    fig.tight_layout()
    return axes[0]
