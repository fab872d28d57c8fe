"""Build the notebook that runs in the sandbox from a solution and an untrusted submission.

Only the student's *answer* cells (and cells the student added) come from the submission.
Everything else comes from the solution, whatever the submission did to it: given cells,
the visible tests, the injected ``SCALE = "ci"``, and the probes, each placed right after
its part's test cell. A submission cannot remove, reorder or edit a locked cell, add a probe,
or turn a raw cell into code; cells it added keep their place after the nearest cell the
grader recognises (cells added after a test cell run before that part's probe, not after it).

Examples
--------
>>> import nbformat
>>> from nbformat.v4 import new_code_cell, new_notebook, new_raw_cell
>>> nbg = lambda gid, **kw: {"nbgrader": {"grade_id": gid, "schema_version": 3, "task": False,
...     "solution": kw.get("solution", False), "grade": kw.get("grade", False),
...     "locked": not kw.get("solution", False), **({"points": 1} if kw.get("grade") else {})}}
>>> solution = new_notebook(cells=[
...     new_code_cell("SCALE = 'aula'", metadata={**nbg("p"), "tags": ["parameters"]}),
...     new_code_cell("### BEGIN SOLUTION\\nx = 1\\n### END SOLUTION", metadata=nbg("parte_a_codigo", solution=True)),
...     new_code_cell("assert x == 1", metadata=nbg("parte_a", grade=True)),
...     new_raw_cell("(PROBE_OUT / 'x.json').write_text(str(x))", metadata={"coursekit": {"role": "probe", "part": "parte_a"}}),
...     new_code_cell("spark.stop()", metadata=nbg("fim"))])
>>> submission = new_notebook(cells=[
...     new_code_cell("SCALE = 'grande'", metadata=nbg("p")),
...     new_code_cell("x = 2", metadata=nbg("parte_a_codigo", solution=True)),
...     new_code_cell("print('rascunho')"),
...     new_code_cell("pass", metadata=nbg("parte_a", grade=True))])
>>> run = assemble(solution, submission, probe_root="/grading/out")
>>> [k.kind for k in run.kinds]
['given', 'injected', 'answer', 'extra', 'test', 'probe']
>>> run.notebook.cells[2].source, run.notebook.cells[4].source
('x = 2', 'assert x == 1')
>>> for note in run.notes: print(note)
células fixas apagadas ou sem metadados (restauradas): fim
célula de teste editada (o corretor usou a original): parte_a
célula fixa editada (o corretor usou a original): p
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from coursekit.grading import notebooks as fmt

#: Where each part's probe writes (``<probe_root>/<part>``) and reads the grader's hidden inputs.
PROBE_PRELUDE = (
    "import pathlib as _pathlib\n"
    "PROBE_OUT = _pathlib.Path({path!r})\n"
    "PROBE_OUT.mkdir(parents=True, exist_ok=True)\n"
    "PROBE_IN = _pathlib.Path({inputs!r})\n"
    "del _pathlib\n"
)


@dataclass(frozen=True)
class Kind:
    """What an assembled cell is: given, injected, answer, extra, test or probe (and its part)."""

    kind: str
    part: str = ""
    grade_id: str = ""


@dataclass
class Assembly:
    """The notebook to run, one :class:`Kind` per cell, and notes for the feedback."""

    notebook: nbformat.NotebookNode
    kinds: list[Kind]
    notes: list[str] = field(default_factory=list)

    def indices(self, kind: str, part: str | None = None) -> list[int]:
        """Indices of the cells of ``kind`` (and ``part``)."""
        return [
            i
            for i, k in enumerate(self.kinds)
            if k.kind == kind and (part is None or k.part == part)
        ]


def _norm(source: str) -> str:
    return "\n".join(line.rstrip() for line in str(source).strip().splitlines())


def _grade_id(cell) -> str:
    gid = fmt.meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else ""


def assemble(
    solution,
    submission,
    *,
    probe_root: str,
    inputs: str = "",
    parameters: dict[str, object] | None = None,
    all_cells: bool = False,
) -> Assembly:
    """The notebook the sandbox runs for ``submission`` of exercise ``solution``.

    Parameters
    ----------
    solution : nbformat.NotebookNode
        The validated solution (source of the given cells, visible tests and probes).
    submission : nbformat.NotebookNode
        The student's notebook, untrusted: only its answer cells and added code cells are used.
    probe_root : str
        Folder, as seen inside the sandbox, under which each probe writes ``<part>/``.
    inputs : str
        Folder, as seen inside the sandbox, of the exercise's hidden inputs (``PROBE_IN``).
    parameters : dict, default ``{"SCALE": "ci"}``
        Set in a cell right after the ``parameters`` cell.
    all_cells : bool, default False
        Also run the given cells after the last test (they score nothing).
    """
    parameters = {"SCALE": "ci"} if parameters is None else parameters
    released_source = {
        _grade_id(c): _norm(c.source)
        for c in solution.cells
        if _grade_id(c) and not fmt.is_answer(c)
    }
    probes = fmt.grader_cells(solution, fmt.PROBE)
    answer_part = {
        _grade_id(solution.cells[i]): part
        for part, indices in fmt.answer_cells_by_part(solution).items()
        for i in indices
    }
    anchors = {_grade_id(c): c for c in solution.cells if _grade_id(c)}
    locked_sources = {
        _norm(c.source): gid for gid, c in anchors.items() if not fmt.is_answer(c) and c.source
    }
    answers: dict[str, object] = {}
    extras: dict[str, list] = {}
    edited: list[str] = []
    duplicated: list[str] = []
    anchor = ""  # extras before any recognised cell run first
    seen: set[str] = set()
    for cell in submission.cells:
        if cell.get("cell_type") != "code":
            continue  # markdown and raw cells of a submission never run
        gid = _grade_id(cell)
        if gid in anchors and fmt.is_answer(anchors[gid]):
            if gid in answers:
                duplicated.append(gid)
                extras.setdefault(anchor, []).append(cell)
                continue
            answers[gid] = cell
            anchor = gid
        elif gid in anchors:
            if gid not in seen and _norm(cell.source) != released_source.get(gid):
                edited.append(gid)
            if gid in seen:
                duplicated.append(gid)
            seen.add(gid)
            anchor = gid
        elif _norm(cell.source) in locked_sources:  # a given/test cell that lost its metadata
            anchor = locked_sources[_norm(cell.source)]
            seen.add(anchor)
        elif _norm(cell.source):
            extras.setdefault(anchor, []).append(cell)

    tests = [i for i, c in enumerate(solution.cells) if fmt.is_test(c)]
    last_test = tests[-1] if tests else len(solution.cells) - 1
    cells, kinds = [], []

    def add(source: str, kind: Kind, metadata: dict | None = None) -> None:
        cells.append(new_code_cell(source, metadata=metadata or {}))
        kinds.append(kind)

    def add_extras(key: str) -> None:
        for extra in extras.get(key, []):
            add(str(extra.source), Kind("extra", answer_part.get(key, "")))

    add_extras("")
    for index, cell in enumerate(solution.cells):
        if fmt.role(cell) is not None or (index > last_test and not all_cells):
            continue
        if cell.cell_type == "markdown":
            cells.append(new_markdown_cell(cell.source))
            kinds.append(Kind("markdown"))
            continue
        if cell.cell_type != "code":
            continue
        gid = _grade_id(cell)
        if fmt.is_answer(cell):
            mine = answers.get(gid)
            source = str(mine.source) if mine is not None else fmt.stub_answer(cell.source)
            add(source, Kind("answer", answer_part.get(gid, ""), gid))
        elif fmt.is_test(cell):
            add(cell.source.strip(), Kind("test", gid, gid))  # visible asserts only (validated)
            add_extras(gid)  # before the probe: a cell added after a test cannot follow its probe
            probe = probes.get(gid)
            if probe is not None:
                prelude = PROBE_PRELUDE.format(
                    path=f"{probe_root.rstrip('/')}/{gid}", inputs=inputs
                )
                add(prelude + probe, Kind("probe", gid, gid))
        else:
            add(cell.source, Kind("given", "", gid))
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                lines = ["# Parâmetros do corretor"] + [
                    f"{k} = {v!r}" for k, v in parameters.items()
                ]
                add("\n".join(lines), Kind("injected"))
        if not fmt.is_test(cell):
            add_extras(gid)
    notes = []
    missing = [gid for gid, c in anchors.items() if fmt.is_answer(c) and gid not in answers]
    if missing:
        notes.append(
            "células de resposta não encontradas (o corretor usou a versão em branco): "
            + ", ".join(sorted(missing))
        )
    absent = sorted(
        g
        for g, c in anchors.items()
        if not fmt.is_answer(c) and c.cell_type == "code" and g not in seen
    )
    if absent:
        notes.append("células fixas apagadas ou sem metadados (restauradas): " + ", ".join(absent))
    tests_edited = sorted(g for g in edited if fmt.is_test(anchors[g]))
    given_edited = sorted(g for g in edited if not fmt.is_test(anchors[g]))
    if tests_edited:
        notes.append(
            "célula de teste editada (o corretor usou a original): " + ", ".join(tests_edited)
        )
    if given_edited:
        notes.append("célula fixa editada (o corretor usou a original): " + ", ".join(given_edited))
    if duplicated:
        notes.append(
            "grade_id repetido (vale a primeira célula fixa do corretor; numa resposta, as cópias "
            "rodam como células extras): " + ", ".join(sorted(set(duplicated)))
        )
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(solution.metadata))
    return Assembly(nb, kinds, notes)
