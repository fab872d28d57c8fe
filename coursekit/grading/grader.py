"""Grade a class: one sandbox per submission, the judge, grades and feedback.

What to grade comes from :mod:`.intake`. For each submission: the grader assembles the notebook to
run (:mod:`.assemble`), runs it in a sandbox (:mod:`.sandbox`, :mod:`.runner`), copies the probes'
output out of the sandbox's folder (regular files only) and scores each part with its check
(:mod:`.judge`) against references computed once for the run. Submissions are only read. A
submission whose run was cut short while another one was killed for its memory or processes is
graded again, alone.

Examples
--------
>>> from coursekit.grading.grader import runner_reason
>>> runner_reason("o kernel morreu na célula 7 (os._exit, falha ou falta de memória)")[:23]
'o kernel morreu na célu'
>>> runner_reason("10/10, confie em mim")
''
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import json
import os
import queue
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursekit.grading import notebooks as fmt
from coursekit.grading.assemble import Assembly, assemble
from coursekit.grading.intake import (
    Job,
    PartResult,
    Plan,
    Result,
    first_line,
    load_submission,
    opened,
    plan,
    safe_text,
    zero_result,
)
from coursekit.grading.judge import CheckPool, part_letter, references
from coursekit.grading.lint import defined_names
from coursekit.grading.report import feedback_notebook, scrub, write_feedback, write_grades
from coursekit.grading.sandbox import (
    DATASETS_INSIDE,
    INPUTS_INSIDE,
    INSIDE,
    Limits,
    Sandbox,
    check,
    kill_all,
    remove_tree,
    run,
    walk,
)
from coursekit.net import LOCALHOST

#: Seconds beyond the notebook's own limit for kernel and Spark start-up inside the sandbox.
GRACE_SECONDS = 60
MAX_EXECUTED_BYTES = 20_000_000
MAX_PROBE_BYTES = 300_000_000
GRADING_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss16m"
NO_SANDBOX_NOTE = "corrigido SEM sandbox (--no-sandbox): o código do aluno rodou sem isolamento"


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


# --- one submission ---------------------------------------------------------------------
def _sandbox_env(inside: str = INSIDE, datasets: str = DATASETS_INSIDE) -> dict[str, str]:
    """The whole environment of a sandboxed run: nothing here names a grader folder.

    ``inside`` is the run's folder as the notebook sees it (``/grading`` in the sandbox; the real
    folder with ``--no-sandbox``), ``datasets`` the run's generated datasets (read-only).
    """
    from coursekit.datasets.store import CACHE_ENV
    from coursekit.java import find_java

    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": f"{inside}/home",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        "JAVA_HOME": str(find_java().home),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": LOCALHOST,
        "COURSEKIT_UI": "0",
        "COURSEKIT_MASTER": "local[2]",
        "COURSEKIT_SHUFFLE_PARTITIONS": "4",
        "COURSEKIT_LOG_DIR": f"{inside}/logs",
        "COURSEKIT_RESULTS": f"{inside}/results.json",
        CACHE_ENV: datasets,
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
        "IPYTHONDIR": "/tmp/ipython",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "MPLBACKEND": "Agg",
    }
    # user.home: Java would ask the passwd database. The JIT and GC flags: a grading JVM lives a
    # minute on small data, C1 alone spends far less CPU compiling (as in `make test`).
    flags = os.environ.get("COURSEKIT_JAVA_OPTS", GRADING_JAVA_OPTS)
    java_opts = f"-Duser.home={inside}/home {flags}"
    env["COURSEKIT_JAVA_OPTS"] = java_opts.strip()
    return env


def _harvest(src: Path, dst: Path, limit: int = MAX_PROBE_BYTES, files: int = 2_000) -> str:
    """Copy the regular files under ``src`` to ``dst`` (no links, fifos or devices); "" or why not."""
    total = count = 0
    if not src.is_dir() or src.is_symlink():
        return ""
    for dirpath, _, filenames in walk(src):
        rel = Path(dirpath).relative_to(src)
        for name in filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue
            total += info.st_size
            count += 1
            if count > files:
                return f"a saída das sondas tem mais de {files} arquivos; ignorada"
            if total > limit:
                return f"a saída das sondas passou de {limit // 1_000_000} MB; ignorada"
            target = dst / rel / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "rb") as fin, open(target, "wb") as fout:
                shutil.copyfileobj(fin, fout)
    return ""


def _read_untrusted_notebook(path: Path):
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_EXECUTED_BYTES:
            return None
        return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception:  # noqa: BLE001 (the student's kernel could have written anything there)
        return None


def _read_untrusted_json(path: Path) -> dict:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1_000_000:
            return {}
        value = json.loads(path.read_text(encoding="utf-8"))
        return value if isinstance(value, dict) else {}
    except Exception:  # noqa: BLE001
        return {}


@dataclass
class Exercise:
    """What the grader knows of one exercise (from its solution, trusted)."""

    name: str
    path: Path
    solution: nbformat.NotebookNode
    parts: list[fmt.Part]
    checks: dict[str, str]
    seed: object
    timeout: int
    hidden_lines: list[str]
    given_names: list[str] = field(default_factory=list)  # what the lint forbids rebinding


def load_exercise(path: Path, timeout: int | None) -> Exercise:
    nb = fmt.read_solution(path)
    names: dict = {}
    with contextlib.suppress(Exception):
        exec(
            compile(fmt.parameters_source(nb), "<parameters>", "exec"), names
        )  # the solution's own
    # probe lines run in the student's kernel: a hook could print them in a later cell. Check and
    # reference lines never enter the sandbox, so they are not scrubbed (that would be an oracle).
    shown = {
        line.strip() for c in nb.cells if fmt.role(c) is None for line in c.source.splitlines()
    }
    hidden = sorted(
        {
            line.strip()
            for cell in nb.cells
            if fmt.role(cell) == fmt.PROBE
            for line in cell.source.splitlines()
            if len(line.strip()) >= 24 and line.strip() not in shown
        }
    )
    return Exercise(
        path.stem,
        path,
        nb,
        fmt.parts_of(nb),
        fmt.grader_cells(nb, fmt.CHECK),
        names.get("SEED"),
        int(timeout or fmt.timeout_of(nb) or fmt.DEFAULT_TIMEOUT),
        hidden,
        sorted(
            defined_names(
                [
                    c.source
                    for c in nb.cells
                    if c.cell_type == "code" and fmt.role(c) is None and not fmt.is_answer(c)
                ]
            )
        ),
    )


@dataclass
class Attempt:
    """One sandboxed run of a job, before judging."""

    job: Job
    result: Result
    assembly: Assembly | None = None
    executed: object = None
    started: float = 0.0
    ended: float = 0.0
    abnormal: str = ""  # why the run was cut short ("" = it ran to the end)
    culprit: bool = False  # killed for its memory or processes


class Grader:
    """Runs jobs (thread pool of sandboxes) and judges them (see the module docstring)."""

    def __init__(
        self,
        exercises,
        work: Path,
        sandbox: Sandbox,
        refs: Path,
        inputs: Path,
        ref_ready,
        *,
        all_cells: bool,
        jobs: int,
        progress,
        logs: Path,
        keep: bool = False,
    ):
        self.exercises = exercises
        self.work = work
        self.sandbox = sandbox
        self.refs = refs
        self.inputs = inputs  # {exercise}/: the hidden inputs its probes read (no labels)
        self.ref_ready = ref_ready  # {exercise: threading.Event}
        self.ref_errors: dict[str, str] = {}
        self.all_cells = all_cells
        self.keep = keep
        self.logs = logs
        self.checks = CheckPool()
        self.jobs = jobs
        self.progress = progress
        self.slots: queue.Queue[int] = queue.Queue()
        for i in range(jobs):
            self.slots.put(i)
        self.env = _sandbox_env()
        import coursekit

        self.readonly = [Path(coursekit.__file__).resolve().parent]
        with contextlib.suppress(ImportError):
            import mlplatform

            self.readonly.append(Path(mlplatform.__file__).resolve().parent)
        from coursekit.java import find_java

        java = find_java()
        self.readonly += [java.home, java.executable.resolve().parents[1]]
        self.sandbox.readonly = [*self.sandbox.readonly, *self.readonly]

    def attempt(self, job: Job) -> Attempt:
        slot = self.slots.get()
        try:
            return self._attempt(job, slot)
        except Exception as exc:  # noqa: BLE001 (a grader bug must not stop the class)
            traceback.print_exc()
            ex = self.exercises[job.exercise]
            detail = first_line(f"{type(exc).__name__}: {exc}", 200)
            return Attempt(
                job,
                zero_result(
                    job.student, job.exercise, ex.parts, f"erro interno do corretor: {detail}"
                ),
            )
        finally:
            self.slots.put(slot)

    def _attempt(self, job: Job, slot: int) -> Attempt:
        ex = self.exercises[job.exercise]
        started = time.monotonic()
        nb, problem = load_submission(job.source)
        if problem:
            return Attempt(job, zero_result(job.student, job.exercise, ex.parts, problem))
        folder = self.work / "sandbox" / job.key
        inside = INSIDE if self.sandbox.enabled else str(folder)
        hidden = self.inputs / job.exercise
        assembly = assemble(
            ex.solution,
            nb,
            probe_root=f"{inside}/out",
            inputs=INPUTS_INSIDE if self.sandbox.enabled else str(hidden),
            all_cells=self.all_cells,
        )
        if _untouched(assembly, ex):  # every answer is the stub and nothing was added: 0, unrun
            reason = "parte {} não respondida (a resposta ainda levanta NotImplementedError)"
            result = Result(
                job.student,
                job.exercise,
                [
                    PartResult(p.name, 0.0, p.points, reason.format(part_letter(p.name)))
                    for p in ex.parts
                ],
                [*assembly.notes, "nenhuma resposta preenchida: o notebook não foi executado"],
            )
            return Attempt(job, result, assembly)
        self.ref_ready[job.exercise].wait()  # the references write the datasets it reads
        remove_tree(folder)
        for sub in ("out", "home", "logs", "work"):
            (folder / sub).mkdir(parents=True)
        nbformat.write(assembly.notebook, folder / "run.ipynb")
        self.sandbox.prepare(folder, slot)
        argv = [
            sys.executable,
            "-m",
            "coursekit.grading.runner",
            f"{inside}/run.ipynb",
            "--executed",
            f"{inside}/executed.ipynb",
            "--status",
            f"{inside}/status.json",
            "--cwd",
            f"{inside}/work",
            "--timeout",
            str(job.timeout),
            "--processes",
            str(self.sandbox.limits.tasks),
            "--file-mb",
            str(self.sandbox.limits.file_mb),
            "--data-mb",
            str(self.sandbox.limits.data_mb),
            "--files",
            str(self.sandbox.limits.files),
        ]
        cmd = self.sandbox.command(folder, argv, slot, inputs=hidden)
        outcome = run(
            cmd,
            env=self.env
            if self.sandbox.enabled
            else _sandbox_env(inside, str(self.sandbox.datasets)),
            timeout=job.timeout + GRACE_SECONDS,
            limits=self.sandbox.limits,
            log=self.logs / f"{job.key}.log",
            folder=folder,
        )
        probes = self.work / "probes" / job.key
        remove_tree(probes)
        refused = _harvest(folder / "out", probes)
        status = _read_untrusted_json(folder / "status.json")
        executed = _read_untrusted_notebook(folder / "executed.ipynb")
        recorded = _read_untrusted_json(folder / "results.json")
        if not self.keep:
            remove_tree(folder)
        if executed is not None and not _same_cells(executed, assembly.notebook):
            executed = None  # rewritten by the kernel: show nothing of it
        stop = runner_reason(status.get("stop", ""))

        abnormal = outcome.killed or stop
        if not status and not outcome.killed:  # the log is the student's output: not quoted here
            abnormal = "o notebook não rodou até o fim (o processo da correção terminou antes)"
        culprit = outcome.cause in ("memory", "processes", "disk")
        result = self.judge(job, ex, probes, assembly, executed, abnormal, refused)
        result.recorded = {k: v for k, v in recorded.items() if isinstance(v, int | float | str)}
        result.seconds = round(time.monotonic() - started, 2)
        return Attempt(
            job, result, assembly, executed, started, time.monotonic(), abnormal, culprit
        )

    def judge(
        self, job, ex: Exercise, probes: Path, assembly, executed, abnormal: str, refused: str
    ) -> Result:
        event = self.ref_ready[job.exercise]
        event.wait()
        if job.exercise in self.ref_errors:
            outcomes = [(False, "erro do corretor: referências indisponíveis")] * len(ex.parts)
        elif refused:
            outcomes = [(False, refused)] * len(ex.parts)
        else:
            outcomes = self.checks.run(
                [
                    (p.name, ex.checks[p.name], str(probes / p.name), str(self.refs / job.exercise))
                    for p in ex.parts
                ],
                ex.seed,
                code=[
                    str(cell.source)
                    for cell, kind in zip(assembly.notebook.cells, assembly.kinds, strict=True)
                    if kind.kind in ("answer", "extra")
                ],
                given=ex.given_names,
            )
        parts = []
        for part, (ok, reason) in zip(ex.parts, outcomes, strict=True):
            if not ok and "não produziu resultado" in reason:
                reason = _why_no_result(assembly, executed, part.name, abnormal) or reason
            parts.append(
                PartResult(
                    part.name,
                    part.points if ok else 0.0,
                    part.points,
                    scrub(reason, ex.hidden_lines),
                )
            )
        notes = list(assembly.notes)
        if abnormal:
            notes.append(scrub(abnormal, ex.hidden_lines))
        if job.note:
            notes.insert(0, job.note)
            for p in parts:
                p.reason = "; ".join(x for x in (job.note, p.reason) if x)
        if not self.sandbox.enabled:
            notes.insert(0, NO_SANDBOX_NOTE)
        return Result(job.student, job.exercise, parts, notes)


#: The only stop reasons the runner writes; anything else in status.json was forged.
_RUNNER_REASONS = re.compile(
    r"^(o tempo limite do notebook \(\d+ s\) acabou (antes desta célula|na célula \d+)"
    r"|o kernel morreu na célula \d+ \(os\._exit, falha ou falta de memória\)"
    r"|o kernel não iniciou: [A-Za-z]+"
    r"|a comunicação com o kernel falhou na célula \d+: [A-Za-z]+"
    r"|tempo limite do notebook \(\d+ s\) esgotado nesta célula)"
)


def runner_reason(text: object) -> str:
    """The runner's stop reason from the untrusted status.json, or "" when it is not one of its own."""
    if not isinstance(text, str):
        return ""
    match = _RUNNER_REASONS.match(text)
    return match.group(0) if match else ""


def _untouched(assembly: Assembly, ex: Exercise) -> bool:
    """True when every answer cell is the student stub and the student added no code cell."""
    if assembly.indices("extra"):
        return False
    sources = {fmt.meta(c).get("grade_id"): c.source for c in ex.solution.cells if fmt.is_answer(c)}
    answers = assembly.indices("answer")
    return bool(answers) and all(
        " ".join(assembly.notebook.cells[i].source.split())
        == " ".join(fmt.stub_answer(sources.get(assembly.kinds[i].grade_id, "")).split())
        for i in answers
    )


def _same_cells(executed, sent) -> bool:
    try:
        return len(executed.cells) == len(sent.cells) and all(
            a.get("source") == b.get("source")
            for a, b in zip(executed.cells, sent.cells, strict=True)
        )
    except Exception:  # noqa: BLE001
        return False


def _errors(cell) -> list[dict]:
    return [
        o
        for o in cell.get("outputs", [])
        if isinstance(o, dict) and o.get("output_type") == "error"
    ]


def _quoted_error(error: dict) -> tuple[str, str]:
    """``(name, message)`` of an error output, as untrusted text (made safe, capped)."""
    return safe_text(error.get("ename", "Erro"), 80), safe_text(error.get("evalue", ""), 200)


_RUNNER_ERRORS = ("NaoExecutada", "KernelMorreu", "TempoEsgotado")


def _explain_error(letter: str, error: dict, where: str) -> str:
    ename, evalue = _quoted_error(error)
    if ename == "NotImplementedError" and not evalue:
        return f"parte {letter} não respondida (a resposta ainda levanta NotImplementedError)"
    if ename in _RUNNER_ERRORS:
        reason = runner_reason(evalue.removeprefix("célula não executada: "))
        if ename == "TempoEsgotado" and not reason:
            reason = "o tempo limite do notebook acabou nesta célula"
        return f"parte {letter}: {reason or 'célula interrompida pelo corretor'}"
    detail = f"{ename}: «{evalue}»" if evalue else ename
    return f"parte {letter}: {where} falhou: {detail}"


def _by_cause(errors: list[dict]) -> list[dict]:
    """The runner's own errors (time limit, dead kernel) first: they say why a cell stopped."""
    return sorted(errors, key=lambda e: e.get("ename") not in _RUNNER_ERRORS)


def _why_no_result(assembly, executed, part: str, abnormal: str) -> str:
    """Explain a part without probe output from the (untrusted) executed notebook.

    The error's name and message are the student's own text: made safe, capped, quoted « ».
    """
    letter = part_letter(part)
    if executed is not None and assembly is not None:
        for index in [*assembly.indices("answer", part), *assembly.indices("extra", part)]:
            for error in _by_cause(_errors(executed.cells[index])):
                return _explain_error(letter, error, "a resposta")
        for index in assembly.indices("test", part):
            for error in _by_cause(_errors(executed.cells[index])):
                text = _explain_error(letter, error, "o teste visível")
                if "teste visível" in text:
                    text += " (e a verificação do corretor não recebeu resultado)"
                return text
    if abnormal:
        return f"a parte {letter} não produziu resultado: {abnormal}"
    return ""


# --- the run ------------------------------------------------------------------------------
def _stop_on_sigterm():
    """SIGTERM kills every sandbox and raises KeyboardInterrupt, so the work folder is removed."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        kill_all()
        raise KeyboardInterrupt(f"sinal {signum}")

    return signal.signal(signal.SIGTERM, handler)


def _check_folders(submissions: Path, grades_dir: Path) -> None:
    sub = submissions.resolve()
    grades = grades_dir.resolve()
    if sub == grades or sub in grades.parents or grades in sub.parents:
        raise ValueError(
            f"a pasta de notas ({grades_dir}) não pode ficar dentro das entregas ({submissions}) "
            "nem contê-las: escolha outra, ex.: GRADES=build/grades"
        )


def grade(
    submissions: str | Path,
    grades_dir: str | Path,
    *,
    solutions_dir: str | Path | Sequence[str | Path],
    timeout: int | None = None,
    jobs: int | None = None,
    exercises: Sequence[str] | None = None,
    all_cells: bool = False,
    sandbox: bool = True,
    limits: Limits | None = None,
    data_dir: str | Path | None = None,
    keep: bool = False,
    progress: Callable[[str], None] = print,
) -> GradingRun:
    """Grade every ``<student>/<exercise>.ipynb`` under ``submissions`` into ``grades_dir``.

    Parameters
    ----------
    submissions : path
        Folder (or .zip) of student folders. Never modified.
    grades_dir : path
        Output folder: ``grades.csv``, ``totals.csv``, ``feedback/``, ``logs/``. Must not overlap
        ``submissions``.
    solutions_dir : path or list of paths
        Where the ``exNN_*.ipynb`` solutions are (several folders are merged).
    timeout : int, optional
        Seconds per notebook; default: the exercise's ``metadata.coursekit.timeout``, then 600.
    jobs : int, optional
        Sandboxes at the same time (default 2).
    exercises : list of str, optional
        Exercises to grade (default: every exercise somebody submitted).
    all_cells : bool, default False
        Also run the given cells after the last test (they score nothing).
    sandbox : bool, default True
        False = ``--no-sandbox``: no isolation (said in the summary and on every feedback page).
    limits : Limits, optional
        Memory, processes, file size of each sandbox.
    data_dir : path, optional
        Course data folder shown read-only inside the sandbox.
    keep : bool, default False
        Keep the work folder (assembled notebooks, probe output, logs) under ``grades_dir/work``.
    progress : callable
        Receives one pt-BR line per event.
    """
    start = time.monotonic()
    submissions = Path(submissions)
    grades_dir = Path(grades_dir)
    _check_folders(submissions, grades_dir)
    grades_dir = grades_dir.resolve()
    feedback_dir = grades_dir / "feedback"
    dirs = [solutions_dir] if isinstance(solutions_dir, str | Path) else list(solutions_dir)
    paths: dict[str, Path] = {}
    for d in dirs:
        paths.update(fmt.discover_solutions(d))
    if not paths:
        raise ValueError(f"nenhuma solução exNN_*.ipynb em {', '.join(map(str, dirs))}")
    known = {name: load_exercise(path, timeout) for name, path in paths.items()}
    jobs = int(jobs or 2)
    if feedback_dir.exists():
        remove_tree(feedback_dir)
    (grades_dir / "logs").mkdir(parents=True, exist_ok=True)
    work = grades_dir / "work" if keep else Path(tempfile.mkdtemp(prefix="coursekit-grading-"))
    if keep and work.exists():
        remove_tree(work)
    (work / "logs").mkdir(parents=True, exist_ok=True)
    limits = limits or Limits()
    if not limits.cpus:  # its share of the machine, at least a core: a CPU hog starves nobody
        limits = dataclasses.replace(limits, cpus=max(1.0, (os.cpu_count() or 2) / jobs))
    box = Sandbox(limits=limits, enabled=sandbox)
    previous = _stop_on_sigterm()
    if data_dir and Path(data_dir).is_dir():
        box.readonly.append(Path(data_dir).resolve())
    results: list[Result] = []
    try:
        with opened(submissions) as root:
            p = plan(
                root,
                {n: e.parts for n, e in known.items()},
                {n: e.timeout for n, e in known.items()},
                exercises,
            )
            for m in p.messages:
                progress(f"aviso: {m}")
            results.extend(p.done)
            for r in p.done:
                write_feedback(
                    feedback_dir / r.student / f"{r.exercise}.html", r, None, sandboxed=sandbox
                )
            if p.jobs:
                if sandbox:
                    check(box, work)  # SandboxUnavailable says how to enable one
                else:
                    progress(f"aviso: {NO_SANDBOX_NOTE}")
                results.extend(
                    _run_jobs(
                        p,
                        known,
                        work,
                        box,
                        all_cells,
                        jobs,
                        feedback_dir,
                        grades_dir,
                        progress,
                        keep,
                    )
                )
    finally:
        kill_all()
        if not keep:
            remove_tree(work)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    grades_csv, totals_csv = write_grades(results, grades_dir)
    seconds = time.monotonic() - start
    progress(f"notas: {grades_csv} ({len(results)} entregas, {seconds:.0f} s)")
    return GradingRun(results, grades_csv, totals_csv, feedback_dir, seconds, p.messages)


def _run_jobs(
    p: Plan, known, work, box, all_cells, jobs, feedback_dir, grades_dir, progress, keep
) -> list[Result]:
    wanted = {e: known[e] for e in p.exercises}
    events = {e: threading.Event() for e in wanted}
    refs = work / "references"
    inputs = work / "inputs"
    box.datasets = work / "datasets"  # written by the references process, read by every sandbox
    box.datasets.mkdir(parents=True, exist_ok=True)
    grader = Grader(
        wanted,
        work,
        box,
        refs,
        inputs,
        events,
        all_cells=all_cells,
        jobs=jobs,
        progress=progress,
        logs=grades_dir / "logs",  # sandbox logs: the instructor reads them, students never do
        keep=keep,
    )

    def compute_references() -> None:
        log = grades_dir / "logs" / "references.log"

        def ready(exercise: str, error: str) -> None:
            if error:
                grader.ref_errors[exercise] = error
                progress(f"ERRO do corretor: {error}")
            events[exercise].set()

        longest = sorted(wanted, key=lambda e: -wanted[e].timeout)
        try:
            references(
                {e: wanted[e].path for e in longest},
                refs,
                inputs=inputs,
                log=log,
                ready=ready,
                datasets=box.datasets,
            )
        except BaseException as exc:  # noqa: BLE001 (the checks must not wait forever)
            for e in wanted:
                if not events[e].is_set():
                    ready(e, f"referências falharam: {exc}")

    ref_thread = threading.Thread(target=compute_references, daemon=True)
    ref_thread.start()
    progress(f"corrigindo {len(p.jobs)} notebook(s) em {jobs} sandbox(es) ao mesmo tempo...")
    total = len(p.jobs)
    attempts: list[Attempt] = []
    done = 0

    def finish(a: Attempt) -> None:
        nonlocal done
        done += 1
        _report(progress, done, total, a.result)

    pool = cf.ThreadPoolExecutor(max_workers=jobs)
    try:
        for a in pool.map(grader.attempt, p.jobs):
            attempts.append(a)
            finish(a)
    except BaseException:
        grader.checks.close()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    # fairness: runs cut short while a neighbour was killed for its memory or processes are redone alone
    culprits = [a for a in attempts if a.culprit]
    again = [
        a
        for a in attempts
        if a.abnormal
        and not a.culprit
        and any(c.started < a.ended and a.started < c.ended for c in culprits)
    ]
    if again:
        progress(
            f"corrigindo de novo, sozinhas, {len(again)} entrega(s) afetadas por outra que foi encerrada"
        )
        total += len(again)
        redo = {id(a): grader.attempt(a.job) for a in again}
        for a in again:
            new = redo[id(a)]
            new.result.notes.append(
                "corrigido de novo, sozinho: outra entrega foi encerrada enquanto este rodava"
            )
            attempts[attempts.index(a)] = new
            finish(new)
    ref_thread.join(timeout=1)
    grader.checks.close()
    write_grades([*p.done, *(a.result for a in attempts)], grades_dir)  # before any feedback page
    for a in attempts:
        ex = known[a.job.exercise]
        try:
            write_feedback(
                feedback_dir / a.job.student / f"{a.job.exercise}.html",
                a.result,
                feedback_notebook(a.assembly, a.executed, ex.hidden_lines),
                sandboxed=box.enabled,
            )
        except Exception as exc:  # noqa: BLE001 (one page must not cost the class its grades)
            traceback.print_exc()
            write_feedback(
                feedback_dir / a.job.student / f"{a.job.exercise}.html",
                a.result,
                None,
                sandboxed=box.enabled,
            )
            a.result.notes.append(
                f"o notebook não pôde ser mostrado no feedback ({type(exc).__name__})"
            )
    return [a.result for a in attempts]


def _report(progress, done: int, total: int, r: Result) -> None:
    score = sum(p.score for p in r.parts)
    maximum = sum(p.max_score for p in r.parts)
    progress(
        f"[{done}/{total}] {r.student} / {r.exercise}: {score:g}/{maximum:g} ({r.seconds:.0f} s)"
    )
