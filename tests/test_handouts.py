"""`make html`: papermill runs a lesson at a given scale, nbconvert writes one self-contained page.

The notebooks here are tiny and need no JVM, so the test checks the handout
machinery itself; the real lessons run in tests/test_notebooks.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest

from coursekit import handouts

ROOT = Path(__file__).resolve().parents[1]
# A 1x1 PNG, to check that markdown images are inlined too.
DOT_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _lesson(folder: Path, name: str, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Apostila de teste\n\n![ponto](img/dot.png)"),
        nbformat.v4.new_code_cell(
            'SCALE = "aula"  # tamanho\nSEED = 42  # semente', metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell(body),
    ]
    (folder / "img").mkdir(parents=True, exist_ok=True)
    (folder / "img" / "dot.png").write_bytes(DOT_PNG)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_makefile_html_target_uses_handouts():
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^html:.*\n((?:\t.*\n)+)", text, flags=re.MULTILINE)
    from coursekit.cli import COMMANDS

    assert recipe and "$(AULA10) html " in recipe.group(1)
    assert COMMANDS["html"][0] == "coursekit.handouts"
    assert "aula" in recipe.group(1)


def test_handout_runs_at_the_scale_and_embeds_plots(tmp_path):
    lesson = _lesson(
        tmp_path / "notebooks",
        "01_plot",
        "# extra code – draws a tiny figure\n"
        "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
        "from pathlib import Path\n"
        "plt.plot([0, 1], [1, 0]); plt.show()\n"
        "print(f'escala = {SCALE}', '| pasta =', Path.cwd().name)",
    )
    result = handouts.build_handout(
        lesson, scale="ci", work_dir=tmp_path / "work", html_dir=tmp_path / "html"
    )
    assert result.error is None
    assert result.html == tmp_path / "html" / "01_plot.html"
    page = result.html.read_text()
    assert "escala = ci | pasta = notebooks" in page, (
        "SCALE injected; the lesson runs in its folder"
    )
    assert page.count("data:image/png;base64,") >= 2, "the plot and the markdown image are inlined"
    executed = nbformat.read(result.executed, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert not nbformat.read(lesson, as_version=4).cells[2].get("outputs"), "source untouched"


def test_failing_lesson_is_exported_with_its_error(tmp_path):
    lesson = _lesson(tmp_path, "02_broken", "raise ValueError('quebrado de propósito')")
    result = handouts.build_handout(
        lesson, scale="ci", work_dir=tmp_path / "work", html_dir=tmp_path / "html"
    )
    assert result.error and "ValueError" in result.error
    assert "quebrado de propósito" in result.html.read_text()


def test_main_exits_non_zero_when_a_lesson_fails(tmp_path, capsys):
    good = _lesson(tmp_path, "a_ok", "print('ok')")
    bad = _lesson(tmp_path, "b_bad", "1 / 0")
    code = handouts.main(
        [
            str(good),
            str(bad),
            "--scale=ci",
            f"--work-dir={tmp_path / 'w'}",
            f"--html-dir={tmp_path / 'h'}",
        ]
    )
    assert code == 1
    assert (tmp_path / "h" / "a_ok.html").exists() and (tmp_path / "h" / "b_bad.html").exists()
    assert "Falhou: b_bad.ipynb" in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["medio", "", "AULA"])
def test_unknown_scale_is_refused(tmp_path, scale):
    lesson = _lesson(tmp_path, "c", "pass")
    with pytest.raises(ValueError, match=r"'scale'.*Recebido"):
        handouts.build_handout(lesson, scale=scale, work_dir=tmp_path, html_dir=tmp_path)
