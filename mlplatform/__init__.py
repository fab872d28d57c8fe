"""mlplatform: a small, readable reference ML platform for the fraud use case (Aula 10, Projeto Final).

One module per step, each runnable from the command line
(``python -m mlplatform <step> --root build/platform``):

=========  =================  ==============================================
step       module             what it does
=========  =================  ==============================================
land       ``etl``            writes raw CSV/JSON files with known bad records
etl        ``etl``            validates, quarantines, deduplicates -> Parquet
features   ``features``       feature store: offline (point in time) + online
train      ``train``          pipeline + grid + MLflow run + registry version
gate       ``gate``           promotes to ``champion`` only with evidence
score      ``serve``          batch scoring with the champion
stream     ``serve``          Structured Streaming scoring (foreachBatch)
monitor    ``monitor``        throughput, latency, score and drift (PSI) per window
all        ``cli``            every step above, in order
=========  =================  ==============================================

Settings and paths live in ``mlplatform.config.PlatformConfig``.
Importing this package switches MLflow's telemetry off (no network).
"""

from mlplatform.config import PlatformConfig

__all__ = ["PlatformConfig"]
__version__ = "0.1.0"
