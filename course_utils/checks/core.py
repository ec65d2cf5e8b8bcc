"""`check(exercise_id, *answer)`: run an exercise's tests and say, in one line, what happened.

The contract that notebooks, the grader and the manifest rely on:
- success prints exactly ``✅ <id> passed`` (`status.PASSED_LINE`) and nothing else;
- an answer not written yet (still the ``...`` placeholder, or a function that still raises
  NotImplementedError) prints one line, ``❌ <id>: not attempted yet: ...``
  (`status.NOT_ATTEMPTED_LINE`), and raises nothing, so Run All on an exercise notebook runs
  every lesson cell below it;
- failure raises `CheckFailed` whose message is one specific line: the call, what came back,
  what was expected and where the first difference is, or "did not finish within N s"; when the
  line quotes a text difference, the lines around it are shown under it (`show_under_its_line`).
"""
from __future__ import annotations

from ..difference import quoted_difference, recording_differences
from ..status import NOT_ATTEMPTED_LINE, NOT_ATTEMPTED_YET, PASSED_LINE
from .failure import CheckFailed, show_under_its_line
from .registry import get_exercise


def check(exercise_id: str, *answer) -> None:
    """Check `answer` against exercise `exercise_id`; print ``✅ <id> passed`` or raise.

    Args:
        exercise_id: an id from the course's exercise table, e.g. ``"01.messages"``.
        *answer: what the exercise asks for (a value, a function, a template string...).

    Raises:
        CheckFailed: with one line saying what is wrong.
        LookupError: if there is no such exercise (a typo in the check cell).

    Example:
        >>> check("01.messages", messages)          # doctest: +SKIP
        ✅ 01.messages passed
    """
    exercise = get_exercise(exercise_id)
    if any(value is Ellipsis for value in answer):
        _say_not_attempted(exercise_id, "the answer cell still holds the placeholder ...; replace it with your answer")
        return
    try:
        # The texts behind a quoted `first_difference`, for the view under the line (difference.py says why).
        with recording_differences() as described:
            exercise.run(*answer)
    except CheckFailed as failure:
        if failure.detail.startswith(NOT_ATTEMPTED_YET):
            _say_not_attempted(exercise_id, failure.detail.removeprefix(NOT_ATTEMPTED_YET).lstrip(": "))
            return
        difference = failure.difference or quoted_difference(failure.detail, described)
        shown = CheckFailed(failure.detail, exercise_id, difference=difference)
        show_under_its_line(shown)
        # Re-raised without the chain: the learner needs the line, not where it was raised.
        raise shown from None
    print(PASSED_LINE.format(exercise_id))


def _say_not_attempted(exercise_id: str, why: str) -> None:
    print(NOT_ATTEMPTED_LINE.format(exercise_id) + (f": {why}" if why else ""))
