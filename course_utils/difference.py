"""Where two texts first differ: the one line a failed check quotes, and the view under it.

- `visible` writes whitespace the way every message of the course shows it (space ``·``, tab
  ``→``, newline ``↵``); `SPECIAL_TOKEN_RE` finds the control tokens a difference never cuts.
- `first_difference(expected, got)`: one line, with 1-based positions, that a check puts in its
  failure message.
- `DifferenceView(expected, got)`: the line of each text around that difference, expected above
  got, the difference marked; HTML in a notebook, plain text (a ``^`` line) in a terminal.
- `recording_differences` / `quoted_difference`: how a failed check finds the texts behind the
  line it quotes, so that the ~20 checks that call `first_difference` need no change.

`display` builds its views (``show``, ``diff``) on these and re-exports the first three, so
``from course_utils.display import first_difference`` keeps working.
"""
from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NamedTuple

__all__ = ["SPECIAL_TOKEN_RE", "visible", "first_difference", "DifferenceView", "recording_differences",
           "quoted_difference"]

# Control tokens of the formats this course meets. `<|...|>` covers ChatML/SmolLM2/Llama-3/Phi;
# the others are Llama-2/Mistral (`<s>`, `[INST]`, `<<SYS>>`) and Gemma (`<start_of_turn>`).
SPECIAL_TOKEN_RE = re.compile(
    r"<\|[^|<>\s]{1,40}\|>"
    r"|</?s>|\[/?INST\]|<</?SYS>>"
    r"|<(?:start_of_turn|end_of_turn|bos|eos|pad)>"
)

# Whitespace that a learner must be able to see. A newline keeps its line break in multi-line
# views (`↵` then the real newline) and is only the arrow in one-line views.
_WHITESPACE = {" ": "·", "\t": "→", "\r": "␍"}
_NEWLINE_MARK = "↵"
_END_MARK = "⟨end of text⟩"
_SNIPPET_CHARS = 24
_DESCRIPTION_OPENING = "first difference at "
_MARKS = frozenset("·↵→")
LEGEND = "· is a space, ↵ a newline, → a tab"


def _visible_char(char: str, keep_newlines: bool) -> str:
    if char == "\n":
        return _NEWLINE_MARK + "\n" if keep_newlines else _NEWLINE_MARK
    if char in _WHITESPACE:
        return _WHITESPACE[char]
    # Other invisible characters (no-break space, zero-width joiner, BOM...) would hide a
    # difference completely, so they are named by code point.
    if unicodedata.category(char) in ("Zs", "Cf", "Cc", "Zl", "Zp"):
        return f"⟨U+{ord(char):04X}⟩"
    return char


def visible(text: str, keep_newlines: bool = True) -> str:
    """Return ``text`` with whitespace made visible: space ``·``, tab ``→``, newline ``↵``.

    Args:
        text: any string, e.g. a rendered chat.
        keep_newlines: keep the real line break after each ``↵`` (multi-line view); ``False``
            gives a one-line string, as used in error messages.

    Example:
        >>> visible("<|im_start|>user\\nHi there<|im_end|>\\n", keep_newlines=False)
        '<|im_start|>user↵Hi·there<|im_end|>↵'
    """
    return "".join(_visible_char(char, keep_newlines) for char in text)


def _token_span_at(text: str, index: int) -> tuple[int, int] | None:
    """The (start, end) of the special token of ``text`` that covers ``index``, if any."""
    for match in SPECIAL_TOKEN_RE.finditer(text):
        if match.start() <= index < match.end():
            return match.span()
        if match.start() > index:
            break
    return None


def _snippet(text: str, start: int) -> str:
    """A one-line visible excerpt of ``text`` from ``start``, never cutting a special token."""
    if start >= len(text):
        return _END_MARK
    end = min(len(text), start + _SNIPPET_CHARS)
    span = _token_span_at(text, end - 1)
    if span is not None:
        end = span[1]
    excerpt = visible(text[start:end], keep_newlines=False)
    return repr(excerpt + ("…" if end < len(text) else ""))


def _first_index(expected: str, got: str) -> int | None:
    for index, (left, right) in enumerate(zip(expected, got)):
        if left != right:
            return index
    if len(expected) == len(got):
        return None
    return min(len(expected), len(got))


def _line_and_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _difference_start(expected: str, got: str, index: int) -> int:
    """Move ``index`` back to the start of a special token that covers it on either side."""
    start = index
    for text in (expected, got):
        span = _token_span_at(text, index)
        if span is not None:
            start = min(start, span[0])
    return start


def first_difference(expected: str, got: str) -> str | None:
    """Describe where ``got`` first differs from ``expected``, in one line; ``None`` if equal.

    Positions count from 1, as an editor does: character 1 is the first of the text, and line and
    column say where that character is. When the difference falls inside a special token
    (``<|im_end|>`` against ``<|im_start|>``), both excerpts start at that token so that each side
    shows whole tokens.

    Example:
        >>> first_difference("<|im_end|>\\n", "<|im_end|> \\n")
        "first difference at character 11 (line 1, column 11): expected '↵' but got '·↵'"
    """
    index = _first_index(expected, got)
    if index is None:
        return None
    start = _difference_start(expected, got, index)
    line, column = _line_and_column(expected if index <= len(expected) else got, index)
    description = (
        f"{_DESCRIPTION_OPENING}character {index + 1} (line {line}, column {column}): "
        f"expected {_snippet(expected, start)} but got {_snippet(got, start)}"
    )
    _remember(description, expected, got)
    return description


# --- the texts behind a quoted difference -----------------------------------------------------
# A check's failure message is one line that quotes `first_difference`; the view under it needs
# the two texts. A recorder that `check` opens and `first_difference` writes to gives the failure
# those texts without changing the ~20 checks that build their messages from the line (an
# explicit argument would have to be threaded through each of them, and forgetting one would
# silently lose its view). The failure keeps only a difference its own message quotes, so the view
# can never show another difference than the line names.

class _Described(NamedTuple):
    description: str
    expected: str
    got: str


_recorded: ContextVar[list[_Described] | None] = ContextVar("course_recorded_differences", default=None)


def _remember(description: str, expected: str, got: str) -> None:
    found = _recorded.get()
    if found is not None:
        found.append(_Described(description, expected, got))


@contextmanager
def recording_differences() -> Iterator[list]:
    """Within the block, remember every difference `first_difference` describes (for `quoted_difference`)."""
    found: list[_Described] = []
    token = _recorded.set(found)
    try:
        yield found
    finally:
        _recorded.reset(token)


def _quoted_at(message: str, description: str) -> int:
    """Where ``message`` quotes ``description``; -1 if it does not."""
    at = message.find(description)
    if at < 0 and message.endswith("…"):
        # A message cut at its 600 characters may end inside the description: its last
        # "first difference at ..." then runs to the cut.
        cut = message[:-1]
        at = cut.rfind(_DESCRIPTION_OPENING)
        if at >= 0 and not description.startswith(cut[at:]):
            at = -1
    return at


def quoted_difference(message: str, recorded: list) -> DifferenceView | None:
    """The view of the recorded difference that ``message`` quotes first, or None if it quotes none."""
    quoted = []
    for number, found in enumerate(recorded):
        at = _quoted_at(message, found.description)
        if at >= 0:
            quoted.append((at, -number, found))  # first in the message; latest when quoted alike
    if not quoted:
        return None
    _, _, found = min(quoted)
    return DifferenceView(found.expected, found.got)


# --- the view under a failed check's line ---------------------------------------------------------

_CONTEXT = 40  # characters shown each side of the difference when its line is longer than twice that
_ELLIPSIS = "…"
_STYLE_BOX = "background:#ffcdd2;outline:2px solid #c62828;border-radius:2px"
_STYLE_MARK_DIFFERENT = "color:#000;font-weight:bold"
_STYLE_VIEW = ("font-family:monospace;white-space:pre;overflow-x:auto;margin:4px 0 0 0;padding:6px;"
               "line-height:1.7;border:1px solid #ccc;border-radius:4px;background:#fafafa")
_SIDES = (("expected", "#1b5e20"), ("got", "#0d47a1"))  # dark green above, dark blue below
_LABEL_WIDTH = len("expected")
_legend_shown = False  # the legend is shown once per session (Python process)


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _line_end(text: str, index: int) -> int:
    """Where the line holding ``index`` ends, its newline included."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


class _Side(NamedTuple):
    """One text's part of the view, as raw text: what the ``^`` or the box marks, and around it."""

    before: str   # from the window's start to the difference (the same in both texts)
    marked: str   # what differs: one character or a whole special token; "" past the end
    after: str    # from there to the end of the window
    cut_start: bool
    cut_end: bool

    def shown(self, part: str) -> str:
        if part == "marked" and not self.marked:
            return _END_MARK
        return visible(getattr(self, part), keep_newlines=False)


class DifferenceView:
    """The line where two texts first differ, expected above got, aligned, the difference marked.

    Each side shows the whole line that holds the first difference (with its ``↵``; from the line
    before when the difference opens a line), or ``_CONTEXT`` characters each side of it when
    that line is longer than twice that, never cutting a special token. ``str()`` is plain text
    with a ``^`` line under the difference; in a notebook ``_repr_html_`` boxes it and never
    wraps. The first view of a session that shows ``·``, ``↵`` or ``→`` says what they mean.

    Example:
        >>> print(DifferenceView("<|im_end|>\\n", "<|im_end|> \\n"))  # doctest: +SKIP
        expected: <|im_end|>↵
             got: <|im_end|>·↵
                            ^
        · is a space, ↵ a newline, → a tab
    """

    def __init__(self, expected: str, got: str):
        index = _first_index(expected, got)
        if index is None:
            raise ValueError("the two texts are identical: there is no difference to show")
        self.expected, self.got = expected, got
        self._at = _difference_start(expected, got, index)
        self._legend: bool | None = None  # decided when first shown, so both formats of one display agree

    @functools.cached_property
    def _sides(self) -> tuple[_Side, _Side]:
        # Both texts are equal before the difference: one start serves both and keeps them aligned.
        at, texts = self._at, (self.expected, self.got)
        line_start = self.expected.rfind("\n", 0, at) + 1
        if line_start == at > 0:  # a difference that opens a line: the line before it gives the context
            line_start = self.expected.rfind("\n", 0, at - 1) + 1
        line_ends = [_line_end(text, at) for text in texts]
        if max(line_ends) - line_start <= 2 * _CONTEXT:  # short enough to show whole
            return tuple(self._side(text, line_start, end, False) for text, end in zip(texts, line_ends))
        start = max(line_start, at - _CONTEXT)
        span = _token_span_at(self.expected, start)
        if span is not None and span[0] < start:
            start = span[0]
        return tuple(self._side(text, start, self._window_end(text, end), start > line_start)
                     for text, end in zip(texts, line_ends))

    def _marked_end(self, text: str) -> int:
        span = _token_span_at(text, self._at)
        return span[1] if span is not None and span[0] == self._at else min(self._at + 1, len(text))

    def _window_end(self, text: str, line_end: int) -> int:
        marked_end = self._marked_end(text)
        end = max(marked_end, min(line_end, marked_end + _CONTEXT))
        span = _token_span_at(text, end - 1) if end > marked_end else None
        return span[1] if span is not None else end

    def _side(self, text: str, start: int, end: int, cut_start: bool) -> _Side:
        at, marked_end = self._at, self._marked_end(text)
        return _Side(text[start:at], text[at:marked_end], text[marked_end:end], cut_start, end < _line_end(text, at))

    @property
    def legend(self) -> bool:
        """Whether this view carries the legend: it shows a mark, and no view did before in this session."""
        global _legend_shown
        if self._legend is None:
            shown = "".join(side.shown(part) for side in self._sides for part in ("before", "marked", "after"))
            self._legend = not _legend_shown and bool(_MARKS.intersection(shown))
            _legend_shown = _legend_shown or self._legend
        return self._legend

    def __str__(self) -> str:
        rows = [f"{name:>{_LABEL_WIDTH}}: {_ELLIPSIS * side.cut_start}{side.shown('before')}{side.shown('marked')}"
                f"{side.shown('after')}{_ELLIPSIS * side.cut_end}" for (name, _), side in zip(_SIDES, self._sides)]
        expected, got = self._sides
        indent = _LABEL_WIDTH + 2 + _width(_ELLIPSIS * expected.cut_start + expected.shown("before"))
        rows.append(" " * indent + "^" * max(_width(expected.shown("marked")), _width(got.shown("marked"))))
        if self.legend:
            rows.append(LEGEND)
        return "\n".join(rows)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = []
        for (name, colour), side in zip(_SIDES, self._sides):
            # Inside the box a mark is not greyed: there it is the difference itself.
            marked = _html_one_line(side.marked, _STYLE_MARK_DIFFERENT) if side.marked else html.escape(_END_MARK)
            rows.append(
                f'<span class="course-difference-{name}" style="color:{colour}"><b>{name:>{_LABEL_WIDTH}}:</b> '
                f"{_ELLIPSIS * side.cut_start}{_html_one_line(side.before)}"
                f'<span class="course-difference-at" style="{_STYLE_BOX}">{marked}</span>'
                f"{_html_one_line(side.after)}{_ELLIPSIS * side.cut_end}</span>")
        legend = (f'<div class="course-legend" style="color:#555;font-family:monospace">{LEGEND}</div>'
                  if self.legend else "")
        # white-space:pre never wraps, so no token is split across lines; a long line scrolls.
        return f'<div class="course-difference"><pre style="{_STYLE_VIEW}">' + "\n".join(rows) + f"</pre>{legend}</div>"


def _html_one_line(text: str, mark_style: str = "color:#999") -> str:
    """Escaped HTML of ``text`` on one line: special tokens in bold, whitespace marks in ``mark_style``."""
    parts, position = [], 0
    for match in SPECIAL_TOKEN_RE.finditer(text):
        parts.append(_html_marks(text[position:match.start()], mark_style))
        parts.append(f'<b class="course-special">{html.escape(match.group())}</b>')
        position = match.end()
    parts.append(_html_marks(text[position:], mark_style))
    return "".join(parts)


def _html_marks(text: str, mark_style: str) -> str:
    out = []
    for char in text:
        shown = _visible_char(char, keep_newlines=False)
        out.append(html.escape(char) if shown == char else f'<span style="{mark_style}">{html.escape(shown)}</span>')
    return "".join(out)
