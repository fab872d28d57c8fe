"""Plots for binary classification (lesson 02): ROC/PR curves, thresholds, confusion matrix.

Every function takes small pandas objects already aggregated in Spark (a
threshold table has one row per score bucket, a confusion matrix four numbers),
draws one figure and returns the matplotlib ``Axes`` (or array of them).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from coursekit.plots.classification import plot_confusion_matrix
>>> ax = plot_confusion_matrix([[90, 5], [3, 2]])
>>> ax.get_title()
'Matriz de confusão'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from coursekit.plots._common import require_columns

#: Columns a threshold table must have (one row per threshold, any order).
CURVE_COLUMNS = ("threshold", "precision", "recall", "fpr")


def plot_roc_pr(
    curves: Mapping[str, pd.DataFrame],
    *,
    base_rate: float | None = None,
    axes: Sequence[plt.Axes] | None = None,
) -> np.ndarray:
    """Draw ROC (left) and precision-recall (right) curves, one line per model.

    Parameters
    ----------
    curves : mapping of str to pandas.DataFrame
        Label shown in the legend -> threshold table with columns
        ``threshold, precision, recall, fpr`` (see :data:`CURVE_COLUMNS`).
    base_rate : float, optional
        Share of positives; drawn as the PR curve of a random classifier.
    axes : pair of Axes, optional
        Where to draw; a new 1x2 figure by default.

    Returns
    -------
    numpy.ndarray of Axes
        ``[roc_ax, pr_ax]``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"threshold": [0.9, 0.5, 0.1], "precision": [1.0, 0.6, 0.3],
    ...                   "recall": [0.2, 0.6, 1.0], "fpr": [0.0, 0.1, 0.5]})
    >>> roc_ax, pr_ax = plot_roc_pr({"modelo": t}, base_rate=0.02)
    >>> roc_ax.get_xlabel()
    'taxa de falsos positivos (FPR)'
    """
    if not curves:
        raise ValueError("plot_roc_pr: 'curves' está vazio; passe {'nome': tabela_de_limiares}.")
    for name, table in curves.items():
        require_columns(table, CURVE_COLUMNS, f"plot_roc_pr (curves[{name!r}])")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    roc_ax, pr_ax = axes
    for name, table in curves.items():
        t = table.sort_values("threshold", ascending=False)
        roc_ax.plot([0.0, *t["fpr"], 1.0], [0.0, *t["recall"], 1.0], label=name)
        pr_ax.plot(t["recall"], t["precision"], label=name)
    roc_ax.plot([0, 1], [0, 1], ls=":", color="gray", label="aleatório")
    roc_ax.set(xlabel="taxa de falsos positivos (FPR)", ylabel="recall (TPR)", title="Curva ROC")
    if base_rate is not None:
        pr_ax.axhline(base_rate, ls=":", color="gray", label=f"aleatório ({base_rate:.1%})")
    pr_ax.set(xlabel="recall", ylabel="precisão", title="Curva precisão–recall", ylim=(0, 1.02))
    for ax in (roc_ax, pr_ax):
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    return np.asarray(axes)


def plot_threshold_tradeoff(
    table: pd.DataFrame, *, threshold: float | None = None, ax: plt.Axes | None = None
) -> plt.Axes:
    """Precision, recall and F1 as functions of the decision threshold.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``threshold, precision, recall, f1``.
    threshold : float, optional
        The chosen threshold, drawn as a vertical line.
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"threshold": [0.1, 0.5], "precision": [0.2, 0.7],
    ...                   "recall": [0.9, 0.4], "f1": [0.33, 0.51]})
    >>> plot_threshold_tradeoff(t, threshold=0.5).get_xlabel()
    'limiar de decisão'
    """
    require_columns(table, ("threshold", "precision", "recall", "f1"), "plot_threshold_tradeoff")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    t = table.sort_values("threshold")
    for col, name in (("precision", "precisão"), ("recall", "recall"), ("f1", "F1")):
        ax.plot(t["threshold"], t[col], label=name)
    if threshold is not None:
        ax.axvline(
            threshold, color="black", ls="--", lw=1, label=f"limiar escolhido = {threshold:.3f}"
        )
    ax.set(
        xlabel="limiar de decisão",
        ylabel="valor",
        title="Precisão × recall conforme o limiar",
        ylim=(0, 1.02),
    )
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_confusion_matrix(
    matrix,
    *,
    labels: Sequence[str] = ("legítima", "fraude"),
    title: str = "Matriz de confusão",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Heatmap of a 2x2 confusion matrix (rows = truth, columns = prediction).

    Parameters
    ----------
    matrix : array-like of shape (2, 2)
        Counts ``[[TN, FP], [FN, TP]]``.
    labels : pair of str, default=("legítima", "fraude")
    title : str
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    values = np.asarray(matrix)
    if values.shape != (2, 2):
        raise ValueError(
            f"plot_confusion_matrix: 'matrix' deve ter forma (2, 2) [[TN, FP], [FN, TP]]. "
            f"Recebido: forma {values.shape}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    sns.heatmap(values, annot=True, fmt=",d", cmap="Blues", cbar=False, ax=ax,
                xticklabels=list(labels), yticklabels=list(labels))  # fmt: skip
    ax.set(xlabel="previsto", ylabel="verdadeiro", title=title)
    return ax


def plot_feature_importances(
    importances: pd.Series,
    *,
    top: int | None = None,
    title: str = "Importância das features",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Horizontal bars of feature importances, largest on top.

    Parameters
    ----------
    importances : pandas.Series
        Feature name -> importance (e.g. from ``featureImportances``).
    top : int, optional
        Show only the ``top`` largest.
    title : str
    ax : Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> ax = plot_feature_importances(pd.Series({"amount": 0.6, "hour": 0.4}))
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['amount', 'hour']
    """
    if not isinstance(importances, pd.Series):
        raise TypeError(
            "plot_feature_importances: 'importances' deve ser uma pandas.Series nome -> importância. "
            f"Recebido: {type(importances).__name__}. Ex.: pd.Series(modelo.featureImportances.toArray(), index=nomes)."
        )
    values = importances.sort_values(ascending=False)
    if top is not None:
        values = values.head(top)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(values) + 1.2))
    sns.barplot(x=values.values, y=values.index, ax=ax, color="tab:blue", orient="h")
    ax.set(xlabel="importância", ylabel="", title=title)
    return ax


def plot_model_comparison(
    table: pd.DataFrame,
    *,
    metrics: Sequence[str],
    model_col: str = "modelo",
    reference: Mapping[str, float] | None = None,
    axes: Sequence[plt.Axes] | None = None,
) -> np.ndarray:
    """One bar panel per metric, one bar per model; optional reference lines (e.g. Bayes).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per model with column ``model_col`` and each of ``metrics``.
    metrics : sequence of str
        Columns to draw, one panel each.
    model_col : str, default="modelo"
    reference : mapping of str to float, optional
        Metric -> value drawn as a dashed line (the best achievable).
    axes : sequence of Axes, optional

    Returns
    -------
    numpy.ndarray of Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"modelo": ["a", "b"], "auc": [0.9, 0.8], "segundos": [3.0, 1.0]})
    >>> len(plot_model_comparison(t, metrics=["auc", "segundos"], reference={"auc": 0.95}))
    2
    """
    require_columns(table, [model_col, *metrics], "plot_model_comparison")
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(3.8 * len(metrics), 3.6), squeeze=False)
        axes = axes[0]
    for ax, metric in zip(axes, metrics, strict=True):
        sns.barplot(data=table, x=model_col, y=metric, ax=ax, color="tab:blue")
        if reference and metric in reference:
            ax.axhline(reference[metric], color="tab:red", ls="--", lw=1, label="melhor possível")
            ax.legend(fontsize="small", loc="lower right")
        ax.set(title=metric, xlabel="", ylabel="")
        ax.tick_params(axis="x", rotation=20)
        for patch, value in zip(ax.patches, table[metric], strict=False):
            ax.annotate(f"{value:.3g}", (patch.get_x() + patch.get_width() / 2, patch.get_height()),
                        ha="center", va="bottom", fontsize="small")  # fmt: skip
    plt.tight_layout()
    return np.asarray(axes)
