"""Every failing test of an exercise tells the student where to reread.

Each ``assert`` message in a solution's visible test cells and check cells (what a student reads
when a part fails) must end with ``Releia: aula NN, seção S`` naming a lesson notebook that exists
and a section heading in it (``## S.`` or ``### S``). No Spark: the notebooks are only read.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from coursekit.grading import notebooks as fmt

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("ex*.ipynb"))
POINTER = re.compile(r"Releia: aula (\d{2}), seção (\d+(?:\.\d+)?)\.?$")


def _tail(node: ast.expr) -> str | None:
    """The literal text an assert message ends with (None when it ends with a computed value)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        return _tail(node.values[-1])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _tail(node.right)
    return None


def _messages(source: str) -> list[tuple[int, str | None]]:
    """``(line, literal tail)`` of every assert in ``source`` (tail None: no message or computed)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert):
            found.append((node.lineno, _tail(node.msg) if node.msg is not None else None))
    return sorted(found, key=lambda item: item[0])


def _sections(lesson: Path) -> set[str]:
    """Section numbers of a lesson: ``"5"`` for ``## 5. ...``, ``"5.1"`` for ``### 5.1 ...``."""
    heading = re.compile(r"^#{2,3}\s+(\d+(?:\.\d+)?)[.\s]")
    nb = nbformat.read(lesson, as_version=4)
    return {
        m.group(1)
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if (m := heading.match(line))
    }


LESSONS = {p.name[:2]: p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}


def test_pointer_pattern_and_section_reader():
    assert _messages("assert x, 'errado. Releia: aula 02, seção 5'") == [
        (1, "errado. Releia: aula 02, seção 5")
    ]
    assert _messages("assert x, f'{v} errado'") == [(1, " errado")]
    assert _messages("assert x") == [(1, None)]
    assert POINTER.search("... Releia: aula 03, seção 7.2").groups() == ("03", "7.2")
    assert "0" in _sections(LESSONS["00"]), "lesson 00 has a '## 0. Preparação' heading"


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_every_assert_message_names_an_existing_lesson_section(path):
    nb = nbformat.read(path, as_version=4)
    problems = []
    for index, cell in enumerate(nb.cells):
        if not (fmt.is_test(cell) or fmt.role(cell) == fmt.CHECK):
            continue
        where = f"cell {index} ({fmt.meta(cell).get('grade_id') or fmt.role(cell)})"
        for line, tail in _messages(cell.source):
            match = POINTER.search(tail or "")
            if match is None:
                problems.append(
                    f"{where}, line {line}: message does not end with 'Releia: aula NN, seção S'"
                )
                continue
            lesson, section = match.groups()
            if lesson not in LESSONS:
                problems.append(f"{where}, line {line}: no lesson {lesson} in notebooks/")
            elif section not in _sections(LESSONS[lesson]):
                problems.append(
                    f"{where}, line {line}: lesson {LESSONS[lesson].name} has no section {section}"
                )
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)
