"""Plots for lesson 04 (customer segmentation): elbow/silhouette, profiles, 2-D view.

Every function takes a small pandas frame (one row per k, per cluster, or a
sample of a few thousand points) and returns what it drew on.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from coursekit.plots.clustering import elbow_silhouette
>>> curves = pd.DataFrame({"k": [2, 3, 4], "cost": [90.0, 40.0, 35.0], "silhouette": [0.5, 0.7, 0.6]})
>>> axes = elbow_silhouette(curves, chosen=3)
>>> [ax.get_ylabel() for ax in axes]
['custo de treino (trainingCost)', 'silhueta']
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from coursekit.plots._common import require_columns

__all__ = ["cluster_profiles", "cluster_scatter", "contingency_heatmap", "elbow_silhouette"]


def elbow_silhouette(
    curves: pd.DataFrame,
    *,
    k: str = "k",
    cost: str = "cost",
    silhouette: str = "silhouette",
    chosen: int | None = None,
    true_k: int | None = None,
) -> np.ndarray:
    """Elbow (training cost) and silhouette curves side by side.

    Parameters
    ----------
    curves : pandas.DataFrame
        One row per k tried, with columns ``k``, ``cost`` and ``silhouette``.
    k, cost, silhouette : str
        Column names.
    chosen : int, optional
        The k picked; marked with a dashed line.
    true_k : int, optional
        The true number of segments, when known; marked with a dotted line.

    Returns
    -------
    numpy.ndarray of two matplotlib Axes
        ``[elbow, silhouette]``.

    Raises
    ------
    ValueError
        A column is missing or ``curves`` is empty.
    """
    require_columns(curves, (k, cost, silhouette), "elbow_silhouette")
    if curves.empty:
        raise ValueError("elbow_silhouette: 'curves' está vazio; passe uma linha por k testado.")
    data = curves.sort_values(k)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(data[k], data[cost], "o-")
    axes[0].set_ylabel("custo de treino (trainingCost)")
    axes[0].set_title("Cotovelo: custo cai sempre; procure a dobra")
    axes[1].plot(data[k], data[silhouette], "s-", color="tab:green")
    axes[1].set_ylabel("silhueta")
    axes[1].set_title("Silhueta: quanto maior, melhor")
    for ax in axes:
        ax.set_xlabel("k (número de clusters)")
        ax.set_xticks(list(data[k]))
        if chosen is not None:
            ax.axvline(chosen, ls="--", color="tab:red", label=f"k escolhido = {chosen}")
        if true_k is not None:
            ax.axvline(true_k, ls=":", color="black", label=f"k verdadeiro = {true_k}")
        if chosen is not None or true_k is not None:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return axes


def cluster_profiles(
    profile: pd.DataFrame,
    *,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of cluster means, coloured by how far each is from the other clusters.

    Parameters
    ----------
    profile : pandas.DataFrame
        One row per cluster (index = cluster id), one column per feature, values
        = the feature's mean in that cluster (in the original units).
    title : str, optional
        Axes title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Colours are column z-scores (so features with different units compare);
    the numbers written in the cells are the original means.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from coursekit.plots.clustering import cluster_profiles
    >>> prof = pd.DataFrame({"monetary": [100.0, 900.0], "recency_days": [5.0, 60.0]}, index=[0, 1])
    >>> ax = cluster_profiles(prof)
    >>> ax.get_ylabel()
    'cluster'
    """
    if profile.empty:
        raise ValueError("cluster_profiles: 'profile' está vazio; passe uma linha por cluster.")
    numeric = profile.select_dtypes("number")
    if numeric.shape[1] != profile.shape[1]:
        bad = [c for c in profile.columns if c not in numeric.columns]
        raise ValueError(
            f"cluster_profiles: colunas não numéricas {bad}; passe só as médias das features."
        )
    spread = numeric.std(ddof=0).replace(0, 1.0)
    z = (numeric - numeric.mean()) / spread
    if ax is None:
        _, ax = plt.subplots(figsize=(1.3 + 1.25 * numeric.shape[1], 0.9 + 0.55 * numeric.shape[0]))
    sns.heatmap(
        z,
        annot=numeric,
        fmt=".3g",
        cmap="RdBu_r",
        center=0,
        cbar_kws={"label": "z (entre clusters)"},
        ax=ax,
    )
    ax.set_ylabel("cluster")
    ax.set_xlabel("")
    ax.set_title(title or "Perfil dos clusters (médias; cor = acima/abaixo da média dos clusters)")
    return ax


def cluster_scatter(
    points: pd.DataFrame,
    *,
    x: str = "pc1",
    y: str = "pc2",
    hue: str = "cluster",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """2-D scatter of a SAMPLE of points (e.g. the first two principal components).

    Parameters
    ----------
    points : pandas.DataFrame
        A few thousand rows at most (take a Spark sample first), with columns ``x``, ``y``, ``hue``.
    x, y, hue : str
        Column names.
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
        A column is missing, or more than 50,000 points were passed (sample in Spark first).
    """
    require_columns(points, (x, y, hue), "cluster_scatter")
    if len(points) > 50_000:
        raise ValueError(
            f"cluster_scatter: {len(points):,} pontos é demais para um gráfico; "
            "amostre no Spark antes (df.sample(fraction=..., seed=...)) e passe no máximo 50.000."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    sns.scatterplot(
        data=points, x=x, y=y, hue=hue, palette="tab10", s=12, alpha=0.7, linewidth=0, ax=ax
    )
    ax.set_title(title or "Vista 2-D dos clusters")
    ax.legend(title=hue, fontsize=8, markerscale=1.5)
    return ax


def contingency_heatmap(
    table: pd.DataFrame,
    *,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Counts of (found cluster x true segment), the table behind the adjusted Rand index.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows = clusters found, columns = true segments, values = counts
        (``pandas.crosstab`` or a pivot of a Spark ``groupBy().count()``).
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
    >>> from coursekit.plots.clustering import contingency_heatmap
    >>> ax = contingency_heatmap(pd.DataFrame([[50, 0], [2, 48]], index=[0, 1], columns=["a", "b"]))
    >>> ax.get_xlabel()
    'segmento verdadeiro'
    """
    if table.empty:
        raise ValueError(
            "contingency_heatmap: 'table' está vazia; passe a contagem cluster x segmento."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(1.5 + 1.0 * table.shape[1], 1.0 + 0.5 * table.shape[0]))
    sns.heatmap(table, annot=True, fmt=",.0f", cmap="Blues", cbar=False, ax=ax)
    ax.set_xlabel("segmento verdadeiro")
    ax.set_ylabel("cluster encontrado")
    ax.set_title(title or "Clusters encontrados x segmentos verdadeiros")
    return ax
