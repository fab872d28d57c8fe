"""One vocabulary: the rejected variants listed in GLOSSARIO.md never appear in learner-facing prose.

Learner-facing prose is the markdown of the lessons, exercises and solutions, the comments of their code
cells, and README.md. Code is not prose: fenced blocks and inline code spans in markdown, and strings
and UPPER_CASE names in comments, are left out, so ``featuresCol``, the column ``"features"`` or
``StopWordsRemover`` are never flagged. What students never see is left out too: grader cells
(``metadata.coursekit.role``) and the ``BEGIN SOLUTION`` / ``BEGIN HIDDEN TESTS`` blocks.

The rejected variants are read from the "Evite" column of the glossary table, so the glossary and this
test cannot drift apart; ``REQUIRED`` pins the variants the lessons issue named. Pure text, no Spark.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "GLOSSARIO.md"
README = ROOT / "README.md"
NOTEBOOKS = sorted(
    path
    for folder in ("notebooks", "exercises", "solutions")
    for path in (ROOT / folder).glob("*.ipynb")
)

#: Variants the lessons issue ("One vocabulary") named; each must stay in the glossary's "Evite" column.
REQUIRED = {
    "micro-batch",
    "fold",
    "folds",
    "grid",
    "stop words",
    "feature",
    "features",
    "score",
    "scores",
}

#: Markdown that is not prose: fenced blocks, inline code spans, link targets, HTML tags.
MARKDOWN_CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|(`+).+?\2|\]\([^)]*\)|<[^>]+>", re.S | re.M)
#: Comment parts that are not prose: code spans, string literals, UPPER_CASE names (constants).
COMMENT_CODE = re.compile(r"(`+).+?\1|\"[^\"]*\"|'[^']*'|\b[A-Z][A-Z0-9_]+\b")
HIDDEN_BEGIN = re.compile(r"BEGIN (SOLUTION|HIDDEN TESTS)")
HIDDEN_END = re.compile(r"END (SOLUTION|HIDDEN TESTS)")
EMPTY = {"", "—", "-"}


@dataclass(frozen=True)
class Term:
    forms: tuple[str, ...]
    spark_name: str
    rejected: tuple[str, ...]
    meaning: str


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _plain(text: str) -> str:
    return re.sub(r"[*`]", "", text).strip()


def _items(cell: str, sep: str) -> tuple[str, ...]:
    return tuple(item for item in (_plain(x) for x in re.split(sep, cell)) if item not in EMPTY)


def parse_glossary(text: str) -> list[Term]:
    """Rows of the table whose header has the columns Termo, Nome no Spark, Evite and Significado."""
    lines = text.splitlines()
    headers = [
        (i, [_plain(c).lower() for c in _cells(line)])
        for i, line in enumerate(lines)
        if line.lstrip().startswith("|")
    ]
    start, header = next(((i, h) for i, h in headers if "evite" in h), (None, None))
    if header is None:
        raise ValueError("GLOSSARIO.md: nenhuma tabela com a coluna 'Evite'.")
    col = {name: header.index(name) for name in ("termo", "nome no spark", "evite", "significado")}
    terms = []
    for line in lines[start + 2 :]:
        if not line.lstrip().startswith("|"):
            break
        cells = _cells(line)
        terms.append(
            Term(
                forms=_items(cells[col["termo"]], r"[,/]"),
                spark_name=_plain(cells[col["nome no spark"]]),
                rejected=_items(cells[col["evite"]], ","),
                meaning=_plain(cells[col["significado"]]),
            )
        )
    return terms


def _phrase(text: str) -> str:
    return re.escape(text).replace(r"\ ", r"\s+")


def _word(text: str) -> str:
    return rf"(?<!\w){_phrase(text)}(?!\w)"


def _blank(match: re.Match) -> str:
    """Spaces in place of the match, newlines kept, so positions and line numbers do not move."""
    return re.sub(r"[^\n]", " ", match.group(0))


def find_rejected(prose: str, terms: list[Term]) -> list[tuple[int, str, str]]:
    """(line number, variant, term to use) for every rejected variant in ``prose``.

    Accepted terms are blanked first, so a term that contains a variant ("feature store") is not
    flagged, and neither is the English name given in italics right after the term, at its first
    mention: "palavras vazias (*stop words*)".
    """
    for term in terms:
        variants = "|".join(_phrase(v) for v in term.rejected)
        for form in sorted(term.forms, key=len, reverse=True):
            if variants:
                gloss = rf"(?<!\w){_phrase(form)}s?\**\s*\(\s*\*(?:{variants})\*\s*\)"
                prose = re.sub(gloss, _blank, prose, flags=re.I)
            prose = re.sub(_word(form), _blank, prose, flags=re.I)
    return sorted(
        (prose.count("\n", 0, m.start()) + 1, variant, term.forms[0])
        for term in terms
        for variant in term.rejected
        for m in re.finditer(_word(variant), prose, flags=re.I)
    )


def markdown_prose(text: str) -> str:
    return MARKDOWN_CODE.sub(_blank, text)


def comment_prose(source: str) -> list[tuple[int, str]]:
    """(line number, prose) of each comment a learner sees in a code cell."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        tokens = [
            (t.start[0], t.string)
            for t in tokenize.generate_tokens(io.StringIO("\n".join(lines)).readline)
            if t.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError):  # not Python: every '#' to the end of its line
        tokens = [(n, line[line.index("#") :]) for n, line in enumerate(lines, 1) if "#" in line]
    out, hidden = [], False
    for n, comment in tokens:
        if HIDDEN_BEGIN.search(comment):
            hidden = True
        elif HIDDEN_END.search(comment):
            hidden = False
        elif not hidden:
            out.append((n, COMMENT_CODE.sub(_blank, comment)))
    return out


def notebook_prose(path: Path) -> list[tuple[int, int, str]]:
    """(cell, first line, prose) for the markdown cells and the comments of visible code cells."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            out.append((i, 1, markdown_prose(source)))
        elif cell["cell_type"] == "code" and "role" not in cell.get("metadata", {}).get(
            "coursekit", {}
        ):
            out += [(i, n, text) for n, text in comment_prose(source)]
    return out


@pytest.fixture(scope="module")
def terms() -> list[Term]:
    return parse_glossary(GLOSSARY.read_text(encoding="utf-8"))


def _report(hits: list[str]) -> str:
    return (
        "Use o termo do GLOSSARIO.md no texto corrido (o nome em inglês fica no código):\n"
        + "\n".join(hits)
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_prose_uses_glossary_terms(path, terms):
    hits = [
        f"{path.relative_to(ROOT)}, célula {cell}, linha {first + line - 1}: '{variant}' -> '{use}'"
        for cell, first, text in notebook_prose(path)
        for line, variant, use in find_rejected(text, terms)
    ]
    assert not hits, _report(hits)


def test_readme_prose_uses_glossary_terms(terms):
    prose = markdown_prose(README.read_text(encoding="utf-8"))
    hits = [
        f"README.md, linha {line}: '{variant}' -> '{use}'"
        for line, variant, use in find_rejected(prose, terms)
    ]
    assert not hits, _report(hits)


def test_readme_links_glossary():
    assert "](GLOSSARIO.md)" in README.read_text(encoding="utf-8"), (
        "README.md deve ter um link para GLOSSARIO.md."
    )


def test_glossary_rows_are_complete(terms):
    assert len(terms) >= 10, f"GLOSSARIO.md: só {len(terms)} linhas na tabela."
    for term in terms:
        assert term.forms and term.spark_name and term.meaning, (
            f"GLOSSARIO.md: linha incompleta: {term}"
        )
    forms = [form.lower() for term in terms for form in term.forms]
    assert len(forms) == len(set(forms)), "GLOSSARIO.md: um termo aparece em duas linhas."


def test_glossary_rejects_the_variants_the_issue_named(terms):
    rejected = {variant.lower() for term in terms for variant in term.rejected}
    missing = REQUIRED - rejected
    assert not missing, f"GLOSSARIO.md: falta(m) na coluna 'Evite': {sorted(missing)}."
    accepted = {form.lower() for term in terms for form in term.forms}
    both = rejected & accepted
    assert not both, f"GLOSSARIO.md: termo aceito e evitado ao mesmo tempo: {sorted(both)}."


FINDER_TERMS = [
    Term(("dobra",), "fold", ("fold", "folds"), "m"),
    Term(("variável",), "feature", ("feature", "features"), "m"),
    Term(("feature store",), "feature store", (), "m"),
    Term(("palavras vazias",), "stop words", ("stop words",), "m"),
]


def test_finder_reads_markdown_prose_only():
    md = markdown_prose(
        "Com 3 folds e `numFolds=3`:\n```python\nVectorAssembler(outputCol='features')\n```\nfim, feature"
    )
    assert find_rejected(md, FINDER_TERMS) == [(1, "folds", "dobra"), (5, "feature", "variável")]


def test_finder_skips_accepted_terms_identifiers_and_first_mention_gloss():
    prose = "a feature store guarda variáveis; featuresCol, lag_features. Palavras vazias (*stop words*) saem"
    assert find_rejected(prose, FINDER_TERMS) == []
    assert find_rejected("as stop\nwords", FINDER_TERMS) == [(1, "stop words", "palavras vazias")]


def test_finder_reads_visible_comments_only():
    source = (
        "%%time\n"
        'FEATURES = ["a"]  # same order as FEATURES, "features"\n'
        "x = 1  # the Features\n"
        "### BEGIN SOLUTION\n"
        "y = 2  # hidden folds\n"
        "### END SOLUTION\n"
        's = "# not a comment, folds"\n'
    )
    found = [(n, find_rejected(text, FINDER_TERMS)) for n, text in comment_prose(source)]
    assert found == [(2, []), (3, [(1, "features", "variável")])]
