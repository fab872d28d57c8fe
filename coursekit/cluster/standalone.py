"""The standalone cluster: one master and N workers on 127.0.0.1 (``make cluster-up``).

``up`` starts them through ``sbin/spark-daemon.sh`` (the pip package has no ``start-master.sh``),
waits until every worker is registered (the master's ``/json/`` page) and returns the
``spark://127.0.0.1:<port>`` URL for ``COURSEKIT_MASTER``. The master's REST submission server
(port 6066, no authentication) is off; web UIs get free ports, never 8080/8081.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from coursekit.cluster.daemons import (
    CONNECT_CLASS,
    MASTER_CLASS,
    WORKER_CLASS,
    ClusterError,
    Paths,
    daemon_env,
    daemon_pid,
    finish,
    locked,
    log_of,
    read_state,
    spawn,
    stop_daemon,
    wait_ready,
    write_state,
)
from coursekit.net import LOCALHOST, free_port, get_json, port_open

#: Preferred master port (used when free; otherwise any free port).
MASTER_PORT = 7077


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
    state = read_state(paths or Paths.default(), "cluster")
    if not state:
        return None
    try:
        return get_json(f"http://{LOCALHOST}:{state['webui_port']}/json/")
    except (OSError, ValueError):
        return None


def cluster_info(paths: Paths | None = None) -> ClusterInfo | None:
    """The running cluster started from ``paths`` (None unless master and all workers are alive)."""
    paths = paths or Paths.default()
    state = read_state(paths, "cluster")
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
    with locked(paths):
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
        write_state(paths, "cluster", state)
        procs = [
            spawn(
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
            wait_ready(
                "O master do Spark",
                lambda: port_open(port) and master_json(paths)["status"] == "ALIVE",
                timeout,
                lambda: [log_of(paths, MASTER_CLASS)],
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
                    spawn(
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
            finish(procs)
            wait_ready(
                f"O cluster ({workers} workers)",
                lambda: master_json(paths)["aliveworkers"] >= workers,
                timeout,
                lambda: (
                    [log_of(paths, MASTER_CLASS)]
                    + [log_of(paths, WORKER_CLASS, i) for i in range(1, workers + 1)]
                ),
            )
        except BaseException:
            finish(procs)
            _stop_cluster(paths)
            raise
        info = cluster_info(paths)
        if info is None:
            raise ClusterError(
                "O cluster iniciou mas não respondeu; veja os logs em " + str(paths.logs)
            )
        return ClusterInfo(**{**info.__dict__, "started_in": time.monotonic() - start})


def _stop_cluster(paths: Paths) -> bool:
    state = read_state(paths, "cluster") or {}
    n = max(int(state.get("workers", 0)), len(list(paths.pids.glob(f"*{WORKER_CLASS}-*.pid"))))
    stopped = False
    for i in range(1, n + 1):
        stopped |= stop_daemon(paths, WORKER_CLASS, i)
    stopped |= stop_daemon(paths, MASTER_CLASS)
    paths.state("cluster").unlink(missing_ok=True)
    return stopped


def down(paths: Paths | None = None) -> bool:
    """Stop the cluster (and a Connect server running on it). True if something was running."""
    paths = paths or Paths.default()
    with locked(paths):
        stopped = False
        connect = read_state(paths, "connect") or {}
        if str(connect.get("master", "")).startswith("spark://"):
            stopped |= stop_daemon(paths, CONNECT_CLASS)
            paths.state("connect").unlink(missing_ok=True)
        stopped |= _stop_cluster(paths)
        return stopped
