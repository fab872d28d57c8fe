"""Auto-grading of the exercise notebooks, built on nbgrader (command line, no JupyterHub).

Two commands:

* ``make exercises`` (``python -m coursekit.grading.exercises``) regenerates the
  student versions ``exercises/exNN_*.ipynb`` from ``solutions/`` with
  ``nbgrader generate_assignment``; ``--check`` only reports what is out of date.
* ``make grade SUBMISSIONS=<dir|zip> [GRADES=<dir>]`` (``python -m coursekit.grading``)
  grades ``<dir>/<student_id>/<exercise>.ipynb`` at ``SCALE="ci"`` with
  ``nbgrader autograde`` and writes ``GRADES/grades.csv`` (student, exercise, part,
  score, max_score, reason), ``GRADES/totals.csv`` and
  ``GRADES/feedback/<student>/<exercise>.html``. Submissions are only read.

Exercise format (for the authors of ``solutions/``)
----------------------------------------------------
A solution notebook ``solutions/exNN_<nome>.ipynb`` is the source of truth.
It follows the course's notebook conventions (markdown title, objectives and
time, ONE code cell tagged ``parameters`` with ``SCALE = "aula"`` and
``SEED = 42``, ``spark = get_spark("exNN_<nome>")``, last code cell
``spark.stop()``, no outputs) and marks cells with standard nbgrader metadata
``cell.metadata["nbgrader"]`` (always ``schema_version: 3``, ``task: false``
and a unique ``grade_id``):

* answer cell: ``solution: true, grade: false, locked: false``. In the
  student version the code between the markers becomes
  ``# SEU CÓDIGO AQUI`` + ``raise NotImplementedError()``.
* graded test cell, one *part*: ``solution: false, grade: true, locked: true,
  points: N``. In the student version its hidden tests are removed and the
  cell is read-only; the grader always runs the original (with hidden tests),
  even if the student edited it.
* given code (optional): ``solution: false, grade: false, locked: true``:
  read-only for the student and restored by the grader if edited. Use it for
  the parameters cell, data loading and the final ``spark.stop()``.

Rules the grader and its self-test rely on:

1. Answer code sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
   inside an answer cell (a ``def`` line may stay outside, so the stub keeps
   the signature).
2. Each graded test cell is one *part*. Its ``grade_id`` is ``parte_a``,
   ``parte_b``, ... (``parte_[a-z0-9_]+``) and names the part in grades.csv;
   ``points`` > 0. Answer cells are named ``<part>_codigo`` (any unique id
   works). A part's answer cells come right before its test cell, and a later
   part must not need an earlier part's answer to *run* (reuse given data, not
   the student's result), so one wrong part costs exactly its own points
   (``make test`` checks this on the example; for a real exercise grade
   ``notebooks.blank_part(solution, "parte_b")`` once by hand).
3. A test cell is plain ``assert`` lines: first the visible checks (schema,
   types, ranges a student can run), then hidden ones between
   ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``. A part scores all its
   points when the cell raises nothing, zero otherwise. Do not end a test cell
   with an expression (nbgrader reads a number there as partial credit);
   partial credit = more parts. Output on stderr (warnings) does not fail a part.
4. Hidden tests check *properties* of the student's result against the
   dataset's ground truth (``coursekit.datasets.generate(...).truth``) with
   tolerances, never a value to copy: ``auc >= truth["bayes_auc"] - 0.05``,
   schema and row counts, ``max(train.date) < min(test.date)`` (no leakage),
   ``precision_at_k > precision_at_k_of_als_alone``. Messages say what is
   wrong in pt-BR without the expected number ("AUC abaixo do esperado para
   estes dados"): the feedback shows the message, never the hidden code.
5. Every test must pass at ``SCALE="ci"`` (the grader's scale, injected as a
   cell after ``parameters``) with the notebook's ``SEED``, and fail on the
   untouched student version. The notebook must run over Spark Connect (the
   grader shares one server): no ``spark.sparkContext``, ``df.rdd`` or
   ``pyspark.mllib`` in answers or tests.
6. Optional ``metadata["coursekit"]["timeout"]`` (seconds) in the solution
   notebook sets that exercise's time limit (default 600 s; ``--timeout`` or
   ``COURSEKIT_GRADE_TIMEOUT`` override it).

``tests/fixtures/grading/ex00_exemplo.ipynb`` is a complete minimal example.
After editing a solution run ``make exercises`` and commit both files; the
test suite fails while ``exercises/`` is out of date. ``make test`` grades
every ``solutions/ex*.ipynb`` (full marks expected) and its untouched student
version (zero expected), so solutions are executed there, once.

Examples
--------
>>> from coursekit.grading import is_exercise_name
>>> is_exercise_name("ex01_deteccao_anomalias"), is_exercise_name("aula01")
(True, False)
"""

from __future__ import annotations

from coursekit.grading.notebooks import (
    EXERCISE_RE,
    FormatError,
    Part,
    discover_solutions,
    is_exercise_name,
    parts_of,
    validate_solution,
)

__all__ = [
    "EXERCISE_RE",
    "FormatError",
    "Part",
    "discover_solutions",
    "is_exercise_name",
    "parts_of",
    "validate_solution",
]
