"""Conversations shown as conversations, not as Python dicts.

``show_conversation(messages)`` shows each message under its role, tool calls as formatted JSON
with their ids, each tool result under the call it answers, content blocks and reasoning. Like
display.py's helpers it returns an object that a notebook shows as HTML (``_repr_html_``) and that
prints as plain text (``__str__``), so the same call works in JupyterLab and in a terminal.

Messages are untrusted text: everything that goes into HTML is escaped, and only the tags written
here carry markup. Nothing is cut: long lines wrap between words, never inside one.
"""
from __future__ import annotations

import html
import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from .display import SPECIAL_TOKEN_RE, visible

__all__ = ["show_conversation", "ConversationView"]

_REASONING_KEYS = ("reasoning_content", "thinking")
_CALL_SHAPES = ("{'type': 'function', 'function': {'name': ..., 'arguments': {...}}, 'id': ...} "
                "or {'name': ..., 'arguments': {...}}")
_TEXT_WIDTH = 100  # plain-text lines wrap here, between words
_INDENT = "    "

# One colour per role: (accent for the border and label, light background).
_ROLE_COLOURS = {
    "system": ("#6a1b9a", "#f6eefa"),
    "user": ("#1565c0", "#eaf2fd"),
    "assistant": ("#2e7d32", "#ebf6ec"),
    "tool": ("#b34700", "#fff4e8"),
}
_OTHER_ROLE = ("#555", "#f3f3f3")
# Wrap between words only: a token, a city or a JSON key is never split over two lines.
_WRAP = "white-space:pre-wrap;overflow-wrap:normal;word-break:normal"
_STYLE_BOX = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;line-height:1.45;overflow-x:auto"
_STYLE_CODE = f"font-family:monospace;{_WRAP};margin:2px 0;padding:4px 6px;background:#fff;color:#111;" \
              "border:1px solid #ddd;border-radius:3px"
_STYLE_MUTED = "color:#666;font-style:italic"
_STYLE_MARK = "color:#999"
_STYLE_SPECIAL = "background:#ffd54f;color:#000;border-radius:3px;padding:0 2px"
_LEGEND = {"·": "space", "→": "tab", "↵": "newline", "␍": "carriage return", "⟨U+": "invisible character"}


# --- Reading the messages --------------------------------------------------------------------


@dataclass
class _Call:
    """One tool call of an assistant message, and the tool messages that answer it."""

    id: str | None
    name: str
    arguments: Any
    results: list[_Message] = field(default_factory=list)

    def as_json(self) -> str:
        arguments, note = self.arguments, ""
        if isinstance(arguments, str):  # the OpenAI API sends arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except ValueError:
                note = "  (arguments are not valid JSON)"
        body = json.dumps({"name": self.name, "arguments": arguments}, indent=2, ensure_ascii=False, default=repr)
        return body + note


@dataclass
class _Message:
    index: int
    role: str
    parts: list[tuple[str, str]]  # ("text", text) or ("note", what a non-text block holds)
    content_missing: bool
    reasoning: str | None
    calls: list[_Call]
    name: str | None
    call_id: str | None
    unmatched: bool = False  # a tool result that answers no call above it


def _where(index: int, *keys: str | int) -> str:
    return f"messages[{index}]" + "".join(f"[{key!r}]" for key in keys)


def _optional_str(message: Mapping, index: int, key: str) -> str | None:
    value = message.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{_where(index, key)} must be a string, got {type(value).__name__} {value!r}")
    return value


def _image_source(block: Mapping) -> str:
    source = block.get("url") or block.get("image") or block.get("path") or block.get("image_url")
    if isinstance(source, Mapping):  # OpenAI: {"type": "image_url", "image_url": {"url": ...}}
        source = source.get("url")
    if source is None:
        return "image (no source given)"
    if not isinstance(source, str):
        return f"image ({type(source).__name__} object)"
    if source.startswith("data:"):  # base64 data would bury the conversation
        return f"image (data URL, {len(source):,} characters)"
    return f"image: {source}"


def _block(block: Any, index: int, number: int) -> tuple[str, str]:
    if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
        raise TypeError(f"{_where(index, 'content', number)} must be a content block with a 'type', "
                        f"like {{'type': 'text', 'text': 'Hi'}}; got {block!r}")
    kind = block["type"]
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise ValueError(f"{_where(index, 'content', number)} is a text block without a 'text' string")
        return "text", block["text"]
    if kind in ("image", "image_url"):
        return "note", _image_source(block)
    return "note", f"{kind} block (keys: {', '.join(sorted(map(str, block)))})"


def _parts(message: Mapping, index: int) -> list[tuple[str, str]]:
    content = message.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [("text", content)]
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        return [_block(block, index, number) for number, block in enumerate(content)]
    raise TypeError(f"{_where(index, 'content')} must be a string or a list of content blocks, "
                    f"got {type(content).__name__}")


def _call(call: Any, index: int, number: int) -> _Call:
    where = _where(index, "tool_calls", number)
    if not isinstance(call, Mapping):
        raise TypeError(f"{where} must be a dict, {_CALL_SHAPES}; got {type(call).__name__}")
    function = call.get("function", call)  # transformers and OpenAI nest the call under "function"
    if not isinstance(function, Mapping):
        raise TypeError(f"{where}['function'] must be a dict with 'name' and 'arguments', got {type(function).__name__}")
    if "name" not in function:
        raise ValueError(f"{where} has no 'name': a tool call is {_CALL_SHAPES}")
    if not isinstance(function["name"], str):
        raise TypeError(f"{where}: the tool's 'name' must be a string, got {type(function['name']).__name__}")
    call_id = call.get("id")
    if call_id is not None and not isinstance(call_id, str):
        raise TypeError(f"{where}['id'] must be a string, got {type(call_id).__name__} {call_id!r}")
    return _Call(call_id, function["name"], function.get("arguments", {}))


def _message(message: Any, index: int) -> _Message:
    if not isinstance(message, Mapping):
        raise TypeError(f"messages[{index}] must be a dict like {{'role': 'user', 'content': 'Hi'}}, "
                        f"got {type(message).__name__} {message!r:.60}")
    if "role" not in message:
        raise ValueError(f"messages[{index}] has no 'role' key (keys: {', '.join(map(str, message))})")
    if not isinstance(message["role"], str):
        raise TypeError(f"{_where(index, 'role')} must be a string, got {type(message['role']).__name__}")
    calls = message.get("tool_calls") or []
    if not isinstance(calls, Sequence) or isinstance(calls, (str, bytes)):
        raise TypeError(f"{_where(index, 'tool_calls')} must be a list of calls, got {type(calls).__name__}")
    reasoning = next((_optional_str(message, index, key) for key in _REASONING_KEYS if message.get(key)), None)
    return _Message(index, message["role"], _parts(message, index), message.get("content") is None, reasoning,
                    [_call(call, index, number) for number, call in enumerate(calls)],
                    _optional_str(message, index, "name"), _optional_str(message, index, "tool_call_id"))


def _answered_call(result: _Message, by_id: dict[str, _Call], latest: list[_Call]) -> _Call | None:
    """The call a tool message answers: by its `tool_call_id`; without one, the first call of the
    latest tool-calling message that has no result yet (of the same name, when it names one)."""
    if result.call_id is not None:
        return by_id.get(result.call_id)
    return next((call for call in latest if not call.results and result.name in (None, call.name)), None)


def _read(messages: Any) -> list[_Message]:
    """The messages to show at the top level, each tool result moved under its call."""
    if isinstance(messages, Mapping):
        hint = " (a dataset row? pass row['messages'])" if "messages" in messages else ""
        raise TypeError(f"show_conversation() takes a list of messages, got a dict{hint}")
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise TypeError(f"show_conversation() takes a list of message dicts, got {type(messages).__name__}")
    shown, by_id, latest = [], {}, []
    for index, raw in enumerate(messages):
        message = _message(raw, index)
        if message.role == "tool":
            call = _answered_call(message, by_id, latest)
            if call is not None:
                call.results.append(message)
                continue
            message.unmatched = True
        elif message.calls:
            latest = message.calls
            by_id.update((call.id, call) for call in message.calls if call.id is not None)
        shown.append(message)
    return shown


# --- Text with its whitespace made visible where it would be missed --------------------------


def _segments(text: str) -> list[tuple[str, bool]]:
    """(piece, is_mark): whitespace at the start and end of a text made visible (`·`, `↵`...), as
    are tabs and invisible characters anywhere; spaces and newlines inside stay real, to read."""
    lead, core, trail = re.fullmatch(r"(\s*)(.*?)(\s*)", text, flags=re.DOTALL).groups()
    out = [(visible(lead, keep_newlines=False), True)] if lead else []
    for hidden, run in groupby(core, key=lambda char: char not in " \n" and not char.isprintable()):
        run = "".join(run)
        out.append((visible(run, keep_newlines=False), True) if hidden else (run, False))
    if trail:
        out.append((visible(trail, keep_newlines=False), True))
    return out


def _walk(messages: list[_Message]):
    for message in messages:
        yield message
        for call in message.calls:
            yield from _walk(call.results)


def _marks_used(messages: list[_Message]) -> list[str]:
    """The legend of the marks these messages show: `· space`, `↵ newline`..."""
    texts = [text for message in _walk(messages) for kind, text in [*message.parts, ("text", message.reasoning or "")]
             if kind == "text"]
    found = "".join(piece for text in texts for piece, is_mark in _segments(text) if is_mark)
    return [f"{mark} {meaning}" for mark, meaning in _LEGEND.items() if mark in found]


# --- Plain text ------------------------------------------------------------------------------


def _wrapped(text: str, indent: str) -> list[str]:
    lines = []
    for line in text.split("\n"):
        inner = indent + " " * (len(line) - len(line.lstrip(" ")))
        lines += textwrap.wrap(line, _TEXT_WIDTH, initial_indent=indent, subsequent_indent=inner,
                               break_long_words=False, break_on_hyphens=False, drop_whitespace=True) or [indent]
    return lines


def _details(message: _Message) -> list[str]:
    """What a heading says after the role: the name, the call answered, a result without a call."""
    words = [message.name] if message.name else []
    if message.call_id:
        words.append(f"answers {message.call_id}")
    if message.unmatched:
        words.append("(no call above has this id)" if message.call_id else "(no call above to answer)")
    return words


def _heading(message: _Message) -> str:
    return " · ".join([f"[{message.index}] {message.role}", *_details(message)])


def _no_text(message: _Message) -> str:
    # A missing content and an empty one can render differently: a template may test for either.
    return "(no content)" if message.content_missing else "(empty content)"


def _body_lines(message: _Message, indent: str) -> list[str]:
    lines = []
    if message.reasoning:
        lines += _wrapped("reasoning: " + "".join(text for text, _ in _segments(message.reasoning)), indent)
    for kind, text in message.parts:
        shown = "".join(piece for piece, _ in _segments(text)) if kind == "text" else f"[{text}]"
        lines += _wrapped(shown or "(empty content)", indent)
    if not message.parts and not message.calls:
        lines += _wrapped(_no_text(message), indent)
    for call in message.calls:
        lines.append(f"{indent}tool call · id {call.id or '(none)'}")
        lines += _wrapped(call.as_json(), indent + "  ")
        for result in call.results:
            lines.append(f"{indent}  ↳ {_heading(result)}")
            lines += _body_lines(result, indent + "      ")
    return lines


def _text(messages: list[_Message]) -> str:
    if not messages:
        return "(no messages)"
    lines = []
    for message in messages:
        lines.append(_heading(message))
        lines += _body_lines(message, _INDENT)
    marks = _marks_used(messages)
    if marks:
        lines.append("made visible: " + ", ".join(marks))
    return "\n".join(line.rstrip() for line in lines)


# --- HTML ------------------------------------------------------------------------------------


def _html_text(text: str) -> str:
    out = []
    for piece, is_mark in _segments(text):
        if is_mark:
            out.append(f'<span class="course-ws" style="{_STYLE_MARK}">{html.escape(piece)}</span>')
            continue
        position = 0
        for match in SPECIAL_TOKEN_RE.finditer(piece):  # a typed control token is worth seeing
            out.append(html.escape(piece[position:match.start()]))
            out.append(f'<span class="course-special" style="{_STYLE_SPECIAL}">{html.escape(match.group())}</span>')
            position = match.end()
        out.append(html.escape(piece[position:]))
    return "".join(out)


def _html_heading(message: _Message) -> str:
    accent, _ = _ROLE_COLOURS.get(message.role, _OTHER_ROLE)
    extra = html.escape(" · ".join(_details(message)))
    return (f'<div class="course-chat-role" style="font-weight:bold;color:{accent}">{html.escape(message.role)}'
            f' <span style="color:#777;font-weight:normal">[{message.index}]{" · " + extra if extra else ""}'
            "</span></div>")


def _html_message(message: _Message) -> str:
    accent, background = _ROLE_COLOURS.get(message.role, _OTHER_ROLE)
    role_class = message.role if message.role in _ROLE_COLOURS else "other"
    body = []
    if message.reasoning:
        body.append(f'<div class="course-chat-reasoning" style="{_WRAP};{_STYLE_MUTED}">reasoning: '
                    f"{_html_text(message.reasoning)}</div>")
    for kind, text in message.parts:
        if kind == "note":
            body.append(f'<div class="course-chat-block" style="{_STYLE_MUTED}">[{html.escape(text)}]</div>')
        elif text:
            body.append(f'<div class="course-chat-text" style="{_WRAP}">{_html_text(text)}</div>')
        else:
            body.append(f'<div class="course-chat-text" style="{_STYLE_MUTED}">(empty content)</div>')
    if not message.parts and not message.calls:
        body.append(f'<div style="{_STYLE_MUTED}">{_no_text(message)}</div>')
    body += [_html_call(call) for call in message.calls]
    return (f'<div class="course-chat-message course-role-{role_class}" style="border-left:4px solid {accent};'
            f'background:{background};color:#111;margin:4px 0;padding:4px 8px;border-radius:4px">'
            f'{_html_heading(message)}{"".join(body)}</div>')


def _html_call(call: _Call) -> str:
    results = "".join(_html_message(result) for result in call.results)
    return (f'<div class="course-chat-call" style="margin:4px 0 2px 0">'
            f'<div style="font-size:90%">tool call · id <code>{html.escape(call.id or "(none)")}</code></div>'
            f'<pre style="{_STYLE_CODE}">{html.escape(call.as_json())}</pre>'
            f'<div class="course-chat-results" style="margin-left:16px">{results}</div></div>')


def _html(messages: list[_Message]) -> str:
    body = "".join(_html_message(message) for message in messages) or f'<div style="{_STYLE_MUTED}">(no messages)</div>'
    marks = _marks_used(messages)
    legend = f'<div style="{_STYLE_MUTED};font-size:85%">made visible: {html.escape(", ".join(marks))}</div>' if marks else ""
    return f'<div class="course-chat" style="{_STYLE_BOX}">{body}{legend}</div>'


# --- The display -----------------------------------------------------------------------------


class ConversationView:
    """``show_conversation``'s result: HTML in a notebook, the same layout as plain text."""

    def __init__(self, messages: Sequence[Mapping]):
        self.messages = messages
        self._shown = _read(messages)  # read now, so bad input fails at the call, not at display

    def __str__(self) -> str:
        return _text(self._shown)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return _html(self._shown)


def show_conversation(messages: Sequence[Mapping]) -> ConversationView:
    """Show a conversation message by message: role, content, tool calls, results, reasoning.

    Args:
        messages: A list of message dicts, as `apply_chat_template` takes them. Tool calls may be
            in the transformers/OpenAI shape (`{"type": "function", "function": {"name", "arguments"},
            "id"}`) or bare (`{"name", "arguments"}`); a `tool` message is shown under the call whose
            `id` its `tool_call_id` names, or without one, under the next call still unanswered.

    Returns:
        An object that a notebook shows as HTML and that prints as plain text.

    Raises:
        TypeError, ValueError: for a message that is not a dict, has no role, or holds a value of
            the wrong type; the message names the index and the key, e.g. `messages[2]['content']`.

    Example:
        >>> print(show_conversation([{"role": "user", "content": "Hi!"}]))
        [0] user
            Hi!
    """
    return ConversationView(messages)
