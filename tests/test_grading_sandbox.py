"""The grading sandbox against the hostile corpus (issue 15): every attack is contained and
reported with the sandbox on, and the same notebooks get out with --no-sandbox, so it is the
sandbox, not luck, that stops them.

One fixture plants what an attacker wants around a class folder: a secret in the instructor's
home (HOME points there), a key in a folder beside the submissions, another student's notebook,
an HF_TOKEN in the environment, a listener on the host's 127.0.0.1, a canary file in the
installed course package. Each mode grades the whole corpus once, with two jobs.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import course_utils
from course_utils.grading.cli import NO_SANDBOX_WARNING
from fixtures.submissions import corpus, hostile
from support.paths import ROOT
from support.sandboxing import leftover_processes, processes, require_sandbox

pytestmark = pytest.mark.slow

COURSE_GRADE = [sys.executable, "-m", "course_utils.grading.cli"]
CELL_TIMEOUT_S = 90  # above cpu_burn's 40 s of CPU, on two busy cores
CPU_SECONDS = 30     # each process of a submission: cpu_burn passes it, the others stay well under
CHECKS_FILE = Path(course_utils.__file__).parent / "checks" / "lesson01.py"


class Listener:
    """A TCP server on the host's 127.0.0.1 that keeps whatever it is sent."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:  # closed
                return
            with connection:
                connection.settimeout(5)
                try:
                    self.received.append(connection.recv(1 << 16))
                except OSError:
                    self.received.append(b"<connected>")

    def close(self):
        self.server.close()


@dataclass
class Graded:
    rows: dict[str, dict]
    report: str
    received: list[bytes]
    files_before: dict[str, str]
    files_after: dict[str, str]
    outside_written: list[bool]   # whether each file an attack aimed outside its folder exists
    leftovers: list[str] = field(default_factory=list)


def _snapshot(*folders: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def _kill(processes):
    for pid, _ in processes:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def grade_hostile_class(tmp: Path, sandboxed: bool) -> tuple[Graded, list[hostile.Attack]]:
    home, answers, submissions, outside_dir = (tmp / n for n in ("home", "answers", "submissions", "outside"))
    for folder in (home, answers, outside_dir):
        folder.mkdir()
    (home / "secret.txt").write_text("S3CRET-HOME-" + uuid.uuid4().hex[:8])
    (answers / "key.txt").write_text("S3CRET-KEY-" + uuid.uuid4().hex[:8])
    lesson = corpus.Lesson01(ROOT)
    other = submissions / "zed" / corpus.FILENAME
    other.parent.mkdir(parents=True)
    other.write_bytes(corpus._json(lesson.light()))
    canary = Path(course_utils.__file__).parent / f".grading-canary-{uuid.uuid4().hex[:8]}"
    canary.write_text("canary")
    listener = Listener()
    marker = f"course-grade-hostile-{uuid.uuid4().hex[:8]}"
    outside = [outside_dir / "pwned.txt", home / "pwned.txt", Path(f"/var/tmp/{marker}-pwned.txt")]
    # The real checks of lesson 01 are a target only where the sandbox should stop the attack.
    package_files = [canary, CHECKS_FILE] if sandboxed else [canary]
    targets = hostile.Targets(home / "secret.txt", answers / "key.txt", other, outside, package_files,
                              listener.port, marker)
    attacks = hostile.attacks(targets)
    for attack in attacks:
        path = submissions / attack.submission
        path.parent.mkdir(parents=True)
        path.write_bytes(hostile.notebook(lesson, attack))
    checks_before = CHECKS_FILE.read_bytes()
    # Of the package, only the files aimed at: pytest may write __pycache__ beside them.
    package = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in package_files}
    before = _snapshot(home, answers, submissions, outside_dir) | package
    env = {**os.environ, "HOME": str(home), "HF_TOKEN": "hf_S3CRET-" + uuid.uuid4().hex[:8]}
    command = COURSE_GRADE + [str(submissions), "--out", str(tmp / "gradebook.csv"), "--report",
                              str(tmp / "report.html"), "--jobs", "2", "--cell-timeout", str(CELL_TIMEOUT_S),
                              "--timeout", "300", "--cpu-seconds", str(CPU_SECONDS)]
    command += [] if sandboxed else ["--no-sandbox"]
    try:
        # Started from the instructor's home, as an instructor would: what course-grade was
        # started from must not be visible either.
        result = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        after = _snapshot(home, answers, submissions, outside_dir) | {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in package_files}
        leftovers = leftover_processes(marker) if sandboxed else processes(marker) + processes(str(tmp))
        outside_written = [p.exists() for p in outside]
    finally:
        listener.close()
        _kill(processes(marker) + processes(str(tmp)))
        if CHECKS_FILE.read_bytes() != checks_before:  # never leave the course broken
            CHECKS_FILE.write_bytes(checks_before)
        canary.unlink()
        Path(f"/var/tmp/{marker}-pwned.txt").unlink(missing_ok=True)
    with open(tmp / "gradebook.csv", newline="", encoding="utf-8") as f:
        rows = {row["submission"]: row for row in csv.DictReader(f)}
    report = (tmp / "report.html").read_text(encoding="utf-8")
    graded = Graded(rows, report, listener.received, before, after, outside_written, [c for _, c in leftovers])
    return graded, attacks


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    require_sandbox()
    return grade_hostile_class(tmp_path_factory.mktemp("sandboxed"), sandboxed=True)


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory):
    return grade_hostile_class(tmp_path_factory.mktemp("unsandboxed"), sandboxed=False)


ATTACK_NAMES = [a.name for a in hostile.attacks(hostile.Targets(*[Path("/x")] * 3, [], [], 0, "m"))]


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_the_sandbox_contains_each_attack_and_grades_the_rest(sandboxed, name):
    graded, attacks = sandboxed
    attack = next(a for a in attacks if a.name == name)
    row = graded.rows[attack.submission]
    assert row["status"] == attack.status and row["sandbox"] == "bubblewrap", row
    assert attack.contained in row["01.messages feedback"], row["01.messages feedback"]
    assert {i: int(row[f"{i} points"]) for i in corpus.IDS} == attack.points, row


def test_with_the_sandbox_nothing_gets_out(sandboxed):
    graded, attacks = sandboxed
    assert graded.received == [], "a submission reached the host's 127.0.0.1"
    assert graded.files_after == graded.files_before, "a file outside the submission's folder changed"
    assert not any(graded.outside_written)
    assert graded.leftovers == [], "processes of a submission outlived its grading"
    assert sorted(graded.rows) == sorted([a.submission for a in attacks] + [f"zed/{corpus.FILENAME}"])
    assert NO_SANDBOX_WARNING.split(" (")[0] not in graded.report and "without the sandbox" not in graded.report


def test_without_the_sandbox_the_same_attacks_get_out(unsandboxed):
    graded, attacks = unsandboxed
    for attack in attacks:
        feedback = graded.rows[attack.submission]["01.messages feedback"]
        assert attack.escaped in feedback, (attack.name, feedback)
        assert graded.rows[attack.submission]["sandbox"] == "none"
    assert graded.received == [b"hello from a submission"]
    assert graded.files_after != graded.files_before
    assert all(graded.outside_written)
    assert any("course-grade-hostile" in c for c in graded.leftovers), "the background process was killed"
    assert "without the sandbox" in graded.report


def test_the_sandbox_mounts_python_and_the_package_but_not_the_clone_or_where_it_started(tmp_path):
    script = "import json\nfrom course_utils.grading.sandbox import python_mounts\nprint(json.dumps(python_mounts()))"
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    args = json.loads(run.stdout)
    mounted = [args[i + 1] for i, a in enumerate(args) if a == "--ro-bind"]
    package = str(Path(course_utils.__file__).resolve().parent)
    assert package in mounted or any(package.startswith(m + "/") for m in mounted)
    clone = [m for m in mounted if m == str(ROOT) or m.startswith(f"{ROOT}/")]
    assert set(clone) <= {package, str((ROOT / ".venv").resolve())}, clone  # never solutions/ or the root
    assert not any(str(tmp_path).startswith(m) for m in mounted), "the folder course-grade started in is mounted"
