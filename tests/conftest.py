"""Shared fixtures. The notebook runner is the plugin tests/nbrun.py (``-p nbrun``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"

os.environ.setdefault("COURSEKIT_LOG_DIR", str(BUILD / "logs"))
os.environ.setdefault("COURSEKIT_UI", "0")  # parallel workers: no port races


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One real local SparkSession for the unit tests of this worker."""
    from coursekit.session import get_spark

    local_dir = tmp_path_factory.mktemp("spark-local")
    session = get_spark(
        "coursekit-tests",
        {
            "spark.sql.shuffle.partitions": "2",
            "spark.local.dir": str(local_dir),
            "spark.ui.enabled": "false",
        },
    )
    yield session
    session.stop()
