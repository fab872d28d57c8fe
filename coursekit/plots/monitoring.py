"""Plots for lessons 08 and 09 (monitoring): stage times, task skew, stream progress.

Every function takes a small pandas table (from ``coursekit.monitor`` or from a
streaming query's ``recentProgress``) and returns the matplotlib ``Axes`` it drew on
(``stream_progress`` returns two).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from coursekit.plots.monitoring import stage_times
>>> stages = pd.DataFrame({"stageId": [0, 1], "name": ["count at x.py:1", "fit at y.py:2"],
...                        "duration_s": [0.5, 2.0], "executorRunTime": [800, 3500]})
>>> ax = stage_times(stages)
>>> len(ax.get_yticklabels())
2
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from coursekit.plots._common import require_columns

MONITOR_HINT = "Use as tabelas de coursekit.monitor (ex.: rest(spark).stages())."

__all__ = ["job_timeline", "stage_times", "stream_progress", "task_skew"]


def _short(name: str, width: int = 38) -> str:
    text = str(name).split(" at ")[0] if " at " in str(name) else str(name)
    where = (
        str(name).split(" at ")[-1].split(":")[0].rsplit("/", 1)[-1] if " at " in str(name) else ""
    )
    label = f"{text} ({where})" if where else text
    return label if len(label) <= width else label[: width - 1] + "…"


def stage_times(
    stages: pd.DataFrame, *, top: int = 15, title: str = "Tempo por estágio", ax: Axes | None = None
) -> Axes:
    """Horizontal bars per stage: wall time and summed task time (``executorRunTime``).

    Parameters
    ----------
    stages : pandas.DataFrame
        From ``monitor.rest(spark).stages(...)``: ``stageId``, ``name``,
        ``duration_s`` and ``executorRunTime`` (ms summed over tasks).
    top : int, default=15
        Draw the ``top`` slowest stages (by wall time), in stage order.
    """
    require_columns(
        stages,
        ["stageId", "name", "duration_s", "executorRunTime"],
        "stage_times",
        hint=MONITOR_HINT,
        allow_empty=False,
    )
    data = stages.nlargest(top, "duration_s").sort_values("stageId")
    ax = ax or plt.subplots(figsize=(7.5, 0.8 + 0.38 * len(data)))[1]
    y = np.arange(len(data))
    ax.barh(y - 0.2, data["duration_s"], height=0.4, label="parede (submissão → fim)")
    ax.barh(y + 0.2, data["executorRunTime"] / 1000, height=0.4, label="soma das tarefas")
    ax.set_yticks(
        y, [f"{s}: {_short(n)}" for s, n in zip(data["stageId"], data["name"], strict=True)]
    )
    ax.invert_yaxis()
    ax.set_xlabel("segundos")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def job_timeline(
    jobs: pd.DataFrame, *, title: str = "Linha do tempo dos jobs", ax: Axes | None = None
) -> Axes:
    """One bar per job from submission to completion (what the *Jobs* tab's timeline shows).

    Parameters
    ----------
    jobs : pandas.DataFrame
        From ``monitor.rest(spark).jobs()``: ``jobId``, ``submissionTime``, ``completionTime``.
    """
    require_columns(
        jobs,
        ["jobId", "submissionTime", "completionTime"],
        "job_timeline",
        hint=MONITOR_HINT,
        allow_empty=False,
    )
    data = jobs.dropna(subset=["completionTime"]).sort_values("jobId")
    t0 = data["submissionTime"].min()
    start = (data["submissionTime"] - t0).dt.total_seconds()
    length = (data["completionTime"] - data["submissionTime"]).dt.total_seconds()
    ax = ax or plt.subplots(figsize=(7.5, 0.8 + 0.22 * len(data)))[1]
    ax.barh(data["jobId"].astype(str), length, left=start)
    ax.invert_yaxis()
    ax.set_xlabel("segundos desde o primeiro job")
    ax.set_ylabel("job")
    ax.set_title(title)
    return ax


def task_skew(
    tasks: pd.DataFrame,
    *,
    value: str = "shuffleReadRecords",
    title: str = "Registros por tarefa",
    ax: Axes | None = None,
) -> Axes:
    """Bars of ``value`` per task (ordered by task index), with the median as a line.

    One bar towering over the median line is the signature of a skewed key.

    Parameters
    ----------
    tasks : pandas.DataFrame
        From ``monitor.rest(spark).tasks(stage_id)``.
    value : str, default="shuffleReadRecords"
        Column to draw (``duration``, ``inputRecords``...).
    """
    require_columns(tasks, ["index", value], "task_skew", hint=MONITOR_HINT, allow_empty=False)
    data = tasks.sort_values("index")
    values = data[value].fillna(0).to_numpy(float)
    ax = ax or plt.subplots(figsize=(7.5, 3))[1]
    ax.bar(np.arange(len(values)), values, width=0.9)
    median = float(np.median(values))
    ax.axhline(median, color="black", lw=1, ls="--", label=f"mediana = {median:,.0f}")
    ratio = values.max() / median if median > 0 else float("inf")
    ax.set_title(f"{title} (máx/mediana = {ratio:.1f})")
    ax.set_xlabel("tarefa (partição)")
    ax.set_ylabel(value)
    ax.legend(fontsize=8)
    return ax


def stream_progress(
    progress: pd.DataFrame, *, title: str = "Progresso do stream"
) -> tuple[Axes, Axes]:
    """Two panels per micro-batch: input vs processed rows/s, and batch duration.

    Parameters
    ----------
    progress : pandas.DataFrame
        One row per batch: ``batchId``, ``inputRowsPerSecond``,
        ``processedRowsPerSecond``, ``durationMs`` (ms) and optionally ``run``
        (which start of the query the batch belongs to).
    """
    require_columns(
        progress,
        ["batchId", "inputRowsPerSecond", "processedRowsPerSecond", "durationMs"],
        "stream_progress",
        hint=MONITOR_HINT,
        allow_empty=False,
    )
    data = progress.sort_values("batchId")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5), sharex=True)
    top.plot(data["batchId"], data["inputRowsPerSecond"], "o-", label="entrada (linhas/s)")
    top.plot(data["batchId"], data["processedRowsPerSecond"], "s-", label="processadas (linhas/s)")
    top.set_ylabel("linhas/s")
    top.legend(fontsize=8)
    top.set_title(title)
    runs = data["run"] if "run" in data.columns else pd.Series("", index=data.index)
    for run, part in data.groupby(runs, sort=False):
        bottom.bar(
            part["batchId"], part["durationMs"] / 1000, label=str(run) if run != "" else None
        )
    if "run" in data.columns:
        bottom.legend(fontsize=8)
    bottom.set_xlabel("micro-lote (batchId)")
    bottom.set_ylabel("duração (s)")
    fig.tight_layout()
    return top, bottom
