"""The JVM class archive (coursekit/cds.py): built by ``make setup``, mapped by every driver,
and harmless when it is missing or damaged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from coursekit import cds

#: Asks the running driver JVM which archive it was given and whether it maps it.
_SHARING = """
import json, sys
from coursekit.session import get_spark
spark = get_spark("cds-check")
jvm = spark.sparkContext._jvm
bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(
    jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean"))
print(json.dumps({"archive": bean.getVMOption("SharedArchiveFile").getValue(),
                  "sharing": bean.getVMOption("UseSharedSpaces").getValue(),
                  "rows": spark.range(1000).count()}))
spark.stop()
"""


def _driver(env_extra: dict[str, str]) -> tuple[dict, str]:
    env = {**os.environ, "COURSEKIT_UI": "0", **env_extra}
    out = subprocess.run(
        [sys.executable, "-c", _SHARING], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_setup_built_an_archive_this_java_maps():
    assert cds.usable(), (
        f"{cds.archive_path()} is missing or rejected by this Java: `make setup` builds it "
        "(python -m coursekit.cds prints why it could not)"
    )
    started = time.monotonic()
    said = []
    assert cds.build(log=said.append) == cds.archive_path()
    assert time.monotonic() - started < 30 and "já pronto" in said[0], said


def test_a_driver_maps_the_archive():
    got, _ = _driver({})
    assert got == {"archive": str(cds.archive_path()), "sharing": "true", "rows": 1000}


def test_a_damaged_or_foreign_archive_only_costs_speed(tmp_path):
    damaged = tmp_path / "damaged.jsa"
    with cds.archive_path().open("rb") as whole:  # an interrupted copy: its first half
        damaged.write_bytes(whole.read(cds.archive_path().stat().st_size // 2))
    got, stderr = _driver({cds.ENV: str(damaged)})
    assert got["archive"] == str(damaged) and got["rows"] == 1000
    assert got["sharing"] == "false"
    assert "cds" not in stderr.lower() and "shared archive" not in stderr.lower(), stderr[-2000:]
    off, _ = _driver({cds.ENV: "0"})
    assert off["archive"] == "" and off["rows"] == 1000
