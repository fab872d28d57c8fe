"""coursekit.monitor against real Spark: the status tracker in-process, the REST API in a UI-enabled subprocess.

The shared ``spark`` fixture runs with the UI off (parallel workers), so the
REST tests start their own short session, with the UI on a free port, in a
fresh interpreter; it runs known jobs and pickles what ``coursekit.monitor``
read, and the tests compare that with the jobs' known shape.
"""

from __future__ import annotations

import json
import os
import pickle

import matplotlib
import pandas as pd
import pytest
from helpers import run_python

from coursekit import monitor
from coursekit.net import free_port

matplotlib.use("Agg")
pytestmark = pytest.mark.spark

REST_APP = r"""
import json, pickle, sys
from coursekit import monitor
from coursekit.session import get_spark
from pyspark import StorageLevel

out_dir, port = sys.argv[1], sys.argv[2]
spark = get_spark("monitor-test", {"spark.ui.enabled": "true", "spark.ui.port": port,
                                   "spark.sql.shuffle.partitions": "4", "spark.sql.adaptive.enabled": "false"})
sc = spark.sparkContext
sc.setJobGroup("known", "jobs with a known shape")
grouped = spark.range(0, 1000, 1, 4).selectExpr("id % 3 AS k").groupBy("k").count().collect()
cached = spark.range(0, 5000, 1, 3).persist(StorageLevel.MEMORY_ONLY)
cached.count()
sc.setJobGroup("other", "not in the known group")
spark.range(10).count()

api = monitor.rest(spark)
api.wait_idle()
known_jobs = api.jobs(group="known")
tables = {
    "url": api.url,
    "app_id": sc.applicationId,
    "applications": api.applications(),
    "jobs": api.jobs(),
    "known_jobs": known_jobs,
    "known_stages": api.stages(job_ids=known_jobs["jobId"]),
    "tracker_jobs": monitor.tracker_jobs(spark, group="known"),
    "executors": api.executors(),
    "executor_infos": monitor.executor_infos(spark),
    "storage": api.storage(expect=1),
    "environment": api.environment(),
    "sql": api.sql(),
    "grouped": sorted((r["k"], r["count"]) for r in grouped),
}
stages = tables["known_stages"]
reduce_stage = stages[stages["shuffleReadRecords"] > 0].iloc[0]
tables["reduce_tasks"] = api.tasks(int(reduce_stage["stageId"]), int(reduce_stage["attemptId"]))
tables["tracker_stages"] = monitor.tracker_stages(spark, stages["stageId"])
tables["spark_jobs"] = monitor.to_spark(tables["jobs"], spark).count()
with open(f"{out_dir}/tables.pkl", "wb") as fh:
    pickle.dump(tables, fh)
spark.stop()
print(json.dumps({"ok": True}))
"""


@pytest.fixture(scope="module")
def rest_tables(tmp_path_factory):
    """What coursekit.monitor read from a live UI-enabled application (run once per module)."""
    out = tmp_path_factory.mktemp("monitor-rest")
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "COURSEKIT_UI")}
    script = out / "app.py"
    script.write_text(REST_APP)
    done = run_python(
        f"import sys, runpy; sys.argv = [{str(script)!r}, {str(out)!r}, '{free_port()}']; "
        f"runpy.run_path({str(script)!r}, run_name='__main__')",
        env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"ok": True}
    with open(out / "tables.pkl", "rb") as fh:
        return pickle.load(fh)


# --- REST API (live application) ---------------------------------------------------


def test_applications_lists_the_running_app(rest_tables):
    apps = rest_tables["applications"]
    assert list(apps["id"]) == [rest_tables["app_id"]]
    assert apps["name"].iloc[0] == "monitor-test" and not apps["completed"].iloc[0]
    assert rest_tables["url"].startswith("http://127.0.0.1:")


def test_jobs_filtered_by_group_match_the_status_tracker(rest_tables):
    known = rest_tables["known_jobs"]
    assert sorted(known["jobId"]) == sorted(rest_tables["tracker_jobs"]["jobId"])
    assert set(rest_tables["jobs"]["jobId"]) > set(known["jobId"])  # the "other" job is left out
    assert (known["status"] == "SUCCEEDED").all()
    assert (known["duration_s"] >= 0).all()


def test_stages_of_known_jobs(rest_tables):
    stages = rest_tables["known_stages"]
    tracker_ids = {s for ids in rest_tables["tracker_jobs"]["stageIds"] for s in ids}
    assert set(stages["stageId"]) == tracker_ids
    tracked = rest_tables["tracker_stages"].set_index("stageId")
    ran = stages[stages["status"] == "COMPLETE"].set_index("stageId")
    assert (tracked.loc[ran.index, "numTasks"] == ran["numTasks"]).all()
    # range(0, 1000, 1, 4) -> 4 map tasks; 4 shuffle partitions (AQE off) -> 4 reduce tasks
    assert 4 in set(ran["numTasks"])


def test_task_list_has_the_known_shuffle_records(rest_tables):
    tasks = rest_tables["reduce_tasks"]
    assert len(tasks) == 4 and list(tasks["index"]) == [0, 1, 2, 3]
    # 4 map partitions x 3 keys, each partially aggregated to one record per key
    assert tasks["shuffleReadRecords"].sum() == 12
    assert rest_tables["grouped"] == [(0, 334), (1, 333), (2, 333)]


def test_executors_and_executor_infos(rest_tables):
    executors, infos = rest_tables["executors"], rest_tables["executor_infos"]
    assert list(executors["id"]) == ["driver"] and len(infos) == 1
    assert infos["host"].iloc[0] == "127.0.0.1"
    assert executors["completedTasks"].iloc[0] > 0


def test_storage_reports_the_cached_rdd(rest_tables):
    storage = rest_tables["storage"]
    assert len(storage) == 1
    row = storage.iloc[0]
    assert row["storageLevel"] == "Memory Serialized 1x Replicated"
    assert row["numCachedPartitions"] == row["numPartitions"] == 3
    assert row["memoryUsed"] > 0 and row["diskUsed"] == 0


def test_environment_and_sql(rest_tables):
    env = rest_tables["environment"].set_index("key")["value"]
    assert env["spark.app.name"] == "monitor-test"
    assert env["spark.driver.host"] == "127.0.0.1"
    assert len(rest_tables["sql"]) >= 3 and set(rest_tables["sql"]["status"]) <= {
        "COMPLETED",
        "RUNNING",
        "FAILED",
    }


def test_to_spark_made_a_spark_dataframe(rest_tables):
    assert rest_tables["spark_jobs"] == len(rest_tables["jobs"])


def test_plots_draw_real_monitor_tables(rest_tables):
    from coursekit.plots.monitoring import job_timeline, stage_times, task_skew

    stages = rest_tables["known_stages"]
    ran = stages[stages["status"] == "COMPLETE"]
    assert len(stage_times(ran).patches) == 2 * len(ran)
    assert len(job_timeline(rest_tables["jobs"]).patches) == len(rest_tables["jobs"])
    ax = task_skew(rest_tables["reduce_tasks"])
    assert "máx/mediana" in ax.get_title()


# --- in-process (the shared session, UI off) ----------------------------------------


def test_rest_needs_the_ui(spark):
    assert monitor.rest_url(spark) is None
    with pytest.raises(monitor.MonitorError, match="spark.ui.enabled"):
        monitor.rest(spark)


def test_status_tracker_in_process(spark):
    sc = spark.sparkContext
    sc.setJobGroup("monitor-unit", "tracker test")
    try:
        spark.range(0, 100, 1, 2).count()
    finally:
        sc.setJobGroup("after", "")
    jobs = monitor.tracker_jobs(spark, group="monitor-unit")
    assert len(jobs) >= 1 and (jobs["status"] == "SUCCEEDED").all()
    stage_ids = {s for ids in jobs["stageIds"] for s in ids}
    stages = monitor.tracker_stages(spark, stage_ids)
    assert set(stages["stageId"]) <= stage_ids and 2 in set(stages["numTasks"])
    infos = monitor.executor_infos(spark)
    assert list(infos["host"]) == ["127.0.0.1"]
    assert monitor.tracker_jobs(spark, group="no-such-group").empty


def test_to_spark_turns_lists_into_json(spark):
    frame = pd.DataFrame({"jobId": [1, 2], "stageIds": [[3, 4], []], "name": ["a", None]})
    rows = monitor.to_spark(frame, spark).orderBy("jobId").collect()
    assert (
        rows[0]["stageIds"] == "[3, 4]" and rows[1]["stageIds"] == "[]" and rows[1]["name"] is None
    )


@pytest.mark.parametrize(
    ("source", "error", "match"),
    [
        ("127.0.0.1:4040", ValueError, "Recebido: '127.0.0.1:4040'"),
        (4040, TypeError, "Recebido: int"),
    ],
)
def test_bad_sources(source, error, match):
    with pytest.raises(error, match=match):
        monitor.rest(source)


def test_bad_url_and_status():
    with pytest.raises(ValueError, match="'url' deve começar com http"):
        monitor.SparkREST("localhost:4040")
    api = monitor.SparkREST("http://127.0.0.1:9/", app_id="local-1")
    assert api.endpoint("/jobs") == "http://127.0.0.1:9/api/v1/applications/local-1/jobs"
    with pytest.raises(
        ValueError, match="'status' deve ser 'completed', 'running' ou None. Recebido: 'done'"
    ):
        api.applications(status="done")


def test_unreachable_ui_says_how_to_fix():
    port = free_port()  # nothing listens there
    api = monitor.SparkREST(f"http://127.0.0.1:{port}", app_id="local-1", timeout=5)
    with pytest.raises(monitor.MonitorError, match="uiWebUrl"):
        api.jobs()
