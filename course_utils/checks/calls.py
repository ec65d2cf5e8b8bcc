"""Calling learner code from a check: output captured, a time limit, and one-line failures.

A check must not print anything but its verdict (the grader compares that line exactly), so
learner prints, stderr and warnings are captured. An endless loop must not hang the notebook,
so each call has a time limit: SIGALRM interrupts pure-Python loops in the main thread (where
Jupyter runs cells); elsewhere the call runs in a helper thread that is abandoned on timeout.
"""
from __future__ import annotations

import contextlib
import copy
import io
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path

from ..status import NOT_ATTEMPTED_YET
from .failure import CheckFailed
from .registry import current_time_limit

_COURSE_DIR = str(Path(__file__).resolve().parent.parent)
_LIBRARY_DIRS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})


class _OutOfTime(BaseException):
    """Raised inside learner code when its time is up; BaseException so `except Exception`
    in learner code cannot swallow it."""


def short_repr(value, limit: int = 120) -> str:
    """`repr(value)` on one line, cut to `limit` characters; objects shown by type name."""
    if isinstance(value, (str, bytes, int, float, bool, list, tuple, dict, set, type(None))):
        text = repr(value)
    else:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_call(fn, args, kwargs) -> str:
    """``add_turn([...], 'user', 'Hi')``: how a call looks in a failure message."""
    name = getattr(fn, "__name__", "your function")
    shown = [short_repr(a, 60) for a in args] + [f"{k}={short_repr(v, 60)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


def _where(exc: BaseException) -> str:
    """``' (in add_turn, line 3)'``: the deepest frame of learner code, if there is one."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not frame.filename.startswith((_COURSE_DIR, *_LIBRARY_DIRS)):
            return f" (in {frame.name}, line {frame.lineno})"
    return ""


def _run_with_alarm(fn, args, kwargs, seconds: float):
    def out_of_time(signum, frame):
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, out_of_time)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _run_in_thread(fn, args, kwargs, seconds: float):
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed back to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _OutOfTime()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _can_use_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def call(fn, *args, shown_as: str | None = None, **kwargs):
    """Call learner function `fn(*args, **kwargs)` for a check and return what it returns.

    Its stdout, stderr and warnings are captured (a check prints only its verdict), and it
    gets the current exercise's time limit.

    Args:
        fn: the learner's function.
        shown_as: how the call appears in messages, e.g. ``"safe_ids(tokenizer, messages)"``;
            by default the function name with short reprs of the arguments.

    Raises:
        CheckFailed: not a function; "not attempted yet" (it raised NotImplementedError);
            "did not finish within N s"; or the exception it raised, with the learner's line.
    """
    if not callable(fn):
        raise CheckFailed(f"expected a function, got {short_repr(fn)}")
    shown = shown_as or describe_call(fn, args, kwargs)
    seconds = current_time_limit.get()
    runner = _run_with_alarm if _can_use_alarm() else _run_in_thread
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            return runner(fn, args, kwargs, seconds)
    except _OutOfTime:
        raise CheckFailed(f"{shown} did not finish within {seconds:g} s") from None
    except NotImplementedError:
        name = getattr(fn, "__name__", "your function")
        raise CheckFailed(f"{NOT_ATTEMPTED_YET}: {name} still raises NotImplementedError") from None
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise CheckFailed(f"{shown} raised {message}{_where(exc)}") from None


def call_unchanged(fn, tokenizer, messages, *rest, shown_as: str):
    """``call(fn, tokenizer, messages, *rest)`` on a copy of ``messages``; fail if ``fn`` changed it.

    Learner functions must build a new list (``messages + [...]``): the caller's conversation is
    often reused, and a function that appends to it corrupts every later render.
    """
    given = copy.deepcopy(messages)
    result = call(fn, tokenizer, given, *rest, shown_as=shown_as)
    if given != messages:
        raise CheckFailed(f"{shown_as} changed the messages it was given (they had {len(messages)} messages, "
                          f"now {len(given)}): build a new list, e.g. messages + [...]")
    return result
