"""course-grade end to end: the robustness corpus, resuming after kill -9, the gradebook and
report files (issue 4, items 4 and 5)."""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_utils.grading import runner
from course_utils.grading.gradebook import file_sha256, read_gradebook
from course_utils.grading.manifest import load_manifest
from course_utils.status import SubmissionStatus
from support.paths import ROOT
from support.sandboxing import leftover_processes, sandbox_args

COURSE_GRADE = [sys.executable, "-m", "course_utils.grading.cli"]


def load_corpus():
    spec = importlib.util.spec_from_file_location("corpus", ROOT / "tests" / "fixtures" / "submissions" / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


corpus = load_corpus()
CASES = corpus.cases(ROOT)
# Long enough for the heavy setup cell on a loaded machine, short enough for the loop cases.
CELL_TIMEOUT_S = 30


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole corpus, graded once with two jobs."""
    folder = tmp_path_factory.mktemp("class")
    corpus.write(CASES, folder / "submissions")
    hashes = {c.submission: file_sha256(folder / "submissions" / c.submission) for c in CASES}
    result = subprocess.run(
        COURSE_GRADE + [str(folder / "submissions"), "--out", str(folder / "gradebook.csv"),
                        "--report", str(folder / "report.html"), "--jobs", "2",
                        "--cell-timeout", str(CELL_TIMEOUT_S), "--timeout", "300", *sandbox_args()],
        capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["submission"]: row for row in read_rows(folder / "gradebook.csv")}
    return folder, rows, hashes


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_corpus_submission_gets_its_row(graded, case):
    _, rows, _ = graded
    row = rows[case.submission]
    assert row["status"] == case.status, row
    got = {i: int(row[f"{i} points"]) for i in case.points}
    assert got == case.points, row
    for exercise_id, piece in case.feedback.items():
        wanted = piece.replace(f"within {corpus.CELL_TIMEOUT_S} s", f"within {CELL_TIMEOUT_S} s")
        assert wanted in row[f"{exercise_id} feedback"], row
    assert case.flags in row["flags"] if case.flags else row["flags"] == "", row["flags"]
    assert int(row["total"]) == sum(case.points.values())
    assert row["max"] == str(corpus.MAX_POINTS) and row["lesson"] == corpus.LESSON


@pytest.mark.slow
def test_gradebook_has_one_row_per_submission_and_the_documented_columns(graded):
    folder, rows, _ = graded
    header = next(csv.reader(open(folder / "gradebook.csv", encoding="utf-8")))
    exercise_columns = [f"{i} {kind}" for i in corpus.IDS for kind in ("points", "feedback")]
    assert header == ["submission", "lesson", *exercise_columns, "sandbox", "flags", "exercise set", "class folder",
                      "total", "max", "status", "seconds", "sha256"]
    assert sorted(rows) == sorted(c.submission for c in CASES)


@pytest.mark.slow
def test_grading_leaves_the_submissions_untouched(graded):
    folder, _, hashes = graded
    written = sorted(p.relative_to(folder / "submissions").as_posix() for p in (folder / "submissions").rglob("*"))
    assert written == sorted({*hashes, *(name.split("/")[0] for name in hashes)}), "grading wrote into the folder"
    assert {name: file_sha256(folder / "submissions" / name) for name in hashes} == hashes


@pytest.mark.slow
def test_report_has_a_section_per_submission_with_escaped_feedback(graded):
    folder, rows, _ = graded
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert all(f">{name}</h2>" in report for name in rows)
    assert "add_turn(&lt;a 2-message history&gt;" in report and "<a 2-message" not in report


@pytest.mark.slow
def test_a_killed_run_resumes_without_duplicates_and_regrades_changed_work(tmp_path):
    light = [c for c in CASES if c.name in ("wrong", "deleted_cells", "stray_prints")]
    submissions = tmp_path / "submissions"
    corpus.write(light, submissions)
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}  # to find what the run left behind
    out = tmp_path / "gradebook.csv"
    command = COURSE_GRADE + [str(submissions), "--out", str(out), "--report", str(tmp_path / "r.html"),
                              "--cell-timeout", str(CELL_TIMEOUT_S), *sandbox_args()]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(read_gradebook(out)) < 2:
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    kept = read_gradebook(out)
    assert 2 <= len(kept) <= 3 and all(r.status for r in kept.values())
    assert _wait_until_no_process_uses(tmp_path / "tmp"), "grading processes outlived course-grade"
    assert leftover_processes() == [], "processes of a sandboxed submission outlived course-grade"

    changed = next(iter(kept))
    (submissions / changed).write_bytes(next(c for c in CASES if c.name == "right").content)
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
    final = read_gradebook(out)
    assert sorted(final) == sorted(c.submission for c in light)
    assert len(read_rows(out)) == len(light)
    for name, row in kept.items():
        if name != changed:
            assert final[name] == row, "a finished row was graded again"
    assert final[changed].sha256 != kept[changed].sha256 and final[changed].total == corpus.MAX_POINTS


@pytest.mark.slow
def test_a_submission_past_its_time_limit_names_the_cell_it_was_running(tmp_path):
    nb = corpus.Lesson01(ROOT).light()
    position = nb.cells.index(corpus._by_id(nb, "history-answer"))
    nb.cells.insert(position, corpus._code("import time\ntime.sleep(600)", "sleep"))
    submissions = tmp_path / "submissions"
    corpus.write([corpus.Case("slow", corpus._json(nb), "", {})], submissions)
    out = tmp_path / "gradebook.csv"
    subprocess.run(COURSE_GRADE + [str(submissions), "--out", str(out), "--report", str(tmp_path / "r.html"),
                                   "--timeout", "20", "--cell-timeout", "300", *sandbox_args()],
                   check=True, capture_output=True, timeout=300)
    row = read_rows(out)[0]
    assert row["status"] == "timed out" and row["01.messages feedback"] == "passed", row
    assert row["01.history feedback"] == ("not graded: the submission ran past the 20 s limit while running "
                                         "the cell that starts with 'import time'"), row
    assert leftover_processes() == [], "the killed submission left processes behind"


def _wait_until_no_process_uses(folder: Path, seconds: float = 20) -> bool:
    """True once no process has `folder` on its command line (pytest and kernels put their
    temporary files there)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        users = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if str(folder).encode() in cmdline.read_bytes():
                    users.append(cmdline)
            except OSError:
                continue
        if not users:
            return True
        time.sleep(0.5)
    return False


def test_without_bubblewrap_course_grade_refuses_in_one_line_unless_told(tmp_path):
    submissions = tmp_path / "submissions"
    corpus.write([c for c in CASES if c.name == "corrupt_json"], submissions)  # nothing to run
    (tmp_path / "bin").mkdir()
    env = {**os.environ, "PATH": str(tmp_path / "bin")}  # no bwrap on it
    command = COURSE_GRADE + [str(submissions), "--out", str(tmp_path / "g.csv"), "--report", str(tmp_path / "r.html")]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and not (tmp_path / "g.csv").exists()
    assert refused.stderr.count("\n") == 1 and "apt-get install bubblewrap" in refused.stderr
    assert "--no-sandbox" in refused.stderr
    unprotected = subprocess.run(command + ["--no-sandbox"], env=env, capture_output=True, text=True, timeout=120)
    assert unprotected.returncode == 0 and "warning: graded WITHOUT the sandbox" in unprotected.stderr
    assert read_rows(tmp_path / "g.csv")[0]["sandbox"] == "none"
    assert "without the sandbox" in (tmp_path / "r.html").read_text(encoding="utf-8")


# --- which files are graded at all --------------------------------------------------------

def _notebook_file(tmp_path, cells) -> Path:
    path = tmp_path / corpus.FILENAME
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return path


def test_a_notebook_with_harmless_schema_quirks_is_graded_not_refused(tmp_path):
    quirky = {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [],
              "execution_count": None, "editor_extra": {"collapsed": True}}  # and no cell id
    assert runner._problem(_notebook_file(tmp_path, [quirky]), load_manifest()) is None


def test_a_notebook_without_usable_cells_is_invalid(tmp_path):
    status, lesson, why = runner._problem(_notebook_file(tmp_path, [1, 2]), load_manifest())
    assert (status, lesson) == (SubmissionStatus.INVALID, corpus.LESSON) and why.startswith("not a valid notebook")
