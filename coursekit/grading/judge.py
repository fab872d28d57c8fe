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
>>> run_check("note('speed-up medido: 3.0x')", folder, folder, part="parte_c")
(True, 'speed-up medido: 3.0x')
>>> run_check("read_json(out / 'nada.json')", folder, folder, part="parte_b")
(False, 'a parte B não produziu resultado (veja a mensagem da sua resposta ou do teste visível)')
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

#: Largest probe file the judge reads, and most rows of a Parquet table.
MAX_FILE_BYTES = 200_000_000
MAX_ROWS = 5_000_000
#: Longest reason a check gives (an assert message may quote the student's data).
MAX_REASON = 300


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
    """A pandas DataFrame from a Parquet file or folder of the probe output (size/row capped).

    The file's pandas metadata is ignored (``ignore_metadata``): dtypes come from the Parquet
    schema, so a column cannot arrive as a nullable extension type whose ``<NA>`` values
    comparisons silently skip; nulls are NaN/None, which the checks see.
    """
    import pyarrow.dataset as pads

    path = _checked(path)
    dataset = pads.dataset(str(path), format="parquet")
    rows = dataset.count_rows()
    if rows > MAX_ROWS:
        raise ProbeDataError(f"{path.name}: {rows} linhas (limite {MAX_ROWS})")
    return dataset.to_table(columns=columns).to_pandas(ignore_metadata=True)


def read_csv(path, **kwargs):
    """A pandas DataFrame from a CSV file of the probe output (size-capped)."""
    import pandas as pd

    return pd.read_csv(_checked(path), nrows=MAX_ROWS, **kwargs)


def _capped(text: str, limit: int = MAX_REASON) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def part_letter(part: str) -> str:
    """``parte_b`` -> ``B``."""
    return part.removeprefix("parte_").upper()


def run_check(
    source: str,
    out: Path,
    ref: Path,
    *,
    part: str,
    seed: object = None,
    code: list[str] | None = None,
    given: list[str] | None = None,
) -> tuple[bool, str]:
    """Run one check cell on one submission's probe output: ``(passed, pt-BR reason)``.

    ``code``: the student's cells as the grader assembled them (text, for
    :func:`~coursekit.grading.lint.public_api_violations`); ``given``: the functions and modules
    the notebook defines for the student.
    """
    from coursekit.grading.lint import public_api_violations

    notes: list[str] = []
    names = {
        "__name__": "coursekit_check",
        "out": Path(out),
        "ref": Path(ref),
        "read_json": read_json,
        "read_parquet": read_parquet,
        "read_csv": read_csv,
        "note": lambda text: notes.append(str(text)[:300]),
        "SEED": seed,
        "SCALE": "ci",
        "STUDENT_CODE": list(code or []),
        "GIVEN_NAMES": frozenset(given or []),
        "public_api_violations": public_api_violations,
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
        return False, _capped(str(exc)) or f"a parte {letter} não passou na verificação"
    except FileNotFoundError:
        return (
            False,
            f"a parte {letter} não produziu resultado (veja a mensagem da sua resposta ou do teste visível)",
        )
    except ProbeDataError as exc:
        return False, _capped(f"resultado da parte {letter} recusado: {exc}")
    except Exception as exc:  # noqa: BLE001 (malformed data: wrong columns, types, NaN...)
        return False, f"resultado da parte {letter} em formato inesperado ({type(exc).__name__})"
    return True, "; ".join(notes)


class CheckPool:
    """Runs checks in a forked child with memory and CPU limits, one child per submission.

    A probe's data is hostile input to the check that reads it (a 4 kB Parquet file can decode to
    gigabytes): the child gets ``RLIMIT_AS`` and ``RLIMIT_CPU`` and a wall-clock limit, and dies
    with whatever it allocated. The children are forked from a clean single-threaded process
    that imported pandas and pyarrow once (the grader itself runs threads: it must not fork).
    """

    def __init__(self, *, memory_mb: int = 4096, timeout: float = 120):
        import threading

        from coursekit.grading.sandbox import die_with_parent

        cmd = [sys.executable, "-m", "coursekit.grading.judge", "serve-checks"]
        cmd += ["--memory-mb", str(memory_mb), "--timeout", str(timeout)]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            preexec_fn=die_with_parent,
        )
        self.lock = threading.Lock()

    def run(
        self,
        checks: list[tuple[str, str, str, str]],
        seed: object,
        code: list[str] = (),
        given: list[str] = (),
    ) -> list[tuple[bool, str]]:
        """``checks``: ``(part, source, out, ref)``; one ``(passed, reason)`` per check."""
        message = {"checks": checks, "seed": seed, "code": list(code), "given": sorted(given)}
        with self.lock:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("o processo das verificações terminou")
        return [tuple(x) for x in json.loads(line)]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


def _serve_checks(memory_mb: int, timeout: float) -> int:
    """``serve-checks``: one JSON request per stdin line, one JSON answer per stdout line."""
    import resource
    import select
    import signal

    import pandas  # noqa: F401 (imported once, before the forks)
    import pyarrow.dataset  # noqa: F401

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin:
        message = json.loads(line)
        checks, seed = message["checks"], message["seed"]
        code, given = message.get("code", []), message.get("given", [])
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: limits, checks, results on the pipe, exit
            os.close(read)
            try:
                null = os.open(os.devnull, os.O_WRONLY)  # stdout is the grader's protocol pipe
                os.dup2(null, 1)
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                limit = memory_mb * 2**20
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
                cpu = int(timeout)
                resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
                out = [
                    run_check(
                        source, Path(o), Path(r), part=part, seed=seed, code=code, given=given
                    )
                    for part, source, o, r in checks
                ]
                os.write(write, json.dumps(out).encode("utf-8"))
            finally:
                os._exit(0)
        os.close(write)
        data, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([read], [], [], max(0.1, deadline - time.monotonic()))
            if not ready:
                continue
            chunk = os.read(read, 1 << 20)
            if not chunk:
                break
            data += chunk
        os.close(read)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        try:
            results = [tuple(x) for x in json.loads(data.decode("utf-8"))]
        except ValueError:
            results = [
                (
                    False,
                    f"a verificação da parte {part_letter(part)} não conseguiu ler o resultado "
                    "(memória ou tempo esgotados ao ler os dados da sonda)",
                )
                for part, *_ in checks
            ]
        sys.stdout.write(json.dumps(results) + "\n")
        sys.stdout.flush()
    return 0


def references(
    solutions: dict[str, Path],
    folder: Path,
    *,
    inputs: Path,
    log: Path,
    timeout: float = 1800,
    ready: Callable[[str, str], None] | None = None,
    datasets: Path | None = None,
) -> dict[str, str]:
    """Compute every exercise's references into ``folder/<exercise>``; ``{exercise: error}`` on failure.

    The grader's hidden inputs (what the probes feed the student's functions, never any label)
    go to ``inputs/<exercise>``, which that exercise's sandboxes see read-only as ``PROBE_IN``.

    Runs ``python -m coursekit.grading.judge references`` (trusted, not sandboxed) once, one
    Spark session for all exercises, longest first as given. ``ready(exercise, error)`` is called
    as soon as each exercise's references are there (``error`` = "" then), so its checks need not
    wait for the others. With ``datasets``, every dataset generated is written there once
    (:func:`coursekit.datasets.store.through_cache`) for the sandboxes to read.
    """
    folder.mkdir(parents=True, exist_ok=True)
    inputs.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "coursekit.grading.judge", "references", "--out", str(folder)]
    cmd += ["--inputs", str(inputs)]
    cmd += [str(p) for p in solutions.values()]
    env = dict(os.environ)
    for var in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE"):
        env.pop(var, None)
    env.setdefault("COURSEKIT_UI", "0")
    env["PYTHONHASHSEED"] = "0"
    env["COURSEKIT_MASTER"] = "local[2]"
    env["COURSEKIT_SHUFFLE_PARTITIONS"] = "4"
    if datasets is not None:
        from coursekit.datasets.store import CACHE_ENV

        env[CACHE_ENV] = str(datasets)
    log.parent.mkdir(parents=True, exist_ok=True)
    from coursekit.grading.sandbox import die_with_parent

    pending = list(solutions)
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
        try:
            while pending:
                for name in [n for n in pending if (folder / n / ".done").exists()]:
                    pending.remove(name)
                    if ready:
                        ready(name, "")
                if proc.poll() is not None and pending:
                    time.sleep(0.2)  # a .done written just before the exit
                    if not any((folder / n / ".done").exists() for n in pending):
                        break
                if time.monotonic() - started > timeout:
                    proc.kill()
                    break
                time.sleep(0.5)
        except BaseException:
            proc.kill()
            raise
        finally:
            if proc.poll() is None and not pending:
                proc.wait(timeout=60)
    errors = {}
    for name in pending:
        errors[name] = (
            f"as referências de {name} não foram calculadas (código {proc.returncode}); veja {log}"
        )
        if ready:
            ready(name, errors[name])
    return errors


def _references_main(paths: list[Path], out: Path, inputs: Path) -> int:
    import nbformat

    from coursekit.grading import notebooks as fmt

    failed = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        target = out / path.stem
        target.mkdir(parents=True, exist_ok=True)
        hidden = inputs / path.stem
        hidden.mkdir(parents=True, exist_ok=True)
        names: dict = {"__name__": "coursekit_reference", "REF": target, "INPUTS": hidden}
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
    r.add_argument("--inputs", type=Path, required=True)
    c = sub.add_parser("serve-checks", help="roda verificações pedidas pela entrada padrão")
    c.add_argument("--memory-mb", type=int, default=4096)
    c.add_argument("--timeout", type=float, default=120)
    args = p.parse_args(argv)
    if args.command == "serve-checks":
        return _serve_checks(args.memory_mb, args.timeout)
    return _references_main(args.solutions, args.out, args.inputs)


if __name__ == "__main__":
    sys.exit(main())
