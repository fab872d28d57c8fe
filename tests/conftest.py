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


#: Files started first. xdist (--dist loadfile) hands out whole files in collection order, so
#: the lesson runs whose figures tests/test_cluster.py compares against come first, then that
#: long file itself (it runs its cluster and Connect passes while the lessons finish), then the
#: other long ones; the short unit tests fill the gaps at the end.
FIRST = (
    "02_deteccao_de_fraudes.ipynb",
    "03_recomendacao_als.ipynb",
    "test_cluster.py",
    "test_grading.py",
    "10_projeto_final_plataforma.ipynb",
    "07_performance_cache_particionamento.ipynb",
    "05_tuning_e_selecao_de_features.ipynb",
    "09_deploy_persistencia_streaming.ipynb",
    "08_monitoramento_e_debugging.ipynb",
)


def pytest_collection_modifyitems(session, config, items):
    """Order files by FIRST (a stable sort keeps every file's own test order)."""
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))
