"""Exercise checks: ``check("01.messages", messages)`` prints ``✅ 01.messages passed`` or raises
`CheckFailed` with one line that says what is wrong.

- `core`: `check` and the exact verdict line.
- `failure`: `CheckFailed`, raised by every check (its own module: `core` and `registry` both
  raise it, and `core` imports `registry`), and how the lines around a quoted text difference
  are shown under its one line (`course_utils.difference` draws them).
- `registry`: ``@exercise(id, points=...)`` and lazy loading of ``lessonNN`` modules by id.
- `calls`: `call`, which runs learner code with output captured and a time limit
  (`call_unchanged` also fails when it changed the messages it was given).
- `unanswered`: `when_answered()`, for lesson cells that call a learner's function before it is
  written (Run All on an exercise notebook goes on, with one line instead of a traceback).
- `expect`: comparisons that fail with the first difference.
- `expect_templates`: what the template exercises of lessons 03 and 04 share (the answer is
  template text; it renders like a reference over the course's conversations).
- `expect_training`: what a training template must do (lesson 07): stay prefix-preserving over
  every conversation, pass TRL's checks, and mask exactly what a reference masks.
- `course_models`: the tokenizers and models the checks compare against, cached and silenced.
- `stop_models`, `tool_model`: scripted stand-in models for 05.stop_rate and 06.loop, whose
  right answers the nano models cannot tell from wrong ones (a stop rate strictly between 0
  and 1; two tool calls in one reply), with `generate()`'s options applied as transformers does.
- `tool_history`: what a tool loop's messages must hold after a reply with calls (06.loop): one
  assistant message with every call, then one tool message per call, paired by id.
- `template_choice`: the cases of 06.tool_template, each answered by transformers' own
  `get_chat_template` on a copy of the course tokenizer.
- ``lesson01.py`` ...: one module per lesson, registering that lesson's exercises; a lesson
  imports no other lesson (tests/test_layers.py), so checking ``04.*`` registers only ``04.*``.

The verdict texts (`PASSED_LINE`, `NOT_ATTEMPTED_YET`) are defined in `course_utils.status`,
which grading shares; they are re-exported here for check authors.
docs/INSTRUCTORS.md ("Adding an exercise") shows how the pieces fit.
"""
from ..status import NOT_ATTEMPTED_YET, PASSED_LINE
from .calls import call, short_repr
from .core import check
from .expect import expect_equal, expect_text, expect_type
from .failure import CheckFailed
from .registry import exercise, get_exercise, registered_exercises
from .unanswered import when_answered

__all__ = [
    "check",
    "when_answered",
    "CheckFailed",
    "PASSED_LINE",
    "NOT_ATTEMPTED_YET",
    "exercise",
    "get_exercise",
    "registered_exercises",
    "call",
    "short_repr",
    "expect_equal",
    "expect_text",
    "expect_type",
]
