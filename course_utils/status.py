"""The course's status words, each defined once: how a check speaks, how a cell, an exercise and a
submission ended.

Why here, at the bottom of `course_utils` (it imports nothing from the package): `checks` (a
lower layer) prints the verdict line and raises "not attempted yet", and `grading` (an upper
layer) reads those same texts back and writes the other statuses. A module inside `grading/`
would make `checks` import upward.

The values are the exact strings of the results JSON, the gradebook CSV, the junit properties
and the report (docs/INSTRUCTORS.md lists them): changing one changes what instructors read.
Members are `StrEnum`s, so they compare equal to those strings and ``str()``, f-strings,
``json.dump`` and ``csv`` all write the plain value.
"""
from __future__ import annotations

import enum

# What `check` prints when an answer passes (``PASSED_LINE.format(exercise_id)``); the grader
# expects exactly this line as the check cell's output.
PASSED_LINE = "✅ {} passed"
# How a failure message starts when the learner has not written an answer yet (the stub still
# raises NotImplementedError, or a template is still None); grading turns it into NOT_ATTEMPTED.
NOT_ATTEMPTED_YET = "not attempted yet"
# What `check` prints, instead of raising, when the answer is still the placeholder (``...``) or
# the stub: one line, and no exception, so Run All goes on to the next lesson cell. Grading
# reads a check cell that printed ``NOT_ATTEMPTED_LINE.format(exercise_id)`` and more as
# not attempted. ``❌ 01.messages: not attempted yet``
NOT_ATTEMPTED_LINE = "❌ {}: " + NOT_ATTEMPTED_YET


class CellStatus(enum.StrEnum):
    """How one notebook cell ended under grading (``cell_errors`` of the results JSON)."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    KERNEL_DIED = "kernel_died"
    OUTPUT_DIFFERS = "output_differs"  # a check printed something besides its verdict line
    TOO_MUCH_OUTPUT = "too_much_output"  # stopped for printing more than the grader's limit


class ExerciseStatus(enum.StrEnum):
    """How one exercise ended: the ``status`` of each exercise in the results JSON and junit."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_ATTEMPTED = NOT_ATTEMPTED_YET  # one wording, in the feedback and the status alike
    NOT_GRADED = "not graded"  # the run stopped (kernel died, timed out) before its check


class SubmissionStatus(enum.StrEnum):
    """How grading one submission went: the gradebook's ``status`` column.

    `GRADER_ERROR` is a prefix: the column reads ``grader error: <what pytest said>``.
    """

    GRADED = "graded"
    # The run got to its end, but the grader stopped a cell on the way (the cell time limit, or
    # too much output): its exercises have their verdicts, yet the notebook did not run as written.
    GRADED_WITH_STOPPED_CELLS = "graded, a cell was stopped"
    KERNEL_DIED = "kernel died"
    TIMED_OUT = "timed out"
    INVALID = "invalid notebook"
    NOT_COURSE = "not a course notebook"
    GRADER_ERROR = "grader error"
    # The notebook has left the submissions folder since it was graded: its row and its points
    # are kept (a grade is never lost), and it is graded again if it comes back.
    MISSING = "no longer in the folder"


class KernelFate(enum.StrEnum):
    """What became of a notebook's kernel: ``kernel_fate`` in the results JSON."""

    ALIVE = ""      # nothing happened to it
    DIED = "died"   # it exited (a crash, os._exit, out of memory)
    STUCK = "stuck"  # a cell timed out and could not be interrupted
