"""The static read that guards ex07's mechanism checks, and where added cells run.

ex07 grades *how* a result was computed from plans that the student's own kernel reports, so its
checks also require that the student's code stays in the public DataFrame API
(:mod:`coursekit.grading.lint`). These tests read text only: no Spark.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_raw_cell

from coursekit.grading import notebooks as fmt
from coursekit.grading.assemble import assemble
from coursekit.grading.lint import defined_names, public_api_violations

ROOT = Path(__file__).resolve().parents[1]
EX07 = ROOT / "solutions" / "ex07_performance.ipynb"


@pytest.fixture(scope="module")
def ex07():
    nb = fmt.read_solution(EX07)
    given = defined_names(
        [
            c.source
            for c in nb.cells
            if c.cell_type == "code" and fmt.role(c) is None and not fmt.is_answer(c)
        ]
    )
    return nb, given | {"spark"}


def test_given_names_are_the_functions_and_modules_a_probe_calls(ex07):
    _, given = ex07
    assert {"spark", "F", "Window", "slow_reports", "slow_customers", "executed_plan"} <= given
    assert "transactions" not in given, "data the notebook gives may be rebound by the student"


def test_the_solution_and_the_stubs_pass(ex07):
    nb, given = ex07
    answers = [c.source for c in nb.cells if fmt.is_answer(c)]
    assert len(answers) == 4
    assert public_api_violations(answers, given=given) == []
    stubs = [fmt.stub_answer(s) for s in answers]
    assert public_api_violations(stubs, given=given) == []


HONEST = [
    "%time fast_reports(transactions)",
    "%%timeit\nfast_profiles(transactions).count()",
    "transactions = transactions.limit(100)\nprint(executed_plan(transactions))",
    "from pyspark.sql import functions as F\nfrom pyspark import StorageLevel",
    "def fast(t):\n    t = t.persist(StorageLevel.MEMORY_AND_DISK)\n    return t",
    "spark.conf.set('spark.sql.shuffle.partitions', '4')\nspark.catalog.clearCache()",
    "n = spark.sparkContext.defaultParallelism\nx = F.expr('amount * 2')",
    "cond = F.col('amount') > 10\ndf = transactions.filter(cond).where('hour < 6')",
]


@pytest.mark.parametrize("code", HONEST)
def test_public_api_code_is_accepted(ex07, code):
    assert public_api_violations([code], given=ex07[1]) == []


# what a forged plan needs, each a way the hostile review found or a door next to it
FORGERIES = {
    "listener bus": ("bus = spark.sparkContext._jsc.sc().listenerBus()", "_jsc"),
    "jvm": ("spark._jvm.java.lang.System.gc()", "_jvm"),
    "proxy spark": ("spark = Proxy(spark)", "reatribui `spark`"),
    "proxy class": ("class Proxy:\n    pass", "define a classe"),
    "redefined helper": ("def slow_reports(t):\n    return {}", "redefine `slow_reports`"),
    "patched DataFrame": (
        "from pyspark.sql import DataFrame\nDataFrame.toPandas = None",
        "altera o atributo",
    ),
    "getattr": ("getattr(spark, 'sparkContext')", "`getattr`"),
    "dunder": ("spark.__class__", "atributo privado"),
    "exec": ("exec('x = 1')", "`exec`"),
    "globals": ("globals()['spark'] = None", "`globals`"),
    "import os": ("import os", "importa `os`"),
    "import py4j": ("from py4j.java_gateway import JavaGateway", "importa `py4j"),
    "pyspark internals": (
        "from pyspark.java_gateway import launch_gateway",
        "pyspark.java_gateway",
    ),
    "module as attribute": ("F.os.listdir('.')", "um módulo"),
    "cloudpickle": ("import pyspark\npyspark.cloudpickle.loads(b'')", "um módulo"),
    "probe folder": ("PROBE_OUT", "`PROBE_OUT`"),
    "pandas file write": ("transactions.toPandas().to_json('planos.json')", "`.to_json`"),
    "spark write": ("transactions.write.json('x')", "`.write`"),
    "open": ("open('/grading/out/parte_a/planos.json', 'w')", "`open`"),
    "shell": ("!cp forged.json out/", "comando do shell"),
    "other magic": ("%run forge.py", "comando do shell"),
    "sql reflection": ("F.expr(\"reflect('java.lang.System', 'exit', 0)\")", "`reflect`"),
    "built sql": ("w = 'refl' + 'ect'\ntransactions.selectExpr(w + '(1)')", "montado"),
    "reflect function": ("F.java_method(F.lit('java.lang.System'))", "`.java_method`"),
    "global statement": ("def f():\n    global spark", "global"),
    "kernel": ("get_ipython().events.register('pre_run_cell', print)", "`get_ipython`"),
    "not python": ("def (:", "não é Python válido"),
}


@pytest.mark.parametrize("code,expected", FORGERIES.values(), ids=list(FORGERIES))
def test_each_door_a_forged_plan_needs_is_named(ex07, code, expected):
    found = public_api_violations(["x = 1", code], given=ex07[1])
    assert found, f"not flagged: {code!r}"
    assert all(f.startswith("sua célula 2, linha ") for f in found), found
    assert any(expected in f for f in found), found


def test_every_ex07_check_applies_the_lint():
    nb = fmt.read_solution(EX07)
    checks = fmt.grader_cells(nb, fmt.CHECK)
    assert set(checks) == {"parte_a", "parte_b", "parte_c", "parte_d"}
    for part, source in checks.items():
        assert "public_api_violations(STUDENT_CODE" in source, part


def test_a_cell_added_after_a_test_runs_before_its_probe():
    def nbg(gid, **kw):
        return {
            "nbgrader": {
                "grade_id": gid,
                "schema_version": 3,
                "task": False,
                "solution": kw.get("solution", False),
                "grade": kw.get("grade", False),
                "locked": not kw.get("solution", False),
                **({"points": 1} if kw.get("grade") else {}),
            }
        }

    probe = {"coursekit": {"role": "probe", "part": "parte_a"}}
    solution = new_notebook(
        cells=[
            new_code_cell("SCALE = 'aula'", metadata={**nbg("p"), "tags": ["parameters"]}),
            new_code_cell(
                "### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
                metadata=nbg("parte_a_codigo", solution=True),
            ),
            new_code_cell("assert x == 1", metadata=nbg("parte_a", grade=True)),
            new_raw_cell("(PROBE_OUT / 'x.json').write_text(str(x))", metadata=probe),
        ]
    )
    submission = nbformat.from_dict(solution)
    submission.cells = [c for c in submission.cells if c.cell_type == "code"]
    submission.cells.insert(3, new_code_cell("forge()"))  # right after test A
    run = assemble(solution, submission, probe_root="/grading/out")
    kinds = [k.kind for k in run.kinds]
    assert kinds == ["given", "injected", "answer", "test", "extra", "probe"], kinds
