"""Reading what a model wrote: the Hermes-style `<tool_call>` blocks of a reply, as calls.

This parser is written here because no library does this job for SmolLM2: transformers renders
tools into the prompt but has no parser for the Hermes reply that the SmolLM2 tokenizers know
about (its `parse_response` needs a `response_template` that neither SmolLM2 nor the nano
tokenizer ships), and it casts or keeps arguments it cannot use instead of rejecting them. A tool
loop needs the opposite: every malformed, unknown or mistyped call becomes one clear error
sentence that goes back to the model as the call's `tool` message, so that the model can correct
itself on the next step.

The format, as `assets/templates/hermes_tool_use.jinja` writes it and the nano model emits it:
`<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>`.

Whether a call fits its tool's schema is `validation.py`'s job; `parse_tool_calls` asks it when
given the tools.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from .errors import ToolCallError
from .schemas import function_schemas
from .validation import validate_call

__all__ = [
    "ToolCallError", "MalformedToolCall", "OPEN_TAG", "CLOSE_TAG", "tool_call_blocks",
    "mentions_tool_call", "decode_tool_call", "parse_tool_calls", "text_outside_calls",
]


class MalformedToolCall(ToolCallError):
    """The text between the tags is not `{"name": "...", "arguments": {...}}` JSON."""


OPEN_TAG, CLOSE_TAG = "<tool_call>", "</tool_call>"
_BLOCK_RE = re.compile(re.escape(OPEN_TAG) + r"(.*?)" + re.escape(CLOSE_TAG), re.DOTALL)
_SHOWN_CHARS = 120


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def tool_call_blocks(text: str) -> list[str]:
    """The text inside each `<tool_call>...</tool_call>` of a reply, in order.

    A tag without its partner raises `MalformedToolCall` rather than silently dropping the
    call: an opening tag left open (a reply cut off by `max_new_tokens`, or a model that forgot
    it), or a closing tag with no opening one (a small model that garbled the opening tag).
    """
    blocks = _BLOCK_RE.findall(text)
    how_to = f'Write each call as {OPEN_TAG}\\n{{"name": ..., "arguments": {{...}}}}\\n{CLOSE_TAG}.'
    if text.count(OPEN_TAG) != len(blocks):
        raise MalformedToolCall(f"Error: a {OPEN_TAG} tag is not closed by {CLOSE_TAG}. {how_to}")
    if text.count(CLOSE_TAG) != len(blocks):
        raise MalformedToolCall(f"Error: a {CLOSE_TAG} tag has no {OPEN_TAG} before it. {how_to}")
    return blocks


def mentions_tool_call(text: str) -> bool:
    """Whether a reply tries to call a tool (even badly), as opposed to being a final answer."""
    return OPEN_TAG in text or CLOSE_TAG in text


def decode_tool_call(block: str, number: int = 1) -> dict:
    """`{"name": str, "arguments": dict}` from the JSON of one block; `number` counts from 1."""
    try:
        call = json.loads(block)
    except json.JSONDecodeError as error:
        raise MalformedToolCall(
            f"Error: tool call {number} is not valid JSON ({error.msg} at character {error.pos}): "
            f"{_shorten(block)}"
        ) from None
    if not (isinstance(call, dict) and isinstance(call.get("name"), str)
            and isinstance(call.get("arguments", {}), dict)):
        raise MalformedToolCall(
            f'Error: tool call {number} must be a JSON object {{"name": <string>, "arguments": '
            f"<object>}}, got: {_shorten(block)}"
        )
    # Hermes allows a call without arguments for a tool that takes none.
    return {"name": call["name"], "arguments": call.get("arguments", {})}


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
    calls = [decode_tool_call(block, number) for number, block in enumerate(tool_call_blocks(text), 1)]
    if tools is not None:
        schemas = function_schemas(tools)
        for call in calls:
            validate_call(call, schemas)
    return calls


def text_outside_calls(text: str) -> str:
    """What the model wrote besides its tool calls (often nothing)."""
    return _BLOCK_RE.sub("", text).strip()
