"""Live Spark progress under each notebook cell: the sparkmonitor wiring.

sparkmonitor has two halves: a JupyterLab extension (installed with the pip package) and an
IPython kernel extension. ``make lab`` loads this module as the kernel extension
(:func:`load_ipython_extension`, through the IPython profile :mod:`coursekit.lab` writes), and
:func:`sparkmonitor_conf` gives ``get_spark`` the listener settings when (and only when) that
extension is active and a notebook frontend is listening. ``coursekit.session`` and
``coursekit.lab`` both use this module; neither imports the other.

Examples
--------
>>> from coursekit.progress import sparkmonitor_conf
>>> sparkmonitor_conf()  # outside a `make lab` kernel: nothing to wire
{}
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

KERNEL_EXTENSION = "sparkmonitor.kernelextension"
LISTENER_CLASS = "sparkmonitor.listener.JupyterSparkMonitorListener"
#: Set to "0" to turn the live progress display off (``COURSEKIT_SPARKMONITOR=0 make lab``).
ENV_SWITCH = "COURSEKIT_SPARKMONITOR"
#: sparkmonitor's logger is registered under this name (it renames the object afterwards).
_SPARKMONITOR_LOGGER = "tornado.sparkmonitor.kernel"


def _listener_jar() -> Path | None:
    """sparkmonitor's listener jar for the installed Spark (it ships inside the wheel)."""
    try:
        import pyspark
        import sparkmonitor
    except ImportError:
        return None
    jars = Path(pyspark.__file__).resolve().parent / "jars"
    for core in sorted(jars.glob("spark-core_*.jar")):  # spark-core_2.13-4.3.0.jar
        scala, version = core.name.removeprefix("spark-core_").split("-")[:2]
        jar = Path(sparkmonitor.__file__).resolve().parent / (
            f"listener_spark{version.split('.')[0]}_{scala}.jar"
        )
        return jar if jar.exists() else None
    return None


def sparkmonitor_conf() -> dict[str, str]:
    """Spark settings that wire sparkmonitor's listener, or ``{}`` when it is not wanted.

    Returns settings only when all hold: ``COURSEKIT_SPARKMONITOR`` is not ``"0"``;
    the kernel extension was loaded in this kernel (``make lab`` does it); a
    notebook frontend opened its channel (so not under papermill, nbval or a
    console); and the listener jar matching this Spark is in the package.
    Spark Connect never gets here (``get_spark`` returns before).
    """
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return {}
    extension = sys.modules.get(KERNEL_EXTENSION)
    monitor = getattr(extension, "monitor", None)
    if monitor is None or getattr(monitor, "comm", None) is None:
        return {}
    jar = _listener_jar()
    if jar is None:
        return {}
    # The listener (inside the JVM started next) reads the port from its environment.
    os.environ["SPARKMONITOR_KERNEL_PORT"] = str(monitor.getPort())
    return {"spark.extraListeners": LISTENER_CLASS, "spark.driver.extraClassPath": str(jar)}


def load_ipython_extension(ipython) -> None:
    """IPython hook (``make lab`` kernels only): load sparkmonitor, quietly.

    sparkmonitor logs each socket event at INFO level, which ipykernel shows in
    cells; we keep warnings only, and drop the ``conf``/``swan_spark_conf``
    variables it puts in the notebook namespace (``get_spark`` wires the listener).
    """
    import logging

    try:
        extension = importlib.import_module(KERNEL_EXTENSION)
    except ImportError:  # sparkmonitor not installed: JupyterLab works without it
        return
    extension.load_ipython_extension(ipython)
    logging.getLogger(_SPARKMONITOR_LOGGER).setLevel(logging.WARNING)
    injected = ipython.user_ns.get("conf")
    for name in ("conf", "swan_spark_conf"):
        if ipython.user_ns.get(name) is injected and injected is not None:
            ipython.user_ns.pop(name, None)
