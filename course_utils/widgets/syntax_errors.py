"""Where a template's syntax error is: jinja2 names the line, this finds the column.

jinja2's ``TemplateSyntaxError`` carries a line number only, and the line alone does not help
with a one-line template: ``{% for m in messages %}...{% if messages`` is one long line. The
place to look is the token the parser stopped at (or the character the lexer could not read),
so ``locate_syntax_error`` reads the template again with jinja2's own lexer and parser, in the
environment transformers renders in, keeping each token's offset in the text.

jinja2's lexer yields each token's text but not its offset; every token is a slice of the source
taken in order, and only whitespace that ``-`` or ``lstrip_blocks`` strips lies between them, so
searching forward for each token's text recovers the offsets.
"""
from __future__ import annotations

from dataclasses import dataclass

import jinja2
from jinja2.lexer import TokenStream, newline_re
from jinja2.parser import Parser

from course_utils.templates._transformers import reference_environment

__all__ = ["SyntaxErrorSpot", "locate_syntax_error"]

QUOTE_CONTEXT = 40  # characters of a long line shown on each side of the error
QUOTE_WHOLE = 100  # a line up to this long is quoted whole


@dataclass(frozen=True)
class SyntaxErrorSpot:
    """A syntax error and where it is: 1-based line and column, and the whole line's text.

    ``column`` is None where the parser stopped on a line other than the one jinja2 names (the
    line is then quoted without a mark); ``width`` is how many characters to underline.
    """

    message: str
    line: int
    line_text: str
    column: int | None = None
    width: int = 1

    @property
    def headline(self) -> str:
        where = f"template line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: syntax error: {self.message}"

    def quote(self) -> tuple[str, str]:
        """The line (a window of it around the column when long) and, beneath, the mark."""
        text = self.line_text.replace("\t", " ")  # one character each, so the mark stays aligned
        if self.column is None:
            return _cut(text, *_window(text, 0, len(text)))[0], ""
        start, end = _window(text, self.column - 1, self.column - 1 + self.width)
        shown, offset = _cut(text, start, end)
        return shown, " " * (self.column - 1 - start + offset) + "^" * self.width

    def __str__(self) -> str:
        line, mark = self.quote()
        gutter = f"{self.line} | "
        quoted = gutter + line + (f"\n{' ' * (len(gutter) - 2)}| {mark}" if mark else "")
        return f"{self.headline}\n{quoted}"


def _window(text: str, first: int, last: int) -> tuple[int, int]:
    """The part of a long line to quote around text[first:last], cut between words where it can."""
    if len(text) <= QUOTE_WHOLE:
        return 0, len(text)
    start, end = max(0, first - QUOTE_CONTEXT), min(len(text), last + QUOTE_CONTEXT)
    slack = QUOTE_CONTEXT // 3  # how much of the window a cut between words may give up
    if start > 0 and (gap := text.find(" ", start, min(first, start + slack))) != -1:
        start = gap + 1
    if end < len(text) and (gap := text.rfind(" ", max(last, end - slack), end)) != -1:
        end = gap
    return start, end


def _cut(text: str, start: int, end: int) -> tuple[str, int]:
    """text[start:end] with an ellipsis where it was cut; and how far the ellipsis shifts it."""
    head = "…" if start > 0 else ""
    return head + text[start:end] + ("…" if end < len(text) else ""), len(head)


def _normalized(template: str) -> str:
    # jinja2's lexer reads \r\n and \r as \n and counts lines on the result; so do the offsets.
    return "\n".join(newline_re.split(template)[::2])


class _LexerStopped(Exception):
    def __init__(self, error: jinja2.TemplateSyntaxError, start: int, end: int):
        super().__init__(error.message)
        self.error, self.start, self.end = error, start, end


def _tokens_with_offsets(environment: jinja2.Environment, source: str) -> tuple[list, list[tuple[int, int]]]:
    """The parser's tokens (as ``Lexer.wrap`` makes them) and each one's (start, end) in ``source``.

    Raises ``_LexerStopped`` with the offsets of the place the lexer could not read.
    """
    lexer = environment.lexer
    tokens, spans, position = [], [], 0
    start, kind = 0, None
    raw = lexer.tokeniter(source, None)
    while True:
        try:
            lineno, kind, text = next(raw)
        except StopIteration:
            return tokens, spans
        except jinja2.TemplateSyntaxError as exc:  # e.g. "unexpected '}'": nothing read after `position`
            if kind in ("comment_begin", "raw_begin"):  # a comment or raw block never closed: mark its start
                raise _LexerStopped(exc, start, position) from None
            raise _LexerStopped(exc, position, position + 1) from None
        start = source.find(text, position) if text else position
        position = start + len(text)
        try:
            for token in lexer.wrap([(lineno, kind, text)]):  # 0 tokens for whitespace and comments
                tokens.append(token)
                spans.append((start, position))
        except jinja2.TemplateSyntaxError as exc:  # e.g. a string with a bad escape
            raise _LexerStopped(exc, start, position) from None


def _parser_stop(environment: jinja2.Environment, source: str,
                 tokens: list) -> tuple[jinja2.TemplateSyntaxError, object] | None:
    """Parse ``tokens`` as ``Environment.parse`` would; the error and the token it stopped at."""
    parser = Parser(environment, source)
    stream = iter(tokens)
    for extension in environment.iter_extensions():
        stream = extension.filter_stream(stream)
    parser.stream = TokenStream(stream, None, None)  # our tokens, so the stop can be found among them
    try:
        parser.parse()
    except jinja2.TemplateSyntaxError as exc:
        return exc, parser.stream.current
    return None


def _spot(error: jinja2.TemplateSyntaxError, source: str, start: int, end: int,
          at_end: bool = False) -> SyntaxErrorSpot:
    lines = source.split("\n")
    line = source.count("\n", 0, start) + 1
    # At the end of the template jinja2's line counts trailing newlines its lexer drops; the
    # place to mark is after the last character, wherever jinja2 counted.
    if not at_end and (error.lineno != line or not 0 < error.lineno <= len(lines)):
        text = lines[error.lineno - 1] if 0 < error.lineno <= len(lines) else ""
        return SyntaxErrorSpot(error.message, error.lineno, text)
    column = start - (source.rfind("\n", 0, start) + 1) + 1
    text = lines[line - 1]
    width = max(1, min(end - start, len(text) - column + 1))
    return SyntaxErrorSpot(error.message, line, text, column, width)


def locate_syntax_error(template: str) -> SyntaxErrorSpot | None:
    """The syntax error in ``template`` with its line and column; None when it parses.

    Example:
        >>> spot = locate_syntax_error("{% for m in messages %}{{ m.content }}{% endfor %}{% if messages")
        >>> spot.line, spot.column
        (1, 65)
        >>> print(spot)
        template line 1, column 65: syntax error: unexpected end of template, expected 'end of statement block'.
        1 | {% for m in messages %}{{ m.content }}{% endfor %}{% if messages
          |                                                                 ^
    """
    environment = reference_environment()
    source = _normalized(template)
    try:
        tokens, spans = _tokens_with_offsets(environment, source)
    except _LexerStopped as stopped:
        return _spot(stopped.error, source, stopped.start, stopped.end)
    stop = _parser_stop(environment, source, tokens)
    if stop is None:
        return None
    error, current = stop
    # The token the parser stopped at, found by identity; the end-of-template token is not ours.
    span = next((span for token, span in zip(tokens, spans) if token is current), None)
    if span is None:
        end_of_text = len(source.rstrip())
        return _spot(error, source, end_of_text, end_of_text, at_end=True)
    return _spot(error, source, *span)
