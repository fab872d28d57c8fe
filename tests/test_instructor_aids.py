"""Every lesson tells the instructor where to pause and what to show in the Spark UI.

Convention (README, "Para o instrutor"): a markdown blockquote starting with
``> **Pausa do instrutor —**`` naming the Spark UI tab to open.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from coursekit.handouts import PAUSE_MARK, SPARK_UI_WORDS, instructor_pauses, print_pauses

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_has_an_instructor_pause_about_the_spark_ui(lesson):
    pauses = instructor_pauses(lesson)
    assert pauses, f"{lesson.name}: nenhuma célula markdown com '{PAUSE_MARK} ...'"
    about_ui = [text for _, text in pauses if any(word in text for word in SPARK_UI_WORDS)]
    assert about_ui, (
        f"{lesson.name}: as pausas não dizem o que mostrar na Spark UI "
        f"(cite a aba: {', '.join(SPARK_UI_WORDS)}): {pauses}"
    )


def test_pauses_are_found_across_lines_and_only_in_markdown(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"# {PAUSE_MARK} not in code"),
        nbformat.v4.new_markdown_cell(
            "Intro.\n\n"
            f"{PAUSE_MARK} abra a aba *Stages*\n> e conte as tarefas.\n\n"
            "Fora da citação.\n\n"
            f"{PAUSE_MARK} aba *Storage*."
        ),
        nbformat.v4.new_markdown_cell("> **Pausa** sem o travessão não conta"),
    ]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    assert instructor_pauses(path) == [
        (2, "abra a aba *Stages* e conte as tarefas."),
        (2, "aba *Storage*."),
    ]
    lines: list[str] = []
    assert print_pauses([path], out=lines.append) == 2
    assert lines[0] == "01_x: 2 pausa(s)" and "célula   2" in lines[1]
