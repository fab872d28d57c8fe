"""Grading self-test: one grader run over a class of honest and hostile students.

The class run grades, in ONE call (sandboxes in parallel, references computed once):

* ``solucao`` - every solution (``solutions/ex*.ipynb`` and the format example
  ``tests/fixtures/grading/ex00_exemplo.ipynb``): full marks. This is where the solution
  notebooks are executed in ``make test`` (once);
* ``vazio`` - every untouched student version: zero, without crashing;
* broken variants of the small example (one part wrong, a hang, a kernel crash, a syntax error,
  a deleted and an edited test cell, huge output, a file that is not JSON, a renamed file, an
  unknown exercise);
* attackers of the example, each trying one way to win points it did not earn or to hurt
  somebody else (see ``ATTACKS``): each must get 0 on every part it did not solve, move nobody
  else's score and leave no process behind; no feedback page may show a hidden line.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import os
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
from coursekit.grading.grader import GRACE_SECONDS, grade
from coursekit.grading.intake import opened, plan

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "grading"
EXAMPLE = "ex00_exemplo"
SOLUTIONS = fmt.discover_solutions(ROOT / "solutions")
ALL_SOLUTIONS = {**fmt.discover_solutions(FIXTURES), **SOLUTIONS}
#: The newest exercises (issue 18), graded here also with one part blanked: part A, whose
#: functions the closing "Juntando tudo" calls first, so the run also skips the work after the
#: last test (in ex06, the search and the threshold: 57 s of its 104 s at ci). The self-test
#: (coursekit.grading.selftest) blanks every part of every exercise in turn.
BLANKED = {"ex06_tuning_fraude": "parte_a", "ex07_performance": "parte_a"}
TOKEN = "ck-attack-7f3a"  # in the command line of every process an attacker leaves behind


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _with_cell(nb, grade_id: str, source: str):
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if fmt.meta(c).get("grade_id") == grade_id]
    assert cells, f"{grade_id} not in the example"
    cells[0].source = source
    return nb


def _attacks(subs: Path, grades: Path) -> dict[str, tuple[str, dict[str, float]]]:
    """``{student: (code put before the stub of answer A, expected scores)}``: ex00, stubs elsewhere."""
    zero = {"parte_a": 0.0, "parte_b": 0.0, "parte_c": 0.0}
    solution_paths = [ROOT / "solutions", FIXTURES / f"{EXAMPLE}.ipynb"]
    read_solution = f"""
import json, pathlib, coursekit
places = [pathlib.Path(coursekit.__file__).parents[1] / "tests/fixtures/grading/{EXAMPLE}.ipynb",
          *[pathlib.Path(p) for p in {[str(p) for p in solution_paths]!r}]]
for place in places:
    try:
        nb = json.loads(place.read_text())
    except OSError:
        continue
    for cell in nb["cells"]:
        if "BEGIN SOLUTION" in "".join(cell["source"]):
            exec("".join(cell["source"]))
"""
    return {
        "transformador": (
            'get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])',
            zero,
        ),
        "gancho": (
            'get_ipython().events.register("pre_run_cell", lambda info: print(info.raw_cell))',
            zero,
        ),
        "builtins": (
            "import builtins\n"
            "builtins.abs = lambda x: 0\nbuiltins.all = lambda x: True\nbuiltins.any = lambda x: True\n"
            "builtins.isinstance = lambda *a: True\nbuiltins.sorted = lambda x, **k: ['grupo', 'n']",
            zero,
        ),
        "monkeypatch": (
            "import numpy as np, pandas as pd, sklearn.metrics as m, json\n"
            "from pyspark.ml.evaluation import BinaryClassificationEvaluator as B\n"
            "np.isclose = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
            "m.roc_auc_score = lambda *a, **k: 1.0\nB.evaluate = lambda self, df, params=None: 1.0\n"
            "pd.DataFrame.to_parquet = lambda self, *a, **k: None\n"
            "json.dumps = lambda *a, **k: '{\"media_valor\": 50.0}'",
            zero,
        ),
        "le_solucao": (read_solution, zero),
        "le_colega": (
            "import json\n"
            f"nb = json.loads(open({str(subs / 'solucao' / (EXAMPLE + '.ipynb'))!r}).read())\n"
            "for cell in nb['cells']:\n"
            "    if 'BEGIN SOLUTION' in ''.join(cell['source']):\n"
            "        exec(''.join(cell['source']))",
            zero,
        ),
        "processo_solto": (
            "import subprocess, sys, os\n"
            "target = os.path.join(os.path.dirname(os.environ.get('COURSEKIT_LOG_DIR', '/x')), 'grades.csv')\n"
            f'code = \'import time, sys; time.sleep(25); open(sys.argv[1], "w").write("hacked"); open(sys.argv[2], "w").write("hacked")\'\n'
            f"for path in [target, {str(grades / 'grades.csv')!r}]:\n"
            f"    subprocess.Popen([sys.executable, '-c', code, path, {str(grades / 'totals.csv')!r}, '{TOKEN}'],\n"
            "                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
            zero,
        ),
        "assassino": (
            "import os, signal, psutil\n"
            "for p in psutil.process_iter():\n"
            "    if p.pid != os.getpid() and p.pid != 1:\n"
            "        try:\n"
            "            p.kill()\n"
            "        except Exception:\n"
            "            pass",
            zero,
        ),
        "fork_bomb": ("import os\nwhile True:\n    os.fork()", zero),
        "memoria": ("blocos = []\nwhile True:\n    blocos.append(b'x' * 2**27)", zero),
        "erro_enorme": ("raise ValueError('x' * 200_000_000)", zero),
        "udf_le_arquivos": (
            "from pyspark.sql import functions as F\n"
            f"paths = {[str(p) for p in [FIXTURES / (EXAMPLE + '.ipynb'), subs / 'solucao' / (EXAMPLE + '.ipynb')]]!r}\n"
            "def grab(_):\n"
            "    out = []\n"
            "    for p in paths:\n"
            "        try:\n"
            "            out.append(open(p).read()[:50])\n"
            "        except OSError as exc:\n"
            "            out.append(type(exc).__name__)\n"
            "    return '|'.join(out)\n"
            "leitura = spark.range(1).select(F.udf(grab)('id').alias('x')).first()[0]\n"
            "if 'FileNotFoundError' not in leitura and 'PermissionError' not in leitura:\n"
            "    contagem = dados.groupBy('grupo').count().withColumnRenamed('count', 'n')\n"
            "    media_valor = float(dados.agg(F.avg('valor')).first()[0])",
            zero,
        ),
        "saida_forjada": (
            "import json, os, pathlib\n"
            "for part in ('parte_a', 'parte_b'):\n"
            "    out = pathlib.Path('/grading/out') / part\n"
            "    out.mkdir(parents=True, exist_ok=True)\n"
            "    (out / 'passou.json').write_text(json.dumps({'ok': True, 'score': 100}))\n"
            "os.symlink('/etc/passwd', '/grading/out/parte_b/media.json')\n"
            "os.mkfifo('/grading/out/parte_a/contagem.parquet')",
            zero,
        ),
    }


def _fabricate_class(folder: Path, grades: Path, student_versions: dict[str, Path]) -> dict:
    """Write the class under ``folder``; return ``{student: expected ex00 scores}`` of the attackers."""
    example = fmt.read_solution(ALL_SOLUTIONS[EXAMPLE])
    stub = nbformat.read(student_versions[EXAMPLE], as_version=4)

    def put(student, nb, name: str = f"{EXAMPLE}.ipynb") -> None:
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
    for name, part in BLANKED.items():  # the newest exercises: one part blanked loses only it
        if name in ALL_SOLUTIONS:
            blanked = fmt.blank_part(fmt.read_solution(ALL_SOLUTIONS[name]), part)
            put("uma_parte_errada", blanked, f"{name}.ipynb")
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
    expected = {}
    for student, (code, scores) in _attacks(folder, grades).items():
        nb = copy.deepcopy(stub)
        answer = next(c for c in nb.cells if fmt.meta(c).get("grade_id") == "parte_a_codigo")
        answer.source = code + "\n\n" + answer.source
        put(student, nb)
        expected[student] = scores
    # given-cell metadata removed: the edited copies define fake data and a fake answer
    naked = copy.deepcopy(stub)
    for cell in naked.cells:
        gid = fmt.meta(cell).get("grade_id", "")
        if cell.cell_type == "code" and not fmt.is_answer(cell):
            cell.metadata.pop("nbgrader", None)
            if gid == "preparacao":
                cell.source += (
                    "\nN = 1\ndados = spark.range(1).selectExpr('0 AS grupo', '50 AS valor')"
                )
            if gid == "parte_b":
                cell.source = "pass"
        if gid == "parte_b_codigo":
            cell.source = "media_valor = float(dados.first()['valor'])"
    put("metadados_removidos", naked)
    expected["metadados_removidos"] = {"parte_a": 0.0, "parte_b": 0.0, "parte_c": 0.0}
    # duplicated grade ids: a copy of answer A after the stub (the copy runs), a forged test B
    dup = copy.deepcopy(example)
    index = next(
        i for i, c in enumerate(dup.cells) if fmt.meta(c).get("grade_id") == "parte_a_codigo"
    )
    first = copy.deepcopy(dup.cells[index])
    first.source = "raise NotImplementedError()"
    dup.cells.insert(index, first)
    test_b = next(c for c in dup.cells if fmt.meta(c).get("grade_id") == "parte_b")
    forged = copy.deepcopy(test_b)
    forged.source = "pass"
    dup.cells.insert(dup.cells.index(test_b), forged)
    put("ids_duplicados", _with_cell(dup, "parte_b_codigo", "media_valor = 1.5"))
    expected["ids_duplicados"] = {"parte_a": 2.0, "parte_b": 0.0, "parte_c": 2.0}
    # labels copied from the notebook's own data: the probe feeds hidden rows, so nothing matches
    leak = "prever = lambda df: df.join(dados.select('id', F.col('classe').alias('classe_prevista')), 'id')"
    put(
        "rotulos",
        _with_cell(example, "parte_c_codigo", "from pyspark.sql import functions as F\n" + leak),
    )
    expected["rotulos"] = {"parte_a": 2.0, "parte_b": 3.0, "parte_c": 0.0}
    # a real exercise's cheat: the "model" looks the future up in the notebook's own data (the
    # dataset's truth is in the student's reach); the grader forecasts hidden series instead
    ex04 = fmt.read_solution(ALL_SOLUTIONS["ex04_series_temporais"])
    lookup = (
        "def fit_forecaster(train_df):\n"
        "    future = sales.select('date', 'store_id', 'product_id', F.col('units').alias('_u'))\n"
        "\n"
        "    class Lookup:\n"
        "        def transform(self, df):\n"
        "            joined = df.join(future, ['date', 'store_id', 'product_id'], 'left')\n"
        "            return joined.withColumn('prediction', F.coalesce('_u', F.lit(0.0))).drop('_u')\n"
        "\n"
        "    return Lookup()"
    )
    put("futuro", _with_cell(ex04, "parte_c_codigo", lookup), "ex04_series_temporais.ipynb")
    expected["futuro"] = {"parte_a": 2.0, "parte_b": 3.0, "parte_c": 0.0, "parte_d": 2.0}
    # ex05 A: rules replaced by the notebook's own lists of bad texts; the grader's hidden lines
    # break the same rules with other texts, so the lookup misses them
    ex05 = fmt.read_solution(ALL_SOLUTIONS["ex05_projeto_final"])
    lookup_rules = (
        "def quarantine_split(raw):\n"
        "    def blank(name):\n"
        "        return F.coalesce(F.trim(F.col(name)) == '', F.lit(True))\n"
        "\n"
        "    def listed(name, values):\n"
        "        return F.col(name).isin(*[v for v in values if v])\n"
        "\n"
        "    rules = [\n"
        "        ('missing_transaction_id', blank('transaction_id')),\n"
        "        ('missing_customer_id', blank('customer_id')),\n"
        "        ('invalid_timestamp', listed('timestamp', BAD_TIMESTAMPS)),\n"
        "        ('invalid_amount', listed('amount', BAD_AMOUNTS)),\n"
        "        ('invalid_channel', F.col('channel').isNull() | listed('channel', BAD_CHANNELS)),\n"
        "    ]\n"
        "    reason = F.lit(None).cast('string')\n"
        "    for name, broken in reversed(rules):\n"
        "        reason = F.when(broken, name).otherwise(reason)\n"
        "    checked = raw.withColumn('reason', reason)\n"
        "    passed = F.col('reason').isNull()\n"
        "    first = Window.partitionBy('transaction_id', passed).orderBy('line_no')\n"
        "    later = passed & (F.row_number().over(first) > 1)\n"
        "    checked = checked.withColumn('reason', F.when(later, 'duplicate').otherwise(F.col('reason')))\n"
        "    clean = checked.filter(F.col('reason').isNull()).select(\n"
        "        'line_no',\n"
        "        F.col('transaction_id').try_cast('long').alias('transaction_id'),\n"
        "        F.col('customer_id').try_cast('long').alias('customer_id'),\n"
        "        F.try_to_timestamp(F.col('timestamp'), F.lit('yyyy-MM-dd HH:mm:ss')).alias('timestamp'),\n"
        "        F.col('amount').try_cast('double').alias('amount'),\n"
        "        'channel',\n"
        "    )\n"
        "    return clean, checked.filter(F.col('reason').isNotNull())"
    )
    put(
        "lista_defeitos",
        _with_cell(ex05, "parte_a_codigo", lookup_rules),
        "ex05_projeto_final.ipynb",
    )
    expected["lista_defeitos"] = {
        "parte_a": 0.0,
        "parte_b": 3.0,
        "parte_c": 2.0,
        "parte_d": 2.0,
        "parte_e": 3.0,
    }
    # ex07 grades a mechanism from plans the student's own kernel reports: the correct answers,
    # plus one added cell that reaches Spark's internals (the door a forged plan needs), score 0
    ex07 = fmt.read_solution(ALL_SOLUTIONS["ex07_performance"])
    after_d = _cell_index(ex07, "parte_d") + 1
    ex07.cells.insert(
        after_d, nbformat.v4.new_code_cell("bus = spark.sparkContext._jsc.sc().listenerBus()")
    )
    put("api_privada", ex07, "ex07_performance.ipynb")
    expected["api_privada"] = {"parte_a": 0.0, "parte_b": 0.0, "parte_c": 0.0, "parte_d": 0.0}
    # a folder name that is not UTF-8, and symlinked submissions (never followed)
    weird = os.fsencode(str(folder)) + b"/jos\xe9"
    os.makedirs(weird)
    nbformat.write(example, os.fsdecode(weird + f"/{EXAMPLE}.ipynb".encode()))
    (folder / "link_pasta").symlink_to(folder / "solucao", target_is_directory=True)
    (folder / "link_arquivo").mkdir()
    (folder / "link_arquivo" / f"{EXAMPLE}.ipynb").symlink_to(
        folder / "solucao" / f"{EXAMPLE}.ipynb"
    )
    return expected


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Grade the class once; return (run, rows, tmp, hashes before, hashes after, log, expected)."""
    tmp = tmp_path_factory.mktemp("grading")
    versions = build_course(ALL_SOLUTIONS, tmp / "course")
    for name in SOLUTIONS:  # the committed student versions are what students get
        committed = ROOT / "exercises" / f"{name}.ipynb"
        versions[name] = committed if committed.exists() else versions[name]
    subs, grades = tmp / "entregas", tmp / "notas"
    expected = _fabricate_class(subs, grades, versions)
    before = _hashes(subs)
    log: list[str] = []
    run = grade(
        subs,
        grades,
        solutions_dir=[FIXTURES, ROOT / "solutions"],
        jobs=3,
        all_cells=True,  # the solutions also run their figures and truth checks here
        data_dir=ROOT / "data",
        progress=log.append,
    )
    with open(run.grades_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    keep = ROOT / "build" / "grading-selftest"  # for a look after the run
    keep.mkdir(parents=True, exist_ok=True)
    for produced in (run.grades_csv, run.totals_csv):
        (keep / produced.name).write_bytes(produced.read_bytes())
    (keep / "progress.log").write_text("\n".join(log) + "\n", encoding="utf-8")
    return run, rows, tmp, before, _hashes(subs), log, expected


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
    """No error in the cells that score nothing (the truth checks after the last test)."""
    run, *_ = graded_class
    for r in run.results:
        if r.student == "solucao":
            stopped = [n for n in r.notes if "kernel" in n or "tempo limite" in n]
            assert not stopped, f"the solution of {r.exercise}: {stopped}"


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
        assert not scored, f"the untouched {name} scored points: {scored}"
        assert all("não respondida" in r["reason"] for r in parts.values()), parts


def test_one_wrong_part_loses_exactly_its_points(graded_class):
    _, rows, *_ = graded_class
    parts = _rows(rows, "uma_parte_errada")
    assert float(parts["parte_a"]["score"]) == float(parts["parte_a"]["max_score"]) == 2
    assert float(parts["parte_b"]["score"]) == 0 and float(parts["parte_b"]["max_score"]) == 3
    assert "media_valor não confere" in parts["parte_b"]["reason"]


@pytest.mark.parametrize("name", BLANKED)
def test_a_blanked_part_of_a_new_exercise_loses_exactly_its_points(graded_class, name):
    _, rows, *_ = graded_class
    if name not in ALL_SOLUTIONS:
        pytest.fail(f"solutions/{name}.ipynb is missing (issue 18 asks for it)")
    blank = BLANKED[name]
    got = {
        p: (float(r["score"]), float(r["max_score"]))
        for p, r in _rows(rows, "uma_parte_errada", name).items()
    }
    assert got, f"no rows for the blanked {name}"
    assert (
        got[blank][0] == 0
        and "não respondida" in _rows(rows, "uma_parte_errada", name)[blank]["reason"]
    )
    assert all(score == top for p, (score, top) in got.items() if p != blank), got


def test_hanging_submission_is_stopped_by_the_timeout(graded_class):
    run, rows, *_ = graded_class
    parts = _rows(rows, "travado")
    assert float(parts["parte_a"]["score"]) == 2, "the part before the hang keeps its points"
    assert float(parts["parte_b"]["score"]) == 0
    assert "tempo limite" in parts["parte_b"]["reason"]
    limit = fmt.timeout_of(nbformat.read(ALL_SOLUTIONS[EXAMPLE], as_version=4))
    seconds = next(r.seconds for r in run.results if r.student == "travado")
    assert seconds < limit + GRACE_SECONDS + 30


@pytest.mark.parametrize(
    ("student", "part", "score", "reason"),
    [
        ("quebrado", "parte_a", 0, "JSON inválido"),
        ("sem_teste", "parte_a", 2, ""),
        ("sem_teste", "parte_b", 3, ""),
        ("kernel_morto", "parte_a", 2, ""),
        ("kernel_morto", "parte_b", 0, "kernel morreu"),
        ("erro_sintaxe", "parte_a", 0, "SyntaxError"),
        ("erro_sintaxe", "parte_b", 3, ""),
        ("erro_sintaxe", "parte_c", 2, ""),
        ("kernel_morto", "parte_c", 0, "kernel morreu"),
        ("editado", "parte_b", 0, "media_valor não confere"),
        ("saida_enorme", "parte_a", 2, ""),
        ("renomeado", "parte_b", 3, "aceito como ex00_exemplo.ipynb"),
        ("desconhecido", "parte_a", 0, "entrega ausente"),
        ("desconhecido", "", 0, "exercício desconhecido 'ex99_inexistente.ipynb'"),
        ("jos_e9-858ec0", "parte_a", 2, ""),  # the hash keeps renamed folders apart
        ("jos_e9-858ec0", "parte_b", 3, ""),
        ("link_arquivo", "parte_a", 0, "entrega ausente"),
    ],
)
def test_broken_submissions_get_a_score_and_a_reason(graded_class, student, part, score, reason):
    _, rows, *_ = graded_class
    exercise = "ex99_inexistente" if part == "" else EXAMPLE
    row = _rows(rows, student, exercise)[part]
    assert float(row["score"]) == score, row
    assert reason in row["reason"], row


def test_locked_cells_are_restored_and_noted(graded_class):
    run, *_ = graded_class
    notes = {r.student: " ".join(r.notes) for r in run.results if r.exercise == EXAMPLE}
    assert "restauradas" in notes["sem_teste"] and "parte_a" in notes["sem_teste"]
    assert "célula de teste editada" in notes["editado"]
    assert "restauradas" in notes["metadados_removidos"]
    assert "grade_id repetido" in notes["ids_duplicados"]


def test_attackers_win_nothing(graded_class):
    _, rows, *_, expected = graded_class
    for student, scores in expected.items():
        exercise = {
            "futuro": "ex04_series_temporais",
            "api_privada": "ex07_performance",
            "lista_defeitos": "ex05_projeto_final",
        }.get(student, EXAMPLE)
        got = {part: float(r["score"]) for part, r in _rows(rows, student, exercise).items()}
        assert got == scores, f"{student}: {got} != {scores} ({_rows(rows, student, exercise)})"


def test_resource_attackers_are_named_in_their_reasons(graded_class):
    run, *_ = graded_class
    said = {
        r.student: " ".join([*r.notes, *(p.reason for p in r.parts)])
        for r in run.results
        if r.exercise == EXAMPLE
    }
    assert "processos demais" in said["fork_bomb"], said["fork_bomb"]
    assert "memória" in said["memoria"] or "MemoryError" in said["memoria"], said["memoria"]
    private = [
        r for r in run.results if r.student == "api_privada" and r.exercise == "ex07_performance"
    ]
    assert len(private) == 1 and private[0].parts, private
    assert all(
        "fora da API pública" in p.reason and "`_jsc`" in p.reason for p in private[0].parts
    ), private[0].parts


def test_looking_up_the_visible_defects_passes_the_visible_test_only(graded_class):
    run, rows, *_ = graded_class
    page = run.feedback_dir / "lista_defeitos" / "ex05_projeto_final.html"
    assert "limpas e quarentena do exemplo conferem" in page.read_text(encoding="utf-8")
    reason = _rows(rows, "lista_defeitos", "ex05_projeto_final")["parte_a"]["reason"]
    assert "quarentena" in reason and "aula 10" in reason, reason


def test_honest_scores_are_exact_next_to_attackers(graded_class):
    _, rows, *_ = graded_class
    for exercise in ALL_SOLUTIONS:
        for r in _rows(rows, "solucao", exercise).values():
            assert float(r["score"]) == float(r["max_score"]), r
    assert {p: float(r["score"]) for p, r in _rows(rows, "uma_parte_errada").items()} == {
        "parte_a": 2.0,
        "parte_b": 0.0,
        "parte_c": 2.0,
    }


def test_no_process_outlives_the_run_and_grades_are_intact(graded_class):
    import time

    import psutil

    run, rows, *_ = graded_class
    time.sleep(2)
    left = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if TOKEN in " ".join(p.info["cmdline"] or [])
    ]
    assert not left, f"attacker processes still alive: {left}"
    assert "hacked" not in run.grades_csv.read_text(encoding="utf-8")
    assert "hacked" not in run.totals_csv.read_text(encoding="utf-8")


def test_symlinked_student_folder_is_not_followed(graded_class):
    run, rows, *_ = graded_class
    assert not _rows(rows, "link_pasta"), "a symlinked student folder was graded"
    assert any("link" in m for m in run.messages)


def test_grader_never_modifies_submissions(graded_class):
    _, _, _, before, after, _, _ = graded_class
    assert before and before == after


def _hidden_lines(paths, *, answers: bool, shortest: int) -> list[str]:
    """Lines only the grader's cells (and, with ``answers``, the solutions' answers) hold.

    Lines a student also sees in a given cell, and import statements, are not secrets.
    """
    hidden, shown = set(), set()
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            lines = {line.strip() for line in cell.source.splitlines()}
            if fmt.is_answer(cell):  # what stays of an answer in the student version
                shown |= {line.strip() for line in fmt.stub_answer(cell.source).splitlines()}
            if fmt.role(cell) is not None or (answers and fmt.is_answer(cell)):
                hidden |= {line for line in lines if len(line) >= shortest}
            else:
                shown |= lines
    visible = "\n".join(shown)  # e.g. a message the visible test also asserts, split otherwise
    return sorted(h for h in hidden if h not in visible and not h.startswith(("from ", "import ")))


def test_feedback_pages_reveal_nothing_hidden(graded_class):
    run, rows, *_ = graded_class
    hidden = _hidden_lines(ALL_SOLUTIONS.values(), answers=False, shortest=24)
    assert len(hidden) > 10
    pages = sorted(run.feedback_dir.rglob("*.html"))
    assert len(pages) >= len({(r["student"], r["exercise"]) for r in rows})
    for page in pages:
        text = page.read_text(encoding="utf-8")
        import html

        plain = html.unescape(text)
        leaks = [h for h in hidden if h in plain]
        assert not leaks, f"{page} shows hidden lines: {leaks[:3]}"
        assert page.stat().st_size < 3_000_000, f"{page} is {page.stat().st_size} bytes"


def test_student_versions_are_up_to_date_and_leak_nothing():
    problems = generate(ROOT / "solutions", ROOT / "exercises", check=True)
    assert not problems, "\n".join(problems)
    for path in sorted((ROOT / "exercises").glob("ex*.ipynb")):
        leaks = student_version_problems(nbformat.read(path, as_version=4))
        assert not leaks, f"{path.name}: {leaks}"


def test_generated_example_has_stubs_and_no_grader_cells(tmp_path):
    released = build_course({EXAMPLE: ALL_SOLUTIONS[EXAMPLE]}, tmp_path)[EXAMPLE]
    nb = nbformat.read(released, as_version=4)
    assert not student_version_problems(nb)
    answers = [c.source for c in nb.cells if fmt.is_answer(c)]
    assert answers and all("raise NotImplementedError()" in a for a in answers)
    assert not [c for c in nb.cells if c.cell_type == "raw"]
    assert "PROBE_OUT" not in "".join(c.source for c in nb.cells)
    edited = copy.deepcopy(nb)
    edited.cells[1].source += "\nX = 1"
    assert differences(nb, edited) == ["célula 1: source difere"]


def _cell_index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if fmt.meta(c).get("grade_id") == grade_id)


def _role_index(nb, role: str, part: str | None = None) -> int:
    return next(
        i
        for i, c in enumerate(nb.cells)
        if fmt.role(c) == role and (part is None or c.metadata["coursekit"].get("part") == part)
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda nb: nb.cells.pop(_cell_index(nb, "parametros")), "tag 'parameters'"),
        (lambda nb: nb.cells.pop(_cell_index(nb, "encerramento")), "spark.stop()"),
        (
            lambda nb: fmt.meta(nb.cells[_cell_index(nb, "parte_a")]).update(points=0),
            "points deve ser > 0",
        ),
        (
            lambda nb: fmt.meta(nb.cells[_cell_index(nb, "parte_a")]).update(grade_id="a"),
            "parte_a, parte_b",
        ),
        (
            lambda nb: fmt.meta(nb.cells[_cell_index(nb, "parte_b")]).update(grade_id="parte_a"),
            "repetido",
        ),
        (
            lambda nb: nb.cells[_cell_index(nb, "parte_a_codigo")].metadata.pop("nbgrader"),
            "não é célula de resposta",
        ),
        (
            lambda nb: nb.cells.pop(_role_index(nb, "check", "parte_b")),
            "exatamente uma célula raw de check",
        ),
        (
            lambda nb: nb.cells.pop(_role_index(nb, "probe", "parte_a")),
            "exatamente uma célula raw de probe",
        ),
        (
            lambda nb: setattr(nb.cells[_role_index(nb, "check")], "source", "assert ("),
            "não compila",
        ),
        (
            lambda nb: setattr(
                nb.cells[_cell_index(nb, "parte_a")],
                "source",
                "### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS",
            ),
            "sonda (probe)",
        ),
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
        link = zipfile.ZipInfo("turma/carla/ex00_exemplo.ipynb")
        link.external_attr = 0o120777 << 16  # a symlink entry: never extracted
        zf.writestr(link, "/etc/passwd")
    parts = {EXAMPLE: fmt.parts_of(nbformat.read(ALL_SOLUTIONS[EXAMPLE], as_version=4))}
    with opened(archive) as root:
        p = plan(root, parts, {EXAMPLE: 60})
    assert sorted((j.student, j.exercise) for j in p.jobs) == [("ana", EXAMPLE), ("bruno", EXAMPLE)]
    assert "aceito como" in next(j.note for j in p.jobs if j.student == "bruno")


def test_grades_folder_inside_submissions_is_refused(tmp_path):
    (tmp_path / "ana").mkdir()
    nbformat.write(
        nbformat.read(ALL_SOLUTIONS[EXAMPLE], as_version=4), tmp_path / "ana" / f"{EXAMPLE}.ipynb"
    )
    (tmp_path / "feedback").mkdir()
    with pytest.raises(ValueError, match="não pode ficar dentro das entregas"):
        grade(tmp_path, tmp_path / "notas", solutions_dir=FIXTURES)
    with pytest.raises(ValueError, match="não pode ficar dentro das entregas"):
        grade(tmp_path / "ana", tmp_path, solutions_dir=FIXTURES)
    assert (tmp_path / "feedback").is_dir() and (tmp_path / "ana" / f"{EXAMPLE}.ipynb").is_file()


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


def test_no_sandbox_is_said_in_the_summary_and_the_feedback(tmp_path):
    (tmp_path / "subs" / "ana").mkdir(parents=True)
    solution = nbformat.read(ALL_SOLUTIONS[EXAMPLE], as_version=4)
    nbformat.write(solution, tmp_path / "subs" / "ana" / f"{EXAMPLE}.ipynb")
    log: list[str] = []
    run = grade(
        tmp_path / "subs",
        tmp_path / "notas",
        solutions_dir=FIXTURES,
        sandbox=False,
        progress=log.append,
    )
    assert any("SEM sandbox" in line for line in log)
    page = (run.feedback_dir / "ana" / f"{EXAMPLE}.html").read_text(encoding="utf-8")
    assert "SEM sandbox" in page
    assert run.score("ana", EXAMPLE) == 7, run.results  # it runs, only without isolation


def test_sigterm_stops_the_grader_and_every_sandbox(tmp_path):
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

        def kernel_up(procs) -> bool:  # a short-lived child may be a zombie already
            for c in procs:
                with contextlib.suppress(psutil.Error):
                    if "ipykernel" in " ".join(c.cmdline()):
                        return True
            return False

        while time.monotonic() < deadline:  # the sandbox and its kernel are up
            children = psutil.Process(proc.pid).children(recursive=True)
            if kernel_up(children):
                break
            time.sleep(1)
        assert kernel_up(children), "the sandboxed kernel never started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(2)
    alive = []
    for c in children:
        with contextlib.suppress(psutil.Error):
            if c.is_running() and c.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(c.cmdline())[:120])
    assert not alive, alive


def _statement_pairs(text: str) -> set[tuple[str, str]]:
    """Consecutive pairs of the code statements in ``text`` (a call, an assignment or a block
    header of 8+ characters; imports, comments and bare literals such as column lists skipped).
    """
    lines = [line.strip() for line in text.splitlines()]
    lines = [
        s
        for s in lines
        if len(s) >= 8
        and any(c in s for c in "(=:")
        and not s.startswith(("from ", "import ", "#"))
    ]
    return set(zip(lines, lines[1:], strict=False))


def _hidden_runs(paths, *, answers: bool) -> set[tuple[str, str]]:
    """Pairs of consecutive lines that only the grader's cells (and, with ``answers``, the
    solutions' answers) hold. A pair, not a line: a lone generic line such as
    ``for i, line in enumerate(lines):`` also stands in the course's own library, while a copied
    probe, check or answer carries its lines in a row.
    """

    def runs(text: str) -> set[tuple[str, str]]:
        return _statement_pairs(text)

    hidden, shown = set(), set()
    for path in paths:
        for cell in nbformat.read(path, as_version=4).cells:
            if fmt.is_answer(cell):  # what stays of an answer in the student version
                shown |= runs(fmt.stub_answer(cell.source))
            if fmt.role(cell) is not None or (answers and fmt.is_answer(cell)):
                hidden |= runs(cell.source)
            else:
                shown |= runs(cell.source)
    return hidden - shown


def test_release_ships_no_solution_or_grader_cell(tmp_path):
    from coursekit.grading.release import build

    archive = build(ROOT, tmp_path)
    grader = _hidden_runs(SOLUTIONS.values(), answers=False)
    answers = _hidden_runs(SOLUTIONS.values(), answers=True)
    assert len(grader) > 100 and len(answers) > len(grader)
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert any(n.startswith("aula10/exercises/ex01_") for n in names)
        assert any(n.startswith("aula10/notebooks/00_") for n in names)
        assert "aula10/README.md" in names and "aula10/coursekit/session.py" in names
        assert not [n for n in names if "/solutions/" in n or "/tests/" in n], names
        for name in names:
            if name.endswith((".ipynb", ".py", ".md")):
                text = zf.read(name).decode("utf-8", "replace")
                present = _statement_pairs(text)
                # probes, checks, references: nowhere. Answers: not in the student notebooks
                # (the reference platform in mlplatform/ is the lessons' code, which answers
                # may reuse: the ex05 checks make copying it as is score 0)
                hidden = answers if name.endswith(".ipynb") else grader
                leaks = sorted(hidden & present)
                assert not leaks, f"{name} carries hidden lines: {leaks[:3]}"


def test_make_grade_requires_submissions():
    out = subprocess.run(
        ["make", "-s", "grade", "SUBMISSIONS="], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode != 0
    assert "SUBMISSIONS" in out.stdout + out.stderr
