"""The gradebook file and the report: no grade is ever lost, and every row knows which version
of its lesson's exercises it was graded against (issue 19, items 1, 2 and 5)."""
from __future__ import annotations

import csv
import re
from dataclasses import replace
from pathlib import Path

import pytest

from course_utils.grading.gradebook import AnotherClassGradebook, Gradebook, NotAGradebook, Row, read_gradebook
from course_utils.grading.manifest import Manifest, ManifestExercise
from course_utils.grading.report import render_report
from course_utils.status import SubmissionStatus

SHA = "ab" * 32


def _exercise(exercise_id: str, points: int) -> ManifestExercise:
    return ManifestExercise(exercise_id, points, f"check({exercise_id!r}, answer)", f"✅ {exercise_id} passed\n")


MANIFEST = Manifest({"01_x": (_exercise("01.a", 1), _exercise("01.b", 2)), "02_y": (_exercise("02.a", 1),)})
# The same course after an instructor added 01.c to lesson 01.
GROWN = Manifest({"01_x": (*MANIFEST.lessons["01_x"], _exercise("01.c", 2)), "02_y": MANIFEST.lessons["02_y"]})


def _row(name: str, manifest: Manifest = MANIFEST, lesson: str = "01_x", **exercises) -> Row:
    return Row(submission=name, sha256=SHA, lesson=lesson, status=SubmissionStatus.GRADED, seconds=1.5,
               max_points=manifest.max_points(lesson), exercises=exercises,
               exercise_set=manifest.exercise_set(lesson))


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.backup-*"))


# --- the file --------------------------------------------------------------------------------

def test_gradebook_round_trips_through_its_csv(tmp_path):
    rows = [_row("bob.ipynb", **{"01.a": (1, "passed"), "01.b": (0, 'said "no", then\nstopped')}),
            _row("amy.ipynb", **{"01.a": (0, "not attempted yet"), "01.b": (2, "passed")})]
    rows[0].sandbox, rows[0].flags = "bubblewrap", "cell 2: rebinds print ('print =')"
    book = Gradebook(tmp_path / "g.csv", MANIFEST, folder=tmp_path / "class")
    for row in rows:
        book.put(row)
    assert read_gradebook(tmp_path / "g.csv") == {row.submission: row for row in rows}
    assert {r["class folder"] for r in _rows(tmp_path / "g.csv")} == {str((tmp_path / "class").resolve())}
    assert [r["submission"] for r in _rows(tmp_path / "g.csv")] == ["amy.ipynb", "bob.ipynb"]
    assert list(tmp_path.iterdir()) == [tmp_path / "g.csv"], "a temporary file was left behind"


def test_a_run_in_the_sandbox_regrades_rows_graded_without_it(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST)
    book.put(_row("amy.ipynb", **{"01.a": (1, "passed")}))            # graded with --no-sandbox
    book.put(replace(_row("bob.ipynb", **{"01.a": (1, "passed")}), sandbox="bubblewrap"))
    assert [book.is_current(n, SHA, sandboxed=True) for n in ("amy.ipynb", "bob.ipynb")] == [False, True]
    assert [book.is_current(n, SHA, sandboxed=False) for n in ("amy.ipynb", "bob.ipynb")] == [True, True]


def test_a_gradebook_from_before_the_sandbox_and_the_exercise_set_still_opens_and_is_regraded(tmp_path):
    old = "submission,lesson,01.a points,01.a feedback,total,max,status,seconds,sha256\n" \
          f"amy.ipynb,01_x,1,passed,1,3,graded,1.5,{SHA}\n"
    (tmp_path / "g.csv").write_text(old, encoding="utf-8")
    book = Gradebook(tmp_path / "g.csv", MANIFEST, folder=tmp_path)
    row = book.rows["amy.ipynb"]
    assert (row.sandbox, row.flags, row.exercises, row.folder) == ("none", "", {"01.a": (1, "passed")}, str(tmp_path))
    assert not book.is_current("amy.ipynb", SHA, sandboxed=False), "no exercise set recorded: graded again"


def test_columns_cover_every_lesson_graded_in_course_order(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST)
    book.put(_row("late.ipynb", lesson="02_y", **{"02.a": (1, "passed")}))
    book.put(_row("early.ipynb", lesson="01_x", **{"01.a": (1, "passed")}))
    assert book.exercise_ids() == ["01.a", "01.b", "02.a"]
    assert _rows(tmp_path / "g.csv")[0]["02.a points"] == ""


@pytest.mark.parametrize("fresh", [False, True])
def test_a_file_that_is_not_a_gradebook_is_never_overwritten(tmp_path, fresh):
    other = tmp_path / "marks.csv"
    other.write_text("name,mark\nann,12\n")
    with pytest.raises(NotAGradebook):
        Gradebook(other, MANIFEST, fresh=fresh)
    assert other.read_text() == "name,mark\nann,12\n"


# --- a gradebook belongs to its class --------------------------------------------------------

def test_the_gradebook_of_another_class_is_refused_and_left_as_it_was(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST, folder=tmp_path / "class-a")
    book.put(_row("amy.ipynb", **{"01.a": (1, "passed")}))
    before = (tmp_path / "g.csv").read_bytes()
    with pytest.raises(AnotherClassGradebook, match=r"holds the grades of .*class-a, not of .*class-b.*--fresh"):
        Gradebook(tmp_path / "g.csv", MANIFEST, folder=tmp_path / "class-b")
    assert (tmp_path / "g.csv").read_bytes() == before and _backups(tmp_path) == []


def test_fresh_starts_over_but_keeps_the_old_gradebook_as_a_timestamped_backup(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST, folder=tmp_path / "class-a")
    book.put(_row("amy.ipynb", **{"01.a": (1, "passed")}))
    before = (tmp_path / "g.csv").read_bytes()
    fresh = Gradebook(tmp_path / "g.csv", MANIFEST, folder=tmp_path / "class-b", fresh=True)
    fresh.put(_row("zoe.ipynb", **{"01.a": (0, "failed")}))
    [backup] = _backups(tmp_path)
    assert re.fullmatch(r"g\.backup-\d{8}-\d{6}\.csv", backup.name) and backup.read_bytes() == before
    assert sorted(read_gradebook(tmp_path / "g.csv")) == ["zoe.ipynb"]


# --- no grade is lost ------------------------------------------------------------------------

def test_a_row_whose_notebook_left_the_folder_is_kept_marked_and_regraded_if_it_returns(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST)
    for name in ("amy.ipynb", "bob.ipynb"):
        book.put(_row(name, **{"01.a": (1, "passed"), "01.b": (2, "passed")}))
    again = Gradebook(tmp_path / "g.csv", MANIFEST)
    assert again.mark_missing({"amy.ipynb"}) == ["bob.ipynb"]
    again.save()
    kept = read_gradebook(tmp_path / "g.csv")["bob.ipynb"]
    assert (kept.status, kept.total, kept.exercises["01.b"]) == (SubmissionStatus.MISSING, 3, (2, "passed"))
    assert _backups(tmp_path) == [], "marking a row missing loses no grade, so needs no backup"
    assert not Gradebook(tmp_path / "g.csv", MANIFEST).is_current("bob.ipynb", SHA, sandboxed=False)


def test_replacing_a_grade_backs_the_gradebook_up_once_per_run_and_adding_one_does_not(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST)
    book.put(_row("amy.ipynb", **{"01.a": (0, "failed")}))
    book.put(_row("bob.ipynb", **{"01.a": (0, "failed")}))
    assert _backups(tmp_path) == []
    rerun = Gradebook(tmp_path / "g.csv", MANIFEST)
    before = (tmp_path / "g.csv").read_bytes()
    rerun.put(_row("cat.ipynb", **{"01.a": (1, "passed")}))          # a new submission
    assert _backups(tmp_path) == []
    rerun.put(replace(_row("amy.ipynb", **{"01.a": (1, "passed")}), sha256="cd" * 32))  # resubmitted
    rerun.put(replace(_row("bob.ipynb", **{"01.a": (1, "passed")}), sha256="cd" * 32))
    [backup] = _backups(tmp_path)
    assert backup == rerun.backup
    assert read_gradebook(backup)["amy.ipynb"].exercises == {"01.a": (0, "failed")}
    assert backup.read_bytes() == before, "the gradebook as this run found it, byte for byte"


# --- the exercise set ------------------------------------------------------------------------

def test_each_lesson_has_its_own_exercise_set_and_adding_an_exercise_changes_only_its_lesson():
    assert MANIFEST.exercise_set("01_x") != MANIFEST.exercise_set("02_y")
    assert GROWN.exercise_set("01_x") != MANIFEST.exercise_set("01_x")
    assert GROWN.exercise_set("02_y") == MANIFEST.exercise_set("02_y")
    more_points = Manifest({**MANIFEST.lessons, "01_x": (_exercise("01.a", 2), _exercise("01.b", 2))})
    assert more_points.exercise_set("01_x") != MANIFEST.exercise_set("01_x")
    assert GROWN.exercise_set("") != MANIFEST.exercise_set(""), "a row of no lesson is graded again too"


def test_rows_graded_against_an_earlier_exercise_set_are_graded_again(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST)
    book.put(_row("amy.ipynb", **{"01.a": (1, "passed"), "01.b": (2, "passed")}))
    book.put(_row("zed.ipynb", lesson="02_y", **{"02.a": (1, "passed")}))
    grown = Gradebook(tmp_path / "g.csv", GROWN)
    assert not grown.is_current("amy.ipynb", SHA, sandboxed=False)
    assert grown.is_current("zed.ipynb", SHA, sandboxed=False), "lesson 02 did not change"


def maxima_per_lesson(report: str) -> dict[str, set[str]]:
    """lesson -> every maximum the report's class table shows for it ('points/max')."""
    found: dict[str, set[str]] = {}
    for lesson, maximum in re.findall(r"<td>(\d\d_\w+)</td><td>\d+/(\d+)</td>", report):
        found.setdefault(lesson, set()).add(maximum)
    return found


def test_the_report_shows_each_exercise_maximum_and_one_maximum_per_lesson(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST)
    book.put(_row("old.ipynb", **{"01.a": (1, "passed"), "01.b": (2, "passed")}))
    grown = Gradebook(tmp_path / "g.csv", GROWN)
    grown.mark_missing({"new.ipynb"})                              # old.ipynb left; graded against 3 points
    grown.put(_row("new.ipynb", GROWN, **{"01.a": (1, "passed"), "01.b": (0, "failed"), "01.c": (2, "passed")}))
    report = render_report(grown)
    assert maxima_per_lesson(report) == {"01_x": {"5"}}
    assert "<td>3 <span class=muted>(earlier exercise set)</span></td>" in report
    assert "<td><code>01.c</code></td><td>2</td><td>1/1</td>" in report, "01.c: worth 2, passed by 1 of 1"
    assert "<td><code>01.b</code></td><td>2</td><td>0/1</td>" in report, "the stale row is not counted"
    assert "1 of 2 rows are kept from earlier runs" in report


def test_a_row_with_a_stopped_cell_is_not_shown_as_plainly_graded(tmp_path):
    book = Gradebook(tmp_path / "g.csv", MANIFEST)
    book.put(replace(_row("amy.ipynb", **{"01.a": (1, "passed")}), status=SubmissionStatus.GRADED_WITH_STOPPED_CELLS))
    assert "<td class=warn>graded, a cell was stopped</td>" in render_report(book)
