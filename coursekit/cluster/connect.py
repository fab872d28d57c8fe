"""The Spark Connect server on 127.0.0.1 (``make connect-up``): the one every client shares.

It runs on the standalone cluster when that is up, otherwise on ``local[2]``, and prints the
``sc://127.0.0.1:<port>`` URL for ``SPARK_REMOTE``. Its working directory is ``notebooks/``, so
relative paths sent by a notebook (``"../build/..."``) resolve as they do in local mode. Every
Connect server the project starts (``make connect-up``, the tests) is started here.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coursekit import cds
from coursekit.cluster.daemons import (
    CONNECT_CLASS,
    REPO_ROOT,
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
from coursekit.cluster.standalone import cluster_info
from coursekit.net import LOCALHOST, free_port, port_open
from coursekit.session import extra_java_options

#: Preferred gRPC port (used when free; otherwise any free port).
CONNECT_PORT = 15002

#: Settings of a long-lived driver that shares the cluster (the Connect server).
DYNAMIC_ALLOCATION = {
    "spark.dynamicAllocation.enabled": "true",
    "spark.dynamicAllocation.shuffleTracking.enabled": "true",
    "spark.dynamicAllocation.minExecutors": "0",
    "spark.dynamicAllocation.executorIdleTimeout": "30s",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout": "60s",
    "spark.dynamicAllocation.shuffleTracking.timeout": "60s",
}


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
    state = read_state(paths, "connect")
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
    with locked(paths):
        running = connect_info(paths)
        if running is not None:
            return running
        stop_daemon(paths, CONNECT_CLASS)
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
        driver_opts = f"{extra_java_options()} {cds.driver_option()}".strip()
        if driver_opts:
            confs["spark.driver.extraJavaOptions"] = driver_opts
            confs["spark.executor.extraJavaOptions"] = extra_java_options()
        if url.startswith("spark://"):
            confs["spark.cores.max"] = os.environ.get("COURSEKIT_CORES_MAX", "2")
            confs["spark.executor.memory"] = os.environ.get("COURSEKIT_EXECUTOR_MEMORY", "1g")
            # The server lives for hours: give idle executors back to the cluster, so a
            # notebook in classic mode (COURSEKIT_MASTER) does not wait forever for cores.
            confs.update(DYNAMIC_ALLOCATION)
        write_state(paths, "connect", {"port": grpc, "ui_port": ui, "master": url})
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
        proc = spawn(args, env, cwd=cwd)
        finish([proc])
        try:
            wait_ready(
                "O servidor Spark Connect",
                lambda: port_open(grpc),
                timeout,
                lambda: [log_of(paths, CONNECT_CLASS)],
                alive=lambda: daemon_pid(paths, CONNECT_CLASS) is not None,
            )
        except ClusterError:
            stop_daemon(paths, CONNECT_CLASS)
            paths.state("connect").unlink(missing_ok=True)
            raise
        return ConnectInfo(
            f"sc://{LOCALHOST}:{grpc}", url, f"http://{LOCALHOST}:{ui}", time.monotonic() - start
        )


def connect_down(paths: Paths | None = None) -> bool:
    """Stop the Connect server. True if it was running."""
    paths = paths or Paths.default()
    with locked(paths):
        stopped = stop_daemon(paths, CONNECT_CLASS)
        paths.state("connect").unlink(missing_ok=True)
        return stopped
