"""The Spark UI's numbers in code: the REST API (``/api/v1``) and the status tracker.

Everything the Spark UI shows (tabs *Jobs*, *Stages*, *Storage*, *Environment*,
*Executors*, *SQL*) is also served as JSON under ``<ui>/api/v1/...``, by a live
application and by the history server alike. This module turns those answers
into small pandas DataFrames (``to_spark`` makes a Spark DataFrame of one).

* :func:`rest_url` finds the UI address of a session (``None`` when unknown);
* :class:`SparkREST` (``rest(source)``) reads one application's endpoints:
  :meth:`~SparkREST.applications`, :meth:`~SparkREST.jobs`,
  :meth:`~SparkREST.stages`, :meth:`~SparkREST.executors`,
  :meth:`~SparkREST.storage`, :meth:`~SparkREST.environment`,
  :meth:`~SparkREST.sql`, :meth:`~SparkREST.tasks`;
* :func:`tracker_jobs`, :func:`tracker_stages`, :func:`executor_infos` tabulate
  ``spark.sparkContext.statusTracker()`` (classic mode only).

Classic sessions work out of the box when the UI is on (``spark.ui.enabled``;
``COURSEKIT_UI=0`` turns it off). A Spark Connect client has no
``sparkContext``: give the server's UI address explicitly (``rest(url)``), or
use classic mode; the error says so. Defined for lessons 07 and 08.

Examples
--------
>>> from coursekit.session import get_spark
>>> from coursekit import monitor
>>> spark = get_spark("DocMonitor", {"spark.ui.enabled": "true"})
>>> _ = spark.range(1000).count()
>>> api = monitor.rest(spark)
>>> api.wait_idle()  # the UI learns about a job a moment after it ends
True
>>> int(api.jobs()["numTasks"].sum()) >= 1
True
>>> list(monitor.executor_infos(spark)["host"])
['127.0.0.1']
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from coursekit.session import is_connect

API = "/api/v1"

#: Columns kept (in this order, when present) for each endpoint; the REST names are
#: kept as Spark documents them, so the tables match the monitoring guide.
JOB_COLUMNS = (
    "jobId", "name", "description", "jobGroup", "status", "submissionTime", "completionTime",
    "duration_s", "stageIds", "numTasks", "numCompletedTasks", "numSkippedTasks",
    "numFailedTasks", "numCompletedStages", "numSkippedStages", "numFailedStages",
)  # fmt: skip
STAGE_COLUMNS = (
    "stageId", "attemptId", "name", "status", "numTasks", "numCompleteTasks", "numFailedTasks",
    "submissionTime", "completionTime", "duration_s", "executorRunTime", "executorCpuTime",
    "jvmGcTime", "resultSize", "inputBytes", "inputRecords", "outputBytes", "outputRecords",
    "shuffleReadBytes", "shuffleReadRecords", "shuffleWriteBytes", "shuffleWriteRecords",
    "memoryBytesSpilled", "diskBytesSpilled", "peakExecutionMemory", "details",
)  # fmt: skip
EXECUTOR_COLUMNS = (
    "id", "hostPort", "isActive", "totalCores", "maxTasks", "activeTasks", "completedTasks",
    "failedTasks", "totalDuration", "totalGCTime", "rddBlocks", "memoryUsed", "diskUsed",
    "maxMemory", "totalInputBytes", "totalShuffleRead", "totalShuffleWrite",
)  # fmt: skip
STORAGE_COLUMNS = (
    "id", "name", "storageLevel", "numPartitions", "numCachedPartitions", "memoryUsed", "diskUsed",
)  # fmt: skip
SQL_COLUMNS = (
    "id", "status", "description", "submissionTime", "duration", "runningJobIds",
    "successJobIds", "failedJobIds",
)  # fmt: skip
TASK_COLUMNS = (
    "taskId", "index", "attempt", "status", "executorId", "duration", "executorRunTime",
    "executorCpuTime", "jvmGcTime", "inputRecords", "shuffleReadRecords", "shuffleReadBytes",
    "shuffleWriteRecords", "shuffleWriteBytes", "peakExecutionMemory",
)  # fmt: skip

CONNECT_MESSAGE = (
    "Sessões Spark Connect não expõem sparkContext (nem uiWebUrl nem statusTracker). "
    "Para a API REST, passe o endereço da UI do servidor: monitor.rest('http://127.0.0.1:<porta>') "
    "(`python -m coursekit.cluster status` mostra a UI do servidor iniciado por `make connect-up`); "
    "para o statusTracker, rode o notebook em modo clássico (sem SPARK_REMOTE)."
)
NO_UI_MESSAGE = (
    "A Spark UI desta sessão está desligada (spark.ui.enabled=false, por exemplo com COURSEKIT_UI=0), "
    "então não há API REST. Crie a sessão com get_spark(nome, {{'spark.ui.enabled': 'true'}}) "
    "ou passe um endereço: monitor.rest('http://127.0.0.1:<porta>'). Recebido: {source!r}"
)


class MonitorError(RuntimeError):
    """The REST API or the status tracker cannot be reached; the message says how to fix it."""


# --- where the UI is ------------------------------------------------------------------


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def rest_url(spark: Any) -> str | None:
    """The UI address of ``spark``, or ``None`` when it is not known.

    Classic mode: ``spark.sparkContext.uiWebUrl`` (``None`` when the UI is off).
    Spark Connect: the server's own ``spark.ui.port`` (the servers the course starts set it)
    on the host of ``SPARK_REMOTE``, else ``None``; pass the address to :func:`rest` yourself
    for another server.

    Parameters
    ----------
    spark : SparkSession
        Classic or Spark Connect session.

    Returns
    -------
    str or None
        For example ``"http://127.0.0.1:4040"``.
    """
    if not is_connect(spark):
        try:
            return spark.sparkContext.uiWebUrl
        except Exception:  # a stopped context
            return None
    import os

    try:
        port = spark.conf.get("spark.ui.port", None)
    except Exception:  # a server that does not say
        return None
    host = urllib.parse.urlparse(os.environ.get("SPARK_REMOTE", "")).hostname
    return f"http://{host}:{int(port)}" if host and port else None


# --- REST client ----------------------------------------------------------------------


def _get_json(url: str, timeout: float) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback UI)
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise MonitorError(
            f"A API REST respondeu {exc.code} para {url}. Confira o id da aplicação e o número do "
            "estágio; `rest(...).applications()` lista as aplicações."
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise MonitorError(
            f"Não consegui ler {url}: {exc}. A aplicação (ou o history server) ainda está rodando? "
            "O endereço vem de spark.sparkContext.uiWebUrl ou de `python -m coursekit.cluster status`."
        ) from None


def _parse_times(frame: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    """Turn the REST time strings into timestamps and add ``duration_s``."""
    for col in (start, end):
        if col in frame.columns:
            frame[col] = pd.to_datetime(
                frame[col].astype("string").str.replace("GMT", "", regex=False),
                utc=True,
                errors="coerce",
            )
    if start in frame.columns and end in frame.columns:
        frame["duration_s"] = (frame[end] - frame[start]).dt.total_seconds()
    return frame


def _select(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    keep = [c for c in columns if c in frame.columns]
    return frame[keep] if keep else frame


class SparkREST:
    """Read one application's REST endpoints as pandas DataFrames.

    Parameters
    ----------
    url : str
        The UI address (``http://127.0.0.1:4040``) or a history server's address.
    app_id : str, optional
        Which application. Default: the session's own id, or the only
        application served at ``url`` (history servers list several: pass it).
    timeout : float, default=30
        Seconds to wait for each answer.

    Examples
    --------
    >>> from coursekit.monitor import SparkREST
    >>> api = SparkREST("http://127.0.0.1:4040", app_id="local-1")
    >>> api.endpoint("/jobs")
    'http://127.0.0.1:4040/api/v1/applications/local-1/jobs'
    """

    def __init__(self, url: str, app_id: str | None = None, *, timeout: float = 30.0) -> None:
        if not _is_url(url):
            raise ValueError(
                f"O parâmetro 'url' deve começar com http:// ou https://. Recebido: {url!r}. "
                "Exemplo: SparkREST('http://127.0.0.1:4040')."
            )
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._app_id = app_id

    def __repr__(self) -> str:
        return f"SparkREST({self.url!r}, app_id={self._app_id!r})"

    # plumbing
    def get(self, path: str, **params: Any) -> Any:
        """GET ``<url>/api/v1<path>`` (query ``params`` appended) and decode the JSON."""
        query = urllib.parse.urlencode(
            {k: v for k, v in params.items() if v is not None}, doseq=True
        )
        return _get_json(f"{self.url}{API}{path}" + (f"?{query}" if query else ""), self.timeout)

    @property
    def app_id(self) -> str:
        """The application these calls read (resolved on first use)."""
        if self._app_id is None:
            apps = self.get("/applications")
            if len(apps) != 1:
                ids = [a["id"] for a in apps]
                raise MonitorError(
                    f"{self.url} serve {len(ids)} aplicações; passe app_id= com uma delas: {ids}"
                )
            self._app_id = apps[0]["id"]
        return self._app_id

    def endpoint(self, path: str) -> str:
        """The full URL of an application endpoint, e.g. ``endpoint("/stages")``."""
        return f"{self.url}{API}/applications/{self.app_id}{path}"

    def app_get(self, path: str, **params: Any) -> Any:
        """GET an endpoint of this application (``path`` like ``"/jobs"``)."""
        return self.get(f"/applications/{self.app_id}{path}", **params)

    # endpoints
    def applications(self, status: str | None = None) -> pd.DataFrame:
        """``/applications``: one row per application (last attempt), with ``completed`` and times.

        Parameters
        ----------
        status : {"completed", "running"}, optional
            Filter done by the server (history servers list both by default).
        """
        if status not in (None, "completed", "running"):
            raise ValueError(
                f"O parâmetro 'status' deve ser 'completed', 'running' ou None. Recebido: {status!r}"
            )
        rows = []
        for app in self.get("/applications", status=status):
            attempt = (app.get("attempts") or [{}])[-1]
            rows.append(
                {
                    "id": app["id"],
                    "name": app.get("name"),
                    "completed": attempt.get("completed"),
                    "startTime": attempt.get("startTime"),
                    "endTime": attempt.get("endTime") if attempt.get("completed") else None,
                    "sparkVersion": attempt.get("appSparkVersion"),
                    "sparkUser": attempt.get("sparkUser"),
                }
            )
        frame = pd.DataFrame(
            rows,
            columns=[
                "id",
                "name",
                "completed",
                "startTime",
                "endTime",
                "sparkVersion",
                "sparkUser",
            ],
        )
        return _parse_times(frame, "startTime", "endTime")

    def jobs(
        self, *, group: str | None = None, job_ids: Iterable[int] | None = None
    ) -> pd.DataFrame:
        """``/jobs``: one row per job, oldest first, with ``duration_s``.

        Parameters
        ----------
        group : str, optional
            Keep only jobs run under ``sparkContext.setJobGroup(group, ...)``.
        job_ids : iterable of int, optional
            Keep only these jobs.
        """
        frame = _parse_times(
            _select(self.app_get("/jobs"), JOB_COLUMNS), "submissionTime", "completionTime"
        )
        if group is not None:
            groups = (
                frame["jobGroup"]
                if "jobGroup" in frame.columns
                else pd.Series(None, index=frame.index)
            )
            frame = frame[groups == group]
        if job_ids is not None:
            frame = frame[frame["jobId"].isin(list(job_ids))]
        return frame.sort_values("jobId").reset_index(drop=True)

    def stages(
        self, *, stage_ids: Iterable[int] | None = None, job_ids: Iterable[int] | None = None
    ) -> pd.DataFrame:
        """``/stages``: one row per stage attempt, oldest first, with ``duration_s``.

        ``executorRunTime`` and ``jvmGcTime`` are milliseconds summed over the
        stage's tasks; ``executorCpuTime`` is nanoseconds; ``duration_s`` is wall time.

        Parameters
        ----------
        stage_ids : iterable of int, optional
            Keep only these stages.
        job_ids : iterable of int, optional
            Keep only the stages of these jobs (from ``/jobs``' ``stageIds``).
        """
        frame = _parse_times(
            _select(self.app_get("/stages"), STAGE_COLUMNS), "submissionTime", "completionTime"
        )
        wanted: set[int] | None = set(stage_ids) if stage_ids is not None else None
        if job_ids is not None:
            jobs = self.jobs(job_ids=job_ids)
            from_jobs = {int(s) for ids in jobs["stageIds"] for s in ids}
            wanted = from_jobs if wanted is None else wanted & from_jobs
        if wanted is not None:
            frame = frame[frame["stageId"].isin(sorted(wanted))]
        return frame.sort_values(["stageId", "attemptId"]).reset_index(drop=True)

    def executors(self) -> pd.DataFrame:
        """``/executors``: the active executors (in local mode, one: the driver)."""
        return _select(self.app_get("/executors"), EXECUTOR_COLUMNS)

    def storage(self, *, expect: int | None = None, timeout: float = 15.0) -> pd.DataFrame:
        """``/storage/rdd``: what is cached, at which level, and how many bytes in memory and on disk.

        The UI learns about cached blocks a moment after the action that cached
        them returns. With ``expect``, wait (up to ``timeout`` seconds) until at
        least ``expect`` cached RDDs are listed with all their partitions cached.

        Parameters
        ----------
        expect : int, optional
            Number of fully cached RDDs to wait for.
        timeout : float, default=15
            Give up waiting after this many seconds and return what is there.
        """
        deadline = time.monotonic() + timeout
        while True:
            frame = _select(self.app_get("/storage/rdd"), STORAGE_COLUMNS)
            if frame.empty:
                frame = pd.DataFrame(columns=list(STORAGE_COLUMNS))
            full = (
                frame[frame["numCachedPartitions"] == frame["numPartitions"]]
                if len(frame)
                else frame
            )
            if expect is None or len(full) >= expect or time.monotonic() > deadline:
                return frame.sort_values("id").reset_index(drop=True)
            time.sleep(0.3)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until the UI lists no running job (its view lags the actions slightly).

        Returns True when idle, False after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.app_get("/jobs", status="running"):
                time.sleep(0.3)  # the last job's stage/task events may still be queued
                if not self.app_get("/jobs", status="running"):
                    return True
            time.sleep(0.3)
        return False

    def environment(self, prefix: str = "spark.") -> pd.DataFrame:
        """``/environment``: the Spark properties (``key``, ``value``) whose key starts with ``prefix``."""
        props = self.app_get("/environment").get("sparkProperties", [])
        frame = pd.DataFrame(props, columns=["key", "value"])
        frame = frame[frame["key"].str.startswith(prefix)]
        return frame.sort_values("key").reset_index(drop=True)

    def sql(self) -> pd.DataFrame:
        """``/sql``: one row per SQL/DataFrame query (the *SQL* tab), ``duration`` in ms."""
        rows = self.app_get("/sql", details="false")
        return _select(rows, SQL_COLUMNS)

    def tasks(self, stage_id: int, attempt: int = 0, *, length: int = 10_000) -> pd.DataFrame:
        """``/stages/<id>/<attempt>/taskList``: one row per task with its main metrics.

        Records read per task (``inputRecords`` or ``shuffleReadRecords``) show skew:
        one task with most of the records is a hot key.
        """
        rows = []
        for task in self.app_get(f"/stages/{int(stage_id)}/{int(attempt)}/taskList", length=length):
            metrics = task.get("taskMetrics") or {}
            shuffle_read = metrics.get("shuffleReadMetrics") or {}
            shuffle_write = metrics.get("shuffleWriteMetrics") or {}
            rows.append(
                {
                    "taskId": task.get("taskId"),
                    "index": task.get("index"),
                    "attempt": task.get("attempt"),
                    "status": task.get("status"),
                    "executorId": task.get("executorId"),
                    "duration": task.get("duration"),
                    "executorRunTime": metrics.get("executorRunTime"),
                    "executorCpuTime": metrics.get("executorCpuTime"),
                    "jvmGcTime": metrics.get("jvmGcTime"),
                    "inputRecords": (metrics.get("inputMetrics") or {}).get("recordsRead"),
                    "shuffleReadRecords": shuffle_read.get("recordsRead"),
                    "shuffleReadBytes": (shuffle_read.get("localBytesRead") or 0)
                    + (shuffle_read.get("remoteBytesRead") or 0),
                    "shuffleWriteRecords": shuffle_write.get("recordsWritten"),
                    "shuffleWriteBytes": shuffle_write.get("bytesWritten"),
                    "peakExecutionMemory": metrics.get("peakExecutionMemory"),
                }
            )
        frame = pd.DataFrame(rows, columns=list(TASK_COLUMNS))
        return frame.sort_values("index").reset_index(drop=True)


def rest(source: Any, app_id: str | None = None, *, timeout: float = 30.0) -> SparkREST:
    """A :class:`SparkREST` client for a session or a UI / history-server address.

    Parameters
    ----------
    source : SparkSession or str
        A classic session with its UI on, or an address such as
        ``"http://127.0.0.1:18080"`` (history server) or a Connect server's UI.
    app_id : str, optional
        Default: the session's ``applicationId``, or the only application at ``source``.
    timeout : float, default=30
        Seconds to wait for each answer.

    Raises
    ------
    MonitorError
        Spark Connect session without a known UI, or a session with the UI off.
    TypeError
        ``source`` is neither a session nor an ``http://`` address.
    """
    if _is_url(source):
        return SparkREST(source, app_id, timeout=timeout)
    if isinstance(source, str):
        raise ValueError(
            f"O parâmetro 'source' deve ser uma SparkSession ou um endereço http://... Recebido: {source!r}"
        )
    if not hasattr(source, "createDataFrame"):
        raise TypeError(
            f"O parâmetro 'source' deve ser uma SparkSession ou um endereço http://... "
            f"Recebido: {type(source).__name__}"
        )
    url = rest_url(source)
    if url is None:
        raise MonitorError(
            CONNECT_MESSAGE if is_connect(source) else NO_UI_MESSAGE.format(source=source)
        )
    if app_id is None and not is_connect(source):
        app_id = source.sparkContext.applicationId
    return SparkREST(url, app_id, timeout=timeout)


# --- status tracker (classic mode) ----------------------------------------------------


def _tracker(spark: Any):
    if is_connect(spark):
        raise MonitorError(CONNECT_MESSAGE)
    return spark.sparkContext.statusTracker()


def executor_infos(spark: Any) -> pd.DataFrame:
    """``statusTracker().getExecutorInfos()`` as a table (the driver included).

    Columns: host, port, cacheSize, numRunningTasks, usedOnHeapStorageMemory,
    usedOffHeapStorageMemory, totalOnHeapStorageMemory, totalOffHeapStorageMemory.
    """
    infos = _tracker(spark).getExecutorInfos()
    from pyspark.core.status import SparkExecutorInfo

    return pd.DataFrame([info._asdict() for info in infos], columns=list(SparkExecutorInfo._fields))


def tracker_jobs(spark: Any, group: str | None = None) -> pd.DataFrame:
    """Jobs known to ``statusTracker()`` in job group ``group`` (``None``: jobs without a group).

    Columns: jobId, status, stageIds (list of int), sorted by jobId.
    """
    tracker = _tracker(spark)
    rows = []
    for job_id in sorted(tracker.getJobIdsForGroup(group)):
        info = tracker.getJobInfo(job_id)
        if info is not None:
            rows.append({"jobId": job_id, "status": info.status, "stageIds": sorted(info.stageIds)})
    return pd.DataFrame(rows, columns=["jobId", "status", "stageIds"])


def tracker_stages(spark: Any, stage_ids: Iterable[int]) -> pd.DataFrame:
    """``statusTracker().getStageInfo`` for each id (stages it forgot are left out)."""
    from pyspark.core.status import SparkStageInfo

    tracker = _tracker(spark)
    rows = [tracker.getStageInfo(int(s)) for s in sorted(set(stage_ids))]
    return pd.DataFrame(
        [r._asdict() for r in rows if r is not None], columns=list(SparkStageInfo._fields)
    )


# --- pandas -> Spark ------------------------------------------------------------------


def to_spark(frame: pd.DataFrame, spark: Any):
    """A Spark DataFrame of a (small) monitoring table.

    Lists and dicts become JSON strings and timestamps stay timestamps, so the
    table can be filtered and joined with Spark SQL.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"O parâmetro 'frame' deve ser um pandas.DataFrame. Recebido: {type(frame).__name__}"
        )
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(_plain_text)
    return spark.createDataFrame(out)


def _plain_text(value: Any) -> str | None:
    if isinstance(value, list | dict | tuple):
        return json.dumps(value)
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return None
    return str(value)
