"""nbgrader's Execute step, hardened for a class of untrusted notebooks.

:class:`GradingExecute` replaces ``nbgrader.preprocessors.Execute`` in
``Autograde.autograde_preprocessors``. On top of nbgrader's per-cell
behaviour it adds:

* a **per-notebook** time budget (``notebook_timeout``): each cell may use
  what is left of it; once it is spent the kernel is interrupted and the
  remaining cells are not run (their test cells get a pt-BR error, so those
  parts score 0 and the earlier ones keep their points);
* **kernel death** (``os._exit``, segfault, out of memory) stops the run the
  same way instead of failing the whole notebook;
* an **output cap** per cell (``max_output_chars``): a runaway ``print`` loop
  cannot fill the grader's memory; error outputs are always kept;
* stderr in a test cell (Spark/pandas warnings) is shown as stdout, because
  nbgrader scores any stderr output in a test cell as a failure;
* optionally (``skip_after_last_test``) the code cells after the last graded
  test cell are not run: they cannot change a score, and in the exercises they
  are the "putting it together" runs, about a third of a notebook's time. The
  student's Spark session is stopped in their place (a shared Spark Connect
  server keeps a session's cached data until it is released) and each skipped
  cell gets a pt-BR note in the feedback.

Examples
--------
>>> from coursekit.grading.execute import GradingExecute, NOT_RUN
>>> GradingExecute(notebook_timeout=30).notebook_timeout
30
>>> NOT_RUN
'NaoExecutada'
"""

from __future__ import annotations

import math
import time

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

#: ``ename`` of the synthetic errors written by the grader (read back by the worker).
NOT_RUN = "NaoExecutada"
TIMED_OUT = "TempoEsgotado"
KERNEL_DIED = "KernelMorreu"
TRUNCATED_NOTE = (
    "\n[... saída truncada pelo corretor: mais de {limit} caracteres nesta célula ...]\n"
)


#: Shown in a code cell that grading skipped (``skip_after_last_test``).
SKIPPED_NOTE = (
    "[não executada na correção: vem depois do último teste e não vale pontos; "
    "rode-a no seu notebook]\n"
)
#: Run in place of the skipped cells: releases the student's Spark session (classic or Connect).
SESSION_CLEANUP = """\
try:
    from pyspark.sql import SparkSession as _S

    _s = _S.getActiveSession()
    if _s is not None:
        _s.stop()
    del _S, _s
except Exception:
    pass
"""


#: Imported by a warm kernel before it gets a notebook (libraries only, no state).
PRELOAD = ("import pyspark.sql.connect.session", "import coursekit.session")


class KernelPool:
    """One kernel started ahead of time, so the next notebook does not wait for it.

    The worker calls :meth:`prestart` when it becomes idle; the kernel boots and
    imports :data:`PRELOAD` while the worker waits for its next job, and
    :class:`GradingExecute` takes it instead of starting one. Each kernel still
    runs exactly one notebook and is shut down after it.
    """

    def __init__(self, kernel_name: str = "python3", cwd: str | None = None):
        self.kernel_name = kernel_name
        self.cwd = cwd
        self._km: AsyncKernelManager | None = None

    def prestart(self) -> None:
        """Launch the next kernel (returns at once; the kernel boots in the background)."""
        if self._km is not None:
            return
        km = AsyncKernelManager(kernel_name=self.kernel_name)
        lines = "[" + ",".join(repr(line) for line in PRELOAD) + "]"
        args = ["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_lines={lines}"]
        try:
            run_sync(km.start_kernel)(extra_arguments=args, cwd=self.cwd)
        except Exception:  # noqa: BLE001 (GradingExecute will start its own)
            return
        self._km = km

    def take(self) -> AsyncKernelManager | None:
        """The warm kernel's manager (None when there is none or it died)."""
        km, self._km = self._km, None
        if km is not None and not run_sync(km.is_alive)():
            return None
        return km

    def shutdown(self) -> None:
        """Kill the waiting kernel, if any."""
        km, self._km = self._km, None
        if km is not None:
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001
                pass


def _is_test_cell(cell) -> bool:
    m = cell.get("metadata", {}).get("nbgrader", {})
    return bool(m.get("grade")) and not m.get("solution")


def grader_error(ename: str, evalue: str):
    """An error output the grader adds to a cell (shown in the feedback)."""
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class GradingExecute(Execute):
    """nbgrader's Execute with a notebook-wide deadline, kernel-death recovery and an output cap."""

    notebook_timeout = Integer(600, help="seconds for the whole notebook").tag(config=True)
    max_output_chars = Integer(100_000, help="output characters kept per cell").tag(config=True)
    skip_after_last_test = Bool(
        False, help="do not run the code cells after the last graded test cell"
    ).tag(config=True)
    stop_reason = Unicode("", help="why execution stopped early (set while running)")
    #: Set by the worker: where a warm kernel comes from (None: start one per notebook).
    pool: KernelPool | None = None

    def create_kernel_manager(self):
        km = self.pool.take() if self.pool is not None else None
        self._warm = km is not None
        if km is None:
            return super().create_kernel_manager()
        self.km = km
        return km

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        path = (self.resources or {}).get("metadata", {}).get("path")
        if getattr(self, "_warm", False) and path:  # a warm kernel started elsewhere: move it
            msg_id = kc.execute(f"import os as _os; _os.chdir({str(path)!r}); del _os", silent=True)
            await self.async_wait_for_reply(msg_id)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self.stop_reason = ""
        self._chars: dict[int, int] = {}
        self.truncated_cells: list[int] = []
        tests = [i for i, c in enumerate(nb.cells) if _is_test_cell(c)]
        self._last_test = tests[-1] if tests and self.skip_after_last_test else len(nb.cells)
        self._released = False
        self.error_on_timeout = {
            "ename": TIMED_OUT,
            "evalue": f"tempo limite do notebook ({self.notebook_timeout} s) esgotado nesta célula",
            "traceback": [
                f"{TIMED_OUT}: tempo limite do notebook ({self.notebook_timeout} s) esgotado"
            ],
        }
        return super().preprocess(nb, resources, km)

    def _skip(self, cell) -> None:
        if _is_test_cell(cell):
            cell.outputs = [grader_error(NOT_RUN, f"célula não executada: {self.stop_reason}")]

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        remaining = self._deadline - time.monotonic()
        if not self.stop_reason and remaining <= 0:
            self.stop_reason = (
                f"o tempo limite do notebook ({self.notebook_timeout} s) acabou antes desta célula"
            )
        if self.stop_reason:
            self._skip(cell)
            return cell, resources
        if index > self._last_test:
            if not self._released:  # once, in place of the first skipped cell
                self._released = True
                self.timeout = max(1, min(30, math.ceil(remaining)))
                try:
                    super().preprocess_cell(new_code_cell(SESSION_CLEANUP), resources, index)
                except Exception as exc:  # noqa: BLE001 (the scores are already in)
                    self.log.warning("session cleanup failed: %s", exc)
                finally:  # nbclient stores the executed cell at its index: put the student's back
                    self.nb.cells[index] = cell
            cell.outputs = [new_output("stream", name="stdout", text=SKIPPED_NOTE)]
            return cell, resources
        self.timeout = max(1, math.ceil(remaining))
        started = time.monotonic()
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self.stop_reason = (
                f"o kernel morreu na célula {index} (os._exit, falha ou falta de memória)"
            )
            cell.outputs.append(grader_error(KERNEL_DIED, self.stop_reason))
            return cell, resources
        self.log.info("cell %d: %.1f s", index, time.monotonic() - started)
        if any(o.get("ename") == TIMED_OUT for o in cell.get("outputs", [])):
            self.stop_reason = (
                f"o tempo limite do notebook ({self.notebook_timeout} s) acabou na célula {index}"
            )
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if msg.get("msg_type") == "error":
            return super().output(outs, msg, display_id, cell_index)
        if msg.get("msg_type") == "stream":
            size = len(content.get("text", ""))
            if content.get("name") == "stderr" and _is_test_cell(self.nb.cells[cell_index]):
                content["name"] = "stdout"
        else:
            size = sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._chars.get(cell_index, 0) + size
        self._chars[cell_index] = used
        if used > self.max_output_chars:
            if cell_index not in self.truncated_cells:
                self.truncated_cells.append(cell_index)
                note = new_output(
                    "stream", name="stdout", text=TRUNCATED_NOTE.format(limit=self.max_output_chars)
                )
                outs.append(note)
            return None
        return super().output(outs, msg, display_id, cell_index)
