"""The sandbox each submission is graded in: bubblewrap (``bwrap``), the tool Flatpak is built on.

A submitted notebook is a stranger's code on the instructor's machine. Inside the sandbox,
pytest, nbval and the notebook's kernel see:

- no network: a network namespace of their own, with only its own loopback (the kernel and
  pytest talk over it; the host's 127.0.0.1 is not reachable);
- the system (/usr, /etc), the Python installation, the virtual environment and the course
  package, all read-only, and nothing else of the host: not the instructor's home, not the
  other submissions, not the gradebook, not the repository (a clone's ``solutions/`` stays
  outside even in an editable install, where only ``course_utils/`` itself is mounted);
- /grading: a fresh tmpfs of ``disk_mb`` holding only the copy of the notebook (read-only),
  the kernel's working folder and HOME; /tmp: another; /results: pytest's results file;
- their own process tree (PID namespace): when pytest ends, or course-grade dies
  (``--die-with-parent``), every process the submission started is killed with it;
- the environment variables the grading needs, never the instructor's (tokens, paths);
- resource limits (`Limits`, set by confine.py inside the sandbox: the submission's on its
  kernel, looser ones on pytest), under a user id of their own when course-grade runs as root.

Why bubblewrap and not something written here: isolation is easy to get subtly wrong, and
bubblewrap is small, maintained, packaged everywhere Linux is, and needs no daemon or root.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ipykernel.kernelspec

import course_utils

from . import confine

INSTALL_HINT = "sudo apt-get install bubblewrap (Debian, Ubuntu), sudo dnf install bubblewrap (Fedora)"
# Paths inside the sandbox.
SCRATCH = "/grading"
RESULTS = "/results"
NOTEBOOK = f"{SCRATCH}/submission.ipynb"
KERNEL_NAME = "course-graded"  # the kernelspec write_kernel_spec leaves in RESULTS
# Variables passed in from the instructor's environment; everything else is dropped (an
# HF_TOKEN or a cloud key must not reach a student's code). Paths such as HF_HOME would point
# at folders the sandbox does not show, so they stay out too.
PASSED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "TRANSFORMERS_NO_ADVISORY_WARNINGS", "PYTHONHASHSEED")
# No network: the course takes its bundled nano models, and says so, without first waiting for
# a Hub that cannot answer.
OFFLINE = {"COURSE_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
# Accounts for submissions graded as root: far above any real user's id. Each submission gets
# its own, so processes of two submissions graded at once can neither signal each other nor
# share a process budget.
_UID_BASE = 2_000_000_000
_uids = itertools.count()


@dataclass(frozen=True)
class Limits:
    """What one submission may use (course-grade's --memory-mb, --max-processes, ...)."""

    memory_mb: int = 6144       # address space of the kernel and its children (RLIMIT_AS); pytest: twice
    processes: int = 256        # processes and threads, all together (RLIMIT_NPROC)
    cpu_seconds: int = 900      # CPU time of the kernel and each of its children (RLIMIT_CPU)
    output_mb: int = 64         # printed output of one cell, and the largest file written (RLIMIT_FSIZE)
    disk_mb: int = 1024         # each of /grading and /tmp (tmpfs size)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot run here; the message says what to do, in one line."""


def _system_mounts() -> list[str]:
    """/usr and /etc read-only, and /bin, /lib... as the host has them (symlinks or folders)."""
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    return args


def _parents(path: str) -> list[str]:
    parts = Path(path).parts
    return [str(Path(*parts[:i])) for i in range(2, len(parts))]


def python_mounts() -> list[str]:
    """The folders Python and the course need, read-only, at the same paths as on the host.

    The interpreter (sys.base_prefix), the virtual environment (sys.prefix), the user's
    site-packages when Python uses it, and the course package. Nothing else on sys.path: its
    first entry is the folder course-grade was started from (often the instructor's home, or
    the clone of the course, whose solutions/ must stay out), and PYTHONPATH folders can be
    anything. In an editable install the package alone is mounted, not its repository.
    """
    package = Path(course_utils.__file__).resolve().parent
    folders = {Path(p).resolve() for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    user_site = site.getusersitepackages()
    if site.ENABLE_USER_SITE and user_site in sys.path and os.path.isdir(user_site):
        folders.add(Path(user_site).resolve())
    if not any(f in package.parents for f in folders):
        folders.add(package)
    args = []
    # bubblewrap creates the parents of a mount point with their host modes, and /root is 0700:
    # readable parents, so that the account confine.py switches to can walk down to them.
    for parent in sorted({p for f in folders for p in _parents(str(f))}, key=len):
        args += ["--perms", "0755", "--dir", parent]
    for folder in sorted(folders, key=lambda f: len(f.parts)):
        args += ["--ro-bind", str(folder), str(folder)]
    return args


def _confine(settings: list[str]) -> list[str]:
    return [sys.executable, "-I", "-S", confine.__file__, *settings, "--"]


def sandbox_env(extra: dict[str, str] | None = None) -> list[str]:
    env = {name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ}
    env |= OFFLINE | {
        "HOME": SCRATCH, "TMPDIR": "/tmp", "USER": "student", "LOGNAME": "student",
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_RUNTIME_DIR": f"{SCRATCH}/.jupyter-runtime", "MPLCONFIGDIR": f"{SCRATCH}/.matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
    } | (extra or {})
    return [arg for name, value in sorted(env.items()) for arg in ("--setenv", name, value)]


@dataclass(frozen=True)
class Sandbox:
    bwrap: str
    limits: Limits = Limits()

    def command(self, inner: list[str], notebook: Path, results: Path) -> list[str]:
        """``bwrap ... -- python confine.py ... -- inner``: `inner` run in a fresh sandbox that
        sees `notebook` at NOTEBOOK (read-only) and the folder `results` at RESULTS."""
        limits = self.limits
        namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if os.getuid() == 0:  # see confine.py: no user namespace, and only the rights to switch user
            namespaces += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            namespaces += ["--unshare-user"]
        size = str(limits.disk_mb * 1024 * 1024)
        # pytest's own limits: the processes and files of the whole submission, and twice the
        # kernel's memory, for decoding what the kernel sends; no CPU limit (--timeout bounds it).
        grader = [f"uid={self.uid()}", f"memory_mb={2 * limits.memory_mb}", f"processes={limits.processes}",
                  f"file_mb={limits.output_mb}"]
        return [
            self.bwrap, *namespaces, "--die-with-parent", "--new-session", "--clearenv",
            *_system_mounts(), *python_mounts(),
            "--proc", "/proc", "--dev", "/dev",
            "--size", size, "--perms", "1777", "--tmpfs", "/tmp",
            "--size", size, "--perms", "0777", "--tmpfs", SCRATCH,
            "--ro-bind", str(notebook), NOTEBOOK,
            "--bind", str(results), RESULTS,
            *sandbox_env({"JUPYTER_PATH": RESULTS}), "--hostname", "grading", "--chdir", SCRATCH, "--",
            *_confine(grader), *inner,
        ]

    def write_kernel_spec(self, results: Path) -> None:
        """The kernelspec KERNEL_NAME in `results` (JUPYTER_PATH inside the sandbox): the course's
        Python kernel, started through confine.py with the submission's own limits."""
        limits = self.limits
        kernel = [f"memory_mb={limits.memory_mb}", f"cpu_seconds={limits.cpu_seconds}", f"file_mb={limits.output_mb}"]
        argv = _confine(kernel) + ipykernel.kernelspec.get_kernel_dict()["argv"]
        folder = results / "kernels" / KERNEL_NAME
        folder.mkdir(parents=True)
        spec = {"argv": argv, "display_name": "Python (graded)", "language": "python"}
        (folder / "kernel.json").write_text(json.dumps(spec))
        if os.getuid() == 0:
            for path in (results / "kernels", folder):
                path.chmod(0o755)

    @staticmethod
    def uid() -> int:
        """The account a submission runs as, when course-grade is root (see confine.py)."""
        return _UID_BASE + (os.getpid() % 100_000) * 1000 + next(_uids) % 1000

    @staticmethod
    def prepare(results: Path) -> None:
        """Let the sandbox's account write the folder `results` (as root it is another account)."""
        if os.getuid() == 0:
            results.chmod(0o777)

    def probe(self) -> str:
        """'' when a sandbox starts, imports the course and writes to RESULTS; else why not."""
        with tempfile.TemporaryDirectory(prefix="course-grade-probe-") as tmp:
            folder = Path(tmp)
            (folder / "probe.ipynb").write_text("{}")
            (folder / "results").mkdir()
            self.prepare(folder / "results")
            script = f"import course_utils, pathlib; pathlib.Path({RESULTS!r}, 'ok').write_text('ok')"
            command = self.command([sys.executable, "-c", script], folder / "probe.ipynb", folder / "results")
            try:
                run = subprocess.run(command, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as error:
                return str(error)
            if run.returncode == 0 and (folder / "results" / "ok").exists():
                return ""
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        return lines[-1][:200] if lines else f"exit status {run.returncode}"


def find_sandbox(limits: Limits = Limits()) -> Sandbox:
    """The sandbox, checked by starting one; SandboxUnavailable says why not, in one line."""
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(
            f"the grading sandbox (bubblewrap) runs on Linux only, not {sys.platform}: grade in the "
            "container of docs/INSTRUCTORS.md, or pass --no-sandbox to grade unprotected")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            f"bubblewrap (bwrap) is not installed; it seals each submission off: {INSTALL_HINT}, "
            "or pass --no-sandbox to grade unprotected")
    sandbox = Sandbox(bwrap, limits)
    probe = sandbox.probe()
    if probe:
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot start a sandbox here ({probe}); where user namespaces "
            "are restricted (Ubuntu 24.04's AppArmor), allow them for bwrap, or pass --no-sandbox")
    return sandbox
