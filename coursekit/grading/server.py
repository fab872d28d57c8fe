"""A Spark Connect server owned by one grading run.

Spark start-up (JVM, ~10 s) dominates a small notebook. The grader starts
ONE server for the whole run, bound to 127.0.0.1 on a free port, and gives
every grading kernel ``SPARK_REMOTE=sc://127.0.0.1:<port>``; ``get_spark``
then returns a Connect session in about a second. Each kernel gets its own
server-side session (temp views, confs), so students do not see each other.
The server is a child process in its own process group, stopped (group
killed) when the run ends, also on errors and Ctrl-C.

Examples
--------
>>> from coursekit.grading.server import free_port
>>> 1024 < free_port() < 65536
True
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

LOCALHOST = "127.0.0.1"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: the server gets SIGKILL if the grader dies without cleaning up (kill -9, OOM)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def port_open(port: int, timeout: float = 0.5) -> bool:
    """True when something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection((LOCALHOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def server_conf(port: int) -> dict[str, str]:
    """Spark settings of the grading server (the course defaults, loopback, no UI)."""
    from coursekit.session import default_conf

    conf = default_conf("coursekit-grader")
    conf.update(
        {
            "spark.ui.enabled": "false",
            "spark.driver.memory": os.environ.get("COURSEKIT_GRADE_MEMORY", "3g"),
            "spark.connect.grpc.binding.address": LOCALHOST,
            "spark.connect.grpc.binding.port": str(port),
            "spark.connect.grpc.port.maxRetries": "0",
            # sessions of killed kernels are dropped after this idle time
            "spark.connect.session.manager.defaultSessionTimeout": "10m",
        }
    )
    return conf


class ConnectServer:
    """Start, watch and stop a Spark Connect server (a context manager).

    Parameters
    ----------
    log_file : path
        Where the JVM's output goes.
    master : str, optional
        Spark master (default: ``COURSEKIT_MASTER`` or ``local[*]``).
    """

    def __init__(self, log_file: str | Path, master: str | None = None):
        from coursekit.session import master_url

        self.log_file = Path(log_file)
        self.master = master or master_url()
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"sc://{LOCALHOST}:{self.port}"

    def start(self, timeout: float = 180) -> str:
        """Launch the server and wait until it accepts connections; return its ``sc://`` URL."""
        self.launch()
        return self.wait(timeout)

    def launch(self) -> str:
        """Start the server process without waiting; return the URL it will listen on."""
        import pyspark

        from coursekit.java import find_java

        java = find_java()
        spark_home = Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent)
        self.port = self.port or free_port()  # a restart keeps the URL the kernels know
        cmd = [
            str(spark_home / "bin" / "spark-submit"),
            "--class",
            SERVER_CLASS,
            "--name",
            "coursekit-grader",
        ]
        cmd += ["--master", self.master]
        for key, value in server_conf(self.port).items():
            cmd += ["--conf", f"{key}={value}"]
        env = dict(os.environ)
        for var in ("SPARK_REMOTE", "SPARK_LOCAL_REMOTE", "SPARK_CONNECT_MODE_ENABLED"):
            env.pop(var, None)
        env.update(
            JAVA_HOME=str(java.home),
            SPARK_HOME=str(spark_home),
            SPARK_CONNECT_MODE="0",
            SPARK_LOCAL_IP=LOCALHOST,
            PYSPARK_PYTHON=sys.executable,
        )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self.url

    def wait(self, timeout: float = 180) -> str:
        """Wait until the launched server accepts connections, then warm it up; return its URL."""
        assert self.proc is not None, "call launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"o servidor Spark Connect do corretor terminou ao iniciar (código {self.proc.returncode}); "
                    f"veja {self.log_file}"
                )
            if port_open(self.port):
                self.warm_up()
                return self.url
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"o servidor Spark Connect não respondeu em {timeout:.0f} s; veja {self.log_file}"
        )

    def warm_up(self) -> None:
        """Run one small query, so the first graded notebooks do not pay the JVM's warm-up."""
        from pyspark.sql import SparkSession

        # builder.remote() sets SPARK_CONNECT_MODE_ENABLED=1 in os.environ for good; every
        # process started afterwards (kernels, classic sessions) would then demand a remote URL.
        before = os.environ.get("SPARK_CONNECT_MODE_ENABLED")
        spark = SparkSession.builder.remote(self.url).getOrCreate()
        try:
            spark.range(1000).selectExpr("id % 7 AS g").groupBy("g").count().collect()
        finally:
            spark.stop()
            if before is None:
                os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
            else:
                os.environ["SPARK_CONNECT_MODE_ENABLED"] = before

    def running(self) -> bool:
        """True while the server process runs (cheap: no network)."""
        return self.proc is not None and self.proc.poll() is None

    def alive(self) -> bool:
        """True while the process runs and its port answers."""
        return (
            self.proc is not None
            and self.proc.poll() is None
            and self.port is not None
            and port_open(self.port)
        )

    def stop(self) -> None:
        """Stop the server's whole process group (JVM and its Python workers)."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.proc = None

    def __enter__(self) -> ConnectServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
