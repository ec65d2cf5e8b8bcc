"""Grade one submission: a copy in a fresh folder, pytest + nbval in a subprocess, a time limit.

By default the subprocess runs in a bubblewrap sandbox (sandbox.py): no network, none of the
instructor's files, resource limits, and every process it started killed when it ends. With
``--no-sandbox`` only the copy protects the instructor's files: the kernel's working directory
holds only that copy, so a notebook that deletes everything around it deletes the copy, and no
relative path leads from it to solutions/ or the original submissions. Either way the results
file is written to another temporary folder, outside the kernel's working directory.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..status import ExerciseStatus, KernelFate, SubmissionStatus
from . import sandbox, tampering
from .gradebook import NO_SANDBOX, Row
from .manifest import Manifest, read_notebook_json
from .outcome import not_graded
from .sandbox import Limits, Sandbox

# Set for the pytest subprocess: the grading plugin exits when this process is gone, so a
# course-grade killed with kill -9 leaves no grading behind (see plugin.watch_parent).
PARENT_ENV = "COURSE_GRADE_PARENT_PID"
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")

_running: set[subprocess.Popen] = set()
_running_lock = threading.Lock()
# Set by `stop_all`: a submission a worker thread was about to grade is not started at all.
_stopping = threading.Event()


class GradingStopped(Exception):
    """course-grade is stopping (Ctrl-C, SIGTERM): no new submission is started."""


def _problem(path: Path, manifest: Manifest) -> tuple[SubmissionStatus, str, str] | None:
    """(status, lesson, why) when `path` cannot be graded at all; None when it can."""
    nb = read_notebook_json(path)
    if nb is None:
        return SubmissionStatus.INVALID, manifest.identify({}, path.name) or "", "not a notebook: the file is not JSON"
    lesson = manifest.identify(nb, path.name) or ""
    # Readable is enough: like nbval, grading runs a notebook that breaks the schema in some
    # harmless detail (an editor's extra field); only one without usable cells is refused.
    try:
        with warnings.catch_warnings():  # nbformat warns about quirks it then tolerates
            warnings.simplefilter("ignore")
            cells = nbformat.reads(json.dumps(nb), as_version=4).cells
        usable = isinstance(cells, list) and all(
            isinstance(c, dict) and c.get("cell_type") in ("code", "markdown", "raw") for c in cells)
    except Exception as error:  # nbformat raises several kinds for unreadable notebooks
        return SubmissionStatus.INVALID, lesson, f"not a valid notebook: {str(error).splitlines()[0][:200]}"
    if not usable:
        return SubmissionStatus.INVALID, lesson, "not a valid notebook: its cells are not notebook cells"
    if not lesson:
        why = "no exercise of the course found (no course metadata, no lesson in the file name)"
        return SubmissionStatus.NOT_COURSE, "", why
    return None


def grader_error(what: str) -> str:
    """The status of a submission the grader itself failed on: ``grader error: <what>``."""
    return f"{SubmissionStatus.GRADER_ERROR}: {what}"


def _failed_row(row: Row, manifest: Manifest, status: SubmissionStatus, lesson: str, why: str) -> Row:
    row.status, row.lesson = status, lesson
    if lesson:
        row.max_points = manifest.max_points(lesson)
        row.exercises = {e.id: (0, why) for e in manifest.exercises(lesson)}
    return row


def _kill(pid: int | None) -> None:
    """SIGKILL the process group led by `pid` (pytest's, or the kernel's own session)."""
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def stop_all() -> None:
    """Kill every grading subprocess still running, and start no other (course-grade interrupted)."""
    _stopping.set()
    with _running_lock:
        for proc in _running:
            _kill(proc.pid)


@dataclass(frozen=True)
class RunOptions:
    """How every submission of a course-grade run is graded (its command-line options)."""

    cell_timeout: float = 120
    timeout: float = 600
    limits: Limits = Limits()
    sandbox: Sandbox | None = None       # None: --no-sandbox
    manifest_path: Path | None = None    # tests and new lessons: another grading manifest

    @property
    def sandbox_name(self) -> str:
        """The gradebook's sandbox column for submissions graded with these options."""
        return NO_SANDBOX if self.sandbox is None else "bubblewrap"


def pytest_command(notebook: str, results: str, lesson: str, options: RunOptions) -> list[str]:
    """pytest + nbval + the grading plugin on `notebook`; `results` is a folder of its own."""
    # In the sandbox the kernel is started through confine.py, with the submission's limits.
    kernel = f"--nbval-kernel-name={sandbox.KERNEL_NAME}" if options.sandbox else "--nbval-current-env"
    command = [
        sys.executable, "-m", "course_utils.grading.pytest_entry", notebook,
        "--nbval", kernel, f"--nbval-cell-timeout={options.cell_timeout:g}",
        "--course-results", f"{results}/results.json", "--course-lesson", lesson,
        f"--course-max-output-mb={options.limits.output_mb}",
        # Our own empty ini and rootdir: nothing of the instructor's setup leaks in.
        "-c", f"{results}/pytest.ini", "--rootdir", str(Path(notebook).parent), "-p", "no:cacheprovider", "-q",
    ]
    return command + (["--course-manifest", f"{results}/manifest.json"] if options.manifest_path else [])


def _wait(proc: subprocess.Popen, results: Path, timeout: float, kernel_outside: bool) -> tuple[dict | None, bool]:
    """Wait for pytest up to `timeout`; kill it and its kernel past that."""
    try:
        proc.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        data = _read_results(results)
        if proc.poll() is None:
            _kill(proc.pid)  # a sandbox goes with its bwrap: its PID namespace ends
            if kernel_outside:  # unsandboxed, the kernel runs in a session of its own
                _kill((data or {}).get("kernel_pid"))
            proc.wait()
    return data, timed_out


def _command(source: Path, private: Path, lesson: str, options: RunOptions) -> tuple[list[str], Path, dict]:
    """(command, its working folder, its environment) for grading a copy of `source`."""
    results = private / "results"
    results.mkdir()
    (results / "pytest.ini").write_text("[pytest]\n")
    if options.manifest_path:
        shutil.copyfile(options.manifest_path, results / "manifest.json")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    if options.sandbox is None:
        work = private / "work"
        work.mkdir()
        notebook = work / "submission.ipynb"
        shutil.copyfile(source, notebook)
        env[PARENT_ENV] = str(os.getpid())
        return pytest_command(str(notebook), str(results), lesson, options), work, env
    shutil.copyfile(source, private / "submission.ipynb")  # the sandbox shows this file alone
    options.sandbox.prepare(results)
    options.sandbox.write_kernel_spec(results)
    inner = pytest_command(sandbox.NOTEBOOK, sandbox.RESULTS, lesson, options)
    return options.sandbox.command(inner, private / "submission.ipynb", results), private, env


def _run_pytest(source: Path, lesson: str, options: RunOptions) -> tuple[dict | None, bool, str]:
    """(results JSON of the notebook or None, whether it timed out, tail of pytest's output)."""
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        private = Path(tmp)
        command, cwd, env = _command(source, private, lesson, options)
        log_path = private / "pytest.log"
        with open(log_path, "wb") as log, _running_lock:
            if _stopping.is_set():
                raise GradingStopped()
            proc = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
            _running.add(proc)
        try:
            data, timed_out = _wait(proc, private / "results" / "results.json", options.timeout,
                                    kernel_outside=options.sandbox is None)
        finally:
            with _running_lock:
                _running.discard(proc)
        tail = _ANSI_RE.sub("", _tail(log_path).decode("utf-8", "replace"))
    return data, timed_out, tail


def _tail(path: Path, size: int = 2000) -> bytes:
    """The end of a file that may be huge (a submission's output), without reading all of it."""
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - size))
        return f.read()


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def _read_results(path: Path) -> dict | None:
    try:
        notebooks = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
    except (OSError, ValueError, KeyError):
        return None
    return notebooks[0] if notebooks else None


def _row_from_results(row: Row, data: dict, timed_out: bool, timeout: float, tail: str) -> Row:
    row.max_points = data["max_points"]
    running = f" while running {data['running']}" if data.get("running") else ""
    for result in data["exercises"]:
        feedback = result["feedback"]
        if timed_out and result["status"] == ExerciseStatus.NOT_GRADED:
            feedback = not_graded(f"the submission ran past the {timeout:g} s limit{running}")
        row.exercises[result["id"]] = (result["points"], feedback)
    fate = data.get("kernel_fate")
    if timed_out or fate == KernelFate.STUCK:
        row.status = SubmissionStatus.TIMED_OUT
    elif fate == KernelFate.DIED:
        row.status = SubmissionStatus.KERNEL_DIED
    elif not data["complete"]:
        row.status = grader_error(_last_line(tail))
    elif data.get("stopped_cells"):
        row.status = SubmissionStatus.GRADED_WITH_STOPPED_CELLS
    else:
        row.status = SubmissionStatus.GRADED
    return row


def grade_submission(path: Path, key: str, sha256: str, manifest: Manifest, options: RunOptions) -> Row:
    """Grade the notebook at `path`; always returns a row (a broken submission is a result)."""
    started = time.monotonic()
    row = Row(submission=key, sha256=sha256, sandbox=options.sandbox_name)
    problem = _problem(path, manifest)
    if problem is not None:
        row = _failed_row(row, manifest, *problem)
    else:
        nb = read_notebook_json(path)
        row.lesson = manifest.identify(nb, path.name)
        row.flags = "; ".join(tampering.flags(nb))
        data, timed_out, tail = _run_pytest(path, row.lesson, options)
        if data is None:
            why = "the submission ran past the time limit" if timed_out else f"pytest failed: {_last_line(tail)}"
            status = SubmissionStatus.TIMED_OUT if timed_out else SubmissionStatus.GRADER_ERROR
            row = _failed_row(row, manifest, status, row.lesson, not_graded(why))
        else:
            row = _row_from_results(row, data, timed_out, options.timeout, tail)
    row.exercise_set = manifest.exercise_set(row.lesson)
    row.seconds = time.monotonic() - started
    return row
