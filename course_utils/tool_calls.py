"""Reading what a model wrote: tool schemas, and Hermes-style tool calls checked against them.

`tool_schemas` is transformers' `get_json_schema` with an error that says what to fix.
`parse_tool_calls` is written here because no library does this job for SmolLM2: transformers
renders tools into the prompt but has no parser for the Hermes reply that the SmolLM2 tokenizers
know about (its `parse_response` needs a `response_template` that neither SmolLM2 nor the nano
tokenizer ships), and it casts or keeps arguments it cannot use instead of rejecting them. A tool
loop needs the opposite: every malformed, unknown or mistyped call becomes one clear error
sentence that goes back to the model as the call's `tool` message, so that the model can correct
itself on the next step.

The format, as `assets/templates/hermes_tool_use.jinja` writes it and the nano model emits it:
`<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>`.
"""
from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Sequence

from transformers.utils import get_json_schema
from transformers.utils.chat_template_utils import DocstringParsingException, TypeHintParsingException

__all__ = [
    "ToolSchemaError", "ToolCallError", "MalformedToolCall", "UnknownTool", "InvalidArguments",
    "OPEN_TAG", "CLOSE_TAG", "tool_schemas", "function_part", "function_schemas",
    "tool_call_blocks", "mentions_tool_call", "decode_tool_call", "validate_call", "parse_tool_calls", "text_outside_calls",
]

# --- Schemas --------------------------------------------------------------------------------


class ToolSchemaError(ValueError):
    """A function that `get_json_schema` cannot describe; the message says what to fix."""


_DOCSTRING_FIX = (
    "Give it a Google-style docstring: a one-line description, then an 'Args:' block with one "
    "'name: description' line per argument, and a type hint on every argument."
)


def tool_schemas(tools: Sequence[Callable | dict]) -> list[dict]:
    """The JSON schema of each tool, as `apply_chat_template(tools=...)` would build it.

    Functions go through transformers' `get_json_schema`; dicts are taken as schemas already.
    A function it cannot describe raises `ToolSchemaError` naming the function and the fix.
    """
    schemas = []
    for tool in tools:
        if isinstance(tool, dict):
            schemas.append(tool)
            continue
        try:
            schemas.append(get_json_schema(tool))
        except (DocstringParsingException, TypeHintParsingException) as error:
            name = getattr(tool, "__name__", repr(tool))
            raise ToolSchemaError(f"{name}: {error}. {_DOCSTRING_FIX}") from error
    return schemas


def function_part(schema: dict) -> dict:
    """The `{"name", "description", "parameters"}` part of a tool schema.

    get_json_schema wraps it in {"type": "function", "function": {...}}; the bare form (as in
    Hermes' own prompt) is accepted too.
    """
    return schema.get("function", schema)


def function_schemas(tools: Sequence[Callable | dict]) -> dict[str, dict]:
    """The function part of each tool's schema, by tool name."""
    return {function_part(s)["name"]: function_part(s) for s in tool_schemas(tools)}


# --- Parsing the model's reply ----------------------------------------------------------------


class ToolCallError(ValueError):
    """A tool call that cannot run. Its message is written for the model, which reads it as the
    call's `tool` message and can then try again."""


class MalformedToolCall(ToolCallError):
    """The text between the tags is not `{"name": "...", "arguments": {...}}` JSON."""


class UnknownTool(ToolCallError):
    """The call names a tool that was not offered."""


class InvalidArguments(ToolCallError):
    """Missing, unexpected or mistyped arguments."""


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


_PYTHON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
                 "array": list, "object": dict, "null": type(None)}


def _has_type(value, type_name: str) -> bool:
    # bool is a subclass of int in Python, but true is not a number in JSON.
    if isinstance(value, bool) and type_name in ("integer", "number"):
        return False
    return isinstance(value, _PYTHON_TYPES.get(type_name, object))


def _matches(value, spec: dict) -> bool:
    """Whether `value` fits the (get_json_schema subset of) JSON schema `spec`."""
    if value is None and spec.get("nullable"):
        return True
    if "anyOf" in spec:
        return any(_matches(value, option) for option in spec["anyOf"])
    types = spec.get("type")
    types = [types] if isinstance(types, str) else types
    if types and not any(_has_type(value, t) for t in types):
        return False
    if "enum" in spec and value not in spec["enum"]:
        return False
    if isinstance(value, list) and isinstance(spec.get("items"), dict):
        return all(_matches(item, spec["items"]) for item in value)
    return True


def _describe(spec: dict) -> str:
    if "enum" in spec:
        return "one of " + json.dumps(spec["enum"])
    if "anyOf" in spec:
        return " or ".join(_describe(option) for option in spec["anyOf"])
    types = spec.get("type", "any value")
    text = " or ".join(types) if isinstance(types, list) else types
    if isinstance(spec.get("items"), dict):
        text += " of " + _describe(spec["items"])
    return text + (" or null" if spec.get("nullable") else "")


def _signature(name: str, parameters: dict) -> str:
    properties = parameters.get("properties", {})
    required = set(parameters.get("required", []))
    args = [f"{arg} ({_describe(spec)}{', required' if arg in required else ''})"
            for arg, spec in properties.items()]
    return f"{name}({', '.join(args)})"


def validate_call(call: dict, tools: Sequence[Callable | dict] | dict[str, dict]) -> None:
    """Raise `UnknownTool` or `InvalidArguments` unless `call` fits one of the tools' schemas.

    `tools` is a list of functions or schemas, or (to skip rebuilding them for every call) a
    dict of function schemas by name.
    """
    schemas = tools if isinstance(tools, dict) else function_schemas(tools)
    name, arguments = call["name"], call["arguments"]
    if name not in schemas:
        close = difflib.get_close_matches(name, list(schemas), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownTool(f"Error: unknown tool {name!r}.{hint} Available tools: {', '.join(schemas)}.")
    parameters = schemas[name].get("parameters", {})
    properties = parameters.get("properties", {})
    usage = f"Call it as {_signature(name, parameters)}."
    for arg in arguments:
        if arg not in properties:
            raise InvalidArguments(f"Error: {name} has no argument {arg!r}. {usage}")
    for arg in parameters.get("required", []):
        if arg not in arguments:
            raise InvalidArguments(f"Error: {name} is missing the required argument {arg!r}. {usage}")
    for arg, value in arguments.items():
        if not _matches(value, properties[arg]):
            raise InvalidArguments(
                f"Error: {name} argument {arg!r} must be {_describe(properties[arg])}, "
                f"got {json.dumps(value)}. {usage}"
            )


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
