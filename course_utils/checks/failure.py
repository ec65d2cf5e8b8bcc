"""`CheckFailed`: the one exception every check raises, with one line that says what is wrong.

It has its own module because both `registry` (wrong number of answers) and `core` (`check`)
raise it, and `core` imports `registry`: neither can own it without an import cycle.
"""
from __future__ import annotations

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
