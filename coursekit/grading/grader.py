"""Grade a class: collect submissions, run workers in parallel, write grades and feedback.

Layout graded (a folder, or a ``.zip`` of it, possibly wrapped in one more folder)::

    <submissions>/<student_id>/<exercise>.ipynb     e.g. maria/ex01_deteccao_anomalias.ipynb

A file named ``exNN...ipynb`` that is not an exact exercise name is accepted as
exercise ``exNN_*`` with a note; other names are reported as unknown. Every
exercise submitted by anyone is graded for everyone (missing = 0 with a
reason), unless ``exercises=`` picks them.

Examples
--------
>>> from coursekit.grading.grader import match_exercise
>>> names = ["ex01_deteccao_anomalias", "ex02_classificacao_sentimentos"]
>>> match_exercise("ex01_deteccao_anomalias", names)
('ex01_deteccao_anomalias', '')
>>> match_exercise("ex02_classificacao_sentimentos-Copy1", names)[0]
'ex02_classificacao_sentimentos'
>>> match_exercise("trabalho_final", names)
(None, '')
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from coursekit.grading import notebooks as fmt
from coursekit.grading.worker import ALL_CELLS_ENV, Job, PartResult, Result, zero_result

ROOT = Path(__file__).resolve().parents[2]
GRACE_SECONDS = (
    90  # kernel start-up, nbgrader bookkeeping and feedback, beyond the notebook's own limit
)
STARTUP_SECONDS = 300  # a worker imports nbgrader and copies the gradebook
MAX_ZIP_BYTES = 2_000_000_000
TIMEOUT_ENV = "COURSEKIT_GRADE_TIMEOUT"
_NUMBER = re.compile(r"^(ex\d{2})")


@dataclass
class GradingRun:
    """What a grading run produced."""

    results: list[Result]
    grades_csv: Path
    totals_csv: Path
    feedback_dir: Path
    seconds: float
    messages: list[str] = field(default_factory=list)

    def score(self, student: str, exercise: str, part: str | None = None) -> float:
        """Score of one part (or the sum over the exercise's parts)."""
        for r in self.results:
            if r.student == student and r.exercise == exercise:
                return sum(p.score for p in r.parts if part is None or p.part == part)
        raise KeyError(f"sem resultado para {student}/{exercise}")


def match_exercise(stem: str, names: Sequence[str]) -> tuple[str | None, str]:
    """Map a file stem to an exercise name: ``(name, note)`` or ``(None, "")`` when unknown."""
    if stem in names:
        return stem, ""
    m = _NUMBER.match(stem)
    if m:
        candidates = [n for n in names if n.startswith(m.group(1) + "_")]
        if len(candidates) == 1:
            return candidates[0], f"arquivo '{stem}.ipynb' aceito como {candidates[0]}.ipynb"
    return None, ""


@contextlib.contextmanager
def opened(submissions: str | Path) -> Iterator[Path]:
    """Yield the folder holding the student folders (extracting a .zip to a temp folder)."""
    path = Path(submissions)
    if not path.exists():
        raise FileNotFoundError(f"entregas não encontradas: {path} (passe uma pasta ou um .zip)")
    if path.is_dir():
        yield _student_root(path)
        return
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} não é uma pasta nem um arquivo .zip")
    with tempfile.TemporaryDirectory(prefix="coursekit-zip-") as tmp:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
            if total > MAX_ZIP_BYTES:
                raise ValueError(
                    f"{path}: zip grande demais ({total // 1_000_000} MB descompactado)"
                )
            for info in zf.infolist():
                parts = Path(info.filename).parts
                if info.filename.startswith("/") or ".." in parts or "__MACOSX" in parts:
                    continue
                zf.extract(info, tmp)
        yield _student_root(Path(tmp))


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def _student_root(folder: Path) -> Path:
    """Descend through single wrapping folders until student folders hold notebooks."""
    while True:
        dirs = _visible_dirs(folder)
        if len(dirs) != 1 or any(dirs[0].glob("*.ipynb")):
            return folder
        folder = dirs[0]


def _notebooks_of(student_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in student_dir.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts
        and not any(x.startswith(".") for x in p.relative_to(student_dir).parts)
    )


@dataclass
class _Plan:
    jobs: list[Job]
    done: list[Result]
    messages: list[str]
    exercises: list[str]


def plan(
    root: Path,
    solutions: dict[str, Path],
    parts: dict[str, list[fmt.Part]],
    timeouts: dict[str, int],
    feedback_dir: Path,
    exercises: Sequence[str] | None = None,
) -> _Plan:
    """Decide what to grade: jobs for the workers, results known without running anything."""
    names = list(solutions)
    messages, done, found = [], [], {}
    loose = sorted(p.name for p in root.glob("*.ipynb"))
    if loose:
        messages.append(
            f"arquivos fora de uma pasta de aluno (ignorados): {', '.join(loose)}; "
            "o formato é <entregas>/<aluno>/<exercicio>.ipynb"
        )
    students = [d.name for d in _visible_dirs(root)]
    for student in students:
        for nb_path in _notebooks_of(root / student):
            name, note = match_exercise(nb_path.stem, names)
            if name is None:
                msg = (
                    f"{student}: exercício desconhecido '{nb_path.name}'; "
                    f"os exercícios são: {', '.join(names) or '(nenhum)'}"
                )
                messages.append(msg)
                reason = f"exercício desconhecido '{nb_path.name}'; renomeie para um de: {', '.join(names)}"
                done.append(
                    Result(student, nb_path.stem, [PartResult("", 0.0, 0.0, reason)], [reason])
                )
                continue
            key = (student, name)
            if key in found and (found[key][1] == "" or note):
                messages.append(
                    f"{student}: mais de um arquivo para {name}; usado {found[key][0].name}"
                )
                continue
            found[key] = (nb_path, note)
    wanted = list(exercises) if exercises else sorted({ex for _, ex in found})
    unknown = [e for e in wanted if e not in solutions]
    if unknown:
        raise ValueError(
            f"exercício(s) sem solução: {', '.join(unknown)}; disponíveis: {', '.join(names) or '(nenhum)'}"
        )
    jobs = []
    for i, student in enumerate(students):
        for exercise in wanted:
            feedback = feedback_dir / student / f"{exercise}.html"
            if (student, exercise) not in found:
                done.append(
                    zero_result(
                        student,
                        exercise,
                        parts[exercise],
                        f"entrega ausente: não há {exercise}.ipynb na pasta do aluno",
                    )
                )
                continue
            path, note = found[(student, exercise)]
            jobs.append(
                Job(
                    student,
                    exercise,
                    str(path),
                    f"s{i:04d}",
                    timeouts[exercise],
                    str(feedback),
                    note,
                )
            )
    # longest first (the exercise's time limit is the only hint), so the run does not end on one slow notebook
    jobs.sort(key=lambda j: (-j.timeout, j.exercise, j.student))
    return _Plan(jobs, done, messages, wanted)


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [*proc.children(recursive=True), proc]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=10)


class _Slot:
    """One worker process and the job it is running."""

    def __init__(self, index: int, ctx, args: tuple):
        self.index = index
        self.ctx = ctx
        self.args = args
        self.job: Job | None = None
        self.deadline = 0.0
        self.started = 0.0
        self.ready = False
        self.spawns = 0
        self.failed_starts = 0
        self.stale = False
        self._spawn()

    def _spawn(self) -> None:
        parent, child = self.ctx.Pipe()
        course = Path(self.args[0]) / f"worker{self.index}-{self.spawns}"
        self.spawns += 1
        self.proc = self.ctx.Process(
            target=_serve_with_env, args=(child, str(course), *self.args[1:]), daemon=True
        )
        self.proc.start()
        self.stale = False
        child.close()
        self.conn = parent
        self.ready = False
        self.started = time.monotonic()

    def assign(self, job: Job) -> None:
        self.job = job
        self.started = time.monotonic()
        self.deadline = self.started + job.timeout + GRACE_SECONDS
        self.conn.send(job.__dict__)

    def restart(self) -> None:
        _kill_tree(self.proc.pid)
        with contextlib.suppress(Exception):
            self.conn.close()
        self.job = None
        self._spawn()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            _kill_tree(self.proc.pid)


def _serve_with_env(conn, course, master, data_dir, log_path, env) -> None:
    from coursekit.grading.worker import serve

    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the parent
    serve(conn, course, master, data_dir, log_path)


def _kernel_env(log_dir: Path, spark_remote: str | None) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    env = {
        "COURSEKIT_UI": "0",
        "COURSEKIT_LOG_DIR": str(log_dir),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")
        + (os.pathsep + os.environ["JUPYTER_PATH"] if os.environ.get("JUPYTER_PATH") else ""),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    if spark_remote:
        env["SPARK_REMOTE"] = spark_remote
    return env


def resolve_timeouts(solutions: dict[str, Path], timeout: int | None) -> dict[str, int]:
    """Per-exercise limit: ``timeout`` > ``COURSEKIT_GRADE_TIMEOUT`` > notebook metadata > 600 s."""
    import nbformat

    forced = timeout or (int(os.environ[TIMEOUT_ENV]) if os.environ.get(TIMEOUT_ENV) else None)
    out = {}
    for name, path in solutions.items():
        own = fmt.timeout_of(nbformat.read(path, as_version=4))
        out[name] = int(forced or own or fmt.DEFAULT_TIMEOUT)
    return out


def grade(
    submissions: str | Path,
    grades_dir: str | Path = ROOT / "build" / "grades",
    *,
    solutions_dir: str | Path | Sequence[str | Path] = ROOT / "solutions",
    timeout: int | None = None,
    jobs: int | None = None,
    exercises: Sequence[str] | None = None,
    connect: bool = True,
    all_cells: bool = False,
    data_dir: str | Path | None = ROOT / "data",
    keep: bool = False,
    progress: Callable[[str], None] = print,
) -> GradingRun:
    """Grade every ``<student>/<exercise>.ipynb`` under ``submissions`` into ``grades_dir``.

    Parameters
    ----------
    submissions : path
        Folder (or .zip) of student folders. Never modified.
    grades_dir : path
        Output folder: ``grades.csv``, ``totals.csv``, ``feedback/``, ``logs/``.
    solutions_dir : path or list of paths
        Where the ``exNN_*.ipynb`` solutions are (several folders are merged).
    timeout : int, optional
        Seconds per notebook; default ``COURSEKIT_GRADE_TIMEOUT``, then the
        exercise's ``metadata.coursekit.timeout``, then 600.
    jobs : int, optional
        Notebooks graded at the same time (default 2, or ``COURSEKIT_GRADE_JOBS``).
    exercises : list of str, optional
        Exercises to grade (default: every exercise somebody submitted).
    connect : bool, default True
        Share one Spark Connect server among the kernels (faster); False = each
        notebook starts its own local Spark.
    all_cells : bool, default False
        Also run the code cells after an exercise's last test cell. They score
        nothing (in the exercises they put the parts together and record the
        figures), so by default they are skipped and the student's Spark
        session is stopped in their place.
    keep : bool, default False
        Keep the nbgrader work folder (executed notebooks with hidden tests) under ``grades_dir/work``.
    progress : callable
        Receives one pt-BR line per event.
    """
    start = time.monotonic()
    grades_dir = Path(grades_dir).resolve()
    feedback_dir = grades_dir / "feedback"
    log_dir = grades_dir / "logs"
    dirs = [solutions_dir] if isinstance(solutions_dir, str | Path) else list(solutions_dir)
    solutions: dict[str, Path] = {}
    for d in dirs:
        solutions.update(fmt.discover_solutions(d))
    if not solutions:
        raise ValueError(f"nenhuma solução exNN_*.ipynb em {', '.join(map(str, dirs))}")
    parts = {name: fmt.parts_of(fmt.read_solution(path)) for name, path in solutions.items()}
    timeouts = resolve_timeouts(solutions, timeout)
    jobs = int(jobs or os.environ.get("COURSEKIT_GRADE_JOBS") or 2)
    if feedback_dir.exists():
        shutil.rmtree(feedback_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    for old_log in log_dir.glob("*.log"):
        old_log.unlink()
    work = Path(tempfile.mkdtemp(prefix="coursekit-grading-")) if not keep else grades_dir / "work"
    if keep and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    from coursekit.grading.report import write_feedback, write_grades

    server = None
    slots: list[_Slot] = []
    results: list[Result] = []
    previous = _raise_on_sigterm()
    try:
        with opened(submissions) as root:
            p = plan(root, solutions, parts, timeouts, feedback_dir, exercises)
            for m in p.messages:
                progress(f"aviso: {m}")
            results.extend(p.done)
            for r in p.done:
                write_feedback(feedback_dir / r.student / f"{r.exercise}.html", r)
            if p.jobs:
                from coursekit.grading.exercises import build_course

                remote = None
                if connect:  # the JVM starts while nbgrader prepares the course
                    server, remote = _launch_server(log_dir, progress)
                progress(f"preparando {len(p.exercises)} exercício(s) com nbgrader...")
                build_course({e: solutions[e] for e in p.exercises}, work / "master")
                env = _kernel_env(log_dir, remote)
                env[ALL_CELLS_ENV] = "1" if all_cells else "0"
                n = max(1, min(jobs, len(p.jobs)))
                ctx = multiprocessing.get_context("spawn")
                data = str(data_dir) if data_dir and Path(data_dir).is_dir() else None
                slots = [
                    _Slot(
                        i,
                        ctx,
                        (
                            str(work),
                            str(work / "master"),
                            data,
                            str(log_dir / f"worker{i}.log"),
                            env,
                        ),
                    )
                    for i in range(n)
                ]
                if server is not None and not _wait_server(server, progress):
                    server = None
                    _without_connect(slots)
                progress(
                    f"corrigindo {len(p.jobs)} notebook(s) com {n} processo(s)"
                    f"{' e um servidor Spark Connect' if server else ''} "
                    f"(preparação: {time.monotonic() - start:.0f} s)..."
                )
                results.extend(
                    _Scheduler(slots, list(p.jobs), server, parts, progress, write_feedback).run()
                )
    finally:
        for slot in slots:
            slot.stop()
        if server:
            server.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    grades_csv, totals_csv = write_grades(results, grades_dir)
    seconds = time.monotonic() - start
    progress(f"notas: {grades_csv} ({len(results)} entregas, {seconds:.0f} s)")
    return GradingRun(results, grades_csv, totals_csv, feedback_dir, seconds, p.messages)


def _raise_on_sigterm():
    """Turn SIGTERM into KeyboardInterrupt, so the server and workers are stopped on the way out."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise KeyboardInterrupt(f"sinal {signum}")

    return signal.signal(signal.SIGTERM, handler)


def _without_connect(slots) -> None:
    """Point the kernels of every worker at a local Spark (restarted when idle)."""
    for slot in slots:
        slot.args[4].pop("SPARK_REMOTE", None)  # the env dict is shared by all slots
        slot.stale = True


def _launch_server(log_dir: Path, progress):
    from coursekit.grading.server import ConnectServer

    server = ConnectServer(log_dir / "connect-server.log")
    try:
        return server, server.launch()
    except Exception as exc:  # noqa: BLE001 (no Java, no pyspark: grade without it)
        progress(
            f"aviso: Spark Connect indisponível ({exc}); cada notebook iniciará o próprio Spark"
        )
        return None, None


def _wait_server(server, progress) -> bool:
    try:
        server.wait()
    except Exception as exc:  # noqa: BLE001 (fall back to one local Spark per notebook)
        server.stop()
        progress(
            f"aviso: Spark Connect indisponível ({exc}); cada notebook iniciará o próprio Spark"
        )
        return False
    return True


class _Scheduler:
    """Hands jobs to worker slots, enforces the hard deadline, survives worker and server deaths.

    A job is graded again (once) when its worker process died, or when the
    Spark Connect server died while it ran: the failure was not the student's.
    """

    def __init__(self, slots, jobs: list[Job], server, parts, progress, write_feedback):
        self.slots, self.server, self.parts = slots, server, parts
        self.progress, self.write_feedback = progress, write_feedback
        self.pending = list(reversed(jobs))  # pop() from the end keeps the original order
        self.total = len(jobs)
        self.results: list[Result] = []
        self.retried: set[tuple[str, str]] = set()
        self.suspect: set[tuple[str, str]] = set()

    def run(self) -> list[Result]:
        while self.pending or any(s.job for s in self.slots):
            self._check_server()
            self._assign()
            conns = {s.conn: s for s in self.slots}
            for conn in wait(list(conns), timeout=1.0):
                self._receive(conns[conn])
            self._enforce_deadlines()
        return self.results

    def _assign(self) -> None:
        """Give idle workers the next jobs; a retried job runs alone, so a culprit cannot hit it again."""
        alone = any((s.job.student, s.job.exercise) in self.retried for s in self.slots if s.job)
        for slot in self.slots:
            if slot.stale and slot.job is None:
                slot.restart()
            if alone or not (slot.ready and slot.job is None and self.pending):
                continue
            job = self.pending[-1]
            if (job.student, job.exercise) in self.retried:
                if any(s.job for s in self.slots):
                    return  # wait until the others are done
                alone = True
            slot.assign(self.pending.pop())

    def _retry(self, job: Job) -> bool:
        key = (job.student, job.exercise)
        self.suspect.discard(key)
        if key in self.retried:
            return False
        self.retried.add(key)
        self.pending.append(job)
        return True

    def _record(self, result: Result, job: Job | None = None) -> None:
        if job is not None:
            self.write_feedback(Path(job.feedback), result)
        self.results.append(result)
        _report(self.progress, len(self.results), self.total, result)

    def _check_server(self) -> None:
        if self.server is None or self.server.running():
            return
        in_flight = [(s.job.student, s.job.exercise) for s in self.slots if s.job]
        self.suspect.update(in_flight)
        self.progress(
            "aviso: o servidor Spark Connect caiu; reiniciando (os notebooks afetados serão refeitos)"
        )
        self.server.stop()
        try:
            self.server.start()
        except Exception as exc:  # noqa: BLE001
            self.progress(f"aviso: não reiniciou ({exc}); seguindo sem Spark Connect")
            self.server = None
            _without_connect(self.slots)

    def _receive(self, slot) -> None:
        try:
            message = slot.conn.recv()
        except (EOFError, OSError):
            message = None
        if message is not None and message.get("ready"):
            slot.ready, slot.failed_starts = True, 0
            return
        job, slot.job = slot.job, None
        if message is None:  # the worker process died
            slot.failed_starts += 0 if job else 1
            if slot.failed_starts >= 3:
                raise RuntimeError(f"o processo do corretor não inicia; veja {slot.args[3]}")
            slot.restart()
            if job is None or self._retry(job):
                return
            reason = "o processo do corretor morreu neste notebook"
            self._record(
                zero_result(job.student, job.exercise, self.parts[job.exercise], reason), job
            )
            return
        self._check_server()  # did the server die under this notebook?
        key = (job.student, job.exercise)
        if key in self.suspect and self._retry(job):
            return
        result = Result.from_dict(message)
        if key in self.suspect:  # it ran alone and the server died again: this notebook did it
            self.suspect.discard(key)
            note = "o servidor Spark caiu durante este notebook (duas vezes, rodando sozinho)"
            result.notes.append(note)
            for p in result.parts:
                if p.score < p.max_score:
                    p.reason = "; ".join(x for x in (p.reason, note) if x)
        self._record(result)

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if not slot.ready and now - slot.started > STARTUP_SECONDS:
                raise RuntimeError(
                    f"o processo do corretor não ficou pronto em {STARTUP_SECONDS} s; veja {slot.args[3]}"
                )
            if slot.job is None or now <= slot.deadline:
                continue
            job = slot.job
            slot.restart()
            self._check_server()
            if (job.student, job.exercise) in self.suspect and self._retry(job):
                continue
            reason = (
                f"o corretor encerrou o notebook após {job.timeout + GRACE_SECONDS} s (travado)"
            )
            result = zero_result(
                job.student, job.exercise, self.parts[job.exercise], reason, now - slot.started
            )
            self._record(result, job)


def _report(progress, done: int, total: int, r: Result) -> None:
    score = sum(p.score for p in r.parts)
    maximum = sum(p.max_score for p in r.parts)
    progress(
        f"[{done}/{total}] {r.student} / {r.exercise}: {score:g}/{maximum:g} ({r.seconds:.0f} s)"
    )
