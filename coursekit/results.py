"""Record a notebook's key figures so tests and graders can check them.

``record(name, value)`` shows the figure and, when ``COURSEKIT_RESULTS``
names a JSON file, merges ``{name: value}`` into it.

Examples
--------
>>> import json, os, tempfile
>>> from coursekit.results import record
>>> path = os.path.join(tempfile.mkdtemp(), "r.json")
>>> os.environ["COURSEKIT_RESULTS"] = path
>>> record("auc", 0.9312)
auc = 0.9312
0.9312
>>> json.load(open(path))
{'auc': 0.9312}
>>> del os.environ["COURSEKIT_RESULTS"]
"""

from __future__ import annotations

import fcntl
import json
import math
import numbers
import os
from pathlib import Path
from typing import Any

ENV_VAR = "COURSEKIT_RESULTS"


def _plain(value: Any) -> Any:
    """Convert numpy/pandas scalars and containers to JSON-safe Python values."""
    if isinstance(value, bool | str) or value is None:
        return value
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(
                f"record(): valor não finito ({value}); confira o cálculo antes de registrar."
            )
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise TypeError(
        f"record(): o valor deve ser número, texto, bool, lista ou dict. Recebido: {type(value).__name__}"
    )


def _show(name: str, value: Any) -> None:
    text = f"{value:.4f}" if isinstance(value, float) else repr(value)
    print(f"{name} = {text}")


def record(name: str, value: Any) -> Any:
    """Show ``name = value`` and merge it into the JSON file named by COURSEKIT_RESULTS.

    Parameters
    ----------
    name : str
        The figure's name (a contract with the tests, e.g. ``"auc_rf"``).
    value : number, str, bool, list or dict
        numpy scalars are converted; NaN and infinity are refused.

    Returns
    -------
    The value as recorded (plain Python).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"record(): o nome deve ser um identificador, ex. 'auc_rf'. Recebido: {name!r}"
        )
    plain = _plain(value)
    _show(name, plain)
    target = os.environ.get(ENV_VAR)
    if target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(path.suffix + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = json.loads(path.read_text()) if path.exists() and path.stat().st_size else {}
            data[name] = plain
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
            tmp.replace(path)
    return plain


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results file written by ``record`` (empty dict when missing)."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else {}
