"""The status words of `course_utils.status` are what instructors read in the results JSON, the
gradebook and the report: their values are fixed, and every gradebook status is documented."""
from __future__ import annotations

from course_utils.status import NOT_ATTEMPTED_YET, PASSED_LINE, CellStatus, ExerciseStatus, KernelFate, SubmissionStatus
from support.paths import ROOT


def test_the_status_words_are_the_ones_results_and_gradebooks_hold():
    assert list(CellStatus) == ["ok", "error", "timeout", "kernel_died", "output_differs", "too_much_output"]
    assert list(ExerciseStatus) == ["passed", "failed", "not attempted yet", "not graded"]
    assert list(SubmissionStatus) == ["graded", "graded, a cell was stopped", "kernel died", "timed out",
                                      "invalid notebook", "not a course notebook", "grader error",
                                      "no longer in the folder"]
    assert list(KernelFate) == ["", "died", "stuck"]
    assert (PASSED_LINE.format("01.messages"), NOT_ATTEMPTED_YET) == ("✅ 01.messages passed", "not attempted yet")


def test_not_attempted_is_worded_one_way_in_the_status_and_the_feedback():
    assert ExerciseStatus.NOT_ATTEMPTED == NOT_ATTEMPTED_YET


def test_a_status_is_written_as_its_plain_word():
    status = SubmissionStatus.KERNEL_DIED
    assert (str(status), f"{status}", "%s" % status) == ("kernel died",) * 3


def test_every_gradebook_status_is_explained_in_the_instructors_guide():
    guide = (ROOT / "docs" / "INSTRUCTORS.md").read_text(encoding="utf-8")
    missing = [status for status in SubmissionStatus if f"| `{status}" not in guide]
    assert missing == [], "add these statuses to the table in docs/INSTRUCTORS.md"
