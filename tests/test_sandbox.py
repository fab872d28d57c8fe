"""The grading sandbox's own defences, one by one, without a notebook (fast; no Spark).

The class run in tests/test_grading.py shows them end to end; here each limit is pushed on its
own with small programs, so a regression names the defence that broke.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from coursekit.grading import judge
from coursekit.grading.sandbox import Limits, Sandbox, SandboxCgroup, remove_tree, run, walk

pytestmark = pytest.mark.grading


def _nest(top: Path, depth: int) -> None:
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)


def test_walk_and_remove_survive_any_depth(tmp_path):
    """A student folder nested deeper than Python's recursion limit crashes neither."""
    (tmp_path / "x").mkdir()
    _nest(tmp_path / "x", 3000)
    seen = sum(1 for _ in walk(tmp_path / "x"))  # paths beyond PATH_MAX are not listed
    assert seen > 2000, "the walk stopped at Python's recursion limit"
    remove_tree(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_walk_prunes_in_place_and_never_follows_links(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "skip" / "deep").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a", target_is_directory=True)
    found = []
    for dirpath, dirnames, filenames in walk(tmp_path):
        dirnames[:] = [d for d in dirnames if d != "skip"]
        found.append((Path(dirpath).relative_to(tmp_path).as_posix(), filenames))
    assert found == [(".", ["link"]), ("a", []), ("a/b", [])]


def _run(tmp_path: Path, code: str, limits: Limits, timeout: float = 120):
    box = Sandbox(enabled=False, limits=limits)
    folder = tmp_path / "box"
    box.prepare(folder)
    code = f"import os\nos.chdir({str(folder)!r})\n" + code
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder)}
    return run(
        box.command(folder, [sys.executable, "-c", code]),
        env=env,
        timeout=timeout,
        limits=limits,
        log=tmp_path / "log.txt",
        folder=folder,
    )


def test_output_reaches_the_log_through_a_capped_pipe(tmp_path):
    code = (
        "import sys, os\nsys.stdout.write('x' * (5 * 2**20))\nprint(os.readlink('/proc/self/fd/1'))"
    )
    outcome = _run(tmp_path, code, Limits(log_mb=1))
    log = (tmp_path / "log.txt").read_bytes()
    assert outcome.returncode == 0 and not outcome.killed
    assert len(log) < 2**20 + 100 and b"log truncado" in log
    assert b"log.txt" not in log, "the sandbox must not hold a descriptor of the grader's log"


def test_disk_usage_sees_any_depth(tmp_path):
    """A file below a chain deeper than PATH_MAX still counts (du walks it)."""
    from coursekit.grading.sandbox import _folder_usage

    (tmp_path / "x").mkdir()
    _nest(tmp_path / "x", 2500)
    fd = os.open(tmp_path / "x", os.O_RDONLY)
    for _ in range(2500):
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    big = os.open("big", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(big, b"x" * (8 * 2**20))
    os.close(big)
    os.close(fd)
    used, entries = _folder_usage(tmp_path / "x")
    assert used >= 8 * 2**20 and entries >= 2501
    remove_tree(tmp_path / "x")


def test_empty_folders_count_against_the_disk_watch(tmp_path):
    """Folders cost disk and inodes: too many of them stop the run (it only creates folders)."""
    code = (
        "import os, time\n"
        "for i in range(3000):\n"
        "    os.makedirs(f'w/{i}', exist_ok=True)\n"
        "time.sleep(60)"
    )
    outcome = _run(tmp_path, code, Limits(entries=1000))
    assert outcome.cause == "disk" and "arquivos e pastas demais" in outcome.killed
    assert outcome.seconds < 30


def test_kernel_memory_limit_counts_socket_buffers(tmp_path):
    """Memory the RSS watchdog cannot see (socket buffers) is capped by the sandbox's cgroup."""
    probe = SandboxCgroup.create(f"coursekit-test-{os.getpid()}", 64 * 2**20)
    if probe is None:
        pytest.skip("no writable memory cgroup here: the RSS watchdog is the only memory limit")
    probe.remove()
    code = (
        "import socket\n"
        "pairs, held = [], 0\n"
        "while held < 600 * 2**20:\n"
        "    a, b = socket.socketpair()\n"
        "    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 * 2**20)\n"
        "    a.setblocking(False)\n"
        "    while True:\n"
        "        try:\n"
        "            held += a.send(b'x' * 65536)\n"
        "        except BlockingIOError:\n"
        "            break\n"
        "    pairs.append((a, b))\n"
        "print('held', held >> 20, 'MB')"
    )
    outcome = _run(tmp_path, code, Limits(memory_mb=300))
    assert outcome.cause == "memory" and "limite de memória" in outcome.killed, outcome
    assert b"held" not in (tmp_path / "log.txt").read_bytes()


def test_parquet_pandas_metadata_is_ignored(tmp_path):
    """A nullable Int64 column (whose <NA> comparisons skip) reaches a check as float NaN."""
    import pandas as pd

    frame = pd.DataFrame({"y": pd.array([1, pd.NA, pd.NA], dtype="Int64")})
    frame.to_parquet(tmp_path / "p.parquet")
    got = judge.read_parquet(tmp_path / "p.parquet")
    assert str(got["y"].dtype) == "float64" and int(got["y"].isna().sum()) == 2
    assert float((got["y"] == 1).mean()) == pytest.approx(1 / 3)


def test_check_reasons_are_capped(tmp_path):
    (tmp_path / "r.json").write_text("{}")
    ok, reason = judge.run_check(
        "assert False, 'x' * 10_000_000", tmp_path, tmp_path, part="parte_a"
    )
    assert not ok and len(reason) <= judge.MAX_REASON


def test_cpu_quota_caps_a_process_that_spins_every_core(tmp_path):
    """With a quota of half a core, two spinning threads get about half a second per second."""
    probe = SandboxCgroup.create(f"coursekit-test-cpu-{os.getpid()}", 2**30, 0.5)
    if probe is None or len(probe.paths) < 2 and probe.version == 1:
        pytest.skip("no writable cpu cgroup here: the time limit is the only CPU limit")
    probe.remove()
    code = (
        "import multiprocessing, os, time\n"
        "def spin():\n"
        "    end = time.monotonic() + 4\n"
        "    while time.monotonic() < end:\n"
        "        pass\n"
        "ps = [multiprocessing.Process(target=spin) for _ in range(2)]\n"
        "[p.start() for p in ps]; [p.join() for p in ps]\n"
        "t = os.times()\n"
        "print('cpu', t.children_user + t.children_system)"
    )
    _run(tmp_path, code, Limits(cpus=0.5))
    used = float((tmp_path / "log.txt").read_text().split("cpu")[-1])
    assert used < 3.0, f"{used:.1f} CPU-seconds in 4 s with a quota of 0.5 core"


def test_runner_reasons_are_accepted_only_in_the_runners_wording():
    from coursekit.grading.grader import runner_reason

    said = "a comunicação com o kernel falhou na célula 6: ValueError: Expecting value"
    assert runner_reason(said) == "a comunicação com o kernel falhou na célula 6: ValueError"
    assert (
        runner_reason("o kernel não iniciou: RuntimeError: x")
        == "o kernel não iniciou: RuntimeError"
    )
    assert runner_reason("nota 10: o corretor aprovou") == ""
    assert runner_reason(["o kernel não iniciou: X"]) == ""
