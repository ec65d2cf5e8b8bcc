"""Proofs for every exercise of the course (every solutions/*.ipynb, found at collection):

- the solution passes its check;
- the generated stub (the answer cell of exercises/) fails it as "not attempted yet";
- every known-wrong answer fails it with the message its `expect` names (at least two per exercise);
- every known-right answer (written unlike the solution: another idiom, another API) passes it
  (at least two per exercise), so a grader made stricter cannot start rejecting right answers;
- the points in the notebook are the points the exercise registers.

The cells run in this process (course_utils/grading/inprocess.py) with the same verdict rules as
nbval grading; tests/test_grading_plugin.py shows, with a real kernel, that the two agree.
"""
from __future__ import annotations

import functools
from pathlib import Path

import nbformat
import pytest

from course_utils.checks import get_exercise
from course_utils.grading.authoring import MIN_KNOWN_RIGHT, MIN_KNOWN_WRONG, read_solution
from course_utils.grading.cells import ANSWER, role_of, source_of
from course_utils.status import NOT_ATTEMPTED_YET, ExerciseStatus
from course_utils.grading.inprocess import exercise_contexts
from support.paths import ROOT

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
SPECS = [(path, spec) for path in SOLUTIONS for spec in read_solution(path)[2]]
WRONG = [(path, spec, wrong) for path, spec in SPECS for wrong in spec.known_wrong]
RIGHT = [(path, spec, right) for path, spec in SPECS for right in spec.known_right]


@functools.lru_cache(maxsize=None)
def contexts(path: Path) -> dict:
    """Each exercise of a solutions notebook with the namespace before its answer (run once)."""
    return {context.spec.id: context for context in exercise_contexts(path)}


@functools.lru_cache(maxsize=None)
def grade(path: Path, exercise_id: str, answer_source: str):
    """The verdict on one answer (cached: several proofs look at the same verdicts)."""
    return contexts(path)[exercise_id].grade(answer_source)


def generated_stub(path: Path, exercise_id: str) -> str:
    nb = nbformat.read(ROOT / "exercises" / path.name, as_version=4)
    return next(source_of(c) for c in nb.cells if role_of(c) == (ANSWER, exercise_id))


def test_the_course_has_exercises_to_prove():
    # Without this, a misplaced solutions/ folder would make every proof below vanish.
    assert SPECS


@pytest.mark.parametrize("path, spec", SPECS, ids=[s.id for _, s in SPECS])
def test_solution_passes(path, spec):
    result = grade(path, spec.id, spec.answer_source)
    assert result.status == ExerciseStatus.PASSED, result.feedback


@pytest.mark.parametrize("path, spec", SPECS, ids=[s.id for _, s in SPECS])
def test_generated_stub_is_not_attempted(path, spec):
    result = grade(path, spec.id, generated_stub(path, spec.id))
    assert result.status == ExerciseStatus.NOT_ATTEMPTED and result.feedback.startswith(NOT_ATTEMPTED_YET), result


@pytest.mark.parametrize("path, spec, wrong", WRONG, ids=[f"{s.id}: {w.why}" for _, s, w in WRONG])
def test_known_wrong_answer_fails_with_its_specific_message(path, spec, wrong):
    result = grade(path, spec.id, wrong.source)
    assert result.status == ExerciseStatus.FAILED, result
    assert wrong.expect in result.feedback, f"{wrong.why}: got feedback {result.feedback!r}"


@pytest.mark.parametrize("path, spec", SPECS, ids=[s.id for _, s in SPECS])
def test_exercise_has_at_least_two_known_wrong_answers(path, spec):
    assert len(spec.known_wrong) >= MIN_KNOWN_WRONG


@pytest.mark.parametrize("path, spec, right", RIGHT, ids=[f"{s.id}: {r.why}" for _, s, r in RIGHT])
def test_known_right_answer_passes(path, spec, right):
    result = grade(path, spec.id, right.source)
    assert result.status == ExerciseStatus.PASSED, f"{right.why}: got feedback {result.feedback!r}"


@pytest.mark.parametrize("path, spec", SPECS, ids=[s.id for _, s in SPECS])
def test_exercise_has_at_least_two_known_right_answers(path, spec):
    assert len(spec.known_right) >= MIN_KNOWN_RIGHT


@pytest.mark.parametrize("path, spec", SPECS, ids=[s.id for _, s in SPECS])
def test_points_in_the_notebook_are_the_registered_points(path, spec):
    assert get_exercise(spec.id).points == spec.points
