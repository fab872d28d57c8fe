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

Modules: :mod:`.daemons` (folders, pid files, spawn, wait, stop), :mod:`.standalone`,
:mod:`.connect`, :mod:`.history`; the command line is :mod:`.__main__`
(``aula10 cluster ...``, ``python -m coursekit.cluster ...``, ``make cluster-up``...)::

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

from coursekit.cluster.connect import (
    CONNECT_PORT,
    DYNAMIC_ALLOCATION,
    ConnectInfo,
    connect_down,
    connect_info,
    connect_up,
)
from coursekit.cluster.daemons import (
    CONNECT_CLASS,
    EVENTS_DIR,
    HISTORY_CLASS,
    IDENT,
    MASTER_CLASS,
    REPO_ROOT,
    WORKER_CLASS,
    ClusterError,
    Paths,
    daemon_env,
    daemon_pid,
    daemon_processes,
    spark_home,
)
from coursekit.cluster.history import (
    HISTORY_PORT,
    HistoryInfo,
    event_log_conf,
    history_down,
    history_info,
    history_up,
)
from coursekit.cluster.standalone import (
    MASTER_PORT,
    ClusterInfo,
    cluster_info,
    down,
    master_json,
    up,
)
from coursekit.net import LOCALHOST, free_port, get_json, port_open

__all__ = [
    "CONNECT_CLASS",
    "CONNECT_PORT",
    "DYNAMIC_ALLOCATION",
    "EVENTS_DIR",
    "HISTORY_CLASS",
    "HISTORY_PORT",
    "IDENT",
    "LOCALHOST",
    "MASTER_CLASS",
    "MASTER_PORT",
    "REPO_ROOT",
    "WORKER_CLASS",
    "ClusterError",
    "ClusterInfo",
    "ConnectInfo",
    "HistoryInfo",
    "Paths",
    "cluster_info",
    "connect_down",
    "connect_info",
    "connect_up",
    "daemon_env",
    "daemon_pid",
    "daemon_processes",
    "down",
    "event_log_conf",
    "free_port",
    "get_json",
    "history_down",
    "history_info",
    "history_up",
    "master_json",
    "port_open",
    "spark_home",
    "status_text",
    "stop_all",
    "up",
]


def stop_all(paths: Paths | None = None) -> bool:
    """Stop the Connect server, the history server and the cluster. True if any ran."""
    paths = paths or Paths.default()
    stopped = connect_down(paths)
    stopped |= history_down(paths)
    stopped |= down(paths)
    return stopped


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
