"""Run one assembled notebook: the program the sandbox starts (``python -m coursekit.grading.runner``).

Everything here runs INSIDE the sandbox, next to the student's kernel, so nothing it writes is
trusted: the grader reads ``executed.ipynb`` and ``status.json`` only to explain a score to the
student, never to compute one. What it adds to a plain nbclient run:

* resource limits set on itself before the kernel starts (inherited by the kernel, the JVM and
  Spark's Python workers): processes, file size, CPU time, data segment;
* one time budget for the whole notebook: each cell gets what is left of it; when it is spent the
  remaining cells are marked "not run";
* a dead kernel (``os._exit``, segfault, out of memory) stops the run instead of failing it;
* output caps per cell and per notebook that also cover error messages and tracebacks.

Examples
--------
>>> from coursekit.grading.runner import cap_text
>>> cap_text("x" * 50, 10)
'xxxxxxxxxx\\n[... saída truncada pelo corretor ...]'
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

NOT_RUN = "NaoExecutada"
TIMED_OUT = "TempoEsgotado"
KERNEL_DIED = "KernelMorreu"
TRUNCATED = "\n[... saída truncada pelo corretor ...]"
CELL_CHARS = 20_000
NOTEBOOK_CHARS = 400_000
TRACEBACK_LINES = 40
#: Seconds to wait for a cell's last outputs (nbclient's iopub_timeout); after the notebook's time
#: is spent the kernel is interrupted and only IOPUB_AFTER_TIMEOUT: a kernel whose own machinery
#: the student broke never answers, and the run stops there anyway.
IOPUB_SECONDS = 30
IOPUB_AFTER_TIMEOUT = 3


def cap_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a note when cut."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + TRUNCATED


def set_limits(
    *, processes: int, file_mb: int, cpu_seconds: int, data_mb: int, files: int = 4096
) -> None:
    """Hard limits for this process and everything it starts (a student cannot raise them)."""
    for name, value in (
        ("RLIMIT_NPROC", processes),
        ("RLIMIT_FSIZE", file_mb * 1024 * 1024),
        ("RLIMIT_CPU", cpu_seconds),
        ("RLIMIT_DATA", data_mb * 1024 * 1024),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_NOFILE", files),
    ):
        limit = getattr(resource, name)
        soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, value))


def _error(ename: str, evalue: str) -> dict:
    from nbformat.v4 import new_output

    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """nbclient with output caps that also apply to errors and to the whole notebook."""

        async def _async_handle_timeout(self, timeout, cell=None):
            self.iopub_timeout = IOPUB_AFTER_TIMEOUT  # no later cell runs: do not wait 30 s
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            kind = msg.get("msg_type")
            if kind == "error":
                content["evalue"] = cap_text(content.get("evalue", ""), 2_000)
                content["ename"] = cap_text(content.get("ename", ""), 200)
                tb = [cap_text(line, 2_000) for line in content.get("traceback", [])]
                content["traceback"] = tb[-TRACEBACK_LINES:]
                size = len(content["evalue"]) + sum(map(len, content["traceback"]))
            elif kind == "stream":
                size = len(content.get("text", ""))
            else:
                size = sum(len(str(v)) for v in content.get("data", {}).values())
            used = self.chars.get(cell_index, 0)
            self.chars[cell_index] = used + size
            self.total += size
            if used + size > CELL_CHARS or self.total > NOTEBOOK_CHARS:
                if cell_index not in self.truncated:
                    self.truncated.append(cell_index)
                    from nbformat.v4 import new_output

                    outs.append(new_output("stream", name="stdout", text=TRUNCATED))
                return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def run(notebook: Path, executed: Path, status: Path, *, timeout: int, cwd: Path) -> dict:
    """Execute ``notebook`` cell by cell within ``timeout`` seconds; write the results."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    notebook.unlink(missing_ok=True)  # the probes' text stays in this process, not on disk
    client = _client_class()(
        nb,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        iopub_timeout=IOPUB_SECONDS,
        raise_on_iopub_timeout=False,
        shutdown_kernel="immediate",
        startup_timeout=120,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.chars, client.total, client.truncated = {}, 0, []
    deadline = time.monotonic() + timeout
    stop, seconds = "", {}
    client.error_on_timeout = {
        "ename": TIMED_OUT,
        "evalue": f"tempo limite do notebook ({timeout} s) esgotado nesta célula",
        "traceback": [f"{TIMED_OUT}: tempo limite do notebook ({timeout} s) esgotado"],
    }
    index = -1  # the cell being run; -1 while the kernel starts
    try:
        with client.setup_kernel(cwd=str(cwd)):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if not stop and remaining <= 0:
                    stop = f"o tempo limite do notebook ({timeout} s) acabou antes desta célula"
                if stop:
                    cell.outputs = [_error(NOT_RUN, f"célula não executada: {stop}")]
                    continue
                client.timeout = max(1, math.ceil(remaining))
                started = time.monotonic()
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    stop = (
                        f"o kernel morreu na célula {index} (os._exit, falha ou falta de memória)"
                    )
                    cell.outputs.append(_error(KERNEL_DIED, stop))
                except CellTimeoutError:
                    stop = f"o tempo limite do notebook ({timeout} s) acabou na célula {index}"
                    cell.outputs.append(_error(TIMED_OUT, stop))
                seconds[index] = round(time.monotonic() - started, 2)
                timed_out = any(o.get("ename") == TIMED_OUT for o in cell.get("outputs", []))
                if not stop and (timed_out or time.monotonic() >= deadline):
                    # nbclient interrupts the kernel: the cell may only show KeyboardInterrupt
                    stop = f"o tempo limite do notebook ({timeout} s) acabou na célula {index}"
                    if not timed_out:
                        cell.outputs.append(_error(TIMED_OUT, stop))
    except Exception as exc:  # noqa: BLE001 (say where it broke, write what we have)
        detail = f"{type(exc).__name__}: {cap_text(exc, 300)}"
        if index < 0:
            stop = stop or f"o kernel não iniciou: {detail}"
        else:  # e.g. a kernel whose json or messaging the student's code replaced
            stop = stop or f"a comunicação com o kernel falhou na célula {index}: {detail}"
    nbformat.write(nb, executed)
    result = {"stop": stop, "seconds": seconds, "truncated": client.truncated}
    status.write_text(json.dumps(result), encoding="utf-8")
    return result


def not_dumpable() -> None:
    """Linux: the student's kernel (same uid) cannot read this process's memory, fds or environ."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m coursekit.grading.runner")
    p.add_argument("notebook", type=Path)
    p.add_argument("--executed", type=Path, required=True)
    p.add_argument("--status", type=Path, required=True)
    p.add_argument("--cwd", type=Path, required=True)
    p.add_argument("--timeout", type=int, required=True)
    p.add_argument("--processes", type=int, default=512)
    p.add_argument("--file-mb", type=int, default=512)
    p.add_argument("--data-mb", type=int, default=32768)
    p.add_argument("--files", type=int, default=4096)
    args = p.parse_args(argv)
    set_limits(
        processes=args.processes,
        file_mb=args.file_mb,
        cpu_seconds=4 * args.timeout + 60,
        data_mb=args.data_mb,
        files=args.files,
    )
    not_dumpable()
    os.makedirs(args.cwd, exist_ok=True)
    run(args.notebook, args.executed, args.status, timeout=args.timeout, cwd=args.cwd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
