"""The exercise notebook format: parts, answer cells, validation, parameter injection.

Pure functions over ``nbformat`` notebooks; nothing here runs a kernel.

Examples
--------
>>> import nbformat
>>> from coursekit.grading.notebooks import parts_of
>>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
...     "assert True", metadata={"nbgrader": {"grade": True, "solution": False,
...     "locked": True, "points": 2, "grade_id": "parte_a", "schema_version": 3}})])
>>> parts_of(nb)
[Part(name='parte_a', points=2.0)]
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

EXERCISE_RE = re.compile(r"^ex\d{2}_[a-z0-9_]+$")
PART_RE = re.compile(r"^parte_[a-z0-9_]+$")
SOLUTION_MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")
HIDDEN_BLOCK = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n.*?^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)", re.M | re.S
)
SOLUTION_BLOCK = re.compile(
    r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.M | re.S
)
#: What replaces an answer in the student version (nbgrader's ClearSolutions.code_stub).
CODE_STUB = "# SEU CÓDIGO AQUI\nraise NotImplementedError()"
TEXT_STUB = "SUA RESPOSTA AQUI"
INJECTED_TAG = "injected-parameters"
DEFAULT_TIMEOUT = 600
#: ``metadata.coursekit.role`` of the grader's raw cells (stripped from the student version).
PROBE, CHECK, REFERENCE = "probe", "check", "reference"
GRADER_ROLES = (PROBE, CHECK, REFERENCE)


class FormatError(ValueError):
    """A solution notebook does not follow the exercise format (see coursekit.grading)."""


@dataclass(frozen=True)
class Part:
    """One graded test cell: its ``grade_id`` and points."""

    name: str
    points: float


def is_exercise_name(name: str) -> bool:
    """True for names like ``ex01_deteccao_anomalias`` (``exNN_<lowercase>``)."""
    return bool(EXERCISE_RE.match(name))


def meta(cell) -> dict:
    """The cell's nbgrader metadata (empty dict when there is none)."""
    value = cell.get("metadata", {}).get("nbgrader", {})
    return value if isinstance(value, dict) else {}


def is_test(cell) -> bool:
    """A graded test cell (autograded: ``grade`` and not ``solution``)."""
    m = meta(cell)
    return bool(m.get("grade")) and not m.get("solution") and cell.get("cell_type") == "code"


def is_answer(cell) -> bool:
    """An answer cell (``solution`` and not ``grade``)."""
    m = meta(cell)
    return bool(m.get("solution")) and not m.get("grade")


def parts_of(nb) -> list[Part]:
    """The graded parts of a notebook, in order."""
    return [
        Part(str(meta(c)["grade_id"]), float(meta(c).get("points", 0)))
        for c in nb.cells
        if is_test(c) and meta(c).get("grade_id")
    ]


def test_cells(nb) -> dict[str, dict]:
    """``{grade_id: cell}`` of the graded test cells (first one wins on duplicates)."""
    found: dict[str, dict] = {}
    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if is_test(cell) and gid and gid not in found:
            found[str(gid)] = cell
    return found


def answer_cells_by_part(nb) -> dict[str, list[int]]:
    """Indices of the answer cells that belong to each part (those since the previous test)."""
    owned: dict[str, list[int]] = {}
    pending: list[int] = []
    for index, cell in enumerate(nb.cells):
        if is_answer(cell):
            pending.append(index)
        elif is_test(cell) and meta(cell).get("grade_id"):
            owned[str(meta(cell)["grade_id"])] = pending
            pending = []
    return owned


def parameters_index(nb) -> int | None:
    """Index of the cell tagged ``parameters`` (None when absent)."""
    for index, cell in enumerate(nb.cells):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return index
    return None


def strip_hidden_tests(source: str) -> str:
    """``source`` without its hidden-test blocks (what a student sees)."""
    return HIDDEN_BLOCK.sub("", source)


def stub_answer(source: str) -> str:
    """Replace every solution block by the student stub, keeping its indentation."""

    def repl(match: re.Match) -> str:
        indent = match.group(1)
        return "".join(f"{indent}{line}\n" for line in CODE_STUB.splitlines())

    return SOLUTION_BLOCK.sub(repl, source).rstrip("\n")


def timeout_of(nb) -> int | None:
    """The exercise's own time limit in seconds (``metadata.coursekit.timeout``), if any."""
    value = nb.metadata.get("coursekit", {}).get("timeout")
    return int(value) if value else None


def validate_solution(nb, name: str) -> list[str]:
    """Problems that stop ``nb`` from being graded as exercise ``name`` (empty = fine).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The solution notebook.
    name : str
        Its exercise name (file stem), e.g. ``"ex01_deteccao_anomalias"``.

    Returns
    -------
    list of str
        One sentence per problem, each saying how to fix it.
    """
    problems = []
    if not is_exercise_name(name):
        problems.append(f"nome '{name}' inválido: use exNN_<nome_em_minusculas>")
    if parameters_index(nb) is None:
        problems.append("falta a célula de código com a tag 'parameters' (SCALE, SEED)")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or "spark.stop()" not in code[-1].source:
        problems.append("a última célula de código deve ser spark.stop()")
    ids: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        m = meta(cell)
        has_markers = "BEGIN SOLUTION" in cell.source
        if has_markers and not m.get("solution"):
            problems.append(
                f"célula {index}: tem ### BEGIN SOLUTION mas não é célula de resposta "
                "(metadata nbgrader solution: true)"
            )
        if "BEGIN HIDDEN TESTS" in cell.source:
            problems.append(
                f"célula {index}: testes ocultos rodam no kernel do aluno, que ele controla; "
                "troque o bloco HIDDEN TESTS por uma sonda (probe) e uma verificação (check)"
            )
        if role(cell) is not None:
            problems.extend(_grader_cell_problems(index, cell))
            continue
        if not m:
            continue
        gid = m.get("grade_id")
        if not gid:
            problems.append(f"célula {index}: metadata nbgrader sem grade_id")
            continue
        if gid in ids:
            problems.append(
                f"célula {index}: grade_id '{gid}' repetido (já usado na célula {ids[gid]})"
            )
        ids[gid] = index
        if m.get("grade") and m.get("solution"):
            problems.append(
                f"célula {index} ('{gid}'): grade e solution juntos pedem correção manual; "
                "separe em célula de resposta + célula de teste"
            )
        if is_test(cell):
            if not PART_RE.match(str(gid)):
                problems.append(
                    f"célula {index}: a parte '{gid}' deve se chamar parte_a, parte_b, ..."
                )
            try:
                points = float(m.get("points", 0))
            except (TypeError, ValueError):
                points = 0
            if points <= 0:
                problems.append(
                    f"célula {index} ('{gid}'): points deve ser > 0 (recebido: {m.get('points')!r})"
                )
            if not m.get("locked"):
                problems.append(
                    f"célula {index} ('{gid}'): células de teste devem ter locked: true"
                )
        if is_answer(cell) and cell.cell_type == "code" and "BEGIN SOLUTION" not in cell.source:
            problems.append(f"célula {index} ('{gid}'): célula de resposta sem ### BEGIN SOLUTION")
    if not parts_of(nb):
        problems.append("nenhuma célula de teste com pontos (nbgrader grade: true)")
    owned = answer_cells_by_part(nb)
    names = [p.name for p in parts_of(nb)]
    for part in names:
        if not owned.get(part):
            problems.append(
                f"a parte '{part}' não tem célula de resposta própria entre o teste anterior e o seu"
            )
    for kind in (PROBE, CHECK):
        found = [str(c.metadata["coursekit"].get("part")) for c in nb.cells if role(c) == kind]
        for part in names:
            if found.count(part) != 1:
                problems.append(
                    f"a parte '{part}' precisa de exatamente uma célula raw de {kind} "
                    f"(metadata coursekit role '{kind}', part '{part}'); encontradas: {found.count(part)}"
                )
        for part in sorted(set(found) - set(names)):
            problems.append(f"célula de {kind} para a parte '{part}', que não existe")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("outputs"):
            problems.append(f"célula {index}: tem saídas; limpe-as antes de salvar")
            break
    return problems


def role(cell) -> str | None:
    """The grader role of a cell (``probe``, ``check``, ``reference``) or None for notebook cells."""
    value = cell.get("metadata", {}).get("coursekit")
    if isinstance(value, dict) and value.get("role") is not None:
        return str(value.get("role"))
    return None


def _grader_cell_problems(index: int, cell) -> list[str]:
    kind = role(cell)
    out = []
    if kind not in GRADER_ROLES:
        out.append(
            f"célula {index}: role '{kind}' desconhecido; use um de {', '.join(GRADER_ROLES)}"
        )
    if cell.cell_type != "raw":
        out.append(f"célula {index}: células de {kind} devem ser raw (não rodam no Jupyter)")
    if meta(cell):
        out.append(f"célula {index}: células de {kind} não levam metadata nbgrader")
    if kind in (PROBE, CHECK) and not PART_RE.match(str(cell.metadata["coursekit"].get("part"))):
        out.append(f"célula {index}: a {kind} precisa de 'part' (parte_a, parte_b, ...)")
    try:
        compile(cell.source, f"<{kind} {index}>", "exec")
    except SyntaxError as exc:
        out.append(f"célula {index}: a {kind} não compila: {exc.msg} (linha {exc.lineno})")
    return out


def grader_cells(nb, kind: str) -> dict[str, str]:
    """``{part: source}`` of the probe or check cells (``{"": joined source}`` for references)."""
    if kind == REFERENCE:
        return {"": "\n\n".join(c.source for c in nb.cells if role(c) == REFERENCE)}
    return {str(c.metadata["coursekit"]["part"]): c.source for c in nb.cells if role(c) == kind}


def without_grader_cells(nb):
    """A copy of ``nb`` without probe, check and reference cells (the input of ``make exercises``)."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if role(c) is None]
    return nb


def parameters_source(nb) -> str:
    """Source of the ``parameters`` cell (empty when absent)."""
    index = parameters_index(nb)
    return "" if index is None else nb.cells[index].source


def discover_solutions(folder: str | Path) -> dict[str, Path]:
    """``{exercise_name: path}`` for every ``exNN_*.ipynb`` in ``folder`` (sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("ex*.ipynb")) if is_exercise_name(p.stem)}


def read_solution(path: str | Path):
    """Read and validate a solution notebook; raise FormatError listing every problem."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    problems = validate_solution(nb, path.stem)
    if problems:
        raise FormatError(f"{path}: formato de exercício inválido:\n  - " + "\n  - ".join(problems))
    return nb


def inject_parameters(nb, values: dict[str, object]):
    """Return a copy of ``nb`` with a cell setting ``values`` right after ``parameters``.

    Like papermill, the new cell is tagged ``injected-parameters``; without a
    ``parameters`` cell it goes first.
    """
    nb = copy.deepcopy(nb)
    lines = ["# Parâmetros injetados pelo corretor"] + [f"{k} = {v!r}" for k, v in values.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [INJECTED_TAG]})
    index = parameters_index(nb)
    nb.cells.insert(0 if index is None else index + 1, cell)
    return nb


def blank_part(nb, part: str):
    """A copy of solution ``nb`` whose answer cells for ``part`` hold the student stub.

    Used by the self-test and the benchmark to fabricate "one part wrong".
    """
    nb = copy.deepcopy(nb)
    owned = answer_cells_by_part(nb).get(part)
    if not owned:
        raise ValueError(f"a parte '{part}' não tem células de resposta próprias")
    for index in owned:
        nb.cells[index].source = stub_answer(nb.cells[index].source)
    return nb


def last_answered_part(nb) -> str | None:
    """The last part that owns answer cells (the one the self-test blanks)."""
    owned = answer_cells_by_part(nb)
    named = [p.name for p in parts_of(nb) if owned.get(p.name)]
    return named[-1] if named else None
