"""Exercise checks: ``check("01.messages", messages)`` prints ``✅ 01.messages passed`` or raises
`CheckFailed` with one line that says what is wrong.

- `core`: `check`, `CheckFailed` and the exact verdict line.
- `registry`: ``@exercise(id, points=...)`` and lazy loading of ``lessonNN`` modules by id.
- `calls`: `call`, which runs learner code with output captured and a time limit.
- `expect`: comparisons that fail with the first difference.
- ``lesson01.py`` ...: one module per lesson, registering that lesson's exercises.

docs/INSTRUCTORS.md ("Adding an exercise") shows how the pieces fit.
"""
from .calls import call, short_repr
from .core import NOT_ATTEMPTED, PASSED, CheckFailed, check
from .expect import expect_equal, expect_text, expect_type
from .registry import exercise, get_exercise, registered_exercises

__all__ = [
    "check",
    "CheckFailed",
    "PASSED",
    "NOT_ATTEMPTED",
    "exercise",
    "get_exercise",
    "registered_exercises",
    "call",
    "short_repr",
    "expect_equal",
    "expect_text",
    "expect_type",
]
