"""Grade one submission with ``nbgrader autograde`` inside a worker's own course folder.

A worker is a long-lived process (imports paid once) that owns a private
nbgrader course folder: ``source/`` and ``gradebook.db`` copied from the run's
master course, ``submitted/`` and ``autograded/`` for the jobs it gets. One
job = one student x exercise:

1. read the submission (never written: it is copied into ``submitted/``);
   not JSON / not a notebook -> every part 0 with the reason;
2. compare its test cells with the student version: deleted -> that part 0;
   edited -> noted (nbgrader restores the original and runs it);
3. inject ``SCALE = "ci"`` after the ``parameters`` cell;
4. ``nbgrader autograde`` with :class:`~coursekit.grading.execute.GradingExecute`;
5. read the scores from the gradebook and the reasons from the executed
   notebook; write the feedback HTML.

Examples
--------
>>> from coursekit.grading.worker import reason_for_error
>>> reason_for_error({"ename": "NotImplementedError", "evalue": ""}, answer=True)
'parte não respondida (a resposta ainda levanta NotImplementedError)'
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from coursekit.grading import notebooks as fmt

MAX_SUBMISSION_BYTES = 50_000_000
#: "1": the worker also runs the cells after the last test (set by ``grade(all_cells=True)``).
ALL_CELLS_ENV = "COURSEKIT_GRADE_ALL_CELLS"
CI_PARAMETERS = {"SCALE": "ci"}


@dataclass
class Job:
    """One student x exercise to grade."""

    student: str
    exercise: str
    source: str  # path of the submission (read only)
    key: str  # safe id used inside the course folder
    timeout: int
    feedback: str  # where to write the feedback HTML
    note: str = ""  # e.g. "arquivo renomeado: ..." (goes into every reason)


@dataclass
class PartResult:
    part: str
    score: float
    max_score: float
    reason: str = ""


@dataclass
class Result:
    student: str
    exercise: str
    parts: list[PartResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: figures the notebook recorded with coursekit.results.record
    recorded: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        parts = [PartResult(**p) for p in data["parts"]]
        return cls(
            data["student"],
            data["exercise"],
            parts,
            data.get("notes", []),
            data.get("seconds", 0.0),
            data.get("recorded", {}),
        )


def zero_result(
    student: str, exercise: str, parts: list[fmt.Part], reason: str, seconds: float = 0.0
) -> Result:
    """Every part scored 0 with the same reason."""
    return Result(
        student,
        exercise,
        [PartResult(p.name, 0.0, p.points, reason) for p in parts],
        [reason],
        seconds,
    )


def _first_line(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reason_for_error(error: dict, *, answer: bool) -> str:
    """pt-BR reason for an error output of an answer cell (``answer=True``) or a test cell."""
    from coursekit.grading.execute import KERNEL_DIED, NOT_RUN, TIMED_OUT

    ename, evalue = error.get("ename", "Erro"), _first_line(error.get("evalue", ""))
    if ename in (NOT_RUN, KERNEL_DIED, TIMED_OUT):
        return evalue
    if ename == "NotImplementedError" and not evalue:  # the stub, called here or by the test
        return "parte não respondida (a resposta ainda levanta NotImplementedError)"
    if answer:
        return f"a resposta falhou: {ename}: {evalue}".rstrip(": ")
    return f"o teste falhou: {ename}: {evalue}".rstrip(": ")


def _errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def load_submission(path: Path):
    """Read a submitted notebook; return (notebook, None) or (None, pt-BR reason)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, f"não foi possível ler o arquivo: {exc}"
    if size > MAX_SUBMISSION_BYTES:
        return (
            None,
            f"arquivo grande demais ({size // 1_000_000} MB; limite {MAX_SUBMISSION_BYTES // 1_000_000} MB)",
        )
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return (
            None,
            f"o arquivo não é um notebook: JSON inválido ({_first_line(exc, 120)}); nada foi executado",
        )
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        return (
            None,
            "o arquivo é JSON mas não é um notebook Jupyter (faltam as células); nada foi executado",
        )
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        for cell in nb.cells:  # normalize what nbgrader reads
            cell.setdefault("metadata", {})
            if cell.cell_type == "code":
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)
    except Exception as exc:  # noqa: BLE001 (nbformat raises many kinds)
        return (
            None,
            f"notebook ilegível ({type(exc).__name__}: {_first_line(exc, 120)}); nada foi executado",
        )
    return nb, None


def reattach_test_metadata(nb, released) -> None:
    """Give back nbgrader metadata to untouched test cells that lost it (copied to a new notebook)."""
    present = set(fmt.test_cells(nb))
    missing = {gid: cell for gid, cell in fmt.test_cells(released).items() if gid not in present}
    for cell in nb.cells:
        if not missing or fmt.meta(cell):
            continue
        for gid, original in list(missing.items()):
            if cell.cell_type == "code" and cell.source.strip() == original.source.strip():
                cell.metadata["nbgrader"] = dict(original.metadata["nbgrader"])
                del missing[gid]
                break


def compare_tests(nb, released) -> tuple[set[str], set[str]]:
    """(deleted, edited) grade ids of ``nb`` relative to the student version ``released``."""
    mine = fmt.test_cells(nb)
    deleted, edited = set(), set()
    for gid, original in fmt.test_cells(released).items():
        if gid not in mine:
            deleted.add(gid)
        elif _norm(fmt.strip_hidden_tests(mine[gid].source)) != _norm(original.source):
            edited.add(gid)
    return deleted, edited


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


class Worker:
    """Grades jobs in a private nbgrader course folder (see module docstring)."""

    def __init__(self, course: str | Path, master: str | Path, data_dir: str | Path | None = None):
        from coursekit.grading.exercises import nbgrader_config, nbgrader_env

        nbgrader_env()
        self.course = Path(course)
        self.master = Path(master)
        self.data_dir = Path(data_dir) if data_dir else None
        self.course.mkdir(parents=True, exist_ok=True)
        if not (self.course / "source").exists():
            (self.course / "source").symlink_to(self.master / "source", target_is_directory=True)
        import shutil

        shutil.copyfile(self.master / "gradebook.db", self.course / "gradebook.db")
        self._released: dict[str, object] = {}
        self._solutions: dict[str, object] = {}
        self.config = nbgrader_config(self.course)
        self.config.Autograde.autograde_preprocessors = self._preprocessors()
        self.config.GradingExecute.interrupt_on_timeout = True
        # nbgrader raises when iopub lags 4 s behind the reply (a busy machine, long outputs): wait and go on
        self.config.GradingExecute.iopub_timeout = 30
        self.config.GradingExecute.raise_on_iopub_timeout = False
        self.config.GradingExecute.kernel_name = "python3"
        self.config.LimitOutput.max_lines = 1000
        self.config.LimitOutput.max_traceback = 100
        self.config.KernelSpecManager.ensure_native_kernel = True
        self.config.GradingExecute.shutdown_kernel = "immediate"
        self.config.GradingExecute.skip_after_last_test = os.environ.get(ALL_CELLS_ENV) != "1"
        from coursekit.grading.execute import GradingExecute, KernelPool

        os.environ["COURSEKIT_RESULTS"] = str(self.course / "results.json")
        self.pool = KernelPool("python3", str(self.course))
        GradingExecute.pool = self.pool
        self.pool.prestart()

    @staticmethod
    def _preprocessors() -> list:
        from nbconvert.preprocessors import ClearMetadataPreprocessor
        from nbgrader.preprocessors import CheckCellMetadata, LimitOutput, SaveAutoGrades

        from coursekit.grading.execute import GradingExecute

        return [
            GradingExecute,
            ClearMetadataPreprocessor,
            LimitOutput,
            SaveAutoGrades,
            CheckCellMetadata,
        ]

    def released(self, exercise: str):
        if exercise not in self._released:
            self._released[exercise] = nbformat.read(
                self.master / "release" / exercise / f"{exercise}.ipynb", as_version=4
            )
        return self._released[exercise]

    def solution(self, exercise: str):
        if exercise not in self._solutions:
            self._solutions[exercise] = nbformat.read(
                self.master / "source" / exercise / f"{exercise}.ipynb", as_version=4
            )
        return self._solutions[exercise]

    def grade(self, job: Job) -> Result:
        """Grade ``job``; never raises for a broken submission (the reason says what happened)."""
        start = time.monotonic()
        parts = fmt.parts_of(self.solution(job.exercise))
        executed = None
        try:
            result, executed = self._grade(job, parts)
        except Exception as exc:  # noqa: BLE001 (a grader bug must not stop the class)
            detail = _first_line(f"{type(exc).__name__}: {exc}", 200)
            result = zero_result(
                job.student, job.exercise, parts, f"erro interno do corretor: {detail}"
            )
            traceback.print_exc()
        if job.note:
            result.notes.insert(0, job.note)
            for p in result.parts:
                p.reason = "; ".join(x for x in (job.note, p.reason) if x)
        self.pool.prestart()  # the next kernel boots while this result is reported
        result.seconds = round(time.monotonic() - start, 2)
        self._feedback(job, result, executed)
        return result

    def _grade(self, job: Job, parts: list[fmt.Part]) -> Result:
        nb, problem = load_submission(Path(job.source))
        if problem:
            return zero_result(job.student, job.exercise, parts, problem), None
        released = self.released(job.exercise)
        reattach_test_metadata(nb, released)
        deleted, edited = compare_tests(nb, released)
        nb = fmt.inject_parameters(nb, CI_PARAMETERS)
        target = self.course / "submitted" / job.key / job.exercise / f"{job.exercise}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        self._link_data(job.key)
        self.config.GradingExecute.notebook_timeout = int(job.timeout)
        Path(os.environ["COURSEKIT_RESULTS"]).unlink(missing_ok=True)
        from nbgrader.apps import NbGraderAPI

        started = time.monotonic()
        outcome = NbGraderAPI(config=self.config).autograde(
            job.exercise, job.key, force=True, create=True
        )
        print(outcome.get("log", ""), outcome.get("error") or "", sep="\n", flush=True)
        print(f"autograde: {time.monotonic() - started:.1f} s", flush=True)
        executed_path = (
            self.course / "autograded" / job.key / job.exercise / f"{job.exercise}.ipynb"
        )
        if not outcome.get("success") or not executed_path.exists():
            log = (outcome.get("error") or "") + (outcome.get("log") or "")
            return zero_result(job.student, job.exercise, parts, _nbgrader_failure(log)), None
        executed = nbformat.read(executed_path, as_version=4)
        scores = self._scores(job)
        result = self._explain(job, parts, executed, scores, deleted, edited)
        try:
            result.recorded = json.loads(Path(os.environ["COURSEKIT_RESULTS"]).read_text())
        except (OSError, ValueError):
            result.recorded = {}
        return result, executed

    def _link_data(self, key: str) -> None:
        """``../data`` from the notebook's folder points at the course data, as in the repo."""
        if self.data_dir and self.data_dir.is_dir():
            link = self.course / "autograded" / key / "data"
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(self.data_dir, target_is_directory=True)

    def _scores(self, job: Job) -> dict[str, float]:
        from nbgrader.api import Gradebook

        with Gradebook(self.config.CourseDirectory.db_url) as gb:
            sub = gb.find_submission_notebook(job.exercise, job.exercise, job.key)
            return {g.name: float(g.score or 0.0) for g in sub.grades}

    def _explain(self, job, parts, executed, scores, deleted, edited) -> Result:
        tests = fmt.test_cells(executed)
        owned = fmt.answer_cells_by_part(executed)
        notes = []
        out = []
        for part in parts:
            score = min(part.points, max(0.0, scores.get(part.name, 0.0)))
            reason = ""
            if part.name in deleted:
                score, reason = (
                    0.0,
                    f"a célula de teste '{part.name}' foi apagada do notebook; parte zerada",
                )
            elif score < part.points:
                answer_errors = [
                    e for i in owned.get(part.name, []) for e in _errors(executed.cells[i])
                ]
                test_errors = _errors(tests[part.name]) if part.name in tests else []
                if answer_errors:
                    reason = reason_for_error(answer_errors[-1], answer=True)
                elif test_errors:
                    reason = reason_for_error(test_errors[-1], answer=False)
                else:
                    reason = "o teste não passou (sem mensagem de erro)"
            if part.name in edited:
                reason = "; ".join(
                    x
                    for x in ("a célula de teste foi editada; o corretor usou a original", reason)
                    if x
                )
            out.append(PartResult(part.name, score, part.points, reason))
        if deleted:
            notes.append(f"células de teste apagadas: {', '.join(sorted(deleted))}")
        if edited:
            notes.append(f"células de teste editadas (restauradas): {', '.join(sorted(edited))}")
        given_errors = [
            (i, e)
            for i, c in enumerate(executed.cells)
            if c.cell_type == "code" and not fmt.meta(c).get("grade") and not fmt.is_answer(c)
            for e in _errors(c)
        ]
        if given_errors:
            i, e = given_errors[0]
            notes.append(
                f"erro na célula {i}: {e.get('ename', 'Erro')}: {_first_line(e.get('evalue', ''))}"
            )
        return Result(job.student, job.exercise, out, notes)

    def _feedback(self, job: Job, result: Result, executed) -> None:
        from coursekit.grading.report import write_feedback

        try:
            write_feedback(Path(job.feedback), result, executed)
        except Exception:  # noqa: BLE001 (feedback must not cost the grade)
            traceback.print_exc()


def _nbgrader_failure(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    if any("failed to validate" in line or "ValidationError" in line for line in lines):
        return "metadados do nbgrader corrompidos no notebook; nada foi corrigido"
    if any(
        "Kernel didn't respond" in line or "kernel" in line.lower() and "start" in line.lower()
        for line in lines
    ):
        return "o kernel não iniciou; nada foi corrigido"
    last = next((line for line in reversed(lines) if "Error" in line), lines[-1] if lines else "")
    return f"falha do nbgrader ao corrigir: {_first_line(last, 200)}"


def serve(conn, course: str, master: str, data_dir: str | None, log_path: str) -> None:
    """Worker process main loop: receive job dicts on ``conn``, send back result dicts."""
    log = open(log_path, "ab", buffering=0)  # noqa: SIM115 (lives as long as the process)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    worker = Worker(course, master, data_dir)
    conn.send({"ready": True})
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                return
            if message is None:
                return
            job = Job(**message)
            print(f"--- {job.student} / {job.exercise}", flush=True)
            result = worker.grade(job)
            print(f"done in {result.seconds:.1f} s", flush=True)
            conn.send(result.to_dict())
    finally:
        worker.pool.shutdown()
