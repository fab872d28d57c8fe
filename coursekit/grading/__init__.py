"""Auto-grading of the exercise notebooks as a programming-contest judge.

The student's notebook only produces data, inside a sandbox; trusted code outside the
student's interpreter judges it. Modules, one concern each:

* :mod:`.notebooks` - the exercise format: cell roles, parts, validation (``FORMAT.md`` explains
  it to authors: answers, visible tests, and per part a *probe* and a *check*; *references*);
* :mod:`.exercises` - ``make exercises``: student versions generated with nbgrader
  (``generate_assignment``: ClearSolutions, ClearHiddenTests, LockCells, checksums) after the
  grader's raw cells are removed;
* :mod:`.assemble` - the notebook a submission runs: the student's answer cells (and cells
  they added) inside the solution's given cells, visible tests and probes, whatever the
  submission did to them;
* :mod:`.sandbox` - bubblewrap: read-only environment, a private folder, no network, own PID
  namespace, limits and a watchdog; :mod:`.runner` - what runs inside it (nbclient with a time
  budget and output caps);
* :mod:`.judge` - references computed once per exercise per run, checks run in the grader's
  own process on the probes' data (never importing, unpickling or executing it);
* :mod:`.intake` - what to grade: folders or zip, odd names, symlinks never followed, unreadable
  files scored 0 with a reason;
* :mod:`.grader` - ``make grade``: a thread pool of sandboxes with per-task time limits,
  fairness re-runs, the judge's scores; :mod:`.lint` - ex07's reading of the answer cells (no
  private Spark API); :mod:`.report` - grades.csv, totals.csv and the feedback pages;
  :mod:`.release` - ``make release``; :mod:`.selftest` - an author's check of one solution. The
  class benchmark is ``tools/grading_bench.py`` (outside the installed package).

Commands: ``make exercises``, ``make grade SUBMISSIONS=<dir|zip> [GRADES=<dir>]``,
``make release``, ``python -m coursekit.grading.selftest solutions/exNN_x.ipynb``.

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
