"""The Spark history server on 127.0.0.1 (``make history-up``), reading ``build/spark-events/``.

A lesson appears there when its session was created with ``get_spark(name, event_log_conf())``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from coursekit.cluster.daemons import (
    EVENTS_DIR,
    HISTORY_CLASS,
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

#: Preferred UI port (used when free; otherwise any free port).
HISTORY_PORT = 18080


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
    state = read_state(paths, "history")
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
    with locked(paths):
        running = history_info(paths)
        if running is not None and Path(running.events_dir) == folder:
            return running
        stop_daemon(paths, HISTORY_CLASS)
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
        write_state(paths, "history", {"port": http, "events_dir": str(folder)})
        proc = spawn([str(Path(env["SPARK_HOME"]) / "sbin" / "start-history-server.sh")], env)
        finish([proc])
        url = f"http://{LOCALHOST}:{http}"
        try:
            wait_ready(
                "O history server",
                lambda: isinstance(get_json(url + "/api/v1/applications"), list),
                timeout,
                lambda: [log_of(paths, HISTORY_CLASS)],
                alive=lambda: daemon_pid(paths, HISTORY_CLASS) is not None,
            )
        except ClusterError:
            stop_daemon(paths, HISTORY_CLASS)
            paths.state("history").unlink(missing_ok=True)
            raise
        return HistoryInfo(url, str(folder), time.monotonic() - start)


def history_down(paths: Paths | None = None) -> bool:
    """Stop the history server. True if it was running."""
    paths = paths or Paths.default()
    with locked(paths):
        stopped = stop_daemon(paths, HISTORY_CLASS)
        paths.state("history").unlink(missing_ok=True)
        return stopped
