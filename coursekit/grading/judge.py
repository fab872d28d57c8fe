"""The judge: references computed once per run, checks run in the grader's own process.

Nothing here imports, unpickles or executes anything a student wrote. A probe's output is read
as data (JSON, Parquet, CSV) through the capped readers below; the exercise's *check* cells
(trusted code from the solution) compare it with the *references* the exercise's reference cells
computed from the dataset's truth, in a separate trusted process started once per grading run.

``python -m coursekit.grading.judge references <solution.ipynb>... --out DIR`` is that process:
one Spark session, every exercise's reference cells in turn, each into ``DIR/<exercise>/``.

Examples
--------
>>> import json, tempfile
>>> from pathlib import Path
>>> from coursekit.grading.judge import run_check
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "r.json").write_text(json.dumps({"media": 2.0}))
>>> run_check("assert read_json(out / 'r.json')['media'] == 2.0, 'media errada'", folder, folder, part="parte_a")
(True, '')
>>> run_check("assert read_json(out / 'r.json')['media'] == 3.0, 'media errada'", folder, folder, part="parte_a")
(False, 'media errada')
>>> run_check("read_json(out / 'nada.json')", folder, folder, part="parte_b")
(False, 'a parte B não produziu resultado (veja a mensagem da sua resposta ou do teste visível)')
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

#: Largest probe file the judge reads, and most rows of a Parquet table.
MAX_FILE_BYTES = 200_000_000
MAX_ROWS = 5_000_000


class ProbeDataError(ValueError):
    """Probe output that the judge refuses to read (too large, not the expected format)."""


def _checked(path) -> Path:
    path = Path(path)
    if path.is_symlink():
        raise ProbeDataError(f"{path.name} é um link simbólico")
    if not path.exists():
        raise FileNotFoundError(path)
    size = (
        path.stat().st_size
        if path.is_file()
        else sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    )
    if size > MAX_FILE_BYTES:
        raise ProbeDataError(
            f"{path.name}: {size // 1_000_000} MB (limite {MAX_FILE_BYTES // 1_000_000} MB)"
        )
    return path


def read_json(path):
    """Parse a JSON file of the probe output (size-capped; plain data only)."""
    path = _checked(path)
    return json.loads(path.read_text(encoding="utf-8"))


def read_parquet(path, columns=None):
    """A pandas DataFrame from a Parquet file or folder of the probe output (size/row capped)."""
    import pyarrow.dataset as pads

    path = _checked(path)
    dataset = pads.dataset(str(path), format="parquet")
    rows = dataset.count_rows()
    if rows > MAX_ROWS:
        raise ProbeDataError(f"{path.name}: {rows} linhas (limite {MAX_ROWS})")
    return dataset.to_table(columns=columns).to_pandas()


def read_csv(path, **kwargs):
    """A pandas DataFrame from a CSV file of the probe output (size-capped)."""
    import pandas as pd

    return pd.read_csv(_checked(path), nrows=MAX_ROWS, **kwargs)


def part_letter(part: str) -> str:
    """``parte_b`` -> ``B``."""
    return part.removeprefix("parte_").upper()


def run_check(
    source: str, out: Path, ref: Path, *, part: str, seed: object = None
) -> tuple[bool, str]:
    """Run one check cell on one submission's probe output: ``(passed, pt-BR reason)``."""
    names = {
        "__name__": "coursekit_check",
        "out": Path(out),
        "ref": Path(ref),
        "read_json": read_json,
        "read_parquet": read_parquet,
        "read_csv": read_csv,
        "SEED": seed,
        "SCALE": "ci",
    }
    letter = part_letter(part)
    if not Path(out).is_dir() or not any(Path(out).iterdir()):
        return (
            False,
            f"a parte {letter} não produziu resultado (veja a mensagem da sua resposta ou do teste visível)",
        )
    try:
        exec(
            compile(source, f"<check {part}>", "exec"), names
        )  # trusted: the solution's check cell
    except AssertionError as exc:
        return False, str(exc) or f"a parte {letter} não passou na verificação"
    except FileNotFoundError:
        return (
            False,
            f"a parte {letter} não produziu resultado (veja a mensagem da sua resposta ou do teste visível)",
        )
    except ProbeDataError as exc:
        return False, f"resultado da parte {letter} recusado: {exc}"
    except Exception as exc:  # noqa: BLE001 (malformed data: wrong columns, types, NaN...)
        return False, f"resultado da parte {letter} em formato inesperado ({type(exc).__name__})"
    return True, ""


def references(
    solutions: dict[str, Path], folder: Path, *, log: Path, timeout: float = 900
) -> dict[str, str]:
    """Compute every exercise's references into ``folder/<exercise>``; ``{exercise: error}`` on failure.

    Runs ``python -m coursekit.grading.judge references`` (trusted, not sandboxed) once.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "coursekit.grading.judge", "references", "--out", str(folder)]
    cmd += [str(p) for p in solutions.values()]
    env = dict(os.environ)
    for var in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE"):
        env.pop(var, None)
    env.setdefault("COURSEKIT_UI", "0")
    env["PYTHONHASHSEED"] = "0"
    env["COURSEKIT_MASTER"] = "local[2]"
    log.parent.mkdir(parents=True, exist_ok=True)
    from coursekit.grading.sandbox import die_with_parent

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = -1
        except BaseException:
            proc.kill()
            raise
    errors = {}
    for name in solutions:
        if not (folder / name / ".done").exists():
            errors[name] = (
                f"as referências de {name} não foram calculadas (código {code}); veja {log}"
            )
    return errors


def _references_main(paths: list[Path], out: Path) -> int:
    import nbformat

    from coursekit.grading import notebooks as fmt

    failed = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        target = out / path.stem
        target.mkdir(parents=True, exist_ok=True)
        names: dict = {"__name__": "coursekit_reference", "REF": target}
        started = time.monotonic()
        try:
            exec(compile(fmt.parameters_source(nb), f"<parameters {path.stem}>", "exec"), names)
            names["SCALE"] = "ci"
            exec(
                compile(
                    fmt.grader_cells(nb, fmt.REFERENCE)[""], f"<reference {path.stem}>", "exec"
                ),
                names,
            )
        except Exception:  # noqa: BLE001 (report and go on with the next exercise)
            traceback.print_exc()
            failed += 1
            continue
        (target / ".done").write_text("ok")
        print(f"{path.stem}: referências em {time.monotonic() - started:.1f} s", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m coursekit.grading.judge")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("references", help="calcula as referências dos exercícios")
    r.add_argument("solutions", nargs="+", type=Path)
    r.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    return _references_main(args.solutions, args.out)


if __name__ == "__main__":
    sys.exit(main())
