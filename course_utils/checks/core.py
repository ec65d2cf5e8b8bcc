"""`check(exercise_id, *answer)`: run an exercise's tests and say, in one line, what happened.

The contract (COURSE.md section 3) that notebooks, the grader and the manifest rely on:
- success prints exactly ``✅ <id> passed`` (`status.PASSED_LINE`) and nothing else;
- failure raises `CheckFailed` whose message is one specific line: the call, what came back,
  what was expected and where the first difference is, or "did not finish within N s", or
  "not attempted yet" (`status.NOT_ATTEMPTED_YET`).
"""
from __future__ import annotations

from ..status import PASSED_LINE
from .failure import CheckFailed
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
    try:
        exercise.run(*answer)
    except CheckFailed as failure:
        # Re-raised without the chain: the learner needs the line, not where it was raised.
        raise CheckFailed(failure.detail, exercise_id) from None
    print(PASSED_LINE.format(exercise_id))
