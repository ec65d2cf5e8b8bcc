"""How exercise cells are recognised: by their ``course`` metadata, never by position.

An exercise is an answer cell ``{"course": {"role": "answer", "id": ..., "points": ...}}``
followed by a check cell ``{"course": {"role": "check", "id": ...}}``. A notebook belongs to a
lesson through its own metadata ``{"course": {"lesson": "01_messages_and_special_tokens"}}``.
"""
from __future__ import annotations

import re

META_KEY = "course"
ANSWER, CHECK = "answer", "check"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# A function's stub: its body raises until the learner writes it (the `def` itself runs).
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
# A value's stub: the answer's name bound to the placeholder `...`, which `check` reports as
# "not attempted yet" without raising, so Run All goes past an exercise not yet written.
PLACEHOLDER = "{} = ...  # YOUR CODE HERE"
# What a check cell must be: one call of `check` on the exercise's own id.
CHECK_LINE_RE = re.compile(r'check\("(?P<id>\d\d\.[a-z0-9_]+)"(?:, [^\n]+)?\)')


def source_of(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def course_meta(cell) -> dict:
    """The cell's ``course`` metadata, or {} (also when a learner's file left it malformed)."""
    return _mapping(_mapping(_mapping(cell).get("metadata")).get(META_KEY))


def cells_of(nb) -> list:
    """The notebook's cells, or [] when its JSON has none (it is not really a notebook)."""
    cells = _mapping(nb).get("cells")
    return cells if isinstance(cells, list) else []


def role_of(cell) -> tuple[str | None, str | None]:
    """(role, exercise id) of a cell; (None, None) for ordinary cells."""
    meta = course_meta(cell)
    role, exercise_id = meta.get("role"), meta.get("id")
    if role in (ANSWER, CHECK) and isinstance(exercise_id, str):
        return role, exercise_id
    return None, None


def lesson_of(nb) -> str | None:
    lesson = _mapping(_mapping(_mapping(nb).get("metadata")).get(META_KEY)).get("lesson")
    return lesson if isinstance(lesson, str) else None


def exercise_ids(nb) -> list[str]:
    """The ids of the exercises whose cells this notebook carries, in order of appearance."""
    ids = [role_of(cell)[1] for cell in cells_of(nb)]
    return list(dict.fromkeys(i for i in ids if i))


class AuthoringError(ValueError):
    """A solutions notebook breaks the exercise format; the message names the cell and the fix."""


def answer_names(check_source: str) -> list[str]:
    """The names a check cell passes to `check`: ``check("01.x", a, b)`` -> ``["a", "b"]``."""
    match = CHECK_LINE_RE.fullmatch(check_source.strip())
    if not match:
        raise AuthoringError(f"not a check cell: {check_source.strip()[:60]!r}")
    rest = check_source.strip()[match.end("id") + 1 : -1]
    return [name.strip() for name in rest.split(",") if name.strip()]


def stub_for(answer_source: str, check_source: str) -> str:
    """What a learner's answer cell starts as: the solution block replaced by a stub.

    Inside a function body the stub raises NotImplementedError; at the top level of the cell
    each answer name is bound to ``...`` (`PLACEHOLDER`), so running the cell raises nothing.
    """
    begin = next((line for line in answer_source.split("\n") if line.strip() == BEGIN), "")
    if begin.startswith((" ", "\t")):
        return replace_solution(answer_source, STUB)
    placeholders = "\n".join(PLACEHOLDER.format(name) for name in answer_names(check_source))
    return replace_solution(answer_source, placeholders)


def replace_solution(source: str, replacement: str, where: str = "answer cell") -> str:
    """Put `replacement` in place of the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION``.

    The replacement is indented like the BEGIN marker, so a solution inside a function body
    gets a stub inside the same body.
    """
    lines = source.split("\n")
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise AuthoringError(f"{where}: needs exactly one '{BEGIN}' line followed by one '{END}' line")
    start, stop = begins[0], ends[0]
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    new = [indent + line if line else line for line in replacement.strip("\n").split("\n")]
    return "\n".join(lines[:start] + new + lines[stop + 1 :])
