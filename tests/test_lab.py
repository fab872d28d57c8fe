"""`make lab` without a browser: the server answers, and sparkmonitor is scoped to the lab.

The server is started with the command line and environment that `make lab`
uses (``coursekit.lab``); these tests need no JVM.
"""

from __future__ import annotations

import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel
from labserver import ROOT, running_lab

from coursekit import lab, progress

PROBE = (
    "import sys\n"
    "from coursekit.session import _monitor_conf\n"
    "print('loaded=%s conf=%r' % ('sparkmonitor.kernelextension' in sys.modules, _monitor_conf()))\n"
    "print('namespace clean:', 'conf' not in globals() and 'swan_spark_conf' not in globals())"
)


def _lab_recipe() -> str:
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^lab:.*\n((?:\t.*\n)+)", text, flags=re.MULTILINE)
    assert match, "Makefile has no `lab` target"
    return match.group(1)


def test_make_lab_runs_coursekit_lab():
    """The Makefile delegates to coursekit.lab, so the tests start what students start."""
    from coursekit.cli import COMMANDS

    recipe = _lab_recipe()
    assert "$(AULA10) lab " in recipe, recipe
    assert COMMANDS["lab"][0] == "coursekit.lab"
    assert "jupyter lab" not in recipe, (
        "the command line must be built in one place (coursekit.lab)"
    )


def test_lab_command_is_headless_and_loopback(tmp_path):
    cmd = lab.lab_command(port=8890, root_dir=tmp_path)
    assert cmd[:4] == [sys.executable, "-m", "jupyter", "lab"]
    assert "--no-browser" in cmd and "--ip=127.0.0.1" in cmd and "--port=8890" in cmd
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in cmd
    assert not any("token" in part for part in cmd), "by default JupyterLab makes its own token"
    assert "--IdentityProvider.token=abc" in lab.lab_command(token="abc")


@pytest.mark.parametrize("port", [0, 70000, "8888"])
def test_lab_command_rejects_bad_port(port):
    with pytest.raises(ValueError, match=r"'port'.*Recebido"):
        lab.lab_command(port=port)


def test_lab_env_scopes_sparkmonitor_to_this_environment(tmp_path):
    env = lab.lab_env({"HOME": str(tmp_path)})
    ipython_dir = Path(env["IPYTHONDIR"])
    assert ipython_dir.is_relative_to(sys.prefix), "never the user's ~/.ipython"
    config = (ipython_dir / "profile_default" / "ipython_kernel_config.py").read_text()
    assert "extensions = ['coursekit.progress']" in config  # loads sparkmonitor's kernel extension
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert not (tmp_path / ".ipython").exists()
    config_dir = Path(env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0])
    assert config_dir.is_relative_to(sys.prefix)
    assert "@jupyter/nbgrader" in (config_dir / "labconfig" / "page_config.json").read_text()
    kept = lab.lab_env({"JUPYTER_CONFIG_PATH": "/srv/site-config"})["JUPYTER_CONFIG_PATH"]
    assert kept.split(os.pathsep) == [str(config_dir), "/srv/site-config"]
    off = lab.lab_env({"COURSEKIT_SPARKMONITOR": "0"})
    assert "IPYTHONDIR" not in off


def test_listener_jar_ships_in_the_wheel():
    """No download: the jar for this Spark's major/Scala version is inside the sparkmonitor package."""
    import pyspark
    import sparkmonitor

    jar = progress._listener_jar()
    assert jar is not None and jar.is_file()
    assert jar.parent == Path(sparkmonitor.__file__).resolve().parent
    assert jar.name.startswith(f"listener_spark{pyspark.__version__.split('.')[0]}_")


def test_offline_overrides_merge(tmp_path):
    target = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"other:plugin": {"x": 1}}')
    lab.prepare_lab_overrides(tmp_path)
    text = target.read_text()
    assert '"other:plugin"' in text and '"fetchNews": "false"' in text


def _probe_kernel(env: dict[str, str]) -> str:
    manager, client = start_new_kernel(
        kernel_name="python3",
        env=env,
        cwd=str(ROOT),
        extra_arguments=["--HistoryManager.hist_file=:memory:"],  # nothing in ~/.ipython
    )
    try:
        outputs: list[str] = []
        reply = client.execute_interactive(
            PROBE,
            timeout=60,
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        return "".join(outputs)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_lab_kernel_loads_sparkmonitor_but_wires_nothing_without_a_frontend():
    """A lab kernel loads the extension; with no notebook frontend listening, get_spark adds nothing."""
    text = _probe_kernel(lab.lab_env())
    assert "loaded=True conf={}" in text, text
    assert "namespace clean: True" in text, text
    assert "SparkMonitorKernel" not in text, "sparkmonitor's INFO logs must stay out of cells"


def test_kernel_outside_the_lab_does_not_load_sparkmonitor():
    """papermill/nbval kernels (no lab environment) never load the extension."""
    env = {k: v for k, v in os.environ.items() if k not in ("IPYTHONDIR", lab.ENV_SWITCH)}
    text = _probe_kernel(env)
    assert "loaded=False conf={}" in text, text


def test_lab_server_answers_api_status(tmp_path):
    """Start JupyterLab as `make lab` does; /api/status answers with the token, refuses without."""
    with running_lab(tmp_path) as server:
        status, body = server.get("/api/status")
        assert status == 200 and "started" in body, body
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/api/status", timeout=10)
        assert refused.value.code == 403
        with pytest.raises(urllib.error.HTTPError) as hidden:
            server.get("/formgrader")
        assert hidden.value.code == 404, "nbgrader's UI is for graders, not in the student lab"
        _, specs = server.get("/api/kernelspecs")
        assert "python3" in specs["kernelspecs"]
        assert server.process.poll() is None
    assert server.process.poll() is not None, "the server must be stopped after the test"
