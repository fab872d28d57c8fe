"""A static read of the student's code, for checks that grade a *mechanism* the kernel reports.

Most checks compare a probe's data with references from the dataset truth: to forge the data a
student must compute the right answer. A check that grades *how* a result was computed (ex07: the
executed plan shows a cache, a broadcast join, no Python UDF) reads what the student's own kernel
reports, and a kernel can report anything: a proxy bound to ``spark``, events posted on Spark's
listener bus, a patched ``DataFrame.toPandas``, a later cell that rewrites the probe's files. Such
a check also requires that the student's code (every answer cell and added cell, as the grader
assembled them; parsed with :mod:`ast`, never executed) stays inside the public DataFrame API:
no private or dunder attribute, no dynamic attribute access or code execution, no imports beyond
pyspark and a few pure standard modules, no module reached as an attribute (``F.os``), no file
writes, no Java reflection from SQL, no shell or magic commands but ``%time``/``%timeit``, no
attribute assignment, and no global rebinding of what the notebook gives (``spark``, the given
functions).

A deny-list over a language with many doors: it closes the ones a forged plan needs, and the
README says so.

Examples
--------
>>> public_api_violations(["def f(df):\\n    df = df.cache()\\n    return df"], given={"df"})
[]
>>> cells = ["x = spark._jsc", "spark = None", "import os", "!ls", "F.os.system('ls')"]
>>> for v in public_api_violations(cells, given={"spark"}):
...     print(v)
sua célula 1, linha 1: atributo privado `_jsc`
sua célula 2, linha 1: reatribui `spark`, dado pelo notebook
sua célula 3, linha 1: importa `os` (a resposta só importa pyspark, math, functools, itertools, re, datetime)
sua célula 4, linha 1: comando do shell ou mágico do IPython (`!ls`)
sua célula 5, linha 1: usa `.system` (grava arquivos ou chega ao Java ou à sessão)
sua célula 5, linha 1: usa `.os`, um módulo (chega ao sistema, ao Java ou a arquivos)
"""

from __future__ import annotations

import ast

#: Top-level modules an answer may import.
ALLOWED_IMPORTS = ("pyspark", "math", "functools", "itertools", "re", "datetime")
#: pyspark modules an answer may import from (the rest reach the JVM, pickles or the system).
ALLOWED_PYSPARK = ("pyspark", "pyspark.sql", "pyspark.sql.functions", "pyspark.sql.window",
                   "pyspark.sql.types", "pyspark.storagelevel")  # fmt: skip
#: IPython line/cell magics an answer may use (what follows them is Python and is read too).
ALLOWED_MAGICS = ("%%timeit", "%%time", "%timeit", "%time")
#: Builtins (and notebook names) that reach objects, code or files by name.
FORBIDDEN_NAMES = {
    "getattr", "setattr", "delattr", "vars", "globals", "locals", "exec", "eval", "compile",
    "__import__", "open", "breakpoint", "input", "memoryview", "help", "type", "object",
    "super", "get_ipython", "PROBE_OUT", "PROBE_IN",
}  # fmt: skip
#: Attributes that write files, reach the JVM or the session's machinery (public, never needed).
FORBIDDEN_ATTRIBUTES = {
    "write", "writeTo", "writeStream", "save", "saveAsTable", "insertInto", "reflect",
    "try_reflect", "java_method", "call_function", "call_udf", "addPyFile", "addFile",
    "addArtifact", "addArtifacts", "setLocalProperty", "newSession", "builder", "getOrCreate",
    "loads", "load", "system", "popen",
}  # fmt: skip
#: Modules that pyspark, pyspark.sql, functions, DataFrame and Column expose as attributes and
#: that lead to the system, the JVM, pickles or files (pyspark 4.1, measured with ``dir``).
MODULE_ATTRIBUTES = {
    "os", "sys", "ctypes", "inspect", "cloudpickle", "java_gateway", "serializers", "json",
    "base64", "copyreg", "builtin", "builtins", "pickle", "marshal", "importlib", "subprocess",
    "shutil", "pathlib", "io", "pandas", "resource", "files", "util", "utils", "profiler",
    "memory_profiler_ext", "logger", "traceback_utils", "taskcontext", "accumulators", "context",
    "rdd", "shuffle", "core", "session", "udf", "udtf", "errors", "warnings", "readwriter",
    "streaming", "statcounter", "rddsampler", "resultiterable", "find_spark_home", "observation",
    "_globals", "geo_utils", "variant_utils", "sql_formatter", "loose_version",
}  # fmt: skip
#: Text that names Java reflection in SQL strings (``F.expr("reflect(...)")``) or grader folders.
FORBIDDEN_TEXT = ("reflect", "java_method", "/grading")
#: Calls that take SQL text: it must be a literal the lint can read, not text built at run time.
SQL_CALLS = {"expr", "selectExpr", "sql", "where", "filter"}


def _built_text(node) -> bool:
    return (
        isinstance(node, ast.JoinedStr)
        or (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod))
        or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"format", "join", "replace"})
    )  # fmt: skip


def _local_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside function bodies (a name stored there is local)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for child in ast.walk(node):
                if child is not node:
                    inside.add(id(child))
    return inside


def _problems(tree: ast.AST, given: set[str]):
    local = _local_nodes(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module if node.level == 0 else "."]
            )
            for module in modules:
                root = str(module).split(".")[0]
                if root not in ALLOWED_IMPORTS or (
                    root == "pyspark" and module not in ALLOWED_PYSPARK
                ):
                    yield (
                        line,
                        (
                            f"importa `{module}` (a resposta só importa "
                            + ", ".join(ALLOWED_IMPORTS)
                            + ")"
                        ),
                    )
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                yield line, f"atributo privado `{node.attr}`"
            elif node.attr in MODULE_ATTRIBUTES:
                yield (
                    line,
                    f"usa `.{node.attr}`, um módulo (chega ao sistema, ao Java ou a arquivos)",
                )
            elif node.attr in FORBIDDEN_ATTRIBUTES or node.attr.startswith("to_"):
                yield line, f"usa `.{node.attr}` (grava arquivos ou chega ao Java ou à sessão)"
            if isinstance(node.ctx, ast.Store | ast.Del):
                yield line, f"altera o atributo `.{node.attr}` de um objeto"
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES or node.id.startswith("__"):
                yield line, f"usa `{node.id}`"
            elif (
                isinstance(node.ctx, ast.Store | ast.Del)
                and node.id in given
                and id(node) not in local
            ):
                yield line, f"reatribui `{node.id}`, dado pelo notebook"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name in given and id(node) not in local:
                yield line, f"redefine `{node.name}`, dado pelo notebook"
            if isinstance(node, ast.ClassDef):
                yield line, f"define a classe `{node.name}` (não é preciso nesta resposta)"
        elif isinstance(node, ast.Global | ast.Nonlocal):
            yield line, "usa `global`/`nonlocal`"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            text = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
            for word in FORBIDDEN_TEXT:
                if word in text.lower():
                    yield line, f"o texto {text[:40]!r} contém `{word}`"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in SQL_CALLS and any(_built_text(a) for a in node.args):
                yield line, f"`.{node.func.attr}(...)` com texto montado em tempo de execução"


def _python_lines(source: str) -> tuple[list[str], list[tuple[int, str]]]:
    """The cell as Python (allowed magics removed) and the shell/magic lines it refuses."""
    lines, refused = [], []
    for number, line in enumerate(str(source).splitlines(), start=1):
        stripped = line.lstrip()
        magic = next((m for m in ALLOWED_MAGICS if stripped.startswith(m)), None)
        if magic is not None:
            rest = stripped[len(magic) :]
            lines.append(line[: len(line) - len(stripped)] + rest.strip() if rest.strip() else "")
        elif stripped.startswith(("%", "!")) or stripped.endswith("?"):
            refused.append((number, stripped[:30]))
            lines.append("")
        else:
            lines.append(line)
    return lines, refused


def public_api_violations(cells: list[str], *, given=frozenset()) -> list[str]:
    """What in ``cells`` (the student's code, in run order) leaves the public DataFrame API.

    ``given``: names the notebook defines for the student (they may be used, not rebound).
    One pt-BR line per finding, ``"sua célula N, linha L: ..."`` (N counts the student's cells from 1).
    A cell that does not parse is a finding too (the check cannot read it).
    """
    found: list[str] = []
    for number, source in enumerate(cells, start=1):
        lines, refused = _python_lines(source)
        for line, text in refused:
            found.append(
                f"sua célula {number}, linha {line}: comando do shell ou mágico do IPython (`{text}`)"
            )
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError as exc:
            found.append(f"sua célula {number}, linha {exc.lineno or 0}: não é Python válido")
            continue
        seen: set[tuple[int, str]] = set()
        for line, text in _problems(tree, set(given)):
            if (line, text) not in seen:
                seen.add((line, text))
                found.append(f"sua célula {number}, linha {line}: {text}")
    return found


def defined_names(sources: list[str]) -> set[str]:
    """The functions, classes and modules that ``sources`` (trusted given cells) define globally.

    These are what a probe may call; data the notebook gives (``transactions``) may be rebound.
    """
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(str(source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names
