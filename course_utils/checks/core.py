"""`check(exercise_id, *answer)`: run an exercise's tests and say, in one line, what happened.

The contract (COURSE.md section 3) that notebooks, the grader and the manifest rely on:
- success prints exactly ``✅ <id> passed`` and nothing else;
- failure raises `CheckFailed` whose message is one specific line: the call, what came back,
  what was expected and where the first difference is, or "did not finish within N s", or
  "not attempted yet".
"""
from __future__ import annotations

from .registry import get_exercise

PASSED = "✅ {} passed"
NOT_ATTEMPTED = "not attempted yet"
_MAX_MESSAGE_CHARS = 600


class CheckFailed(AssertionError):
    """An answer did not pass its exercise's tests; the message says why, in one line.

    It subclasses AssertionError so that test runners treat it as a failed test rather than an
    error in the course's code.
    """

    def __init__(self, message: str, exercise_id: str | None = None):
        message = " ".join(str(message).split("\n"))
        if len(message) > _MAX_MESSAGE_CHARS:
            message = message[: _MAX_MESSAGE_CHARS - 1] + "…"
        self.exercise_id = exercise_id
        self.detail = message
        super().__init__(f"{exercise_id}: {message}" if exercise_id else message)

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: a learner needs the one line,
        # not the frames of the course's checking code.
        return [f"❌ {self}"]


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
    print(PASSED.format(exercise_id))
