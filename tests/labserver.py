"""Run JupyterLab for a test exactly as ``make lab`` does (same command line and environment).

The command line comes from ``coursekit.lab.lab_command`` and the environment
from ``coursekit.lab.lab_env`` -- the functions ``make lab`` runs -- plus a
fixed token, a free port and, for isolation, throwaway JupyterLab user
settings/workspaces (autosave off, so a test never writes outputs into a
committed notebook).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from coursekit.lab import lab_command, lab_env
from coursekit.net import free_port

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 90

#: User settings for the test browser only: no autosave, no news toasts.
TEST_USER_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, process and log file."""

    url: str
    token: str
    process: subprocess.Popen
    log: Path

    def get(self, path: str, timeout: float = 10) -> tuple[int, dict]:
        """GET ``path`` with the token; return (HTTP status, JSON body)."""
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _write_user_settings(folder: Path) -> None:
    for name, values in TEST_USER_SETTINGS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _stop(server: LabServer) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure it is gone."""
    with contextlib.suppress(OSError, urllib.error.URLError):
        request = urllib.request.Request(
            server.url + "/api/shutdown",
            method="POST",
            headers={"Authorization": f"token {server.token}"},
        )
        urllib.request.urlopen(request, timeout=10).close()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        # Our own process group only (the server started in a new session).
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=15)


@contextlib.contextmanager
def running_lab(tmp: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[LabServer]:
    """Start JupyterLab like ``make lab`` (headless, 127.0.0.1, token, free port, root = repo).

    Parameters
    ----------
    tmp : Path
        Scratch folder for the log, user settings, workspaces and runtime files.
    extra_env : mapping, optional
        More environment variables for the server and its kernels.
    """
    token = secrets.token_hex(16)
    port = free_port()
    settings = tmp / "user-settings"
    _write_user_settings(settings)
    env = lab_env(
        {
            **os.environ,
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            **(extra_env or {}),
        }
    )
    log = tmp / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            lab_command(port=port, root_dir=ROOT, token=token),
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(url=f"http://127.0.0.1:{port}", token=token, process=process, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                if server.get("/api/status", timeout=2)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"JupyterLab did not answer in {START_TIMEOUT_S} s:\n{server.log_tail()}"
                )
            time.sleep(0.5)
        yield server
    finally:
        _stop(server)
