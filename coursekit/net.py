"""Loopback plumbing shared by the session, the lab, the daemons and the grader.

Everything the course starts listens on :data:`LOCALHOST` only.

Examples
--------
>>> from coursekit.net import LOCALHOST, free_port, port_open
>>> LOCALHOST
'127.0.0.1'
>>> port = free_port()
>>> port_open(port)
False
"""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

LOCALHOST = "127.0.0.1"
#: Ports a free-port search never returns (the usual web UIs of other tools).
RESERVED_PORTS = frozenset({8080, 8081})


def port_is_free(port: int) -> bool:
    """True when nothing listens on ``127.0.0.1:port`` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, avoid: set[int] | None = None) -> int:
    """``preferred`` when it is free, else a free port chosen by the OS (not in ``avoid``)."""
    avoid = avoid or set()
    if preferred and preferred not in avoid and port_is_free(preferred):
        return preferred
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOCALHOST, 0))
            port = sock.getsockname()[1]
        if port not in avoid and port not in RESERVED_PORTS:
            return port


def port_open(port: int, host: str = LOCALHOST, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def get_json(url: str, timeout: float = 3.0):
    """GET a JSON document (a daemon's status page, a REST API) from a loopback URL."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
        return json.loads(resp.read().decode())


def tail(path: Path | None, lines: int = 12, indent: str = "") -> str:
    """The last ``lines`` lines of a log file (``"(sem log)"`` when there is none).

    >>> tail(None)
    '(sem log)'
    """
    if path is None:
        return "(sem log)"
    try:
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(sem log)"
    return "\n".join(indent + line for line in text)
