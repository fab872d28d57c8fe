"""Grade a class: intake, one sandbox per submission, the judge, grades and feedback.

Layout graded (a folder, or a ``.zip`` of it, possibly wrapped in one more folder)::

    <submissions>/<student_id>/<exercise>.ipynb     e.g. maria/ex01_deteccao_anomalias.ipynb

A file named ``exNN...ipynb`` that is not an exact exercise name is accepted as exercise
``exNN_*`` with a note; other names are reported as unknown. Every exercise submitted by anyone
is graded for everyone (missing = 0 with a reason), unless ``exercises=`` picks them.

For each submission: the grader assembles the notebook to run (:mod:`.assemble`), runs it in a
sandbox (:mod:`.sandbox`, :mod:`.runner`), copies the probes' output out of the sandbox's folder
(regular files only) and scores each part with its check (:mod:`.judge`) against references
computed once for the run. Submissions are only read. A submission whose run was cut short while
another one was killed for its memory or processes is graded again, alone.

Examples
--------
>>> from coursekit.grading.grader import match_exercise, student_name
>>> names = ["ex01_deteccao_anomalias", "ex02_classificacao_sentimentos"]
>>> match_exercise("ex02_classificacao_sentimentos-Copy1", names)[0]
'ex02_classificacao_sentimentos'
>>> match_exercise("trabalho_final", names)
(None, '')
>>> student_name(b"jos\\xe9".decode("utf-8", "surrogateescape"))
'jos_e9-858ec0'
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
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from coursekit.grading import notebooks as fmt
from coursekit.grading.assemble import Assembly, assemble
from coursekit.grading.judge import CheckPool, part_letter, references
from coursekit.grading.lint import defined_names
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
MAX_ZIP_BYTES = 2_000_000_000
MAX_ZIP_ENTRIES = 20_000
MAX_SUBMISSION_BYTES = 50_000_000
MAX_EXECUTED_BYTES = 20_000_000
MAX_PROBE_BYTES = 300_000_000
GRADING_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss16m"
NO_SANDBOX_NOTE = "corrigido SEM sandbox (--no-sandbox): o código do aluno rodou sem isolamento"
_NUMBER = re.compile(r"^(ex\d{2})")


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
    #: figures the notebook recorded with coursekit.results.record (untrusted: for the self-test)
    recorded: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def zero_result(student, exercise, parts, reason: str, seconds: float = 0.0) -> Result:
    """Every part scored 0 with the same reason."""
    return Result(
        student,
        exercise,
        [PartResult(p.name, 0.0, p.points, reason) for p in parts],
        [reason],
        seconds,
    )


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


# --- intake -------------------------------------------------------------------------------
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


def student_name(dirname: str) -> str:
    """A printable student id for a folder name.

    A name that is not plain (bytes that are not UTF-8 become ``_xx``, control characters and
    slashes ``_``, a leading ``=+-@`` that a spreadsheet would run gets ``_``) also gets a short
    hash of the original bytes, so it can never take the id of another folder.
    """
    raw = os.fsencode(dirname)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "".join(chr(b) if b < 0x80 else f"_{b:02x}" for b in raw)
    clean = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in text) or "_"
    if clean[0] in "=+-@":
        clean = "_" + clean
    if clean == dirname:
        return clean
    import hashlib

    return f"{clean[:80]}-{hashlib.sha256(raw).hexdigest()[:6]}"


def safe_text(text: object, limit: int = 300) -> str:
    """Untrusted text made printable and UTF-8-safe (lone surrogates and controls replaced)."""
    text = str(text).encode("utf-8", "replace").decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else " " for c in text)
    return _first_line(text, limit)


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
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise ValueError(f"{path}: {len(infos)} arquivos no zip (limite {MAX_ZIP_ENTRIES})")
            total = sum(i.file_size for i in infos)
            if total > MAX_ZIP_BYTES:
                raise ValueError(
                    f"{path}: zip grande demais ({total // 1_000_000} MB descompactado)"
                )
            for info in infos:
                parts = Path(info.filename).parts
                is_link = stat.S_ISLNK(info.external_attr >> 16)
                if info.filename.startswith("/") or ".." in parts or "__MACOSX" in parts or is_link:
                    continue
                zf.extract(info, tmp)
        yield _student_root(Path(tmp))


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if not p.is_symlink() and p.is_dir() and not p.name.startswith((".", "__"))
    )


def _student_root(folder: Path) -> Path:
    """Descend through single wrapping folders until student folders hold notebooks."""
    while True:
        dirs = _visible_dirs(folder)
        if len(dirs) != 1 or any(dirs[0].glob("*.ipynb")):
            return folder
        folder = dirs[0]


def _notebooks_of(student_dir: Path) -> tuple[list[Path], list[str]]:
    """Regular ``.ipynb`` files under ``student_dir`` (symlinks are listed apart, never followed)."""
    found, links = [], []
    for dirpath, dirnames, filenames in walk(student_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(filenames):
            if not name.endswith(".ipynb") or name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.is_symlink() or not stat.S_ISREG(path.lstat().st_mode):
                links.append(name)
            else:
                found.append(path)
    return found, links


@dataclass
class Job:
    """One student x exercise to grade."""

    student: str
    exercise: str
    source: Path
    key: str
    timeout: int
    note: str = ""


@dataclass
class Plan:
    jobs: list[Job]
    done: list[Result]
    messages: list[str]
    exercises: list[str]


def plan(
    root: Path, parts: dict[str, list[fmt.Part]], timeouts: dict[str, int], exercises=None
) -> Plan:
    """Decide what to grade: the jobs, and the results known without running anything."""
    names = list(parts)
    messages, done, found = [], [], {}
    loose = sorted(student_name(p.name) for p in root.glob("*.ipynb"))
    if loose:
        messages.append(
            f"arquivos fora de uma pasta de aluno (ignorados): {', '.join(loose)}; "
            "o formato é <entregas>/<aluno>/<exercicio>.ipynb"
        )
    links = sorted(student_name(p.name) for p in root.iterdir() if p.is_symlink())
    if links:
        messages.append(f"links simbólicos ignorados (não são seguidos): {', '.join(links)}")
    students: dict[str, Path] = {}
    folders = _visible_dirs(root)  # plain names first: a renamed folder never takes their id
    for folder in sorted(folders, key=lambda f: student_name(f.name) != f.name):
        sid = student_name(folder.name)
        while sid in students:
            sid += "_"
        if sid != folder.name:
            messages.append(f"pasta de aluno com nome fora do padrão corrigida como '{sid}'")
        students[sid] = folder
    students = dict(sorted(students.items()))
    for student, folder in students.items():
        notebooks, symlinked = _notebooks_of(folder)
        for name in symlinked:
            messages.append(f"{student}: '{student_name(name)}' é um link simbólico; ignorado")
        for nb_path in notebooks:
            stem = student_name(nb_path.stem)
            name, note = match_exercise(stem, names)
            if name is None:
                reason = f"exercício desconhecido '{stem}.ipynb'; renomeie para um de: {', '.join(names)}"
                messages.append(f"{student}: {reason}")
                done.append(Result(student, stem, [PartResult("", 0.0, 0.0, reason)], [reason]))
                continue
            key = (student, name)
            if key in found and (found[key][1] == "" or note):
                messages.append(
                    f"{student}: mais de um arquivo para {name}; usado {found[key][0].name}"
                )
                continue
            found[key] = (nb_path, note)
    wanted = list(exercises) if exercises else sorted({ex for _, ex in found})
    unknown = [e for e in wanted if e not in parts]
    if unknown:
        raise ValueError(
            f"exercício(s) sem solução: {', '.join(unknown)}; disponíveis: {', '.join(names) or '(nenhum)'}"
        )
    jobs = []
    for i, student in enumerate(students):
        for exercise in wanted:
            if (student, exercise) not in found:
                reason = f"entrega ausente: não há {exercise}.ipynb na pasta do aluno"
                done.append(zero_result(student, exercise, parts[exercise], reason))
                continue
            path, note = found[(student, exercise)]
            jobs.append(
                Job(student, exercise, path, f"s{i:04d}-{exercise}", timeouts[exercise], note)
            )
    jobs.sort(key=lambda j: (-j.timeout, j.exercise, j.student))  # longest first
    return Plan(jobs, done, messages, wanted)


def load_submission(path: Path):
    """Read a submitted notebook; return ``(notebook, None)`` or ``(None, pt-BR reason)``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, f"não foi possível ler o arquivo: {exc}"
    if size > MAX_SUBMISSION_BYTES:
        return (
            None,
            f"arquivo grande demais ({size // 1_000_000} MB; limite {MAX_SUBMISSION_BYTES // 1_000_000} MB)",
        )
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return (
            None,
            f"o arquivo não é um notebook: JSON inválido ({_first_line(exc, 120)}); nada foi executado",
        )
    if not isinstance(data, dict) or ("cells" not in data and "worksheets" not in data):
        return (
            None,
            "o arquivo é JSON mas não é um notebook Jupyter (faltam as células); nada foi executado",
        )
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        cells = [c for c in nb.cells if isinstance(c, dict)]
        for cell in cells:
            cell.setdefault("metadata", {})
            cell.setdefault("source", "")
            if not isinstance(cell.source, str):
                cell.source = "".join(map(str, cell.source))
        nb.cells = cells
    except Exception as exc:  # noqa: BLE001 (nbformat raises many kinds)
        return (
            None,
            f"notebook ilegível ({type(exc).__name__}: {_first_line(exc, 120)}); nada foi executado",
        )
    return nb, None


def _first_line(text, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
            detail = _first_line(f"{type(exc).__name__}: {exc}", 200)
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
                    _scrub(reason, ex.hidden_lines),
                )
            )
        notes = list(assembly.notes)
        if abnormal:
            notes.append(_scrub(abnormal, ex.hidden_lines))
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


def _scrub(text: str, hidden: list[str]) -> str:
    """Remove any line of the grader's hidden cells that student-controlled text may carry."""
    for line in hidden:
        if line in text:
            text = text.replace(line, "[…]")
    return text


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
    from coursekit.grading.report import write_feedback, write_grades

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
    from coursekit.grading.report import write_feedback, write_grades

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
                _feedback_notebook(a, ex),
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


def _feedback_notebook(a: Attempt, ex: Exercise):
    """The notebook the student sees: the cells as run, outputs of their own cells and the visible tests."""
    if a.assembly is None:
        return None
    nb = nbformat.v4.new_notebook()
    for index, (cell, kind) in enumerate(
        zip(a.assembly.notebook.cells, a.assembly.kinds, strict=True)
    ):
        if kind.kind == "probe":
            continue
        copy = nbformat.from_dict(dict(cell))
        if len(copy.source) > 20_000:
            copy.source = copy.source[:20_000] + "\n# [... célula truncada no feedback ...]"
        if cell.cell_type == "code":
            copy.outputs = []
            if a.executed is not None:
                copy.outputs = _clean_outputs(
                    a.executed.cells[index].get("outputs", []), ex.hidden_lines
                )
        nb.cells.append(copy)
    return nb


def _clean_outputs(outputs, hidden) -> list:
    out = []
    for o in outputs:
        if not isinstance(o, dict):
            continue
        kind = o.get("output_type")
        if kind == "stream":
            out.append(
                nbformat.v4.new_output(
                    "stream", name="stdout", text=_scrub(str(o.get("text", ""))[:20_000], hidden)
                )
            )
        elif kind == "error":
            text = _scrub(f"{o.get('ename', 'Erro')}: {o.get('evalue', '')}"[:2_000], hidden)
            out.append(nbformat.v4.new_output("error", ename="Erro", evalue=text, traceback=[text]))
        elif kind in ("execute_result", "display_data"):
            data = o.get("data", {}) if isinstance(o.get("data"), dict) else {}
            keep = {}
            if isinstance(data.get("image/png"), str) and len(data["image/png"]) < 2_000_000:
                keep["image/png"] = data["image/png"]
            if "text/plain" in data:
                keep["text/plain"] = _scrub(str(data["text/plain"])[:20_000], hidden)
            if keep:
                out.append(nbformat.v4.new_output("display_data", data=keep))
    return out


def _report(progress, done: int, total: int, r: Result) -> None:
    score = sum(p.score for p in r.parts)
    maximum = sum(p.max_score for p in r.parts)
    progress(
        f"[{done}/{total}] {r.student} / {r.exercise}: {score:g}/{maximum:g} ({r.seconds:.0f} s)"
    )
