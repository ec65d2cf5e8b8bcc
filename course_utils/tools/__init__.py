"""Tool use: how a model calls a Python function, one module per step.

The path of one tool call, and the module that does each step:
1. Schema (`schemas.py`): `tool_schemas(tools)` turns each function (type hints + Google-style
   docstring) into the JSON schema the chat template writes into the prompt, with transformers'
   `get_json_schema`.
2. Prompt (`loop.py`): `model_generator` renders `apply_chat_template(messages, tools=...)`;
   with the course's tokenizers, `tools=` picks the Hermes `tool_use` template
   (`assets/templates/hermes_tool_use.jinja`).
3. Reply (`loop.py`, through `generation.generate_text`): the model answers in that format,
   `<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>`.
4. Parse (`parsing.py`): `parse_tool_calls(reply)` has transformers' response parser find every
   call and read its JSON, with the response template SmolLM2 lacks (`response_template.py`:
   `HERMES_RESPONSE_TEMPLATE`), and adds the checks that parser does not make: tags that do not
   pair up, broken JSON as a sentence for the model, the shape of a call (`MalformedToolCall`).
5. Validate (`validation.py`): `validate_call` checks the call against its tool's schema with
   `jsonschema` (`UnknownTool`, `InvalidArguments`), in sentences written for the model.
6. Run (`loop.py`): `call_tool` calls the function; an exception becomes the result's text.
7. Tool message (`loop.py`): `assistant_message` records the calls and `tool_message` each
   result (paired by `tool_call_id`); `run_tool_loop` does steps 2 to 7 until the model answers.

Every call error is a `ToolCallError` (`errors.py`), so the loop hands any of them back to the
model as the call's `tool` message. `examples.py` holds lesson 06's example tools and the RAG
template. `training.py` (imported as `course_utils.tools.training`, not re-exported here) writes
the conversations that teach a base model to call the weather tool, failing calls and retries
included, and measures tool-call, answer and recovery rates on held-out questions.
"""
from __future__ import annotations

from .errors import ToolCallError
from .examples import EXAMPLE_TOOLS, convert_temperature, get_capital, get_weather, rag_template
from .loop import Generate, ToolLoopResult, assistant_message, call_tool, model_generator, run_tool_loop, tool_message
from .parsing import (
    MalformedToolCall, call_from_json, calls_from_message, check_tags, mentions_tool_call, parse_reply,
    parse_tool_calls, text_outside_calls,
)
from .response_template import HERMES_RESPONSE_TEMPLATE
from .schemas import ToolSchemaError, function_part, tool_schemas
from .validation import InvalidArguments, UnknownTool, validate_call

__all__ = [
    "ToolSchemaError", "ToolCallError", "MalformedToolCall", "UnknownTool", "InvalidArguments",
    "tool_schemas", "HERMES_RESPONSE_TEMPLATE", "parse_tool_calls", "validate_call", "call_tool",
    "assistant_message", "tool_message", "run_tool_loop", "model_generator", "ToolLoopResult",
    "get_weather", "get_capital", "convert_temperature", "EXAMPLE_TOOLS", "rag_template",
    # The parser's pieces, for a learner who wants to take one step at a time.
    "function_part", "mentions_tool_call", "check_tags", "parse_reply", "call_from_json", "calls_from_message",
    "text_outside_calls",
    "Generate",
]
