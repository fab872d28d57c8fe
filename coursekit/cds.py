"""A class-data-sharing archive of Spark's classes: every driver JVM starts with less CPU.

A Spark driver loads about 20,000 classes (the JDK's and ``pyspark/jars``') and verifies each
one; on the course's small data that is a large part of a session's CPU (measured on a 2-core
machine: a session, a groupBy and a small fit spend 12.8 s of JVM CPU without the archive, 7.0 s
with it: tools/jvm_archive_bench.py).
Java's AppCDS stores those classes pre-parsed in one file that every JVM maps read-only.

``make setup`` builds the archive once per environment (``python -m coursekit.cds``): a short
Spark workload records the classes it loads (``-XX:DumpLoadedClassList``), then
``java -Xshare:dump`` writes them into an archive in ``<venv>/share/coursekit/``, next to the
jars it was made from, so a grading sandbox (which sees the environment read-only) maps the same
file. Drivers started by :func:`coursekit.session.get_spark` and the course's Spark Connect
server add :func:`driver_option`. The JVM checks the archive against its own build and class
path and, when they differ (another Java, reinstalled jars) or the file is missing or damaged
(tested: cut in half), starts without it, silently: the archive only ever changes speed.
``COURSEKIT_CLASS_ARCHIVE=0`` turns it off.

Examples
--------
>>> from coursekit.cds import archive_path
>>> archive_path().suffix
'.jsa'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: ``0`` turns the archive off; any other value is the archive's path.
ENV = "COURSEKIT_CLASS_ARCHIVE"

#: What the recording run does: the kinds of work the lessons and the grader give a driver.
_WORKLOAD = r"""
import json, os, sys, tempfile
import pandas as pd
from coursekit.session import get_spark
from pyspark.sql import functions as F, Window
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression, RandomForestClassifier
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.ml.recommendation import ALS
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

spark = get_spark("coursekit-class-list")
df = spark.range(4000).select(
    "id", (F.col("id") % 7).alias("g"), (F.rand(1) * 100).alias("x"),
    F.when(F.col("id") % 5 == 0, "a").otherwise("b").alias("c"),
    (F.rand(2) > 0.7).cast("double").alias("label"),
)
df = df.withColumn("r", F.row_number().over(Window.partitionBy("g").orderBy("x")))
df.groupBy("g").agg(F.avg("x"), F.percentile_approx("x", 0.5)).join(df, "g").count()
out = tempfile.mkdtemp()
df.write.mode("overwrite").parquet(out + "/t")
back = spark.read.parquet(out + "/t").cache()
back.createOrReplaceTempView("t")
spark.sql("SELECT g, count(*) AS n FROM t GROUP BY g").toPandas()
spark.createDataFrame(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})).collect()
pipeline = Pipeline(stages=[
    StringIndexer(inputCol="c", outputCol="ci"), OneHotEncoder(inputCol="ci", outputCol="co"),
    VectorAssembler(inputCols=["co", "x", "g"], outputCol="v"),
    StandardScaler(inputCol="v", outputCol="features"),
    RandomForestClassifier(numTrees=3, maxDepth=3, seed=1),
])
model = pipeline.fit(back)
model.write().overwrite().save(out + "/m")
auc = BinaryClassificationEvaluator().evaluate(PipelineModel.load(out + "/m").transform(back))
lr = LogisticRegression(maxIter=3)
grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1]).build()
prepared = Pipeline(stages=pipeline.getStages()[:4]).fit(back).transform(back)
CrossValidator(estimator=lr, estimatorParamMaps=grid, evaluator=BinaryClassificationEvaluator(),
               numFolds=2, seed=1).fit(prepared)
KMeans(k=3, seed=1).fit(prepared)
ratings = back.select((F.col("id") % 50).alias("user"), (F.col("id") % 40).alias("item"), "x")
ALS(userCol="user", itemCol="item", ratingCol="x", maxIter=2, rank=3, seed=1).fit(ratings)
jvm = spark.sparkContext._jvm
print(json.dumps({"classpath": jvm.System.getProperty("java.class.path")}), flush=True)
spark.stop()
"""


def archive_path() -> Path:
    """Where this environment keeps the archive: ``<sys.prefix>/share/coursekit/``."""
    configured = os.environ.get(ENV, "").strip()
    if configured and configured != "0":
        return Path(configured)
    import pyspark

    return Path(sys.prefix) / "share" / "coursekit" / f"spark-{pyspark.__version__}.jsa"


def driver_option() -> str:
    """``-XX:SharedArchiveFile=...`` for a driver JVM, or ``""`` (off, or not built)."""
    if os.environ.get(ENV, "").strip() == "0":
        return ""
    archive = archive_path()
    return f"-XX:SharedArchiveFile={archive}" if archive.is_file() else ""


def _java() -> str:
    from coursekit.java import find_java

    return str(find_java().executable)


def usable(archive: Path | None = None) -> bool:
    """True when this Java maps ``archive`` for the class path it was made from (``-Xshare:on``)."""
    archive = archive or archive_path()
    meta = archive.with_suffix(".json")
    if not (archive.is_file() and meta.is_file()):
        return False
    try:
        classpath = json.loads(meta.read_text(encoding="utf-8"))["classpath"]
        probe = [_java(), "-Xshare:on", f"-XX:SharedArchiveFile={archive}", "-cp", classpath]
        return subprocess.run([*probe, "-version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired):
        return False


def _record(java_flag: str) -> tuple[dict | None, str]:
    """Run the workload in a child Python with ``java_flag``; (its driver's class path, error)."""
    env = {**os.environ, ENV: "0", "COURSEKIT_UI": "0", "COURSEKIT_JAVA_OPTS": java_flag}
    command = [sys.executable, "-c", _WORKLOAD]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
    if run.returncode != 0 or not lines:
        return None, f"a sessão de gravação falhou: {run.stderr[-500:]}"
    return json.loads(lines[-1]), ""


def _make(partial: Path, tmp: Path) -> tuple[dict | None, str]:
    """Record the workload's class list, then write the archive with ``java -Xshare:dump``.

    A static archive, not the one-step dynamic one (``-XX:ArchiveClassesAtExit``, 30 s faster to
    make): on Java 17 a truncated dynamic archive crashes the JVM (SIGBUS) where a truncated
    static one is refused and the JVM starts without it.
    """
    classes = tmp / "classes.lst"
    meta, error = _record(f"-XX:DumpLoadedClassList={classes}")
    if not meta or not classes.is_file():
        return None, error or "a lista de classes não foi gravada"
    dump = subprocess.run(
        [
            _java(),
            "-Xshare:dump",
            f"-XX:SharedClassListFile={classes}",
            f"-XX:SharedArchiveFile={partial}",
            "-cp",
            meta["classpath"],
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if dump.returncode != 0 or not partial.is_file():
        return None, f"java -Xshare:dump falhou: {dump.stdout[-500:]}"
    return meta, ""


def build(archive: Path | None = None, *, log=print) -> Path | None:
    """Record a Spark workload's classes into ``archive``; ``None`` when it cannot.

    Does nothing when a usable archive is already there. Never raises for a Spark or Java
    problem: the archive is only a speed-up, so the reason is logged and ``None`` returned.
    """
    archive = archive or archive_path()
    if usable(archive):
        log(f"arquivo de classes da JVM já pronto: {archive.name}")
        return archive
    started = time.monotonic()
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="coursekit-cds-") as tmp:
        partial.unlink(missing_ok=True)
        meta, error = _make(partial, Path(tmp))
        if meta:
            os.replace(partial, archive)
            archive.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
            if not usable(archive):
                error = "esta JVM não aceita o arquivo gerado"
    if error:
        partial.unlink(missing_ok=True)
        archive.unlink(missing_ok=True)
        log(f"arquivo de classes da JVM não gerado; o Spark roda sem ele ({error})")
        return None
    size = archive.stat().st_size / 2**20
    log(
        f"arquivo de classes da JVM: {archive.name}, {size:,.0f} MiB, "
        f"{time.monotonic() - started:.0f} s (as sessões do Spark passam a iniciar com menos CPU)"
    )
    return archive


def main(argv: list[str] | None = None) -> int:
    """``python -m coursekit.cds``: build the archive (or say it is ready); always exits 0."""
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
