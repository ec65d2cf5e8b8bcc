"""Tool schemas: what the chat template writes into the prompt about each tool.

`tool_schemas` is transformers' public `get_json_schema` (type hints + Google-style docstring ->
JSON schema), with an error that names the function and says what to fix. Dicts are taken as
schemas already, so a learner can also offer a hand-written schema.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from transformers.utils import get_json_schema
from transformers.utils.chat_template_utils import DocstringParsingException, TypeHintParsingException

__all__ = ["ToolSchemaError", "tool_schemas", "function_part", "function_schemas"]


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
