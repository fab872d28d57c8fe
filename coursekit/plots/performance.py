"""Plots for lesson 07 (performance): timings A vs B, partition sizes, cache sizes.

Every function takes a small pandas object (one row per variant, partition or
storage level) and returns the matplotlib ``Axes`` it drew on.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from coursekit.plots.performance import timing_bars
>>> table = pd.DataFrame({"variant": ["sem cache", "com cache"], "median_s": [4.0, 1.0],
...                       "min_s": [3.8, 0.9], "max_s": [4.4, 1.2]})
>>> ax = timing_bars(table, title="Cache")
>>> ax.get_xlabel()
'segundos (mediana; barra = mín–máx)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from coursekit.plots._common import new_axes, require_columns

__all__ = [
    "partition_count_curve",
    "partition_sizes",
    "serializer_bars",
    "storage_levels",
    "timing_bars",
]

MIB = 2**20


def timing_bars(
    table: pd.DataFrame, *, title: str = "", ax: Axes | None = None, unit: str = "s"
) -> Axes:
    """Horizontal bars of a ``coursekit.bench.compare`` table: median, with min–max whiskers.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``variant``, ``median_s``, ``min_s``, ``max_s`` (one row per variant).
    title : str
        Axes title.
    unit : {"s"}, default="s"
        Only seconds are supported (the bench tables' unit).
    """
    require_columns(table, ["variant", "median_s", "min_s", "max_s"], "timing_bars")
    if unit != "s":
        raise ValueError(f"O parâmetro 'unit' deve ser 's'. Recebido: {unit!r}")
    ax = new_axes(ax, (6, 0.6 + 0.5 * len(table)))
    y = np.arange(len(table))
    med = table["median_s"].to_numpy(float)
    err = np.vstack([med - table["min_s"].to_numpy(float), table["max_s"].to_numpy(float) - med])
    colors = sns.color_palette("deep", len(table))
    ax.barh(y, med, xerr=err, color=colors, capsize=4)
    for yi, m in zip(y, med, strict=True):
        ax.text(m, yi, f" {m:.2f} s", va="center", ha="left", fontsize=9)
    ax.set_yticks(y, table["variant"])
    ax.invert_yaxis()
    ax.set_xlabel("segundos (mediana; barra = mín–máx)")
    ax.set_xlim(0, float(table["max_s"].max()) * 1.3)
    ax.set_title(title)
    return ax


def partition_sizes(
    sizes: Mapping[str, Sequence[int]],
    *,
    title: str = "Linhas por partição",
    ax: Axes | None = None,
) -> Axes:
    """Rows in each partition, one column of points per variant (log scale).

    A point far above the others is a skewed partition; a cloud near the
    bottom is many tiny partitions. The label shows the number of partitions
    and the max/median ratio.

    Parameters
    ----------
    sizes : mapping of str -> sequence of int
        Variant name -> rows per partition (empty partitions included as 0).
    """
    if not isinstance(sizes, Mapping) or not sizes:
        raise ValueError(
            "partition_sizes: 'sizes' deve ser um dict não vazio {variante: [linhas por partição]}. "
            f"Recebido: {type(sizes).__name__}"
        )
    ax = new_axes(ax, (7.5, 3.8))
    rng = np.random.default_rng(0)  # jitter only
    labels = []
    for x, (name, values) in enumerate(sizes.items()):
        counts = np.asarray(list(values), dtype=float)
        shown = np.maximum(counts, 0.8)  # empty partitions drawn just above the axis
        ax.scatter(x + rng.uniform(-0.25, 0.25, len(counts)), shown, s=12, alpha=0.6, label=None)
        ax.hlines(np.median(shown), x - 0.35, x + 0.35, color="black", lw=1)
        positive = counts[counts > 0]
        ratio = counts.max() / np.median(positive) if positive.size else float("nan")
        labels.append(f"{name}\n{len(counts)} partições\nmáx/mediana {ratio:.1f}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(sizes)), labels, fontsize=8)
    ax.set_ylabel("linhas na partição (log)")
    ax.set_title(title)
    return ax


def partition_count_curve(
    table: pd.DataFrame, *, title: str = "Tempo × número de partições", ax: Axes | None = None
) -> Axes:
    """Median seconds against the number of partitions (log x), with the min–max band.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``partitions``, ``median_s``, ``min_s``, ``max_s``.
    """
    require_columns(table, ["partitions", "median_s", "min_s", "max_s"], "partition_count_curve")
    data = table.sort_values("partitions")
    ax = new_axes(ax, (6, 3.5))
    ax.fill_between(data["partitions"], data["min_s"], data["max_s"], alpha=0.2)
    ax.plot(data["partitions"], data["median_s"], "o-")
    best = data.loc[data["median_s"].idxmin()]
    ax.annotate(
        f"melhor: {int(best['partitions'])}",
        (best["partitions"], best["median_s"]),
        textcoords="offset points",
        xytext=(0, 10),
        ha="center",
    )
    ax.set_xscale("log")
    ax.set_xlabel("partições (log)")
    ax.set_ylabel("segundos (mediana)")
    ax.set_title(title)
    return ax


def storage_levels(
    table: pd.DataFrame, *, title: str = "Onde o cache fica", ax: Axes | None = None
) -> Axes:
    """Memory and disk used (MiB) by the same DataFrame cached at each storage level.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``level``, ``memoryUsed``, ``diskUsed`` (bytes, from ``/storage/rdd``).
    """
    require_columns(table, ["level", "memoryUsed", "diskUsed"], "storage_levels")
    long = table.melt(
        id_vars="level", value_vars=["memoryUsed", "diskUsed"], var_name="onde", value_name="bytes"
    )
    long["MiB"] = long["bytes"] / MIB
    long["onde"] = long["onde"].map({"memoryUsed": "memória", "diskUsed": "disco"})
    ax = new_axes(ax, (6.5, 0.8 + 0.45 * len(table)))
    sns.barplot(data=long, y="level", x="MiB", hue="onde", ax=ax, orient="h")
    ax.set_ylabel("")
    ax.set_xlabel("MiB (API REST /storage/rdd)")
    ax.set_title(title)
    return ax


def serializer_bars(
    table: pd.DataFrame,
    *,
    value: str = "bytes",
    title: str = "Java × Kryo",
    ax: Axes | None = None,
) -> Axes:
    """Grouped bars: one group per case, one bar per serializer, ratio Java/Kryo written above.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``case``, ``serializer`` ("java" | "kryo") and ``value``.
    value : str, default="bytes"
        The column to draw (bytes are shown in KiB).
    """
    require_columns(table, ["case", "serializer", value], "serializer_bars")
    data = table.copy()
    scale, label = (1024, "KiB") if value == "bytes" else (1, value)
    data["shown"] = data[value] / scale
    ax = new_axes(ax, (6.5, 3.2))
    sns.barplot(data=data, x="case", y="shown", hue="serializer", ax=ax)
    wide = data.pivot_table(index="case", columns="serializer", values=value, sort=False)
    for x, case in enumerate(d for d in data["case"].drop_duplicates()):
        if {"java", "kryo"} <= set(wide.columns):
            ratio = wide.loc[case, "java"] / wide.loc[case, "kryo"]
            top = float(data.loc[data["case"] == case, "shown"].max())
            ax.text(x, top * 1.02, f"java/kryo = {ratio:.2f}", ha="center", va="bottom", fontsize=9)
    ax.set_xlabel("")
    ax.set_ylabel(label)
    ax.set_ylim(0, float(data["shown"].max()) * 1.2)
    ax.set_title(title)
    return ax
