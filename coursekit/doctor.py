"""``python -m coursekit doctor``: is this machine ready for the course?

Prints Python, Java (path, version, how it was found), PySpark and pandas
versions and the master mode; starts and stops Spark once and prints the UI
URL. Exit status 0 when all is well, 1 with one line per problem and its fix.
"""

from __future__ import annotations

import importlib.metadata as md
import sys
import time

from coursekit import cds, session
from coursekit.java import JavaNotFoundError, find_java

MIN_PYTHON = (3, 11)


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def check_packages() -> list[str]:
    """Problems with Python and the course's packages, one line each (empty when fine)."""
    problems = []
    if sys.version_info < MIN_PYTHON:
        problems.append(
            f"Python {sys.version.split()[0]} é antigo: o curso precisa de Python 3.11+ "
            "(PySpark 4.3 exige >= 3.11). Instale python3.11 ou use environment.yml."
        )
    pyspark = _version("pyspark")
    if pyspark is None:
        problems.append("PySpark não instalado: rode `make lab` (cria .venv e instala o curso).")
    elif not pyspark.startswith("4."):
        problems.append(f"PySpark {pyspark} encontrado; o curso usa 4.3: rode `make lab`.")
    pandas = _version("pandas")
    if pandas is None:
        problems.append("pandas não instalado: rode `make lab`.")
    else:
        major_minor = tuple(int(x) for x in pandas.split(".")[:2])
        if major_minor < (2, 2) or major_minor >= (3, 0):
            problems.append(
                f"pandas {pandas}: o PySpark 4.3 precisa de pandas >=2.2,<3 "
                "(avisa com pandas 3). Rode `pip install 'pandas>=2.2,<3'`."
            )
    return problems


def run(start_spark: bool = True, out=print) -> int:
    """Run every check, print a report and return the exit status."""
    problems = check_packages()
    out(f"Python   : {sys.version.split()[0]} ({sys.executable})")
    for dist in ("pyspark", "pandas", "pyarrow", "numpy"):
        out(f"{dist:<9}: {_version(dist) or 'NÃO INSTALADO'}")
    mode = session.mode()
    where = {"local": session.master_url(), "cluster": session.master_url()}.get(mode)
    out(f"Modo     : {mode} ({where or __import__('os').environ.get('SPARK_REMOTE')})")
    java_ok = True
    if mode != "connect":
        try:
            java = find_java()
            out(
                f"Java     : {java.major} via {java.source} ({java.executable}) — {java.version_text}"
            )
        except JavaNotFoundError as exc:
            java_ok = False
            problems.append(str(exc).splitlines()[0] + " Rode `make lab` ou instale openjdk-17.")
            out("Java     : NÃO ENCONTRADO")
    if mode != "connect" and java_ok:
        if cds.driver_option():
            out(f"Classes  : arquivo de classes da JVM em uso ({cds.archive_path().name})")
        else:
            out(
                "Classes  : sem arquivo de classes da JVM (`make setup` o gera; sem ele, o Spark só inicia mais devagar)"
            )
    if start_spark and java_ok and not problems:
        t0 = time.perf_counter()
        try:
            spark = session.get_spark("CoursekitDoctor")
            n = spark.range(1000).count()
            elapsed = time.perf_counter() - t0
            out(f"Spark    : {spark.version} iniciou e contou {n} linhas em {elapsed:.1f} s")
            out(
                f"Spark UI : {session.ui_url(spark) or 'desligada (COURSEKIT_UI=0) ou Spark Connect'}"
            )
            spark.stop()
        except Exception as exc:
            problems.append(
                f"Spark não iniciou: {str(exc).splitlines()[0]} (veja o log indicado acima)."
            )
            out(str(exc))
    if problems:
        out("")
        out(f"{len(problems)} problema(s):")
        for line in problems:
            out(f"  - {line}")
        return 1
    out("")
    out("Tudo certo: rode `make lab` e abra notebooks/00_introducao_ml_distribuido.ipynb.")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run(start_spark="--no-spark" not in argv)
