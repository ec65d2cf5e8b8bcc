"""`CheckFailed`: the one exception every check raises, with one line that says what is wrong.

It has its own module because both `registry` (wrong number of answers) and `core` (`check`)
raise it, and `core` imports `registry`: neither can own it without an import cycle.

When the line quotes a text difference, the failure also carries a `DifferenceView` (the line of
each text around it, the difference marked), shown under the line (`show_under_its_line`).
"""
from __future__ import annotations

import sys

from ..difference import DifferenceView

_MAX_MESSAGE_CHARS = 600


class CheckFailed(AssertionError):
    """An answer did not pass its exercise's tests; the message says why, in one line.

    It subclasses AssertionError so that test runners treat it as a failed test rather than an
    error in the course's code.

    Args:
        message: the one line (newlines become spaces; cut at 600 characters).
        exercise_id: prefixed to the line, as ``check`` shows it.
        difference: ``(expected, got)`` texts whose first difference the line quotes (or their
            `DifferenceView`); ``check`` finds it by itself for lines built with
            ``first_difference``.
    """

    def __init__(self, message: str, exercise_id: str | None = None,
                 difference: tuple[str, str] | DifferenceView | None = None):
        message = " ".join(str(message).split("\n"))
        if len(message) > _MAX_MESSAGE_CHARS:
            message = message[: _MAX_MESSAGE_CHARS - 1] + "…"
        self.exercise_id = exercise_id
        self.detail = message
        if isinstance(difference, tuple):
            difference = DifferenceView(*difference)
        self.difference: DifferenceView | None = difference
        super().__init__(f"{exercise_id}: {message}" if exercise_id else message)

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: a learner needs the one line,
        # not the frames of the course's checking code.
        return [f"❌ {self}"]


def show_under_its_line(failure: CheckFailed) -> None:
    """Arrange for ``failure.difference`` to be shown under the failure's one line.

    - In IPython (a notebook kernel, the terminal IPython), a handler for CheckFailed shows the
      usual ❌ line, as an ``error`` output with ename ``CheckFailed`` and evalue the line (what
      the grader and nbval read), then displays the view: HTML in a notebook, its text in a
      terminal. Showing it after the error keeps the ❌ line what a learner reads first.
    - In plain Python, ``sys.excepthook`` prints the view under the traceback of a failure that
      nobody caught.

    Either way the view is drawn only when shown, never while the check runs, and
    ``str(failure)`` stays the one line.
    """
    if failure.difference is None:
        return
    shell = _ipython_shell()
    if shell is None:
        _install_excepthook()
    elif shell.custom_exceptions in ((), (CheckFailed,)):
        shell.set_custom_exc((CheckFailed,), _show_failure)
    else:
        # IPython keeps one custom handler, and something else installed its own: the view goes
        # above the error rather than replacing that handler.
        _display(failure.difference)


def _ipython_shell():
    # Looked up in sys.modules, not imported: importing IPython in a plain Python process would
    # cost a check a large fraction of a second.
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _show_failure(shell, etype, value, tb, tb_offset=None):
    """IPython's custom handler for CheckFailed: the usual ❌ line, then the view, if any."""
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    if getattr(value, "difference", None) is not None:
        _display(value.difference)


def _display(view) -> None:
    # The two formats given directly: IPython's formatters would otherwise try every other
    # representation (Markdown, SVG, PNG, LaTeX, JSON...) on the view first.
    from IPython.display import display
    display({"text/plain": str(view), "text/html": view._repr_html_()}, raw=True)


def _install_excepthook() -> None:
    if getattr(sys.excepthook, "shows_check_differences", False):
        return
    previous = sys.excepthook

    def excepthook(etype, value, tb):
        previous(etype, value, tb)
        if isinstance(value, CheckFailed) and value.difference is not None:
            print(value.difference, file=sys.stderr)

    excepthook.shows_check_differences = True
    sys.excepthook = excepthook
