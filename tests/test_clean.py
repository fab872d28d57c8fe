"""`make clean` removes generated output and keeps notebooks, data samples and submissions.

Runs the real Makefile in a temporary copy of the repository's skeleton.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

GENERATED = [
    "build/executed/00.ipynb",
    "build/html/00.html",
    "build/screenshots/lab_00.png",
    "data/generated/transactions/part-0.parquet",
    "spark-warehouse/t/part-0.parquet",
    "metastore_db/service.properties",
    "derby.log",
    "checkpoints/stream/offsets/0",
    "models/fraud_rf/metadata/part-00000",
    "mlruns/0/meta.yaml",
    "mlflow.db",
    "notebooks/.ipynb_checkpoints/00-checkpoint.ipynb",
    "notebooks/spark-warehouse/t/part-0.parquet",
    "notebooks/build/scratch.json",
    "notebooks/checkpoints/q/commits/0",
    "solutions/models/m/metadata/part-00000",
    "exercises/.ipynb_checkpoints/ex01-checkpoint.ipynb",
    "coursekit/.ipynb_checkpoints/lab-checkpoint.py",
]
KEPT = [
    "notebooks/00_introducao_ml_distribuido.ipynb",
    "notebooks/img/lab_00.png",
    "solutions/ex01_deteccao_anomalias.ipynb",
    "exercises/ex01_deteccao_anomalias.ipynb",
    "data/DATASHEET.md",
    "data/samples/reviews.csv",
    "submissions/maria/ex01_deteccao_anomalias.ipynb",
    "entregas/joao.zip",
    "coursekit/lab.py",
    "tests/test_clean.py",
    "README.md",
    ".venv/lib/site/.ipynb_checkpoints/x.py",
]


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make não instalado")
def test_make_clean_removes_generated_output_only(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for rel in GENERATED + KEPT:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)

    done = subprocess.run(
        ["make", "--no-print-directory", "clean"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    left = [rel for rel in GENERATED if (tmp_path / rel).exists()]
    assert not left, f"make clean left generated files: {left}"
    lost = [rel for rel in KEPT if not (tmp_path / rel).is_file()]
    assert not lost, f"make clean removed files it must keep: {lost}"
    for folder in ("build", "data/generated", "spark-warehouse", "models", "checkpoints"):
        assert not (tmp_path / folder).exists(), folder
    assert (tmp_path / "data").is_dir() and (tmp_path / "notebooks").is_dir()
