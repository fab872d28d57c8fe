"""One entry point for a SparkSession: ``get_spark``.

The same notebook runs embedded (``local[*]``), on a cluster
(``COURSEKIT_MASTER=spark://host:port`` or any master URL) or over Spark
Connect (``SPARK_REMOTE=sc://host:port``) with no change to its code.

Examples
--------
>>> from coursekit.session import get_spark
>>> spark = get_spark("DocExample")
>>> spark.range(3).count()
3
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlparse

from coursekit import cds
from coursekit.java import JavaInfo, find_java
from coursekit.net import LOCALHOST, port_open, tail

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")

#: The Java found for the last session started in classic mode (for doctor/monitor).
last_java: JavaInfo | None = None


class SparkStartError(RuntimeError):
    """Spark could not start; the message says why and how to fix it."""


IGNORED_OVER_CONNECT = (
    "get_spark: no Spark Connect, {settings} é decidido pelo servidor, não pela sessão do "
    "notebook (o servidor de `make connect-up` já define as configurações do curso). Para mudar: "
    "inicie o servidor com essa configuração."
)
IGNORED_SETTINGS = (
    "get_spark: a sessão Spark já está rodando e não aceita mudar {settings} "
    "(configuração que só vale ao iniciar a sessão). Para aplicar: rode spark.stop() e chame "
    "get_spark de novo com essas configurações."
)


def _apply(
    spark,
    settings: Mapping[str, str],
    *,
    warn: bool = True,
    message: str = IGNORED_SETTINGS,
    stacklevel: int = 3,
) -> list[str]:
    """Set ``settings`` on a running session; warn (pt-BR) about those it refuses.

    Returns the keys that could not be applied. ``stacklevel`` points the warning at the
    caller of :func:`get_spark` (3 when get_spark calls this directly).
    """
    ignored = []
    for key, value in settings.items():
        try:
            spark.conf.set(key, value)
        except Exception:  # static and core settings cannot change on a running session
            ignored.append(key)
    if ignored and warn:
        shown = ", ".join(f"{k}={settings[k]}" for k in ignored)
        warnings.warn(message.format(settings=shown), UserWarning, stacklevel=stacklevel)
    return ignored


def mode() -> str:
    """Return ``"connect"``, ``"cluster"`` or ``"local"`` from the environment."""
    if os.environ.get("SPARK_REMOTE"):
        return "connect"
    master = os.environ.get("COURSEKIT_MASTER", "")
    if master.startswith("local-cluster") or (master and not master.startswith("local")):
        return "cluster"
    return "local"


def master_url() -> str:
    """The master URL for classic mode: ``COURSEKIT_MASTER`` or ``local[*]``."""
    return os.environ.get("COURSEKIT_MASTER") or "local[*]"


def log_dir() -> Path:
    """Folder for JVM logs (``COURSEKIT_LOG_DIR``, default: a temp folder)."""
    path = Path(
        os.environ.get("COURSEKIT_LOG_DIR") or Path(tempfile.gettempdir()) / "coursekit-logs"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def driver_host() -> str:
    """Address the executors use to reach this driver: ``COURSEKIT_DRIVER_HOST`` or 127.0.0.1.

    Loopback is right for ``local[*]`` and for the cluster of ``make cluster-up``;
    on a real cluster in client mode set it to an IP address of this machine that
    the workers can reach (the driver and its UI then listen on that address).
    """
    return os.environ.get("COURSEKIT_DRIVER_HOST") or LOCALHOST


def executor_python() -> str:
    """Python the executors run: ``COURSEKIT_EXECUTOR_PYTHON`` or this interpreter.

    On YARN/Kubernetes with a packed environment, e.g. ``./environment/bin/python``.
    """
    return os.environ.get("COURSEKIT_EXECUTOR_PYTHON") or sys.executable


def extra_java_options() -> str:
    """Extra JVM flags for the drivers, executors and daemons the course starts.

    From ``COURSEKIT_JAVA_OPTS``; empty by default.
    """
    return os.environ.get("COURSEKIT_JAVA_OPTS", "").strip()


def default_conf(app_name: str) -> dict[str, str]:
    """Settings every classic session gets: loopback, quiet logs, small-data partitions."""
    java_opts = f"-Dlog4j2.configurationFile=file:{LOG4J_CONFIG} {extra_java_options()}".strip()
    # The driver is started from pyspark's own class path, the one the archive was made from;
    # executors of a cluster are not, so they do not get it (see coursekit.cds).
    driver_opts = f"{java_opts} {cds.driver_option()}".strip()
    conf = {
        "spark.driver.host": driver_host(),
        "spark.driver.bindAddress": driver_host(),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": driver_opts,
        "spark.executor.extraJavaOptions": java_opts,
        "spark.sql.shuffle.partitions": os.environ.get("COURSEKIT_SHUFFLE_PARTITIONS")
        or str(max(4, 2 * (os.cpu_count() or 2))),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.pyspark.python": executor_python(),
        "spark.driver.memory": os.environ.get("COURSEKIT_DRIVER_MEMORY", "2g"),
        "spark.local.dir": str(log_dir().parent / "coursekit-spark-local"),
        "spark.ui.enabled": "false" if os.environ.get("COURSEKIT_UI") == "0" else "true",
    }
    if mode() == "cluster":
        conf["spark.cores.max"] = os.environ.get("COURSEKIT_CORES_MAX", "2")
        conf["spark.executor.memory"] = os.environ.get("COURSEKIT_EXECUTOR_MEMORY", "1g")
    return conf


# --- sparkmonitor hook (the wiring lives in coursekit.progress) ----------------------
def _monitor_conf() -> dict[str, str]:
    """Listener settings for sparkmonitor's live progress, or ``{}``.

    Non-empty only in a JupyterLab kernel started by ``make lab`` whose notebook
    frontend is listening; papermill, tests and consoles get ``{}``.
    """
    try:
        from coursekit.progress import sparkmonitor_conf

        return sparkmonitor_conf()
    except Exception:  # never let the progress display stop a session from starting
        return {}


# -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _jvm_output_to(path: Path) -> Iterator[None]:
    """Send this process's fd 1/2 to ``path`` while the JVM is launched.

    The JVM inherits the descriptors, so its own prints (the incubator-module
    warning, BLAS notes, logs) go to the log file instead of notebook cells.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


def _check_port(url: str) -> None:
    parsed = urlparse(url)
    host, port = parsed.hostname or LOCALHOST, parsed.port or 15002
    if host in ("local",) or url.startswith("local"):
        return
    if not port_open(port, host, timeout=3):
        raise SparkStartError(
            f"Servidor Spark Connect não responde em {host}:{port} (SPARK_REMOTE={url}).\n"
            "Inicie um com `make connect-up`, ou remova SPARK_REMOTE para usar o Spark local."
        )


def _connect_session(app_name: str, conf: Mapping[str, str]):
    from pyspark.sql import SparkSession

    url = os.environ["SPARK_REMOTE"]
    _check_port(url)
    spark = SparkSession.builder.remote(url).appName(app_name).getOrCreate()
    # The runtime SQL defaults of classic mode (shuffle partitions, time zone, Arrow) apply
    # to Connect sessions too, so the same notebook gives the same partitioning and figures.
    runtime = {k: v for k, v in default_conf(app_name).items() if k.startswith("spark.sql.")}
    _apply(spark, runtime, warn=False)  # the server's own static settings stay as they are
    _apply(spark, conf, message=IGNORED_OVER_CONNECT, stacklevel=4)  # caller > get_spark > here
    return spark


def get_spark(app_name: str = "coursekit", conf: Mapping[str, str] | None = None, **more: str):
    """Return a SparkSession configured for the course (safe to call twice).

    Parameters
    ----------
    app_name : str
        Name shown in the Spark UI; notebooks use their own name.
    conf : mapping, optional
        Extra Spark settings, e.g. ``{"spark.driver.memory": "4g"}``.
    **more : str
        More settings as keyword arguments, e.g. ``**{"spark.sql.shuffle.partitions": "2"}``.

    Returns
    -------
    pyspark.sql.SparkSession

    Notes
    -----
    ``COURSEKIT_MASTER`` picks the master (default ``local[*]``), ``SPARK_REMOTE``
    switches to Spark Connect, ``COURSEKIT_UI=0`` turns the UI off.
    Java is checked before the JVM starts, so a missing Java gives a clear message.
    Called while a session runs, it returns that session with ``conf`` applied where Spark
    allows it, and warns (``UserWarning``) about each setting it could not change.

    Examples
    --------
    >>> from coursekit.session import get_spark
    >>> spark = get_spark("DocExample", {"spark.sql.shuffle.partitions": "2"})
    >>> spark.conf.get("spark.sql.shuffle.partitions")
    '2'
    """
    global last_java
    settings = {**(conf or {}), **more}
    os.environ["PYSPARK_PYTHON"] = executor_python()
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = driver_host()
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    if mode() == "connect":
        return _connect_session(app_name, settings)
    # PySpark sets SPARK_CONNECT_MODE_ENABLED=1 in os.environ whenever a process opens a
    # Connect session, and never unsets it. A later classic session in that process, or in any
    # child it starts (a kernel, a test subprocess), then fails with CONNECT_URL_NOT_SET.
    # Without SPARK_REMOTE we are in classic mode, so the flag is stale: drop it.
    os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)

    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        _apply(active, settings)
        return active

    java = find_java()  # raises JavaNotFoundError with the fixes, before any JVM
    os.environ["JAVA_HOME"] = str(java.home)
    last_java = java

    builder = SparkSession.builder.master(master_url()).appName(app_name)
    for key, value in {**default_conf(app_name), **_monitor_conf(), **settings}.items():
        builder = builder.config(key, value)
    log_file = log_dir() / f"spark-{os.getpid()}-{int(time.time())}.log"
    try:
        with _jvm_output_to(log_file):
            spark = builder.getOrCreate()
    except Exception as exc:  # JAVA_GATEWAY_EXITED and friends
        raise SparkStartError(
            f"O Spark não iniciou (Spark failed to start): {type(exc).__name__}: {str(exc)[:300]}\n"
            f"Java usado: {java.executable} ({java.version_text}, via {java.source}).\n"
            f"Últimas linhas do log ({log_file}):\n{tail(log_file, 15)}\n"
            "Rode `python -m coursekit doctor` para um diagnóstico."
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def submit_conf() -> dict[str, str]:
    """``--conf`` settings for a ``spark-submit`` job started from a lesson: the course's own.

    Loopback driver, no UI, this Python on the executors, quiet JVM logs: what ``get_spark``
    gives a notebook's session, for a separate ``spark-submit`` process.

    >>> submit_conf()["spark.driver.host"]
    '127.0.0.1'
    """
    conf = default_conf("spark-submit")
    keep = ("spark.driver.host", "spark.driver.bindAddress", "spark.pyspark.python")
    keep += ("spark.driver.extraJavaOptions", "spark.sql.session.timeZone")
    return {**{k: conf[k] for k in keep}, "spark.ui.enabled": "false"}


def submit_env() -> dict[str, str]:
    """Environment for a ``spark-submit`` process: this environment plus Java and loopback.

    Raises :class:`coursekit.java.JavaNotFoundError` (pt-BR, with the fixes) without Java.
    """
    return {
        **os.environ,
        "JAVA_HOME": str(find_java().home),
        "SPARK_LOCAL_IP": driver_host(),
        "PYSPARK_PYTHON": executor_python(),
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def ui_url(spark) -> str | None:
    """The Spark UI address of a classic session (None over Connect or with the UI off)."""
    try:
        return spark.sparkContext.uiWebUrl
    except Exception:  # Spark Connect has no sparkContext
        return None


def is_connect(spark) -> bool:
    """True when ``spark`` is a Spark Connect session (no sparkContext, no RDDs)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")
