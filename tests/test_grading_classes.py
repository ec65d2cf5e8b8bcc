"""An instructor's weeks with course-grade, end to end: each class has its own gradebook beside
its folder, no grade is lost when notebooks come and go or the lesson gains an exercise, and a
stopped run (SIGTERM as Ctrl-C) leaves its rows, a readable report and no temporary folders
(issue 19)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_utils.grading.gradebook import read_gradebook
from course_utils.status import SubmissionStatus
from support.course_copy import copy_of_the_repository, run_in
from support.sandboxing import sandbox_args
from test_gradebook import maxima_per_lesson
from test_grading_cli import CASES, corpus

COURSE_GRADE = [sys.executable, "-m", "course_utils.grading.cli"]
FAST = [c for c in CASES if c.name in ("wrong", "stray_prints")]  # light notebooks, a few seconds each


def grade(folder: Path, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """course-grade as the instructors' guide and `make grade` run it: the folder, nothing else."""
    return subprocess.run(COURSE_GRADE + [str(folder), *options, *sandbox_args()], env=env,
                          capture_output=True, text=True, timeout=600)


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.slow
def test_two_classes_graded_with_the_default_command_keep_their_own_gradebooks(tmp_path):
    for name in ("class-a", "class-b"):
        corpus.write(FAST if name == "class-a" else FAST[:1], tmp_path / name)
    before = {name: listing(tmp_path / name) for name in ("class-a", "class-b")}
    first = grade(tmp_path / "class-a")
    assert first.returncode == 0, first.stderr[-3000:]
    graded_a = (tmp_path / "class-a.gradebook.csv").read_bytes()
    second = grade(tmp_path / "class-b")
    assert second.returncode == 0, second.stderr[-3000:]

    assert (tmp_path / "class-a.gradebook.csv").read_bytes() == graded_a, "grading class B changed class A"
    assert sorted(read_gradebook(tmp_path / "class-a.gradebook.csv")) == sorted(c.submission for c in FAST)
    assert sorted(read_gradebook(tmp_path / "class-b.gradebook.csv")) == [FAST[0].submission]
    assert (tmp_path / "class-b.report.html").is_file() and (tmp_path / "class-a.report.html").is_file()
    assert {name: listing(tmp_path / name) for name in before} == before, "grading wrote into a class folder"

    shared = grade(tmp_path / "class-b", "--out", str(tmp_path / "class-a.gradebook.csv"))
    assert shared.returncode == 2 and "holds the grades of" in shared.stderr and "--fresh" in shared.stderr
    assert (tmp_path / "class-a.gradebook.csv").read_bytes() == graded_a


def test_a_gradebook_or_report_inside_the_submissions_folder_is_refused(tmp_path):
    (tmp_path / "class").mkdir()
    for option in ("--out", "--report"):
        refused = grade(tmp_path / "class", option, str(tmp_path / "class" / "out.file"))
        assert refused.returncode == 2 and "inside the submissions folder" in refused.stderr
    assert listing(tmp_path / "class") == []


@pytest.mark.slow
def test_a_notebook_that_leaves_the_folder_keeps_its_row_and_points(tmp_path):
    corpus.write(FAST, tmp_path / "class")
    assert grade(tmp_path / "class").returncode == 0
    graded = read_gradebook(tmp_path / "class.gradebook.csv")
    gone = FAST[1].submission
    shutil.rmtree(tmp_path / "class" / gone.split("/")[0])
    again = grade(tmp_path / "class")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "kept 1 rows whose notebook is no longer in the folder" in again.stdout
    kept = read_gradebook(tmp_path / "class.gradebook.csv")[gone]
    assert kept.status == SubmissionStatus.MISSING
    assert (kept.exercises, kept.total) == (graded[gone].exercises, graded[gone].total)
    assert "no longer in the folder" in (tmp_path / "class.report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c_keeping_rows_and_report_and_removing_temporary_folders(tmp_path):
    fast = next(c for c in CASES if c.name == "wrong")
    stuck = next(c for c in CASES if c.name == "infinite_loop")   # an answer cell that never ends
    (tmp_path / "class" / "a").mkdir(parents=True)
    (tmp_path / "class" / "b").mkdir()
    (tmp_path / "class" / "a" / corpus.FILENAME).write_bytes(fast.content)   # graded first, by name
    (tmp_path / "class" / "b" / corpus.FILENAME).write_bytes(stuck.content)
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    command = COURSE_GRADE + [str(tmp_path / "class"), "--cell-timeout", "5", *sandbox_args()]
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    gradebook = tmp_path / "class.gradebook.csv"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (gradebook.exists() and read_gradebook(gradebook)):
        time.sleep(0.2)
    time.sleep(1)  # b/ has started: its kernel is in its endless cell
    assert list((tmp_path / "tmp").glob("course-grade-*")), "the second submission is being graded"
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=60)

    assert run.returncode == 130, stderr[-3000:]
    assert "interrupted; 1 graded in this run, 1 still to grade; rerun the same command" in stderr
    assert list((tmp_path / "tmp").iterdir()) == [], "temporary folders left behind"
    assert sorted(read_gradebook(gradebook)) == [f"a/{corpus.FILENAME}"]
    report = (tmp_path / "class.report.html").read_text(encoding="utf-8")
    assert report.endswith("</html>") and f">a/{corpus.FILENAME}</h2>" in report

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 already graded" in resumed.stdout
    rows = read_gradebook(gradebook)
    assert rows[f"b/{corpus.FILENAME}"].status == SubmissionStatus.GRADED_WITH_STOPPED_CELLS
    assert rows[f"a/{corpus.FILENAME}"].status == SubmissionStatus.GRADED


# --- week two: grade class A, add an exercise, grade class B, resume class A ---------------------

LESSON01 = corpus.FILENAME
NEW_ID = "01.count_special"


@pytest.mark.slow  # ~2 min on 2 cores: three gradings of small classes and a scaffold, on a copy of the course
def test_week_two_adding_an_exercise_between_two_classes_loses_no_grade(tmp_path):
    copy = copy_of_the_repository(tmp_path / "course")
    classes = tmp_path / "classes"
    corpus.write(FAST, classes / "class-a")  # handed in before the new exercise existed

    def course_grade(folder: str) -> str:
        # The copy's course, so --no-sandbox: the sandbox passes no PYTHONPATH, and its kernels
        # would import this checkout's course_utils (tests/test_grading_sandbox.py covers it).
        graded = run_in(copy, sys.executable, "-m", "course_utils.grading.cli", str(classes / folder), "--no-sandbox")
        assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
        return graded.stdout + graded.stderr

    course_grade("class-a")
    week_one = read_gradebook(classes / "class-a.gradebook.csv")
    week_one_file = (classes / "class-a.gradebook.csv").read_bytes()
    assert {row.max_points for row in week_one.values()} == {corpus.MAX_POINTS}

    scaffold = run_in(copy, sys.executable, "-m", "scripts.new_exercise", NEW_ID, "--points", "2")
    assert scaffold.returncode == 0, scaffold.stdout[-3000:] + scaffold.stderr[-3000:]
    grown = corpus.MAX_POINTS + 2

    for student, source in (("dan", "exercises"), ("eve", "solutions")):  # untouched, and all right
        (classes / "class-b" / student).mkdir(parents=True)
        shutil.copy(copy / source / LESSON01, classes / "class-b" / student / LESSON01)
    course_grade("class-b")
    class_b = read_gradebook(classes / "class-b.gradebook.csv")
    assert class_b[f"eve/{LESSON01}"].total == grown and class_b[f"eve/{LESSON01}"].exercises[NEW_ID] == (2, "passed")
    assert class_b[f"dan/{LESSON01}"].total == 0

    resumed = course_grade("class-a")
    assert f"0 already graded in {classes / 'class-a.gradebook.csv'}, 2 to grade; 2 of them graded before" in resumed
    class_a = read_gradebook(classes / "class-a.gradebook.csv")
    assert sorted(class_a) == sorted(week_one), "a row was lost or added"
    for name, row in class_a.items():
        assert row.max_points == grown and row.exercises[NEW_ID][0] == 0, row
        earlier = {i: verdict for i, verdict in row.exercises.items() if i != NEW_ID}
        assert earlier == week_one[name].exercises, "the other exercises' verdicts changed"
    [backup] = classes.glob("class-a.gradebook.backup-*.csv")
    assert f"as it was before this run, it is kept in {backup}" in resumed
    assert backup.read_bytes() == week_one_file, "the week-one gradebook is kept as it was"
    assert read_gradebook(classes / "class-b.gradebook.csv") == class_b, "resuming class A touched class B"

    for name in ("class-a", "class-b"):
        report = (classes / f"{name}.report.html").read_text(encoding="utf-8")
        assert maxima_per_lesson(report) == {corpus.LESSON: {str(grown)}}, name
        assert f"<td><code>{NEW_ID}</code></td><td>2</td>" in report, "the new exercise and its maximum"
