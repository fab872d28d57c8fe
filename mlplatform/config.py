"""Every setting of the platform in one place: paths under one root folder, thresholds, grids.

A run of the platform lives entirely under ``root`` (default ``build/platform``):

``landing/``            raw files as the source systems drop them (CSV and JSON)
``lake/transactions/``  validated, deduplicated, typed Parquet, partitioned by ``date``
``lake/quarantine/``    rejected raw records with a ``reason`` column
``features/``           the feature store (offline table, online table, definitions)
``datasets/``           training and holdout snapshots used by ``train`` and ``gate``
``mlflow.db``           MLflow tracking + model registry (SQLite, no server)
``mlruns/``             MLflow artifacts (models, reference profiles)
``serving/``            batch scores, the streaming source, its checkpoint and sink
``monitoring/``         per-window metrics, alerts and the drift plot
``reports/``            one JSON report per step (what ran, counts, checks)

Examples
--------
>>> from mlplatform.config import PlatformConfig
>>> cfg = PlatformConfig(root="build/demo")
>>> cfg.lake.as_posix()
'build/demo/lake/transactions'
>>> cfg.tracking_uri.startswith("sqlite:///")
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from coursekit.constants import SCALES

#: Hyper-parameter grid per scale: (numTrees values, maxDepth values).
GRIDS: dict[str, dict[str, list[int]]] = {
    "ci": {"numTrees": [20], "maxDepth": [4, 6]},
    "aula": {"numTrees": [40], "maxDepth": [5, 8]},
    "grande": {"numTrees": [50, 100], "maxDepth": [6, 10]},
}

#: Rows of new traffic per stream run (clean or drifted), per scale.
TRAFFIC_ROWS: dict[str, int] = {"ci": 6_000, "aula": 30_000, "grande": 1_000_000}
#: Files (= micro-batches = monitoring windows) per stream run, per scale.
TRAFFIC_FILES: dict[str, int] = {"ci": 2, "aula": 4, "grande": 8}


def _quiet_offline_mlflow() -> None:
    """MLflow 3 can send usage telemetry: switch it off before mlflow is imported.

    Also hide its download progress bars (they flood notebook cells).
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


_quiet_offline_mlflow()


@dataclass(frozen=True)
class PlatformConfig:
    """Paths and knobs of one platform instance.

    Parameters
    ----------
    root : str or Path, default="build/platform"
        Folder that holds everything the platform writes.
    scale : {"ci", "aula", "grande"}, default="ci"
        Data size and grid size.
    seed : int, default=42
        Seed of the data generator and of the model.
    """

    root: Path = Path("build/platform")
    scale: str = "ci"
    seed: int = 42
    model_name: str = "fraud_detector"
    experiment: str = "fraud_detection"
    feature_version: str = "v1"
    holdout_fraction: float = 0.2
    #: The candidate must beat the champion's holdout AUC by at least this much.
    gate_margin: float = 0.005
    #: With no champion yet, the candidate must still reach this AUC.
    min_auc: float = 0.75
    #: Data checks: at most this share of raw rows may be quarantined...
    max_quarantine_rate: float = 0.05
    #: ...and the fraud rate of the training data must fall in this range.
    label_rate_range: tuple[float, float] = (0.002, 0.10)
    min_training_rows: int = 1000
    #: PSI above this on any monitored column raises a drift alert.
    psi_threshold: float = 0.2
    psi_bins: int = 10
    grid: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(
                f"O parâmetro 'scale' deve ser um de {', '.join(SCALES)}. Recebido: {self.scale!r}."
            )
        object.__setattr__(self, "root", Path(self.root))
        if not self.grid:
            object.__setattr__(self, "grid", GRIDS[self.scale])

    def with_(self, **changes) -> PlatformConfig:
        """A copy with some settings changed, e.g. ``cfg.with_(gate_margin=0.01)``."""
        return replace(self, **changes)

    # --- paths --------------------------------------------------------------
    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def lake(self) -> Path:
        return self.root / "lake" / "transactions"

    @property
    def quarantine(self) -> Path:
        return self.root / "lake" / "quarantine"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def serving(self) -> Path:
        return self.root / "serving"

    @property
    def scored(self) -> Path:
        """Scores written by the stream (``serve``) and read by the monitor."""
        return self.serving / "scored"

    @property
    def monitoring(self) -> Path:
        return self.root / "monitoring"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def traffic_rows(self) -> int:
        return TRAFFIC_ROWS[self.scale]

    @property
    def traffic_files(self) -> int:
        return TRAFFIC_FILES[self.scale]

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "mlruns"

    @property
    def tracking_uri(self) -> str:
        """SQLite store for runs AND the model registry (absolute path: 4 slashes)."""
        return f"sqlite:///{self.mlflow_db.resolve()}"


def write_report(cfg: PlatformConfig, step: str, report: dict) -> Path:
    """Write ``reports/<step>.json`` (what a step did; the next steps read it)."""
    import json

    cfg.reports.mkdir(parents=True, exist_ok=True)
    path = cfg.reports / f"{step}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return path


def read_report(cfg: PlatformConfig, step: str) -> dict:
    """Read ``reports/<step>.json``; a clear error says which step to run first."""
    import json

    path = cfg.reports / f"{step}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"Relatório da etapa '{step}' não encontrado em {path}. "
            f"Rode antes: python -m mlplatform {step} --root {cfg.root}"
        )
    return json.loads(path.read_text())
