"""Comparisons that fail with one line: what came back, what was expected, where they differ."""
from __future__ import annotations

from ..display import first_difference
from .calls import short_repr
from .failure import CheckFailed


def _a(type_name: str) -> str:
    return f"{'an' if type_name[0] in 'aeiou' else 'a'} {type_name}"


def _verb(what: str) -> str:
    # "f(x) returned ..." for a call, "messages[2] is ..." for a value.
    return "returned" if what.endswith(")") else "is"


def _kind(value) -> str:
    return "None" if value is None else _a(type(value).__name__)


def expect_type(value, expected_type: type | tuple[type, ...], what: str) -> None:
    """Fail unless `value` is an instance of `expected_type` (bool is never an int here)."""
    types = expected_type if isinstance(expected_type, tuple) else (expected_type,)
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        wanted = " or ".join(_a(t.__name__) for t in types)
        shown = "" if value is None else f" ({short_repr(value, 60)})"
        raise CheckFailed(f"{what} {_verb(what)} {_kind(value)}{shown}, expected {wanted}")


def _same(got, expected) -> bool:
    """Equal, and of the same types all the way down (a tuple is not a list, 1.0 is not 1)."""
    if type(got) is not type(expected):
        return False
    if isinstance(got, (list, tuple)):
        return len(got) == len(expected) and all(map(_same, got, expected))
    if isinstance(got, dict):
        return got.keys() == expected.keys() and all(_same(got[k], expected[k]) for k in got)
    return got == expected


def _locate(got, expected, what: str) -> str:
    """The first place where `got` differs from `expected`, described in one line.

    Lists and dicts are followed down to the first differing item, so the message names
    ``add_turn(...)[2]['content']`` rather than printing two long lists that look alike.
    """
    if type(got) is type(expected) and isinstance(got, (list, tuple)):
        index = next((i for i, (g, e) in enumerate(zip(got, expected)) if not _same(g, e)), None)
        if len(got) != len(expected):
            shown, wanted = short_repr(got), short_repr(expected)
            if len(shown) + len(wanted) < 160:  # short enough to show whole
                return f"{what} {_verb(what)} {shown}, expected {wanted} ({len(got)} items, not {len(expected)})"
            size = f"{what} {_verb(what)} {_a(type(got).__name__)} of {len(got)} items, expected {len(expected)}"
            inner = "" if index is None else "; " + _locate(got[index], expected[index], f"[{index}]")
            return size + inner
        return _locate(got[index], expected[index], f"{what}[{index}]")
    if type(got) is type(expected) and isinstance(got, dict):
        if set(got) != set(expected):
            return f"{what} has keys {sorted(got, key=str)}, expected {sorted(expected, key=str)}"
        key = next(k for k in expected if not _same(got[k], expected[k]))
        return _locate(got[key], expected[key], f"{what}[{key!r}]")
    message = f"{what} {_verb(what)} {short_repr(got)}, expected {short_repr(expected)}"
    if isinstance(got, str) and isinstance(expected, str):
        message += "; " + first_difference(expected, got)
    elif type(got) is not type(expected):
        message += f" ({_kind(got)}, not {_a(type(expected).__name__)})"
    return message


def expect_equal(got, expected, what: str) -> None:
    """Fail unless ``got == expected``, with equal types all the way down.

    Args:
        what: how the learner's value is named in the message, e.g. ``"messages[2]"`` or
            ``"add_turn(history, 'user', 'Hi')"`` (then the message says "returned").
    """
    if not _same(got, expected):
        raise CheckFailed(_locate(got, expected, what))


def expect_text(got: str, expected: str, what: str) -> None:
    """Like `expect_equal` for text, with whitespace and special tokens visible in the diff."""
    expect_type(got, str, what)
    where = first_difference(expected, got)
    if where is not None:
        raise CheckFailed(f"{what}: {where}")
