"""Plumbing shared by the course's Spark daemons: folders, pid files, spawn, wait, stop.

Every daemon (master, workers, Spark Connect, history server) is started from the pip ``pyspark``
package's own ``sbin/`` scripts with :func:`daemon_env` (Java, loopback, folders under
:class:`Paths`), tracked by the pid file ``sbin/spark-daemon.sh`` writes, waited for with
:func:`wait_ready` and stopped with :func:`stop_daemon` (the daemon and everything it started).
One start or stop at a time per folder (:func:`locked`).

Examples
--------
>>> from pathlib import Path
>>> from coursekit.cluster.daemons import Paths, MASTER_CLASS
>>> Paths(Path("/x")).pid_file(MASTER_CLASS).name
'spark-coursekit-org.apache.spark.deploy.master.Master-1.pid'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from coursekit.java import find_java
from coursekit.net import LOCALHOST, tail
from coursekit.session import extra_java_options

IDENT = "coursekit"  # SPARK_IDENT_STRING: names the pid and log files

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
HISTORY_CLASS = "org.apache.spark.deploy.history.HistoryServer"

_REPO = Path(__file__).resolve().parents[2]
#: The checkout's root (when coursekit is installed in editable mode), else the working folder.
REPO_ROOT = _REPO if (_REPO / "pyproject.toml").exists() else Path.cwd()
#: Where lessons write Spark event logs and where ``history-up`` reads them.
EVENTS_DIR = REPO_ROOT / "build" / "spark-events"

_LOG4J = """\
# Written by coursekit.cluster: daemons log warnings, plus their own start-up lines.
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.deploy.name = org.apache.spark.deploy
logger.deploy.level = info
logger.connect.name = org.apache.spark.sql.connect.service
logger.connect.level = info
logger.blas.name = dev.ludovic.netlib
logger.blas.level = error
"""


class ClusterError(RuntimeError):
    """A daemon did not start or stop; the message says why and how to fix it."""


@dataclass(frozen=True)
class Paths:
    """Folders and files of one set of daemons (default: ``build/cluster/``)."""

    root: Path

    @classmethod
    def default(cls) -> Paths:
        """``COURSEKIT_CLUSTER_DIR`` or ``<repo>/build/cluster``."""
        env = os.environ.get("COURSEKIT_CLUSTER_DIR")
        return cls(Path(env).resolve() if env else REPO_ROOT / "build" / "cluster")

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    def state(self, name: str) -> Path:
        """JSON file with the ports of target ``name`` ("cluster", "connect", "history")."""
        return self.root / f"{name}.json"

    def pid_file(self, klass: str, instance: int = 1) -> Path:
        # Same name as sbin/spark-daemon.sh writes.
        return self.pids / f"spark-{IDENT}-{klass}-{instance}.pid"


def spark_home() -> Path:
    """The pyspark package folder, which holds ``bin/``, ``sbin/`` and ``jars/``."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "sbin" / "spark-daemon.sh").exists():
        raise ClusterError(
            f"O pacote pyspark em {home} não tem sbin/spark-daemon.sh. "
            "Reinstale com `make setup` (pyspark[connect]==4.3.*)."
        )
    return home


def read_state(paths: Paths, name: str) -> dict | None:
    try:
        return json.loads(paths.state(name).read_text())
    except (OSError, ValueError):
        return None


def write_state(paths: Paths, name: str, data: dict) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.state(name).write_text(json.dumps(data, indent=2, sort_keys=True))


@contextlib.contextmanager
def locked(paths: Paths) -> Iterator[None]:
    """One start/stop at a time per folder (two `make cluster-up` give one cluster)."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def daemon_pid(paths: Paths, klass: str, instance: int = 1) -> int | None:
    """The pid of a running daemon started from ``paths`` (None when it is not running).

    The pid file must name a live process whose command line holds ``klass``,
    so a recycled pid is never mistaken for a daemon.
    """
    try:
        pid = int(paths.pid_file(klass, instance).read_text().strip())
        proc = psutil.Process(pid)
        if proc.status() != psutil.STATUS_ZOMBIE and klass in " ".join(proc.cmdline()):
            return pid
    except (OSError, ValueError, psutil.Error):
        pass
    return None


def daemon_processes(paths: Paths) -> list[psutil.Process]:
    """Every live daemon started from ``paths`` and its descendants (executors, Python workers)."""
    found: dict[int, psutil.Process] = {}
    if not paths.pids.is_dir():
        return []
    for pid_file in sorted(paths.pids.glob(f"spark-{IDENT}-*.pid")):
        klass, _, instance = pid_file.stem[len(f"spark-{IDENT}-") :].rpartition("-")
        pid = daemon_pid(paths, klass, int(instance)) if instance.isdigit() else None
        if pid is None:
            continue
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            found[pid] = proc
            for child in proc.children(recursive=True):
                found[child.pid] = child
    return list(found.values())


def _write_conf(paths: Paths) -> None:
    paths.conf.mkdir(parents=True, exist_ok=True)
    target = paths.conf / "log4j2.properties"
    if not target.exists() or target.read_text() != _LOG4J:
        target.write_text(_LOG4J)


def daemon_env(paths: Paths) -> dict[str, str]:
    """Environment for ``sbin/*.sh``: Java, loopback, and every folder under ``paths``."""
    java = find_java()  # raises JavaNotFoundError (pt-BR, with the fixes) before any daemon
    _write_conf(paths)
    for folder in (paths.logs, paths.pids, paths.work):
        folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for key in (
        "SPARK_REMOTE",
        "SPARK_CONNECT_MODE_ENABLED",
        "PYSPARK_SUBMIT_ARGS",
        "SPARK_ENV_LOADED",
    ):
        env.pop(key, None)
    env.update(
        SPARK_HOME=str(spark_home()),
        JAVA_HOME=str(java.home),
        SPARK_LOCAL_IP=LOCALHOST,
        SPARK_MASTER_HOST=LOCALHOST,
        SPARK_PUBLIC_DNS=LOCALHOST,
        SPARK_LOG_DIR=str(paths.logs),
        SPARK_PID_DIR=str(paths.pids),
        SPARK_WORKER_DIR=str(paths.work),
        SPARK_CONF_DIR=str(paths.conf),
        SPARK_IDENT_STRING=IDENT,
        SPARK_DAEMON_MEMORY=os.environ.get("COURSEKIT_DAEMON_MEMORY", "512m"),
        SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
    )
    if extra_java_options():  # master, workers and history server
        env["SPARK_DAEMON_JAVA_OPTS"] = extra_java_options()
    return env


def log_of(paths: Paths, klass: str, instance: int = 1) -> Path | None:
    logs = sorted(paths.logs.glob(f"spark-{IDENT}-{klass}-{instance}-*.out"))
    return logs[-1] if logs else None


def spawn(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
    """Run an ``sbin`` script (it forks the daemon and returns after ~3 s)."""
    return subprocess.Popen(
        ["bash", *args],
        env=env,
        cwd=str(cwd or REPO_ROOT),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(procs: list[subprocess.Popen], timeout: float = 60) -> str:
    out = []
    for proc in procs:
        try:
            text, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            text, _ = proc.communicate()
        out.append(text or "")
    return "".join(out)


def stop_daemon(paths: Paths, klass: str, instance: int = 1, timeout: float = 20) -> bool:
    """Stop one daemon (SIGTERM, then SIGKILL) and whatever it started. True if it ran."""
    pid = daemon_pid(paths, klass, instance)
    paths.pid_file(klass, instance).unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return False
    with contextlib.suppress(psutil.Error):
        proc.terminate()
    _, alive = psutil.wait_procs([proc], timeout=timeout)
    # Executors and Python workers die with their daemon; kill any that did not.
    _, alive = psutil.wait_procs([p for p in family if p.is_running()], timeout=5)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=5)
    return True


def wait_ready(what: str, check, timeout: float, logs, alive=None) -> None:
    """Poll ``check()`` until true; on timeout (or a dead daemon) raise with the log tails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        if alive is not None and not alive():
            break
        time.sleep(0.5)
    tails = "\n".join(f"  {log}:\n{tail(log, indent='    ')}" for log in logs() if log)
    raise ClusterError(
        f"{what} não ficou pronto em {timeout:.0f} s (or its process died).\n{tails}\n"
        "Confira memória/portas livres e rode de novo; `python -m coursekit.cluster status` mostra o estado."
    )
