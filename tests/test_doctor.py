"""python -m coursekit doctor: exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import ROOT, env_without_java


def _doctor(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "coursekit", "doctor", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.spark
def test_doctor_all_well_starts_spark_and_prints_the_ui(tmp_path):
    env = dict(os.environ, COURSEKIT_UI="1", COURSEKIT_LOG_DIR=str(tmp_path))
    done = _doctor(env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for label in ("Python", "pyspark", "pandas", "Java", "Modo", "Spark UI"):
        assert label in out
    assert "Spark UI : http://127.0.0.1:" in out
    assert "Tudo certo" in out


def test_doctor_without_java_exits_nonzero_with_the_fix(tmp_path):
    done = _doctor(env_without_java(tmp_path, hide_pip_java=True))
    assert done.returncode == 1
    assert "NÃO ENCONTRADO" in done.stdout
    assert "1 problema(s):" in done.stdout
    assert "Java not found" in done.stdout and "make lab" in done.stdout


def test_doctor_unknown_command():
    done = subprocess.run(
        [sys.executable, "-m", "coursekit", "doktor"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "comando desconhecido" in done.stderr
