"""Reading what a model wrote: the Hermes-style `<tool_call>` blocks of a reply, as calls.

The format, as `assets/templates/hermes_tool_use.jinja` writes it and the nano model emits it:
`<tool_call>\\n{"name": "get_weather", "arguments": {"city": "Paris"}}\\n</tool_call>`.

transformers parses it, given a response template: `parse_reply` runs its
`transformers.utils.chat_parsing.parse_response` with `HERMES_RESPONSE_TEMPLATE`
(`response_template.py`), which finds the blocks, reads their JSON and returns an assistant
message. A tool loop needs more: every malformed, unknown or mistyped call must become one clear
error sentence that goes back to the model as the call's `tool` message, so that the model can
correct itself on the next step. This module adds exactly what the parser does not check
(measured on transformers 5.23; tests/test_tools.py pins each behaviour):

- Tags (`check_tags`). The parser closes a `<tool_call>` left open at the end of the text, so a
  reply cut off by `max_new_tokens` still becomes a call when its JSON happens to be complete; and
  it takes a `</tool_call>` without an opening tag as plain text, so a reply whose opening tag
  was garbled looks like a final answer. The course rejects both.
- Broken JSON. The parser raises a bare `ValueError` ("json parser could not parse region as
  JSON", the block in Python's repr); the course raises `MalformedToolCall` instead, which numbers
  the call and quotes it as the model wrote it.
- The shape of a call (`call_from_json`). The parser keeps any JSON value (a list, an object
  without "name"); a call must be `{"name": <string>, "arguments": <object>}`.
- The tool's schema (`validation.validate_call`, with jsonschema). The parser's own `tools=`
  option does not check arguments: it *casts* them to the schema's types ("7" becomes 7 for an
  integer) and keeps what it cannot cast. The course does not pass it, because a wrong type
  must reach `validate_call` and be reported to the model, not be quietly repaired.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from transformers.utils.chat_parsing import parse_response

from .errors import ToolCallError
from .response_template import HERMES_RESPONSE_TEMPLATE
from .schemas import function_schemas
from .validation import validate_call

__all__ = [
    "ToolCallError", "MalformedToolCall", "OPEN_TAG", "CLOSE_TAG", "mentions_tool_call", "check_tags",
    "parse_reply", "call_from_json", "calls_from_message", "parse_tool_calls", "text_outside_calls",
]


class MalformedToolCall(ToolCallError):
    """The reply's tags do not pair up, or a call is not `{"name": "...", "arguments": {...}}` JSON."""


OPEN_TAG, CLOSE_TAG = "<tool_call>", "</tool_call>"
_TAG_RE = re.compile(f"{re.escape(OPEN_TAG)}|{re.escape(CLOSE_TAG)}")
_HOW_TO = f'Write each call as {OPEN_TAG}\\n{{"name": ..., "arguments": {{...}}}}\\n{CLOSE_TAG}.'
_SHOWN_CHARS = 120


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def mentions_tool_call(text: str) -> bool:
    """Whether a reply tries to call a tool (even badly), as opposed to being a final answer."""
    return OPEN_TAG in text or CLOSE_TAG in text


def check_tags(text: str) -> None:
    """Check that the tags of a reply pair up: `<tool_call>`, `</tool_call>`, `<tool_call>`, ...

    The response parser does not: it closes a tag left open at the end of the text (a reply cut
    off by `max_new_tokens`, or a model that forgot the closing tag) and keeps a closing tag with
    no opening one (a small model that garbled the opening tag) as text. Either way a call would
    be silently taken or silently dropped.

    Args:
        text: The model's reply.

    Raises:
        MalformedToolCall: an opening tag not followed by its closing tag (checked first), or a
            closing tag not preceded by its opening tag.

    Example:
        >>> check_tags('<tool_call>\\n{"name": "now"}\\n</tool_call>')  # the tags pair up
        >>> check_tags('<tool_call>\\n{"name": "now"}')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        course_utils.tools.parsing.MalformedToolCall: Error: a <tool_call> tag is not closed by </tool_call>. ...
    """
    tags = _TAG_RE.findall(text)
    if any(tag == OPEN_TAG and after != CLOSE_TAG for tag, after in zip(tags, [*tags[1:], None])):
        raise MalformedToolCall(f"Error: a {OPEN_TAG} tag is not closed by {CLOSE_TAG}. {_HOW_TO}")
    if any(tag == CLOSE_TAG and before != OPEN_TAG for before, tag in zip([None, *tags], tags)):
        raise MalformedToolCall(f"Error: a {CLOSE_TAG} tag has no {OPEN_TAG} before it. {_HOW_TO}")


def parse_reply(text: str) -> dict:
    """The assistant message a reply stands for, as transformers' response parser reads it.

    The tags are checked first (`check_tags`), and a call that is not valid JSON raises
    `MalformedToolCall` rather than the parser's bare `ValueError`.

    Args:
        text: The model's reply (generated text, special tokens or not).

    Returns:
        `{"role": "assistant"}`, plus `"content"` when there is text outside the calls and
        `"tool_calls"` when there are calls: `[{"type": "function", "function": <JSON of the
        call>}, ...]`. The parser keeps one piece of text: with text both before and after the
        calls, `"content"` is the text after them.

    Raises:
        MalformedToolCall: tags that do not pair up, or a call that is not valid JSON.

    Example:
        >>> parse_reply('Let me check.\\n<tool_call>\\n{"name": "now"}\\n</tool_call>')
        {'role': 'assistant', 'content': 'Let me check.', 'tool_calls': [{'type': 'function', 'function': {'name': 'now'}}]}
    """
    check_tags(text)
    try:
        # The parser insists on `prefix=` (the prompt), because some chat templates write the
        # start of the answer into it (an opening `<think>`). SmolLM2's generation prompt ends
        # with the template's start anchor and writes nothing of the answer, so `""` says the same.
        return parse_response(text, HERMES_RESPONSE_TEMPLATE, prefix="")
    except ValueError as error:
        # The parser raises ValueError(...) *from* the json.JSONDecodeError of the first broken
        # block; the cause holds that block (`doc`) and where it broke (`msg`, `pos`).
        if not isinstance(error.__cause__, json.JSONDecodeError):
            raise
        raise _invalid_json(error.__cause__, text) from None


def _invalid_json(decode_error: json.JSONDecodeError, text: str) -> MalformedToolCall:
    block = decode_error.doc
    # Once the tags pair up, a block is exactly the text between a pair of them, and an earlier
    # block with the same text would have failed first: its first occurrence is this call.
    number = text[: text.index(OPEN_TAG + block + CLOSE_TAG)].count(OPEN_TAG) + 1
    return MalformedToolCall(
        f"Error: tool call {number} is not valid JSON ({decode_error.msg} at character "
        f"{decode_error.pos}): {_shorten(block)}"
    )


def call_from_json(value: object, number: int = 1) -> dict:
    """`{"name": str, "arguments": dict}` from the JSON of one call, as the parser read it.

    Args:
        value: The `"function"` of one of the parsed message's `tool_calls`: whatever JSON the
            model wrote between the tags.
        number: Which call of the reply it is, counting from 1 (for the error message).

    Returns:
        The call; a call without `"arguments"` gets `{}` (Hermes allows it for a tool that takes
        none).

    Raises:
        MalformedToolCall: the JSON is not an object with a string `"name"` and an object
            `"arguments"`.

    Example:
        >>> call_from_json({"name": "now"})
        {'name': 'now', 'arguments': {}}
    """
    if not (isinstance(value, dict) and isinstance(value.get("name"), str)
            and isinstance(value.get("arguments", {}), dict)):
        raise MalformedToolCall(
            f'Error: tool call {number} must be a JSON object {{"name": <string>, "arguments": '
            f"<object>}}, got: {_shorten(json.dumps(value, ensure_ascii=False))}"
        )
    return {"name": value["name"], "arguments": value.get("arguments", {})}


def calls_from_message(message: dict) -> list[dict]:
    """The calls of a parsed message (`parse_reply`), in order, as `{"name", "arguments"}`.

    Raises:
        MalformedToolCall: the first call that is not `{"name": <string>, "arguments": <object>}`.
    """
    return [call_from_json(tool_call["function"], number)
            for number, tool_call in enumerate(message.get("tool_calls", []), 1)]


def parse_tool_calls(text: str, tools: Sequence[Callable | dict] | None = None) -> list[dict]:
    """Every Hermes-style tool call in a model's reply, as `{"name": ..., "arguments": {...}}`.

    Args:
        text: The model's reply (generated text, special tokens or not).
        tools: When given (functions or schemas), each call is also checked against them.

    Returns:
        The calls in order; `[]` for a reply without tool calls (a final answer).

    Raises:
        ToolCallError: the first call that cannot run, with a message meant for the model.

    Example:
        >>> parse_tool_calls('<tool_call>\\n{"name": "get_weather", "arguments": {"city": "Paris"}}\\n</tool_call>')
        [{'name': 'get_weather', 'arguments': {'city': 'Paris'}}]
    """
    calls = calls_from_message(parse_reply(text))
    if tools is not None:
        schemas = function_schemas(tools)
        for call in calls:
            validate_call(call, schemas)
    return calls


def text_outside_calls(text: str) -> str:
    """What the model wrote besides its tool calls (often nothing), as the parser keeps it.

    With text both before and after the calls, the parser keeps the text after them (its
    `content` field is not a repeating one; see `parse_reply`).

    Raises:
        MalformedToolCall: as `parse_reply`.

    Example:
        >>> text_outside_calls('Let me check.\\n<tool_call>\\n{"name": "now"}\\n</tool_call>')
        'Let me check.'
    """
    return parse_reply(text).get("content", "")
