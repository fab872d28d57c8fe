"""Grading self-test: one grader run over a fabricated class, plus the exercise generation.

The class run grades, in ONE call (one Spark Connect server, parallel kernels):

* ``solucao`` - every solution (``solutions/ex*.ipynb`` and the format example
  ``tests/fixtures/grading/ex00_exemplo.ipynb``): full marks. This is where the
  solution notebooks are executed in ``make test`` (once);
* ``vazio`` - every untouched student version: zero, without crashing;
* broken variants of the small example exercise: one part wrong, a hang,
  a kernel crash, a syntax error, a deleted and an edited test cell, huge
  output, a file that is not JSON, a renamed file, an unknown exercise.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from coursekit.grading import notebooks as fmt
from coursekit.grading.exercises import (
    build_course,
    differences,
    generate,
    student_version_problems,
)
from coursekit.grading.grader import GRACE_SECONDS, grade, opened, plan

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
EXAMPLE = "ex00_exemplo"
SOLUTIONS = fmt.discover_solutions(ROOT / "solutions")
ALL_SOLUTIONS = {**fmt.discover_solutions(FIXTURES), **SOLUTIONS}


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _with_cell(nb, grade_id: str, source: str):
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if fmt.meta(c).get("grade_id") == grade_id]
    assert cells, f"{grade_id} not in the example"
    cells[0].source = source
    return nb


def _fabricate_class(folder: Path, student_versions: dict[str, Path]) -> None:
    """Write the class under ``folder`` (``student_versions``: exercise -> untouched version)."""
    example = fmt.read_solution(ALL_SOLUTIONS[EXAMPLE])

    def put(student: str, nb, name: str = f"{EXAMPLE}.ipynb") -> None:
        target = folder / student / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, bytes):
            target.write_bytes(nb)
        else:
            nbformat.write(nb, target)

    for name, path in ALL_SOLUTIONS.items():
        put("solucao", nbformat.read(path, as_version=4), f"{name}.ipynb")
        put("vazio", nbformat.read(student_versions[name], as_version=4), f"{name}.ipynb")
    wrong_b = "from pyspark.sql import functions as F\n\nmedia_valor = float(dados.agg(F.max('valor')).first()[0])"
    put("uma_parte_errada", _with_cell(example, "parte_b_codigo", wrong_b))
    put(
        "travado",
        _with_cell(example, "parte_b_codigo", "import time\n\nwhile True:\n    time.sleep(1)"),
    )
    put("kernel_morto", _with_cell(example, "parte_b_codigo", "import os\n\nos._exit(1)"))
    put("erro_sintaxe", _with_cell(example, "parte_a_codigo", "contagem = = dados"))
    noisy = (
        "for i in range(50_000):\n    print('linha', i)\n"
        + "contagem = dados.groupBy('grupo').count().withColumnRenamed('count', 'n')"
    )
    put("saida_enorme", _with_cell(example, "parte_a_codigo", noisy))
    put("quebrado", b"isto nao e um notebook {")
    deleted = copy.deepcopy(example)
    deleted.cells = [c for c in deleted.cells if fmt.meta(c).get("grade_id") != "parte_a"]
    put("sem_teste", deleted)
    cheat = _with_cell(
        _with_cell(example, "parte_b_codigo", "media_valor = 1.5"), "parte_b", "pass"
    )
    put("editado", cheat)
    put("renomeado", example, f"{EXAMPLE}-Copy1.ipynb")
    put("desconhecido", example, "ex99_inexistente.ipynb")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Grade the fabricated class once; return (run, rows, tmp, hashes before, hashes after, log)."""
    tmp = tmp_path_factory.mktemp("grading")
    versions = build_course(ALL_SOLUTIONS, tmp / "course")
    for name in SOLUTIONS:  # the committed student versions are what students get
        committed = ROOT / "exercises" / f"{name}.ipynb"
        versions[name] = committed if committed.exists() else versions[name]
    subs = tmp / "entregas"
    _fabricate_class(subs, versions)
    before = _hashes(subs)
    saved = os.environ.pop("COURSEKIT_GRADE_TIMEOUT", None)  # use the exercises' own limits
    log: list[str] = []
    try:
        run = grade(
            subs,
            tmp / "notas",
            solutions_dir=[FIXTURES, ROOT / "solutions"],
            jobs=3,
            all_cells=True,  # the solutions also run their figures and truth checks here
            progress=log.append,
        )
    finally:
        if saved is not None:
            os.environ["COURSEKIT_GRADE_TIMEOUT"] = saved
    with open(run.grades_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    keep = ROOT / "build" / "grading-selftest"  # for a look after the run
    keep.mkdir(parents=True, exist_ok=True)
    for produced in (run.grades_csv, run.totals_csv):
        (keep / produced.name).write_bytes(produced.read_bytes())
    (keep / "progress.log").write_text("\n".join(log) + "\n", encoding="utf-8")
    return run, rows, tmp, before, _hashes(subs), log


def _rows(rows, student, exercise=EXAMPLE):
    return {r["part"]: r for r in rows if r["student"] == student and r["exercise"] == exercise}


def test_grades_csv_has_the_contract_columns(graded_class):
    run, *_ = graded_class
    header = run.grades_csv.read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",")[:5] == ["student", "exercise", "part", "score", "max_score"]


def test_solutions_score_full_marks(graded_class):
    _, rows, *_ = graded_class
    for name in ALL_SOLUTIONS:
        parts = _rows(rows, "solucao", name)
        expected = {p.name for p in fmt.parts_of(nbformat.read(ALL_SOLUTIONS[name], as_version=4))}
        assert set(parts) == expected, f"{name}: parts graded {sorted(parts)} != {sorted(expected)}"
        lost = {
            k: r["reason"] for k, r in parts.items() if float(r["score"]) != float(r["max_score"])
        }
        assert not lost, f"the solution of {name} lost points: {lost}"


def test_solutions_pass_their_own_checks(graded_class):
    """No error in the cells that score nothing: the truth checks after the last test."""
    run, *_ = graded_class
    for r in run.results:
        if r.student == "solucao":
            errors = [n for n in r.notes if n.startswith("erro na célula")]
            assert not errors, f"the solution of {r.exercise}: {errors}"


def test_solutions_record_their_figures(graded_class):
    """The solutions run here, not in the notebook runner: keep their figures where it keeps them."""
    import json

    run, *_ = graded_class
    results_dir = ROOT / "build" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    for r in run.results:
        if r.student == "solucao" and r.exercise in SOLUTIONS:
            assert r.recorded, f"the solution of {r.exercise} recorded nothing with record()"
            (results_dir / f"{r.exercise}.json").write_text(
                json.dumps(r.recorded, indent=2, sort_keys=True)
            )
    example = next(r for r in run.results if r.student == "solucao" and r.exercise == EXAMPLE)
    assert example.recorded == {"ex00_media_valor": pytest.approx(50.0, abs=0.5)}


def test_untouched_exercises_score_zero(graded_class):
    _, rows, *_ = graded_class
    for name in ALL_SOLUTIONS:
        parts = _rows(rows, "vazio", name)
        assert parts, f"{name}: no rows for the untouched version"
        scored = {k: r["score"] for k, r in parts.items() if float(r["score"]) != 0}
        assert not scored, (
            f"the untouched {name} scored points (its tests must fail without an answer): {scored}"
        )
        assert all(r["reason"] for r in parts.values())


def test_one_wrong_part_loses_exactly_its_points(graded_class):
    _, rows, *_ = graded_class
    parts = _rows(rows, "uma_parte_errada")
    assert float(parts["parte_a"]["score"]) == float(parts["parte_a"]["max_score"]) == 2
    assert float(parts["parte_b"]["score"]) == 0 and float(parts["parte_b"]["max_score"]) == 3
    assert "media_valor não confere" in parts["parte_b"]["reason"]


def test_hanging_submission_is_stopped_by_the_timeout(graded_class):
    run, rows, *_ = graded_class
    parts = _rows(rows, "travado")
    assert float(parts["parte_a"]["score"]) == 2, "the part before the hang keeps its points"
    assert float(parts["parte_b"]["score"]) == 0
    assert "tempo limite" in parts["parte_b"]["reason"]
    limit = fmt.timeout_of(nbformat.read(ALL_SOLUTIONS[EXAMPLE], as_version=4))
    seconds = next(r.seconds for r in run.results if r.student == "travado")
    assert seconds < limit + GRACE_SECONDS


@pytest.mark.parametrize(
    ("student", "part", "score", "reason"),
    [
        ("quebrado", "parte_a", 0, "JSON inválido"),
        ("sem_teste", "parte_a", 0, "foi apagada"),
        ("sem_teste", "parte_b", 3, ""),
        ("kernel_morto", "parte_a", 2, ""),
        ("kernel_morto", "parte_b", 0, "kernel morreu"),
        ("erro_sintaxe", "parte_a", 0, "SyntaxError"),
        ("erro_sintaxe", "parte_b", 3, ""),
        ("editado", "parte_b", 0, "foi editada"),
        ("saida_enorme", "parte_a", 2, ""),
        ("renomeado", "parte_b", 3, "aceito como ex00_exemplo.ipynb"),
        ("desconhecido", "parte_a", 0, "entrega ausente"),
        ("desconhecido", "", 0, "exercício desconhecido 'ex99_inexistente.ipynb'"),
    ],
)
def test_broken_submissions_get_a_score_and_a_reason(graded_class, student, part, score, reason):
    _, rows, *_ = graded_class
    exercise = "ex99_inexistente" if part == "" else EXAMPLE
    row = _rows(rows, student, exercise)[part]
    assert float(row["score"]) == score, row
    assert reason in row["reason"], row


def test_grader_never_modifies_submissions(graded_class):
    _, _, _, before, after, _ = graded_class
    assert before and before == after


def test_feedback_pages_hide_hidden_tests(graded_class):
    run, rows, *_ = graded_class
    hidden = ["BEGIN HIDDEN", "verdade = sum"]
    for path in SOLUTIONS.values():  # a distinctive hidden line of each real exercise
        for cell in nbformat.read(path, as_version=4).cells:
            block = re.search(r"BEGIN HIDDEN TESTS\n(.*?)\n", cell.source)
            if fmt.is_test(cell) and block and len(block.group(1).strip()) > 15:
                hidden.append(block.group(1).strip())
    pairs = {(r["student"], r["exercise"]) for r in rows}
    for student, exercise in pairs:
        page = run.feedback_dir / student / f"{exercise}.html"
        assert page.exists(), page
        text = page.read_text(encoding="utf-8")
        leaks = [h for h in hidden if h in text or h.replace('"', "&quot;") in text]
        assert not leaks, f"{page} shows hidden tests: {leaks}"


def test_student_versions_are_up_to_date_and_leak_nothing():
    problems = generate(ROOT / "solutions", ROOT / "exercises", check=True)
    assert not problems, "\n".join(problems)
    for path in sorted((ROOT / "exercises").glob("ex*.ipynb")):
        leaks = student_version_problems(nbformat.read(path, as_version=4))
        assert not leaks, f"{path.name}: {leaks}"


def test_generated_example_has_stubs_and_no_hidden_tests(tmp_path):
    released = build_course({EXAMPLE: ALL_SOLUTIONS[EXAMPLE]}, tmp_path)[EXAMPLE]
    nb = nbformat.read(released, as_version=4)
    assert not student_version_problems(nb)
    answers = [c.source for c in nb.cells if fmt.is_answer(c)]
    assert answers and all("raise NotImplementedError()" in a for a in answers)
    assert "verdade" not in "".join(c.source for c in nb.cells)
    edited = copy.deepcopy(nb)
    edited.cells[1].source += "\nX = 1"
    assert differences(nb, edited) == ["célula 1: source difere"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda nb: nb.cells.pop(1), "tag 'parameters'"),
        (lambda nb: nb.cells.pop(), "spark.stop()"),
        (lambda nb: fmt.meta(nb.cells[6]).update(points=0), "points deve ser > 0"),
        (lambda nb: fmt.meta(nb.cells[6]).update(grade_id="a"), "parte_a, parte_b"),
        (lambda nb: fmt.meta(nb.cells[9]).update(grade_id="parte_a"), "repetido"),
        (lambda nb: nb.cells[5].metadata.pop("nbgrader"), "não é célula de resposta"),
    ],
)
def test_format_errors_name_the_cell_and_the_fix(change, message):
    nb = nbformat.read(ALL_SOLUTIONS[EXAMPLE], as_version=4)
    assert fmt.validate_solution(nb, EXAMPLE) == []
    change(nb)
    problems = fmt.validate_solution(nb, EXAMPLE)
    assert any(message in p for p in problems), problems


def test_zip_with_a_wrapping_folder_is_planned_like_a_folder(tmp_path):
    archive = tmp_path / "turma.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(ALL_SOLUTIONS[EXAMPLE], f"turma/ana/{EXAMPLE}.ipynb")
        zf.writestr("turma/bruno/ex00.ipynb", "{}")
        zf.writestr("turma/bruno/notas.txt", "ignorado")
        zf.writestr("__MACOSX/turma/ana/._x.ipynb", "lixo")
        zf.writestr("../fora.ipynb", "{}")
    parts = {EXAMPLE: fmt.parts_of(nbformat.read(ALL_SOLUTIONS[EXAMPLE], as_version=4))}
    with opened(archive) as root:
        p = plan(root, {EXAMPLE: ALL_SOLUTIONS[EXAMPLE]}, parts, {EXAMPLE: 60}, tmp_path / "fb")
    assert sorted((j.student, j.exercise) for j in p.jobs) == [("ana", EXAMPLE), ("bruno", EXAMPLE)]
    assert "aceito como" in next(j.note for j in p.jobs if j.student == "bruno")


def test_unknown_exercise_option_gives_a_clear_message(tmp_path):
    (tmp_path / "ana").mkdir()
    nbformat.write(
        nbformat.read(ALL_SOLUTIONS[EXAMPLE], as_version=4), tmp_path / "ana" / f"{EXAMPLE}.ipynb"
    )
    cmd = [
        sys.executable,
        "-m",
        "coursekit.grading",
        str(tmp_path / "ana"),
        "--solutions",
        str(FIXTURES),
    ]
    cmd += ["--grades", str(tmp_path / "notas")]
    out = subprocess.run(
        [*cmd, "--exercises", "ex77_nada"], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 2
    assert "ex77_nada" in out.stderr and EXAMPLE in out.stderr


def test_sigterm_stops_the_server_workers_and_kernels(tmp_path):
    import signal
    import time

    import psutil

    example = fmt.read_solution(ALL_SOLUTIONS[EXAMPLE])
    hang = _with_cell(example, "parte_a_codigo", "import time\n\nwhile True:\n    time.sleep(1)")
    (tmp_path / "subs" / "travado").mkdir(parents=True)
    nbformat.write(hang, tmp_path / "subs" / "travado" / f"{EXAMPLE}.ipynb")
    cmd = [
        sys.executable,
        "-m",
        "coursekit.grading",
        str(tmp_path / "subs"),
        "--solutions",
        str(FIXTURES),
    ]
    cmd += ["--grades", str(tmp_path / "notas"), "--jobs", "1"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        for line in proc.stdout:  # wait until the notebook runs
            if "corrigindo" in line:
                break
        deadline = time.monotonic() + 120
        children: list[psutil.Process] = []
        while time.monotonic() < deadline:  # the kernel, the worker and the server are up
            children = psutil.Process(proc.pid).children(recursive=True)
            if any("ipykernel" in " ".join(c.cmdline()) for c in children if c.is_running()):
                break
            time.sleep(1)
        assert any("SparkConnectServer" in " ".join(c.cmdline()) for c in children)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(2)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [" ".join(c.cmdline())[:120] for c in alive]


def test_cells_after_the_last_test_are_skipped_by_default(tmp_path):
    """Default grading stops after the last test cell: the rest scores nothing and costs time."""
    from nbformat.v4 import new_code_cell, new_notebook

    from coursekit.grading.execute import SKIPPED_NOTE, GradingExecute

    graded = {"grade": True, "grade_id": "parte_a", "points": 1, "solution": False}
    nb = new_notebook(
        cells=[
            new_code_cell("x = 1"),
            new_code_cell("assert x == 1", metadata={"nbgrader": graded}),
            new_code_cell("open('rodou.txt', 'w').write('sim')"),
            new_code_cell("y = 2"),
        ]
    )
    resources = {"metadata": {"path": str(tmp_path)}}
    run = GradingExecute(kernel_name="python3", notebook_timeout=60, skip_after_last_test=True)
    out, _ = run.preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
    assert not (tmp_path / "rodou.txt").exists(), "a cell after the last test ran"
    assert [c.source for c in out.cells] == [c.source for c in nb.cells], "cells were replaced"
    assert out.cells[1].outputs == [], "the test cell must still run (and pass)"
    assert [o.get("text") for c in out.cells[2:] for o in c.outputs] == [SKIPPED_NOTE] * 2
    full = GradingExecute(kernel_name="python3", notebook_timeout=60)
    full.preprocess(copy.deepcopy(nb), copy.deepcopy(resources))
    assert (tmp_path / "rodou.txt").read_text() == "sim", "all_cells must run every cell"


def test_make_grade_requires_submissions():
    out = subprocess.run(
        ["make", "-s", "grade", "SUBMISSIONS="], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode != 0
    assert "SUBMISSIONS" in out.stdout + out.stderr
