"""Intake: which submissions to grade, read without ever following a link or trusting a name.

Layout graded (a folder, or a ``.zip`` of it, possibly wrapped in one more folder)::

    <submissions>/<student_id>/<exercise>.ipynb     e.g. maria/ex01_deteccao_anomalias.ipynb

A file named ``exNN...ipynb`` that is not an exact exercise name is accepted as exercise
``exNN_*`` with a note; other names are reported as unknown. Every exercise submitted by anyone
is graded for everyone (missing = 0 with a reason), unless ``exercises=`` picks them. What can be
decided without running anything (unknown names, missing or unreadable files) becomes a
:class:`Result` here; the rest becomes a :class:`Job` for :mod:`.grader`.

Examples
--------
>>> from coursekit.grading.intake import match_exercise, student_name
>>> names = ["ex01_deteccao_anomalias", "ex02_classificacao_sentimentos"]
>>> match_exercise("ex02_classificacao_sentimentos-Copy1", names)[0]
'ex02_classificacao_sentimentos'
>>> match_exercise("trabalho_final", names)
(None, '')
>>> student_name(b"jos\\xe9".decode("utf-8", "surrogateescape"))
'jos_e9-858ec0'
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from coursekit.grading import notebooks as fmt
from coursekit.grading.sandbox import walk

MAX_ZIP_BYTES = 2_000_000_000
MAX_ZIP_ENTRIES = 20_000
MAX_SUBMISSION_BYTES = 50_000_000

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
    return first_line(text, limit)


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
            f"o arquivo não é um notebook: JSON inválido ({first_line(exc, 120)}); nada foi executado",
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
            f"notebook ilegível ({type(exc).__name__}: {first_line(exc, 120)}); nada foi executado",
        )
    return nb, None


def first_line(text, limit: int = 240) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
