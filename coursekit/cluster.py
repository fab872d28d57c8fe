"""Local Spark daemons for scaling out: standalone cluster, Spark Connect, history server.

Three targets, each started and stopped from the pip ``pyspark`` package itself
(its ``sbin/`` has ``spark-daemon.sh`` but no ``start-master.sh``):

* ``up`` / ``down``: a standalone cluster, one master and two workers with one
  core each (``Master`` and ``Worker`` run through ``sbin/spark-daemon.sh``);
  ``up`` waits until every worker is registered (the master's ``/json/`` page)
  and prints the ``spark://127.0.0.1:<port>`` URL for ``COURSEKIT_MASTER``.
* ``connect-up`` / ``connect-down``: a Spark Connect server
  (``sbin/start-connect-server.sh``); it runs on the cluster when the cluster is
  up, otherwise on ``local[2]``; prints the ``sc://127.0.0.1:<port>`` URL for
  ``SPARK_REMOTE``. Its working directory is ``notebooks/``, so relative paths
  sent by a notebook (``"../build/..."``) resolve as they do in local mode.
* ``history-up`` / ``history-down``: the Spark history server reading the event
  logs in ``build/spark-events/`` (:data:`EVENTS_DIR`). A lesson appears there
  when its session was created with ``spark.eventLog.enabled=true`` and
  ``spark.eventLog.dir`` pointing at that folder: ``get_spark(name, event_log_conf())``.

Every listener (master RPC and web UI, worker RPC and web UIs, executors,
Connect gRPC and UI, history UI) is bound to 127.0.0.1: ``SPARK_LOCAL_IP`` and
``SPARK_MASTER_HOST`` are set for the daemons, hosts are passed explicitly,
ports are picked free (web UIs never on 8080/8081), and the master's REST
submission server (port 6066, no authentication) is turned off.
State, logs, pid files and work folders live under ``build/cluster/`` (git-ignored;
``COURSEKIT_CLUSTER_DIR`` moves them). Starting twice gives one cluster.

Command line (also ``make cluster-up``, ``make connect-up``, ...)::

    python -m coursekit.cluster up|down|status|connect-up|connect-down|history-up|history-down|stop-all

Examples
--------
>>> from coursekit.cluster import event_log_conf, EVENTS_DIR
>>> conf = event_log_conf()
>>> conf["spark.eventLog.enabled"]
'true'
>>> conf["spark.eventLog.dir"] == EVENTS_DIR.as_uri()
True
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from coursekit.java import find_java
from coursekit.session import extra_java_options

LOCALHOST = "127.0.0.1"
IDENT = "coursekit"  # SPARK_IDENT_STRING: names the pid and log files

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
HISTORY_CLASS = "org.apache.spark.deploy.history.HistoryServer"

#: Preferred ports (used when free; otherwise any free port). Web UIs of the
#: master and workers always get a free port, so 8080/8081 are never fought over.
MASTER_PORT = 7077
CONNECT_PORT = 15002
HISTORY_PORT = 18080

#: Settings of a long-lived driver that shares the cluster (the Connect server).
DYNAMIC_ALLOCATION = {
    "spark.dynamicAllocation.enabled": "true",
    "spark.dynamicAllocation.shuffleTracking.enabled": "true",
    "spark.dynamicAllocation.minExecutors": "0",
    "spark.dynamicAllocation.executorIdleTimeout": "30s",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout": "60s",
    "spark.dynamicAllocation.shuffleTracking.timeout": "60s",
}

_REPO = Path(__file__).resolve().parents[1]
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


# --- small helpers ----------------------------------------------------------------


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


def port_is_free(port: int) -> bool:
    """True when nothing listens on ``127.0.0.1:port`` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, avoid: set[int] | None = None) -> int:
    """``preferred`` when it is free, else a free port chosen by the OS (not in ``avoid``)."""
    avoid = avoid or set()
    if preferred and preferred not in avoid and port_is_free(preferred):
        return preferred
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOCALHOST, 0))
            port = sock.getsockname()[1]
        if port not in avoid and port not in (8080, 8081):
            return port


def port_open(port: int, host: str = LOCALHOST, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def get_json(url: str, timeout: float = 3.0):
    """GET a JSON document (the master's /json/, a REST API) from a loopback URL."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
        return json.loads(resp.read().decode())


def _read_state(paths: Paths, name: str) -> dict | None:
    try:
        return json.loads(paths.state(name).read_text())
    except (OSError, ValueError):
        return None


def _write_state(paths: Paths, name: str, data: dict) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.state(name).write_text(json.dumps(data, indent=2, sort_keys=True))


@contextlib.contextmanager
def _locked(paths: Paths) -> Iterator[None]:
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


def _log_of(paths: Paths, klass: str, instance: int = 1) -> Path | None:
    logs = sorted(paths.logs.glob(f"spark-{IDENT}-{klass}-{instance}-*.out"))
    return logs[-1] if logs else None


def _tail(path: Path | None, lines: int = 12) -> str:
    if path is None:
        return "(sem log)"
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(sem log)"
    return "\n".join("    " + line for line in text)


def _spawn(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
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


def _finish(procs: list[subprocess.Popen], timeout: float = 60) -> str:
    out = []
    for proc in procs:
        try:
            text, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            text, _ = proc.communicate()
        out.append(text or "")
    return "".join(out)


def _stop(paths: Paths, klass: str, instance: int = 1, timeout: float = 20) -> bool:
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


def _wait(what: str, check, timeout: float, logs, alive=None) -> None:
    """Poll ``check()`` until true; on timeout (or a dead daemon) raise with the log tails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        if alive is not None and not alive():
            break
        time.sleep(0.5)
    tails = "\n".join(f"  {log}:\n{_tail(log)}" for log in logs() if log)
    raise ClusterError(
        f"{what} não ficou pronto em {timeout:.0f} s (or its process died).\n{tails}\n"
        "Confira memória/portas livres e rode de novo; `python -m coursekit.cluster status` mostra o estado."
    )


# --- standalone cluster -----------------------------------------------------------


@dataclass(frozen=True)
class ClusterInfo:
    """A running standalone cluster."""

    master_url: str
    webui_url: str
    workers: int
    cores_per_worker: int
    started_in: float = 0.0

    def summary(self) -> str:
        return (
            f"  master:    {self.master_url}\n"
            f"  master UI: {self.webui_url}\n"
            f"  workers:   {self.workers} x {self.cores_per_worker} core(s)"
        )


def master_json(paths: Paths | None = None) -> dict | None:
    """The master's ``/json/`` page (workers, apps, cores) or None when it is down."""
    state = _read_state(paths or Paths.default(), "cluster")
    if not state:
        return None
    try:
        return get_json(f"http://{LOCALHOST}:{state['webui_port']}/json/")
    except (OSError, ValueError):
        return None


def cluster_info(paths: Paths | None = None) -> ClusterInfo | None:
    """The running cluster started from ``paths`` (None unless master and all workers are alive)."""
    paths = paths or Paths.default()
    state = _read_state(paths, "cluster")
    if not state or daemon_pid(paths, MASTER_CLASS) is None:
        return None
    n = state["workers"]
    if any(daemon_pid(paths, WORKER_CLASS, i) is None for i in range(1, n + 1)):
        return None
    page = master_json(paths)
    if not page or page.get("status") != "ALIVE" or page.get("aliveworkers", 0) < n:
        return None
    return ClusterInfo(
        master_url=f"spark://{LOCALHOST}:{state['master_port']}",
        webui_url=f"http://{LOCALHOST}:{state['webui_port']}",
        workers=n,
        cores_per_worker=state["cores"],
    )


def up(
    paths: Paths | None = None,
    *,
    workers: int = 2,
    cores: int = 1,
    memory: str = "2g",
    master_port: int | None = None,
    timeout: float = 120,
) -> ClusterInfo:
    """Start a master and ``workers`` workers (idempotent) and wait until all are registered.

    Parameters
    ----------
    paths : Paths, optional
        Folder for state, logs, pids and work dirs (default ``build/cluster``).
    workers, cores : int, default=2, 1
        Number of workers and cores offered by each.
    memory : str, default="2g"
        Memory each worker offers to executors.
    master_port : int, optional
        ``None``: 7077 when free, else any free port; ``0``: any free port.
    timeout : float, default=120
        Seconds to wait for the workers to register.

    Returns
    -------
    ClusterInfo
        With ``master_url`` (``spark://127.0.0.1:<port>``) for ``COURSEKIT_MASTER``.
    """
    paths = paths or Paths.default()
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"O parâmetro 'workers' deve ser um inteiro >= 1. Recebido: {workers!r}")
    if not isinstance(cores, int) or cores < 1:
        raise ValueError(f"O parâmetro 'cores' deve ser um inteiro >= 1. Recebido: {cores!r}")
    with _locked(paths):
        running = cluster_info(paths)
        if running is not None:
            return running
        _stop_cluster(paths)  # leftovers of a half-started cluster
        start = time.monotonic()
        env = daemon_env(paths)
        sbin = Path(env["SPARK_HOME"]) / "sbin"
        used: set[int] = set()
        port = free_port(MASTER_PORT if master_port is None else master_port or None)
        used.add(port)
        webui = free_port(avoid=used)
        used.add(webui)
        state = {"master_port": port, "webui_port": webui, "workers": workers, "cores": cores}
        _write_state(paths, "cluster", state)
        procs = [
            _spawn(
                [
                    str(sbin / "spark-daemon.sh"),
                    "start",
                    MASTER_CLASS,
                    "1",
                    "--host",
                    LOCALHOST,
                    "--port",
                    str(port),
                    "--webui-port",
                    str(webui),
                ],
                env,
            )
        ]
        try:
            # Workers register faster when the master already listens (they retry every ~5-15 s).
            _wait(
                "O master do Spark",
                lambda: port_open(port) and master_json(paths)["status"] == "ALIVE",
                timeout,
                lambda: [_log_of(paths, MASTER_CLASS)],
                alive=lambda: (
                    daemon_pid(paths, MASTER_CLASS) is not None or procs[0].poll() is None
                ),
            )
            for i in range(1, workers + 1):
                wport = free_port(avoid=used)
                used.add(wport)
                wui = free_port(avoid=used)
                used.add(wui)
                procs.append(
                    _spawn(
                        [
                            str(sbin / "spark-daemon.sh"),
                            "start",
                            WORKER_CLASS,
                            str(i),
                            "--host",
                            LOCALHOST,
                            "--port",
                            str(wport),
                            "--webui-port",
                            str(wui),
                            "--cores",
                            str(cores),
                            "--memory",
                            memory,
                            "--work-dir",
                            str(paths.work / f"worker-{i}"),
                            f"spark://{LOCALHOST}:{port}",
                        ],
                        env,
                    )
                )
            _finish(procs)
            _wait(
                f"O cluster ({workers} workers)",
                lambda: master_json(paths)["aliveworkers"] >= workers,
                timeout,
                lambda: (
                    [_log_of(paths, MASTER_CLASS)]
                    + [_log_of(paths, WORKER_CLASS, i) for i in range(1, workers + 1)]
                ),
            )
        except BaseException:
            _finish(procs)
            _stop_cluster(paths)
            raise
        info = cluster_info(paths)
        if info is None:
            raise ClusterError(
                "O cluster iniciou mas não respondeu; veja os logs em " + str(paths.logs)
            )
        return ClusterInfo(**{**info.__dict__, "started_in": time.monotonic() - start})


def _stop_cluster(paths: Paths) -> bool:
    state = _read_state(paths, "cluster") or {}
    n = max(int(state.get("workers", 0)), len(list(paths.pids.glob(f"*{WORKER_CLASS}-*.pid"))))
    stopped = False
    for i in range(1, n + 1):
        stopped |= _stop(paths, WORKER_CLASS, i)
    stopped |= _stop(paths, MASTER_CLASS)
    paths.state("cluster").unlink(missing_ok=True)
    return stopped


def down(paths: Paths | None = None) -> bool:
    """Stop the cluster (and a Connect server running on it). True if something was running."""
    paths = paths or Paths.default()
    with _locked(paths):
        stopped = False
        connect = _read_state(paths, "connect") or {}
        if str(connect.get("master", "")).startswith("spark://"):
            stopped |= _stop(paths, CONNECT_CLASS)
            paths.state("connect").unlink(missing_ok=True)
        stopped |= _stop_cluster(paths)
        return stopped


# --- Spark Connect server ----------------------------------------------------------


@dataclass(frozen=True)
class ConnectInfo:
    """A running Spark Connect server."""

    remote_url: str
    master: str
    ui_url: str
    started_in: float = 0.0


def connect_info(paths: Paths | None = None) -> ConnectInfo | None:
    """The running Connect server started from ``paths`` (None when it is not serving)."""
    paths = paths or Paths.default()
    state = _read_state(paths, "connect")
    if not state or daemon_pid(paths, CONNECT_CLASS) is None or not port_open(state["port"]):
        return None
    return ConnectInfo(
        remote_url=f"sc://{LOCALHOST}:{state['port']}",
        master=state["master"],
        ui_url=f"http://{LOCALHOST}:{state['ui_port']}",
    )


def connect_up(
    paths: Paths | None = None,
    *,
    master: str = "auto",
    port: int | None = None,
    driver_memory: str = "2g",
    timeout: float = 120,
) -> ConnectInfo:
    """Start a Spark Connect server on 127.0.0.1 (idempotent).

    Parameters
    ----------
    paths : Paths, optional
        Folder for state, logs and pids (default ``build/cluster``).
    master : str, default="auto"
        ``"auto"``: the standalone cluster of ``paths`` when it is up, else ``local[2]``;
        ``"local"`` (= ``local[2]``), ``"cluster"``, or any master URL.
    port : int, optional
        gRPC port. ``None``: 15002 when free, else any free port; ``0``: any free port.
    driver_memory : str, default="2g"
        Heap of the server (it is the driver of every client session).
    timeout : float, default=120
        Seconds to wait for the gRPC port.

    Returns
    -------
    ConnectInfo
        With ``remote_url`` (``sc://127.0.0.1:<port>``) for ``SPARK_REMOTE``.
    """
    paths = paths or Paths.default()
    with _locked(paths):
        running = connect_info(paths)
        if running is not None:
            return running
        _stop(paths, CONNECT_CLASS)
        cluster = cluster_info(paths)
        if master == "auto":
            url = cluster.master_url if cluster else "local[2]"
        elif master == "local":
            url = "local[2]"
        elif master == "cluster":
            if cluster is None:
                raise ClusterError(
                    "connect-up --master cluster: o cluster não está rodando. "
                    "Rode antes `make cluster-up` (ou use --master local)."
                )
            url = cluster.master_url
        elif master.startswith(("local", "spark://")):
            url = master
        else:
            raise ValueError(
                "O parâmetro 'master' deve ser 'auto', 'local', 'cluster', 'local[N]' ou 'spark://...'. "
                f"Recebido: {master!r}"
            )
        start = time.monotonic()
        env = daemon_env(paths)
        grpc = free_port(CONNECT_PORT if port is None else port or None)
        ui = free_port(avoid={grpc})
        confs = {
            "spark.connect.grpc.binding.address": LOCALHOST,
            "spark.connect.grpc.binding.port": str(grpc),
            "spark.connect.grpc.port.maxRetries": "0",
            "spark.driver.host": LOCALHOST,
            "spark.driver.bindAddress": LOCALHOST,
            "spark.ui.port": str(ui),
            "spark.ui.showConsoleProgress": "false",
            "spark.pyspark.python": sys.executable,
            "spark.sql.session.timeZone": "UTC",
            "spark.local.dir": str(paths.work / "connect-local"),
            # Iterative algorithms (ALS with maxIter 20) cut their lineage here; without it the
            # task closures grow each iteration until "Task serialization failed: StackOverflowError".
            "spark.checkpoint.dir": str(paths.work / "connect-checkpoints"),
        }
        if extra_java_options():
            confs["spark.driver.extraJavaOptions"] = extra_java_options()
            confs["spark.executor.extraJavaOptions"] = extra_java_options()
        if url.startswith("spark://"):
            confs["spark.cores.max"] = os.environ.get("COURSEKIT_CORES_MAX", "2")
            confs["spark.executor.memory"] = os.environ.get("COURSEKIT_EXECUTOR_MEMORY", "1g")
            # The server lives for hours: give idle executors back to the cluster, so a
            # notebook in classic mode (COURSEKIT_MASTER) does not wait forever for cores.
            confs.update(DYNAMIC_ALLOCATION)
        _write_state(paths, "connect", {"port": grpc, "ui_port": ui, "master": url})
        args = [
            str(Path(env["SPARK_HOME"]) / "sbin" / "start-connect-server.sh"),
            "--master",
            url,
            "--driver-memory",
            driver_memory,
        ]
        for key, value in confs.items():
            args += ["--conf", f"{key}={value}"]
        cwd = REPO_ROOT / "notebooks" if (REPO_ROOT / "notebooks").is_dir() else REPO_ROOT
        proc = _spawn(args, env, cwd=cwd)
        _finish([proc])
        try:
            _wait(
                "O servidor Spark Connect",
                lambda: port_open(grpc),
                timeout,
                lambda: [_log_of(paths, CONNECT_CLASS)],
                alive=lambda: daemon_pid(paths, CONNECT_CLASS) is not None,
            )
        except ClusterError:
            _stop(paths, CONNECT_CLASS)
            paths.state("connect").unlink(missing_ok=True)
            raise
        return ConnectInfo(
            f"sc://{LOCALHOST}:{grpc}", url, f"http://{LOCALHOST}:{ui}", time.monotonic() - start
        )


def connect_down(paths: Paths | None = None) -> bool:
    """Stop the Connect server. True if it was running."""
    paths = paths or Paths.default()
    with _locked(paths):
        stopped = _stop(paths, CONNECT_CLASS)
        paths.state("connect").unlink(missing_ok=True)
        return stopped


# --- history server ------------------------------------------------------------------


def event_log_conf(events_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Settings that make a session write its event log where ``history-up`` reads.

    Pass them to ``get_spark(app_name, event_log_conf())`` (classic mode only;
    over Spark Connect the server decides). Creates the folder.
    """
    folder = Path(events_dir or EVENTS_DIR).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return {"spark.eventLog.enabled": "true", "spark.eventLog.dir": folder.as_uri()}


@dataclass(frozen=True)
class HistoryInfo:
    """A running history server."""

    url: str
    events_dir: str
    started_in: float = 0.0


def history_info(paths: Paths | None = None) -> HistoryInfo | None:
    """The running history server started from ``paths`` (None when it is down)."""
    paths = paths or Paths.default()
    state = _read_state(paths, "history")
    if not state or daemon_pid(paths, HISTORY_CLASS) is None or not port_open(state["port"]):
        return None
    return HistoryInfo(f"http://{LOCALHOST}:{state['port']}", state["events_dir"])


def history_up(
    paths: Paths | None = None,
    *,
    events_dir: str | os.PathLike | None = None,
    port: int | None = None,
    timeout: float = 90,
) -> HistoryInfo:
    """Start the history server on 127.0.0.1 reading ``events_dir`` (default ``build/spark-events``).

    Its REST API (``<url>/api/v1/applications``) lists finished applications.
    """
    paths = paths or Paths.default()
    folder = Path(events_dir or EVENTS_DIR).resolve()
    with _locked(paths):
        running = history_info(paths)
        if running is not None and Path(running.events_dir) == folder:
            return running
        _stop(paths, HISTORY_CLASS)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        env = daemon_env(paths)
        http = free_port(HISTORY_PORT if port is None else port or None)
        env["SPARK_HISTORY_OPTS"] = " ".join(
            [
                f"-Dspark.history.fs.logDirectory={folder.as_uri()}",
                f"-Dspark.history.ui.port={http}",
                "-Dspark.history.fs.update.interval=2s",
                "-Dspark.port.maxRetries=0",
            ]
        )
        _write_state(paths, "history", {"port": http, "events_dir": str(folder)})
        proc = _spawn([str(Path(env["SPARK_HOME"]) / "sbin" / "start-history-server.sh")], env)
        _finish([proc])
        url = f"http://{LOCALHOST}:{http}"
        try:
            _wait(
                "O history server",
                lambda: isinstance(get_json(url + "/api/v1/applications"), list),
                timeout,
                lambda: [_log_of(paths, HISTORY_CLASS)],
                alive=lambda: daemon_pid(paths, HISTORY_CLASS) is not None,
            )
        except ClusterError:
            _stop(paths, HISTORY_CLASS)
            paths.state("history").unlink(missing_ok=True)
            raise
        return HistoryInfo(url, str(folder), time.monotonic() - start)


def history_down(paths: Paths | None = None) -> bool:
    """Stop the history server. True if it was running."""
    paths = paths or Paths.default()
    with _locked(paths):
        stopped = _stop(paths, HISTORY_CLASS)
        paths.state("history").unlink(missing_ok=True)
        return stopped


def stop_all(paths: Paths | None = None) -> bool:
    """Stop the Connect server, the history server and the cluster. True if any ran."""
    paths = paths or Paths.default()
    stopped = connect_down(paths)
    stopped |= history_down(paths)
    stopped |= down(paths)
    return stopped


# --- command line ---------------------------------------------------------------------


def status_text(paths: Paths | None = None) -> str:
    """One paragraph per target: running (with URLs) or stopped."""
    paths = paths or Paths.default()
    lines = []
    cluster = cluster_info(paths)
    lines.append(
        "cluster standalone: " + ("rodando\n" + cluster.summary() if cluster else "parado")
    )
    connect = connect_info(paths)
    lines.append(
        "Spark Connect:      "
        + (
            f"rodando\n  remote:    {connect.remote_url}\n  master:    {connect.master}\n"
            f"  UI:        {connect.ui_url}"
            if connect
            else "parado"
        )
    )
    history = history_info(paths)
    lines.append(
        "history server:     "
        + (
            f"rodando\n  UI:        {history.url}\n  eventos:   {history.events_dir}"
            if history
            else "parado"
        )
    )
    lines.append(f"logs: {paths.logs}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m coursekit.cluster <command>``; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.cluster",
        description="Cluster Spark local (standalone), Spark Connect e history server em 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="inicia master + workers e espera o registro")
    p_up.add_argument("--workers", type=int, default=2)
    p_up.add_argument("--cores", type=int, default=1)
    p_up.add_argument("--memory", default="2g")
    p_up.add_argument("--quiet", action="store_true", help="imprime só a URL do master")
    sub.add_parser("down", help="para o cluster (e o Spark Connect que roda nele)")
    sub.add_parser("status", help="mostra o que está rodando")
    p_connect = sub.add_parser("connect-up", help="inicia o servidor Spark Connect")
    p_connect.add_argument("--master", default="auto", help="auto (padrão), local, cluster ou URL")
    p_connect.add_argument("--quiet", action="store_true", help="imprime só a URL sc://")
    sub.add_parser("connect-down", help="para o servidor Spark Connect")
    p_hist = sub.add_parser("history-up", help="inicia o history server")
    p_hist.add_argument(
        "--events-dir", default=None, help=f"pasta dos event logs (padrão {EVENTS_DIR})"
    )
    sub.add_parser("history-down", help="para o history server")
    sub.add_parser("stop-all", help="para tudo (Connect, history server, cluster)")
    args = parser.parse_args(argv)
    paths = Paths.default()
    try:
        if args.command == "up":
            info = up(paths, workers=args.workers, cores=args.cores, memory=args.memory)
            if args.quiet:
                print(info.master_url)
            else:
                how = (
                    f"pronto em {info.started_in:.1f} s" if info.started_in else "já estava rodando"
                )
                print(f"Cluster standalone {how}:\n{info.summary()}\n  logs:      {paths.logs}")
                print(f"Use: export COURSEKIT_MASTER={info.master_url}")
                print(info.master_url)
        elif args.command == "down":
            print("Cluster parado." if down(paths) else "Nenhum cluster rodando.")
        elif args.command == "status":
            print(status_text(paths))
        elif args.command == "connect-up":
            info = connect_up(paths, master=args.master)
            if args.quiet:
                print(info.remote_url)
            else:
                how = (
                    f"pronto em {info.started_in:.1f} s" if info.started_in else "já estava rodando"
                )
                print(f"Spark Connect {how} (master {info.master}), UI {info.ui_url}")
                print(f"Use: export SPARK_REMOTE={info.remote_url}")
                print(info.remote_url)
        elif args.command == "connect-down":
            print(
                "Spark Connect parado." if connect_down(paths) else "Nenhum Spark Connect rodando."
            )
        elif args.command == "history-up":
            info = history_up(paths, events_dir=args.events_dir)
            how = f"pronto em {info.started_in:.1f} s" if info.started_in else "já estava rodando"
            print(f"History server {how}, lendo {info.events_dir}")
            print(info.url)
        elif args.command == "history-down":
            print(
                "History server parado."
                if history_down(paths)
                else "Nenhum history server rodando."
            )
        elif args.command == "stop-all":
            print("Tudo parado." if stop_all(paths) else "Nada estava rodando.")
    except (ClusterError, ValueError) as exc:
        print(f"Erro: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # JavaNotFoundError and friends carry their own advice
        print(f"Erro ({type(exc).__name__}): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
