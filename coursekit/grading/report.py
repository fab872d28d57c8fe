"""Grader outputs: ``grades.csv``, ``totals.csv`` and one feedback HTML per student and exercise.

The feedback page shows the scores and reasons, then the notebook as it ran: the given cells,
the student's own cells and the visible tests with their (capped, plain-text) outputs. Probe,
check and reference cells are never in it, and a probe's lines are scrubbed from the outputs; the
student's own code can still print what the probes do in their kernel (the README says so), but
never the checks, the references or the hidden inputs' truth, which never enter the sandbox.

Examples
--------
>>> from coursekit.grading.report import CSV_COLUMNS
>>> CSV_COLUMNS
('student', 'exercise', 'part', 'score', 'max_score', 'reason')
"""

from __future__ import annotations

import csv
import html
from collections.abc import Iterable
from pathlib import Path

import nbformat

CSV_COLUMNS = ("student", "exercise", "part", "score", "max_score", "reason")
TOTAL_COLUMNS = ("student", "exercise", "score", "max_score")

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; }
table.notas { border-collapse: collapse; margin: 1em 0; }
table.notas td, table.notas th { border: 1px solid #bbb; padding: .3em .6em; text-align: left; }
.ok { color: #1a7f37; } .falha { color: #b42318; }
.cell { margin: .8em 0; } .input_area, pre { background: #f6f8fa; padding: .5em; overflow-x: auto; }
.output_error pre, .output_stderr pre { background: #fdecea; }
"""


def _fmt(x: float) -> str:
    return f"{x:g}"


def _cell(text: str) -> str:
    """A CSV field a spreadsheet will not run as a formula."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_grades(results: Iterable, folder: str | Path) -> tuple[Path, Path]:
    """Write ``grades.csv`` (one row per part) and ``totals.csv`` (one per student x exercise)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results = sorted(results, key=lambda r: (r.student, r.exercise))
    grades, totals = folder / "grades.csv", folder / "totals.csv"
    with open(grades, "w", newline="", encoding="utf-8", errors="replace") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for r in results:
            for p in r.parts:
                writer.writerow(
                    [
                        _cell(r.student),
                        _cell(r.exercise),
                        p.part,
                        _fmt(p.score),
                        _fmt(p.max_score),
                        _cell(p.reason),
                    ]
                )
    with open(totals, "w", newline="", encoding="utf-8", errors="replace") as f:
        writer = csv.writer(f)
        writer.writerow(TOTAL_COLUMNS)
        for r in results:
            if r.parts and any(p.max_score for p in r.parts):
                writer.writerow(
                    [
                        _cell(r.student),
                        _cell(r.exercise),
                        _fmt(sum(p.score for p in r.parts)),
                        _fmt(sum(p.max_score for p in r.parts)),
                    ]
                )
    return grades, totals


def _summary_html(result, sandboxed: bool = True) -> str:
    total = sum(p.score for p in result.parts)
    maximum = sum(p.max_score for p in result.parts)
    rows = "".join(
        f"<tr><td>{html.escape(p.part)}</td>"
        f'<td class="{"ok" if p.score >= p.max_score else "falha"}">{_fmt(p.score)}</td>'
        f"<td>{_fmt(p.max_score)}</td><td>{html.escape(p.reason)}</td></tr>"
        for p in result.parts
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
    return (
        f"<h1>Correção: {html.escape(result.exercise)}</h1>"
        f"<p>Aluno: <b>{html.escape(result.student)}</b> — nota <b>{_fmt(total)} / {_fmt(maximum)}</b>"
        f' (corrigido com SCALE="ci"{", SEM sandbox" if not sandboxed else ""})</p>'
        '<table class="notas"><tr><th>parte</th><th>pontos</th><th>máximo</th><th>motivo</th></tr>'
        f"{rows}</table>" + (f"<h2>Observações</h2><ul>{notes}</ul>" if notes else "")
    )


def write_feedback(path: str | Path, result, executed=None, *, sandboxed: bool = True) -> Path:
    """Write the feedback page for one student x exercise.

    Parameters
    ----------
    path : path
        Target ``.html`` file (folders are created).
    result : coursekit.grading.intake.Result
        Scores and reasons.
    executed : nbformat.NotebookNode, optional
        The notebook as shown to the student (built by the grader); omitted when nothing ran.
    sandboxed : bool, default True
        False when graded with ``--no-sandbox`` (said at the top of the page).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ""
    style = _CSS
    if executed is not None:
        from nbconvert import HTMLExporter
        from pygments.formatters import HtmlFormatter

        exporter = HTMLExporter(template_name="basic")
        body, _ = exporter.from_notebook_node(executed)
        style += HtmlFormatter().get_style_defs(".highlight")
        body = "<h2>Notebook corrigido</h2>" + body
    page = (
        '<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8">'
        f"<title>{html.escape(result.student)} — {html.escape(result.exercise)}</title>"
        f"<style>{style}</style></head><body>{_summary_html(result, sandboxed)}{body}</body></html>"
    )
    path.write_text(page, encoding="utf-8", errors="replace")
    return path


def scrub(text: str, hidden: list[str]) -> str:
    """Remove any line of the grader's hidden cells that student-controlled text may carry."""
    for line in hidden:
        if line in text:
            text = text.replace(line, "[…]")
    return text


def feedback_notebook(assembly, executed, hidden: list[str]):
    """The notebook the student sees: the cells as run, outputs of their own cells and the visible tests."""
    if assembly is None:
        return None
    nb = nbformat.v4.new_notebook()
    for index, (cell, kind) in enumerate(zip(assembly.notebook.cells, assembly.kinds, strict=True)):
        if kind.kind == "probe":
            continue
        copy = nbformat.from_dict(dict(cell))
        if len(copy.source) > 20_000:
            copy.source = copy.source[:20_000] + "\n# [... célula truncada no feedback ...]"
        if cell.cell_type == "code":
            copy.outputs = []
            if executed is not None:
                copy.outputs = _clean_outputs(executed.cells[index].get("outputs", []), hidden)
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
                    "stream", name="stdout", text=scrub(str(o.get("text", ""))[:20_000], hidden)
                )
            )
        elif kind == "error":
            text = scrub(f"{o.get('ename', 'Erro')}: {o.get('evalue', '')}"[:2_000], hidden)
            out.append(nbformat.v4.new_output("error", ename="Erro", evalue=text, traceback=[text]))
        elif kind in ("execute_result", "display_data"):
            data = o.get("data", {}) if isinstance(o.get("data"), dict) else {}
            keep = {}
            if isinstance(data.get("image/png"), str) and len(data["image/png"]) < 2_000_000:
                keep["image/png"] = data["image/png"]
            if "text/plain" in data:
                keep["text/plain"] = scrub(str(data["text/plain"])[:20_000], hidden)
            if keep:
                out.append(nbformat.v4.new_output("display_data", data=keep))
    return out
