"""Scale-out: the course on a standalone cluster and over Spark Connect.

One session fixture starts, from ``coursekit.cluster``, a two-worker standalone
cluster, a Spark Connect server on it and a history server, all in
``build/cluster/pytest/`` (so a cluster of ``make cluster-up`` is never touched),
and ALWAYS stops them: pytest finalizer plus ``atexit``, and leftovers of a
crashed run are stopped before starting.

Every Spark program runs in a child process (tests/cluster_jobs.py, papermill),
so the test process holds no JVM and no Spark Connect switch.

What is checked where, and why (a lesson takes 2-3 minutes per mode on 2 cores):

* what differs between modes is exercised by small jobs (tests/cluster_jobs.py): on the
  cluster, executors in their own JVMs with their own Python workers (a Python UDF, an ML
  pipeline, a groupBy across executors), event logs for the history server; over Connect,
  the same pipeline built client-side and fitted server-side. Each job computes the same
  figures locally in the same process: they must agree (groups exactly, UDF mean 1e-9, AUC 1e-3);
* one whole lesson per mode runs at ``SCALE="ci"`` and must pass its own asserts against the
  dataset truth: lesson 02 on the cluster (pipeline, forests, model saved and reloaded from a
  folder the executors share), lesson 03 over Connect (ALS with the server's checkpoint folder,
  ``recommendForAllUsers``, relative paths resolved by the server, no ``sparkContext``).
  ``COURSEKIT_CLUSTER_LESSONS=all`` (or a comma list) runs those lessons in both modes;
* their recorded figures are compared with the local run's by the figures tier
  (tests/figures/test_figures.py), which ``make test`` runs after the suite, when every run has
  written its figures: no test waits for another.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from coursekit import cluster

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "build" / "results"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PATHS = cluster.Paths(ROOT / "build" / "cluster" / ("pytest" + (f"-{WORKER}" if WORKER else "")))
EVENTS = PATHS.root / "events"
JOBS = Path(__file__).with_name("cluster_jobs.py")

#: One lesson per mode by default (see the module docstring for the reasoning).
DEFAULT_LESSONS = {"cluster": ["02_deteccao_de_fraudes"], "connect": ["03_recomendacao_als"]}


def _lessons(mode: str) -> list[str]:
    """Lessons to run in ``mode``: the default, or ``COURSEKIT_CLUSTER_LESSONS`` in every mode."""
    wanted = os.environ.get("COURSEKIT_CLUSTER_LESSONS", "").strip()
    if not wanted:
        return DEFAULT_LESSONS[mode]
    if wanted == "all":
        return sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    return [w.strip().removesuffix(".ipynb") for w in wanted.split(",") if w.strip()]


JOB_TIMEOUT = 1200  # seconds; a loaded 2-core machine is slow

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "COURSEKIT_MASTER")}
    env.update(COURSEKIT_UI="0", PYTHONUNBUFFERED="1", **extra)
    return env


# --- the daemons: started once, always stopped --------------------------------------------


@pytest.fixture(scope="session")
def stack(request):
    """Cluster (2 workers x 1 core) + Connect server on it + history server, on 127.0.0.1."""
    cluster.stop_all(PATHS)  # leftovers of a run that was killed
    atexit.register(cluster.stop_all, PATHS)
    request.addfinalizer(lambda: cluster.stop_all(PATHS))
    times = {}
    history: dict = {}

    def start_history():
        try:
            history["info"] = cluster.history_up(PATHS, events_dir=EVENTS, port=0)
        except Exception as exc:  # reported below, in the test thread
            history["error"] = exc

    thread = threading.Thread(target=start_history)
    thread.start()
    t0 = time.monotonic()
    info = cluster.up(PATHS, master_port=0)
    times["cluster_up"] = time.monotonic() - t0
    t0 = time.monotonic()
    connect = cluster.connect_up(PATHS, master="cluster", port=0)
    times["connect_up"] = time.monotonic() - t0
    thread.join()
    if "error" in history:
        raise history["error"]
    print(f"\n[cluster] up {times['cluster_up']:.1f}s, connect up {times['connect_up']:.1f}s")
    return {"cluster": info, "connect": connect, "history": history["info"], "times": times}


_HELD: list[HeldJob] = []


def release_held_jobs() -> None:
    """Free the cluster's cores before a test that needs them (a held app keeps both)."""
    for job in _HELD:
        job.release()


class HeldJob:
    """tests/cluster_jobs.py classic --hold: results, and a live cluster app until released."""

    def __init__(self, master: str):
        self.err_file = PATHS.root / "held_job.stderr"
        err = self.err_file.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(JOBS),
                "classic",
                "--master",
                master,
                "--events",
                str(EVENTS),
                "--hold",
            ],
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        err.close()  # the child has its own copy
        self.result: dict = {}
        _HELD.append(self)
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:  # a thread: select() misses lines already in Python's buffer
            for line in self.proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + JOB_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=5)
            except queue.Empty:
                continue
            if line is None:
                break
            if line.startswith("{"):
                self.result = json.loads(line)
            elif line.strip() == "READY":
                return
        self.release()
        err = self.err_file.read_text(errors="replace")[-3000:]
        raise AssertionError(
            f"cluster job gave no READY within {JOB_TIMEOUT}s: rc={self.proc.returncode}\n{err}"
        )

    def release(self) -> int | None:
        """Let the job stop its session (the event log is then complete) and exit."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=120)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def held_job(stack):
    job = HeldJob(stack["cluster"].master_url)
    yield job
    job.release()


# --- tests, in the order they run ---------------------------------------------------------


def test_cluster_up_is_idempotent(stack):
    before = cluster.daemon_pid(PATHS, cluster.MASTER_CLASS)
    again = cluster.up(PATHS)
    assert again.master_url == stack["cluster"].master_url
    assert again.master_url.startswith("spark://127.0.0.1:")
    assert cluster.daemon_pid(PATHS, cluster.MASTER_CLASS) == before
    page = cluster.master_json(PATHS)
    assert page["aliveworkers"] == 2 and page["cores"] == 2
    assert {w["host"] for w in page["workers"]} == {"127.0.0.1"}


def test_job_on_cluster_matches_local(held_job):
    local, remote = held_job.result["local"], held_job.result["cluster"]
    assert remote["master"].startswith("spark://127.0.0.1:")
    assert len(remote["executors"]) == 3, remote["executors"]  # driver + one executor per worker
    assert set(remote["executors"]) == {"127.0.0.1"}
    assert remote["groups"] == local["groups"]
    assert remote["udf_mean"] == pytest.approx(local["udf_mean"], abs=1e-9)
    assert remote["auc"] == pytest.approx(local["auc"], abs=1e-3)
    print(f"\n[cluster] job local {local['seconds']}s, cluster {remote['seconds']}s")


#: What a process is, from the class (or module) on its command line.
ROLES = {
    "org.apache.spark.executor.CoarseGrainedExecutorBackend": "executor",
    "org.apache.spark.deploy.master.Master": "master",
    "org.apache.spark.deploy.worker.Worker": "worker",
    "org.apache.spark.sql.connect.service.SparkConnectServer": "connect-server",
    "org.apache.spark.deploy.history.HistoryServer": "history-server",
    "pyspark-shell": "driver",
    "pyspark.daemon": "python-worker",
}


def _listeners(procs: list[psutil.Process]) -> list[tuple[str, int, str, int]]:
    found = []
    for proc in procs:
        try:
            conns = proc.net_connections(kind="inet")
            name = " ".join(proc.cmdline())
        except psutil.NoSuchProcess:
            continue
        role = next((r for cls, r in ROLES.items() if cls in name), proc.name())
        for conn in conns:
            if conn.status == psutil.CONN_LISTEN:
                found.append((role, proc.pid, conn.laddr.ip, conn.laddr.port))
    return found


def _ipv4(ip: str) -> str:
    return ip.removeprefix("::ffff:")


def test_every_listener_is_loopback(stack, held_job):
    """Daemons, executors and the cluster app's driver listen on 127.0.0.1 only."""
    procs = cluster.daemon_processes(PATHS)
    procs += psutil.Process(held_job.proc.pid).children(recursive=True)  # the driver JVM
    listeners = _listeners(procs)
    roles = {role for role, *_ in listeners}
    for needed in ("master", "worker", "executor", "connect-server", "history-server", "driver"):
        assert needed in roles, f"no listening socket found for {needed}: {listeners}"
    workers = {pid for role, pid, *_ in listeners if role == "worker"}
    executors = {pid for role, pid, *_ in listeners if role == "executor"}
    assert len(workers) == 2 and len(executors) == 2, listeners
    bad = [entry for entry in listeners if _ipv4(entry[2]) != "127.0.0.1"]
    assert not bad, f"listening beyond loopback: {bad}"
    ports = {port for *_, port in listeners}
    assert 6066 not in ports, "the master's REST submission server should be off"
    print(
        f"\n[cluster] {len(listeners)} listening sockets, all on 127.0.0.1: "
        + ", ".join(sorted({f"{r}:{p}" for r, _, _, p in listeners}))
    )


def test_history_server_lists_the_cluster_app(stack, held_job):
    assert held_job.release() == 0
    app_id = held_job.result["cluster"]["app_id"]
    url = stack["history"].url + "/api/v1/applications"
    deadline = time.monotonic() + 120
    apps = []
    while time.monotonic() < deadline:
        apps = cluster.get_json(url, timeout=30)
        if any(a["id"] == app_id and a["attempts"][0]["completed"] for a in apps):
            break
        time.sleep(1)
    assert any(a["id"] == app_id for a in apps), f"{app_id} not in {[a['id'] for a in apps]}"
    jobs = cluster.get_json(f"{url}/{app_id}/jobs", timeout=180)  # first read replays the log
    assert len(jobs) >= 3 and all(j["status"] == "SUCCEEDED" for j in jobs)


# --- lessons on the cluster and over Connect -------------------------------------------


def run_lesson(notebook: Path, mode: str, env_extra: dict[str, str]) -> tuple[dict, float]:
    """Execute ``notebook`` with papermill at SCALE="ci"; return (recorded figures, seconds)."""
    results = RESULTS / "cluster" / mode / f"{notebook.stem}.json"
    executed = PATHS.root / "executed" / mode / notebook.name
    results.parent.mkdir(parents=True, exist_ok=True)
    executed.parent.mkdir(parents=True, exist_ok=True)
    results.unlink(missing_ok=True)
    started = time.monotonic()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(notebook),
            str(executed),
            "-p",
            "SCALE",
            "ci",
            "--cwd",
            str(notebook.parent),
            "--no-progress-bar",
            "--kernel",
            "python3",
        ],
        cwd=ROOT,
        env=child_env(COURSEKIT_RESULTS=str(results), **env_extra),
        capture_output=True,
        text=True,
        timeout=1700,
    )
    seconds = time.monotonic() - started
    assert out.returncode == 0, (
        f"{notebook.name} failed in mode {mode} after {seconds:.0f}s "
        f"(executed copy: {executed}):\n{out.stderr[-4000:]}"
    )
    figures = json.loads(results.read_text()) if results.exists() else {}
    assert figures, f"{notebook.name} recorded nothing in mode {mode}"
    return figures, seconds


def _lesson(name: str) -> Path:
    path = ROOT / "notebooks" / f"{name}.ipynb"
    if not path.exists():
        pytest.skip(f"notebooks/{name}.ipynb does not exist yet (being written)")
    return path


def _check_lesson(name: str, mode: str, env_extra: dict[str, str]) -> None:
    """Run the lesson in ``mode``: its own asserts check the truth; its figures stay for the tier."""
    notebook = _lesson(name)
    release_held_jobs()
    figures, seconds = run_lesson(notebook, mode, env_extra)
    print(f"\n[{mode}] {name}: {seconds:.0f}s, {len(figures)} figures recorded")


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", _lessons("cluster"))
def test_lesson_runs_on_the_cluster(stack, name):
    _check_lesson(name, "cluster", {"COURSEKIT_MASTER": stack["cluster"].master_url})


def test_ml_pipeline_over_connect(stack, held_job):
    release_held_jobs()
    remote = stack["connect"].remote_url
    assert remote.startswith("sc://127.0.0.1:")
    out = subprocess.run(
        [sys.executable, str(JOBS), "connect", "--remote", remote],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])["connect"]
    local = held_job.result["local"]
    assert got["is_connect"] is True
    assert got["stages"] == 4
    assert got["groups"] == local["groups"]
    assert got["udf_mean"] == pytest.approx(local["udf_mean"], abs=1e-9)
    assert got["auc"] == pytest.approx(local["auc"], abs=1e-3)
    print(f"\n[connect] job local {local['seconds']}s, connect {got['seconds']}s")


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", _lessons("connect"))
def test_lesson_runs_over_connect(stack, name):
    _check_lesson(name, "connect", {"SPARK_REMOTE": stack["connect"].remote_url})


# --- last: nothing is left running -----------------------------------------------------------


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_stop_all_leaves_no_daemon(stack, held_job):
    held_job.release()
    procs = cluster.daemon_processes(PATHS)
    assert len(procs) >= 5  # master, 2 workers, Connect server, history server (+ children)
    ports = [
        c.laddr.port
        for p in procs
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert cluster.stop_all(PATHS) is True
    alive = [p.pid for p in procs if _alive(p)]
    assert not alive, f"still running after stop_all: {alive}"
    assert not [p for p in ports if cluster.port_open(p)], "a daemon port still accepts connections"
    assert cluster.daemon_processes(PATHS) == []
    assert cluster.cluster_info(PATHS) is None and cluster.connect_info(PATHS) is None
    assert cluster.stop_all(PATHS) is False  # idempotent
