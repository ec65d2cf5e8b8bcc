"""`when_answered()`: lesson cells that call a learner's function before it is written.

An exercise notebook runs top to bottom (Run All) before any exercise is answered: answers
start as ``...`` or as a function whose body raises NotImplementedError, and `check` reports
those as "not attempted yet" without raising. A lesson cell that *uses* such a function to show
what it does would stop Run All with a NotImplementedError traceback; inside
``with when_answered():`` it says so in one line instead, and shows its output once the
function is written. In solutions/ (everything answered) the block just runs.
"""
from __future__ import annotations

import contextlib
import traceback

# What the cell prints in place of its output, naming the function that is not written yet.
PENDING_LINE = "⏳ {} is not written yet: this cell shows its output once it is."


@contextlib.contextmanager
def when_answered():
    """Run the block; if a function of the learner's still raises NotImplementedError, print
    `PENDING_LINE` instead of a traceback. Any other error goes through as usual.

    Example:
        >>> with when_answered():                  # doctest: +SKIP
        ...     print(typed_control_tokens(tokenizer, attack))
        ⏳ typed_control_tokens is not written yet: this cell shows its output once it is.
    """
    try:
        yield
    except NotImplementedError as error:
        print(PENDING_LINE.format(_raiser(error)))


def _raiser(error: BaseException) -> str:
    """The name of the innermost function the error passed through (the learner's stub)."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].name}()" if len(frames) > 1 else "your answer"
