"""Step 6 - Monitoring: throughput, latency, score distribution and feature drift per window.

A *window* is one micro-batch of the scoring stream. For each window the
monitor reports:

* rows, processing seconds, rows per second and the delay between a file's
  arrival and its scores being written (measured by ``serve`` in each batch);
* the distribution of the scores (mean, p95, share above 0.5);
* the **Population Stability Index** of each monitored column against the
  training data::

      PSI = sum over bins of (actual% - expected%) * ln(actual% / expected%)

  with the bins fixed at training time (deciles of each numeric column, the
  categories of each categorical column) and stored with the model in MLflow
  (``monitoring/reference.json``). Usual reading: < 0.1 stable, 0.1-0.2 watch,
  > 0.2 shift. Any column above ``cfg.psi_threshold`` raises an alert.

Counts per bin are aggregated in Spark; only the small table of counts reaches
pandas.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from mlplatform.config import PlatformConfig
from mlplatform.tracking import (  # noqa: F401 (bin_counts, bin_vector...: the step's API)
    MONITORED_CATEGORICAL,
    MONITORED_NUMERIC,
    SCORE,
    bin_column,
    bin_counts,
    bin_vector,
    build_reference,
    n_bins,
    reference_for,
)

EPS = 1e-4


# --------------------------------------------------------------------------- PSI
def psi(expected: Sequence[float], actual: Sequence[float], eps: float = EPS) -> float:
    """Population Stability Index between two distributions over the same bins.

    Parameters
    ----------
    expected, actual : sequence of float
        Proportions (or counts: each is normalised to sum 1) per bin.
    eps : float, default=1e-4
        Floor for empty bins (ln(0) is undefined).

    Examples
    --------
    >>> round(psi([0.5, 0.5], [0.5, 0.5]), 6)
    0.0
    >>> round(psi([0.5, 0.5], [0.25, 0.75]), 4)
    0.2747
    """
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.shape != a.shape or e.ndim != 1 or e.size == 0:
        raise ValueError(
            f"psi(): 'expected' e 'actual' devem ter os mesmos bins. Recebido: {e.shape} e {a.shape}."
        )
    if e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("psi(): cada distribuição precisa de ao menos uma observação.")
    e = np.clip(e / e.sum(), eps, None)
    a = np.clip(a / a.sum(), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_by_window(df: DataFrame, reference: dict, by: str = "batch_id") -> pd.DataFrame:
    """PSI of every monitored column and of the score, one row per window."""
    specs = {**reference["columns"], SCORE: reference["score"]}
    counts = bin_counts(df, specs, by=by)
    rows = []
    for window, group in counts.groupby(by):
        row = {by: window}
        for column, spec in specs.items():
            actual = bin_vector(group[group["column"] == column], spec)
            name = "psi_score" if column == SCORE else f"psi_{column}"
            row[name] = psi(spec["expected"], actual)
        rows.append(row)
    return pd.DataFrame(rows).sort_values(by).reset_index(drop=True)


# --------------------------------------------------------------------------- the step
def read_throughput(cfg: PlatformConfig) -> pd.DataFrame:
    """Per-batch metrics written by the stream (last record wins for a replayed batch)."""
    path = cfg.monitoring / "throughput.jsonl"
    if not path.exists():
        raise FileNotFoundError(
            f"Nenhuma métrica de streaming em {path}. Rode: python -m mlplatform stream"
        )
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return pd.DataFrame(rows).drop_duplicates("batch_id", keep="last").sort_values("batch_id")


def run_monitor(spark: SparkSession, cfg: PlatformConfig) -> pd.DataFrame:
    """Build the monitoring table (one row per window), save it, plot it, raise alerts.

    Returns
    -------
    pandas.DataFrame
        ``batch_id``, ``traffic``, throughput and latency, score statistics,
        ``psi_<column>``, ``psi_max``, ``drift_alert`` and ``drift_columns``.
    """
    scored = spark.read.parquet(str(cfg.scored))
    throughput = read_throughput(cfg)
    versions = [r[0] for r in scored.select("model_version").distinct().collect()]
    tables = []
    for version in versions:
        reference = reference_for(cfg, version)
        part = scored.filter(F.col("model_version") == version)
        tables.append(drift_by_window(part, reference))
    drift = pd.concat(tables).sort_values("batch_id")
    scores = (
        scored.groupBy("batch_id")
        .agg(
            F.avg(SCORE).alias("score_mean"),
            F.percentile_approx(SCORE, 0.95).alias("score_p95"),
            F.avg((F.col(SCORE) > 0.5).cast("double")).alias("share_above_0_5"),
        )
        .toPandas()
    )
    table = throughput.merge(scores, on="batch_id").merge(drift, on="batch_id")
    psi_cols = [c for c in table.columns if c.startswith("psi_") and c != "psi_score"]
    table["psi_max"] = table[psi_cols].max(axis=1)
    table["drift_alert"] = table["psi_max"] > cfg.psi_threshold
    table["drift_columns"] = [
        ",".join(c.removeprefix("psi_") for c in psi_cols if row[c] > cfg.psi_threshold)
        for _, row in table.iterrows()
    ]
    cfg.monitoring.mkdir(parents=True, exist_ok=True)
    table.to_parquet(cfg.monitoring / "windows.parquet", index=False)
    write_alerts(cfg, table)
    fig = plot_monitoring(table, cfg.psi_threshold)
    fig.savefig(cfg.monitoring / "drift.png", dpi=100, bbox_inches="tight")
    return table


def write_alerts(cfg: PlatformConfig, table: pd.DataFrame) -> list[dict]:
    """Append one alert per drifting window to ``monitoring/alerts.jsonl`` and print it."""
    alerts = []
    for _, row in table[table["drift_alert"]].iterrows():
        alert = {
            "at": datetime.now(UTC).isoformat(),
            "batch_id": int(row["batch_id"]),
            "traffic": row.get("traffic"),
            "psi_max": round(float(row["psi_max"]), 4),
            "columns": row["drift_columns"],
        }
        alerts.append(alert)
        print(
            f"ALERTA de drift na janela {alert['batch_id']} ({alert['traffic']}): "
            f"PSI máx. {alert['psi_max']:.3f} > {cfg.psi_threshold} em {alert['columns']}"
        )
    if alerts:
        with open(cfg.monitoring / "alerts.jsonl", "a") as out:
            out.writelines(json.dumps(a) + "\n" for a in alerts)
    return alerts


def plot_monitoring(table: pd.DataFrame, threshold: float):
    """Two panels per window: PSI of each column (with the alert line); throughput."""
    import matplotlib.pyplot as plt

    fig, (ax_psi, ax_rate) = plt.subplots(1, 2, figsize=(12, 4))
    psi_cols = [c for c in table.columns if c.startswith("psi_") and c != "psi_max"]
    x = table["batch_id"].astype(int)
    for column in psi_cols:
        ax_psi.plot(x, table[column], marker="o", label=column.removeprefix("psi_"))
    ax_psi.axhline(threshold, color="red", linestyle="--", label=f"limiar {threshold}")
    for b in x[table["drift_alert"]]:
        ax_psi.axvspan(b - 0.4, b + 0.4, color="red", alpha=0.08)
    ax_psi.set(xlabel="janela (batch_id)", ylabel="PSI", title="Drift por janela (PSI vs treino)")
    ax_psi.legend(fontsize=7, ncol=2)
    ax_rate.bar(x, table["rows_per_second"], color="tab:blue")
    ax_rate.set(xlabel="janela (batch_id)", ylabel="linhas/s", title="Vazão do scoring por janela")
    for b, s in zip(x, table["seconds"], strict=True):
        ax_rate.annotate(
            f"{s:.1f}s", (b, 0), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7
        )
    fig.tight_layout()
    return fig
