"""Measure what the JVM class archive (coursekit/cds.py) saves: driver CPU with it and without.

``python tools/jvm_archive_bench.py --repeats 3`` starts, alternately, a driver with the archive
and one with ``COURSEKIT_CLASS_ARCHIVE=0``; each starts a session, runs a groupBy and a small
LogisticRegression fit, and reports its JVM's CPU seconds (user + system) and the wall time
from the start of the Python process. Run it on an idle machine; ``make setup`` builds the
archive first. This is a measurement, not a test: nothing is asserted.

Examples
--------
>>> from jvm_archive_bench import parser
>>> parser().parse_args(["--repeats", "2"]).repeats
2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

#: One driver: its JVM's CPU seconds and the wall time, as JSON on the last line.
_DRIVER = r"""
import json, time
started = time.monotonic()
import psutil
from coursekit.session import get_spark
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import functions as F

spark = get_spark("jvm-archive-bench")
df = spark.range(200_000).withColumn("g", F.col("id") % 7)
df.groupBy("g").agg(F.avg("id")).collect()
rows = df.withColumn("label", (F.col("g") > 3).cast("double")).limit(2000)
LogisticRegression(maxIter=3).fit(VectorAssembler(inputCols=["g"], outputCol="features").transform(rows))
jvms = [p for p in psutil.Process().children(recursive=True) if "java" in p.name()]
cpu = sum(p.cpu_times().user + p.cpu_times().system for p in jvms)
print(json.dumps({"cpu": cpu, "wall": time.monotonic() - started}))
spark.stop()
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    return p


def driver(archive_on: bool) -> dict[str, float]:
    env = {**os.environ, "COURSEKIT_UI": "0"}
    if not archive_on:
        env["COURSEKIT_CLASS_ARCHIVE"] = "0"
    out = subprocess.run(
        [sys.executable, "-c", _DRIVER], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {"sem arquivo": [], "com arquivo": []}
    for _ in range(args.repeats):
        runs["sem arquivo"].append(driver(False))
        runs["com arquivo"].append(driver(True))
    for name, got in runs.items():
        cpu = statistics.mean(r["cpu"] for r in got)
        wall = statistics.mean(r["wall"] for r in got)
        print(f"{name}: CPU da JVM {cpu:.1f} s, tempo {wall:.1f} s (média de {len(got)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
