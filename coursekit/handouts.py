"""HTML handouts: run each lesson at classroom scale and export it with its plots.

``make html`` runs ``python -m coursekit.handouts``: every ``notebooks/*.ipynb``
is executed with papermill at ``SCALE="aula"`` (executed copies in
``build/html-work/``) and exported to a self-contained HTML file in
``build/html/`` (plots and images embedded), for students without a working
setup and for slides. A lesson that fails is still exported, so the error
shows where it happened, and the command exits non-zero.

``python -m coursekit.handouts --pausas`` prints the instructor's cheat sheet:
every ``> **Pausa do instrutor —** ...`` callout of every lesson (where to
stop and what to show in the Spark UI).

Examples
--------
>>> from coursekit.handouts import handout_paths
>>> handout_paths("notebooks/00_intro.ipynb", "build/html-work", "build/html")[1].name
'00_intro.html'
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from coursekit.constants import SCALES

#: Instructor callout in lesson markdown: where to pause and what to show in the Spark UI.
PAUSE_MARK = "> **Pausa do instrutor —**"
#: Words that say what to open in the Spark UI (the tab names, or the UI itself).
SPARK_UI_WORDS = (
    "Spark UI",
    "Jobs",
    "Stages",
    "Storage",
    "Environment",
    "Executors",
    "SQL",
    "Structured Streaming",
)


@dataclass(frozen=True)
class Handout:
    """One lesson's handout: where it went, how long it ran, and its error if any."""

    notebook: Path
    executed: Path
    html: Path
    seconds: float
    error: str | None = None


def instructor_pauses(notebook: str | os.PathLike) -> list[tuple[int, str]]:
    """The instructor pauses of a lesson: (cell number from 1, callout text) in order.

    A pause is a markdown blockquote that starts with :data:`PAUSE_MARK`; it
    goes on over the following ``>`` lines.

    Examples
    --------
    >>> import nbformat, tempfile, os
    >>> nb = nbformat.v4.new_notebook()
    >>> nb.cells = [nbformat.v4.new_markdown_cell(
    ...     "Texto.\\n\\n> **Pausa do instrutor —** abra a Spark UI,\\n> aba *Jobs*.")]
    >>> path = os.path.join(tempfile.mkdtemp(), "x.ipynb")
    >>> nbformat.write(nb, path)
    >>> instructor_pauses(path)
    [(1, 'abra a Spark UI, aba *Jobs*.')]
    """
    import nbformat

    pauses = []
    cells = nbformat.read(notebook, as_version=4).cells
    for number, cell in enumerate(cells, start=1):
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for i, line in enumerate(lines):
            if not line.startswith(PAUSE_MARK):
                continue
            text = [line[len(PAUSE_MARK) :].strip()]
            for more in lines[i + 1 :]:
                if not more.startswith(">") or more.startswith(PAUSE_MARK):
                    break
                text.append(more.lstrip(">").strip())
            pauses.append((number, " ".join(t for t in text if t)))
    return pauses


def print_pauses(notebooks: Iterable[str | os.PathLike], out=print) -> int:
    """Print the instructor's cheat sheet: every pause of every lesson. Returns the count."""
    total = 0
    for path in notebooks:
        pauses = instructor_pauses(path)
        out(f"{Path(path).stem}: {len(pauses)} pausa(s)")
        for number, text in pauses:
            out(f"  célula {number:>3}: {text}")
        total += len(pauses)
    return total


def handout_paths(
    notebook: str | os.PathLike, work_dir: str | os.PathLike, html_dir: str | os.PathLike
) -> tuple[Path, Path]:
    """Return (executed notebook, HTML file) for ``notebook``."""
    stem = Path(notebook).stem
    return Path(work_dir) / f"{stem}.ipynb", Path(html_dir) / f"{stem}.html"


def export_html(executed: Path, html: Path, source_dir: Path) -> Path:
    """Write ``executed`` as one self-contained HTML page (images inlined)."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", embed_images=True)
    node = nbformat.read(executed, as_version=4)
    body, _ = exporter.from_notebook_node(
        node, resources={"metadata": {"name": executed.stem, "path": str(source_dir)}}
    )
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(body, encoding="utf-8")
    return html


def build_handout(
    notebook: str | os.PathLike,
    *,
    scale: str = "aula",
    work_dir: str | os.PathLike = "build/html-work",
    html_dir: str | os.PathLike = "build/html",
    parameters: dict | None = None,
) -> Handout:
    """Execute one notebook with papermill at ``scale`` and export it to HTML.

    Parameters
    ----------
    notebook : path
        A lesson notebook; it runs in its own folder, so its relative paths work.
    scale : {"ci", "aula", "grande"}, default="aula"
        Value injected as the ``SCALE`` parameter.
    work_dir, html_dir : path
        Where the executed notebook and the HTML go.
    parameters : dict, optional
        More papermill parameters.

    Returns
    -------
    Handout
        ``error`` holds the failure (the HTML is written anyway).
    """
    import papermill

    if scale not in SCALES:
        raise ValueError(
            f"O parâmetro 'scale' deve ser um de {SCALES}. Recebido: {scale!r}. "
            "Use SCALE=aula (padrão) para as apostilas."
        )
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise FileNotFoundError(f"Notebook não encontrado: {notebook}")
    executed, html = handout_paths(notebook, Path(work_dir).resolve(), Path(html_dir).resolve())
    executed.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters={"SCALE": scale, **(parameters or {})},
            cwd=str(notebook.parent),
            kernel_name="python3",
            progress_bar=False,
        )
    except Exception as exc:  # papermill saved the notebook up to the failing cell
        error = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
        )
    seconds = time.perf_counter() - started
    if executed.exists():
        export_html(executed, html, notebook.parent)
    return Handout(notebook, executed, html, seconds, error)


def build_handouts(notebooks: Iterable[str | os.PathLike], **options) -> list[Handout]:
    """Run :func:`build_handout` for each notebook in order, printing progress (pt-BR)."""
    done = []
    for path in notebooks:
        print(f"Executando {Path(path).name} ...", flush=True)
        handout = build_handout(path, **options)
        status = "ERRO: " + handout.error if handout.error else "ok"
        print(f"  {handout.seconds:6.1f} s  {status}  -> {handout.html}", flush=True)
        done.append(handout)
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coursekit.handouts [--scale aula] [--pausas] [notebooks...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m coursekit.handouts",
        description="Executa as aulas e gera apostilas HTML (build/html/).",
    )
    parser.add_argument("notebooks", nargs="*", help="padrão: notebooks/*.ipynb")
    parser.add_argument("--scale", default=os.environ.get("SCALE", "aula"), choices=SCALES)
    parser.add_argument("--work-dir", default="build/html-work")
    parser.add_argument("--html-dir", default="build/html")
    parser.add_argument(
        "--pausas", action="store_true", help="só lista as pausas do instrutor (não executa nada)"
    )
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted(str(p) for p in Path("notebooks").glob("*.ipynb"))
    if not notebooks:
        print("Nenhum notebook encontrado em notebooks/.", file=sys.stderr)
        return 2
    if args.pausas:
        print_pauses(notebooks)
        return 0
    os.environ.setdefault("COURSEKIT_RESULTS", str(Path(args.work_dir).resolve() / "results.json"))
    handouts = build_handouts(
        notebooks, scale=args.scale, work_dir=args.work_dir, html_dir=args.html_dir
    )
    failed = [h for h in handouts if h.error]
    total = sum(h.seconds for h in handouts)
    print(
        f"{len(handouts) - len(failed)}/{len(handouts)} apostilas em {args.html_dir} ({total:.0f} s)."
    )
    for handout in failed:
        print(f"Falhou: {handout.notebook.name}: {handout.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
