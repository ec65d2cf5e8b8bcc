"""Tool use: Python functions as tools, the model's tool calls parsed and checked, and the loop.

The pieces, in the order a tool call travels:
1. `tool_schemas(tools)`: transformers' `get_json_schema` turns each function (type hints +
   Google-style docstring) into the JSON schema the chat template writes into the prompt.
2. The model replies in the Hermes format that `templates/hermes_tool_use.jinja` teaches:
   `<tool_call>\\n{"name": "get_weather", "arguments": {"city": "Paris"}}\\n</tool_call>`.
3. `parse_tool_calls(reply, tools)` finds every call and checks it against the schemas.
4. `run_tool_loop` runs the calls, appends the assistant `tool_calls` message and one `tool`
   message per call (with its `tool_call_id`), and asks the model again, up to a step limit.

Why the parser is written by hand: transformers renders tools into the prompt but has no parser
for the Hermes reply that the SmolLM2 tokenizers know about (its `parse_response` needs a
`response_template` that neither SmolLM2 nor the nano tokenizer ships), and it casts or keeps
arguments it cannot use instead of rejecting them. A tool loop needs the opposite: every
malformed, unknown or mistyped call becomes one clear error sentence that goes back to the model
as the call's `tool` message, so that the model can correct itself on the next step.
"""
from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from transformers.utils import get_json_schema
from transformers.utils.chat_template_utils import DocstringParsingException, TypeHintParsingException

from .world import COUNTRIES, get_weather

__all__ = [
    "ToolSchemaError", "ToolCallError", "MalformedToolCall", "UnknownTool", "InvalidArguments",
    "tool_schemas", "parse_tool_calls", "validate_call", "call_tool", "assistant_message",
    "tool_message", "run_tool_loop", "model_generator", "ToolLoopResult",
    "get_weather", "get_capital", "convert_temperature", "EXAMPLE_TOOLS", "rag_template",
]

_TEMPLATES = Path(__file__).parent / "assets" / "templates"


def rag_template() -> str:
    """A ChatML template that renders `apply_chat_template(documents=...)` into the system turn."""
    return (_TEMPLATES / "rag.jinja").read_text()

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


def _function_part(schema: dict) -> dict:
    # get_json_schema wraps the function in {"type": "function", "function": {...}}; the bare
    # form (as in Hermes' own prompt) is accepted too.
    return schema.get("function", schema)


def _schemas_by_name(tools: Sequence[Callable | dict]) -> dict[str, dict]:
    return {_function_part(s)["name"]: _function_part(s) for s in tool_schemas(tools)}


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


_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_BLOCK_RE = re.compile(re.escape(_OPEN) + r"(.*?)" + re.escape(_CLOSE), re.DOTALL)
_SHOWN_CHARS = 120


def _shorten(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def tool_call_blocks(text: str) -> list[str]:
    """The text inside each `<tool_call>...</tool_call>` of a reply, in order.

    An opening tag without its closing tag (a reply cut off by `max_new_tokens`, or a model
    that forgot it) raises `MalformedToolCall` rather than silently dropping the call.
    """
    blocks = _BLOCK_RE.findall(text)
    opened = text.count(_OPEN)
    if opened != len(blocks):
        raise MalformedToolCall(
            f"Error: a {_OPEN} tag is not closed by {_CLOSE}. "
            f'Write each call as {_OPEN}\\n{{"name": ..., "arguments": {{...}}}}\\n{_CLOSE}.'
        )
    return blocks


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
    schemas = tools if isinstance(tools, dict) else _schemas_by_name(tools)
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
        schemas = _schemas_by_name(tools)
        for call in calls:
            validate_call(call, schemas)
    return calls


def text_outside_calls(text: str) -> str:
    """What the model wrote besides its tool calls (often nothing)."""
    return _BLOCK_RE.sub("", text).strip()


# --- Running calls and writing the messages ---------------------------------------------------


def call_tool(call: dict, functions: dict[str, Callable]) -> str:
    """Run one call and return the text for its `tool` message.

    A tool that raises does not end the conversation: the error becomes the result, so the
    model can tell the user (or try other arguments). Results that are not text are written as
    JSON, the form models are trained to read.
    """
    try:
        result = functions[call["name"]](**call["arguments"])
    except Exception as error:  # noqa: BLE001 -- any tool failure is reported to the model
        return f"Error: {call['name']} raised {type(error).__name__}: {error}"
    return result if isinstance(result, str) else json.dumps(result)


def assistant_message(calls: Sequence[dict], ids: Sequence[str], content: str = "") -> dict:
    """The assistant turn that made `calls`, in the `tool_calls` format chat templates read."""
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": call["name"], "arguments": call["arguments"]}}
            for call, call_id in zip(calls, ids)
        ],
    }


def tool_message(call_id: str, name: str | None, content: str) -> dict:
    """The `tool` turn answering one call; `tool_call_id` pairs it with its call."""
    message = {"role": "tool", "tool_call_id": call_id, "content": content}
    return message if name is None else {**message, "name": name}


def _answer_step(reply: str, schemas: dict[str, dict], functions: dict[str, Callable],
                 step: int) -> tuple[list[dict], list[dict]]:
    """The messages that record one tool-calling reply and its results, and the valid calls.

    A reply whose calls cannot even be read as JSON has no structured form, so it is kept as
    plain assistant text (the model then sees exactly what it wrote) and each call still gets
    a `tool` message with the error.
    """
    try:
        blocks = tool_call_blocks(reply)
        calls = [decode_tool_call(block, n) for n, block in enumerate(blocks, 1)]
    except MalformedToolCall as error:
        call_id = f"call_{step}_1"
        return [{"role": "assistant", "content": reply}, tool_message(call_id, None, str(error))], []
    ids = [f"call_{step}_{n}" for n in range(1, len(calls) + 1)]
    messages, ran = [assistant_message(calls, ids, text_outside_calls(reply))], []
    for call, call_id in zip(calls, ids):
        try:
            validate_call(call, schemas)
        except ToolCallError as error:
            messages.append(tool_message(call_id, call["name"], str(error)))
            continue
        messages.append(tool_message(call_id, call["name"], call_tool(call, functions)))
        ran.append(call)
    return messages, ran


# --- The loop -------------------------------------------------------------------------------

# generate(messages, tool_schemas) -> the model's reply text
Generate = Callable[[list[dict], list[dict]], str]


@dataclass
class ToolLoopResult:
    """What `run_tool_loop` did: the whole conversation, the final answer (None when the step
    limit stopped it), how many times the model was asked, and the calls that ran."""

    messages: list[dict]
    answer: str | None
    steps: int
    calls: list[dict] = field(default_factory=list)

    @property
    def hit_step_limit(self) -> bool:
        return self.answer is None


def run_tool_loop(generate: Generate, messages: list[dict], tools: Sequence[Callable],
                  max_steps: int = 3, on_step: Callable[[int, list[dict]], None] | None = None
                  ) -> ToolLoopResult:
    """Ask the model, run the tools it calls, hand back the results, until it answers.

    Args:
        generate: `generate(messages, tool_schemas) -> reply text`; `model_generator` makes one
            from a model and tokenizer, tests pass a scripted one.
        messages: The conversation so far; it is not modified.
        tools: The Python functions the model may call.
        max_steps: How many times the model may be asked (each reply is one step), so that a
            model that keeps calling tools cannot loop for ever.
        on_step: Called as `on_step(step, conversation)` before each step: to print the
            conversation as the model is about to see it.
    """
    schema_list = tool_schemas(tools)
    schemas = {_function_part(s)["name"]: _function_part(s) for s in schema_list}
    functions = {_function_part(s)["name"]: tool for s, tool in zip(schema_list, tools)}
    conversation, ran = list(messages), []
    for step in range(1, max_steps + 1):
        if on_step is not None:
            on_step(step, list(conversation))
        reply = generate(conversation, schema_list)
        if _OPEN not in reply:
            conversation.append({"role": "assistant", "content": reply})
            return ToolLoopResult(conversation, reply, step, ran)
        new_messages, new_calls = _answer_step(reply, schemas, functions, step)
        conversation += new_messages
        ran += new_calls
    return ToolLoopResult(conversation, None, max_steps, ran)


def model_generator(model, tokenizer, max_new_tokens: int = 96) -> Generate:
    """A `generate(messages, tool_schemas)` that renders with `tools=`, generates greedily and
    returns the new text up to (not including) the end-of-turn token.

    With a tokenizer that holds named templates, `tools=` makes `apply_chat_template` pick the
    `tool_use` one. Special tokens are kept in the decoded text because some tool-use models
    make `<tool_call>` a special token, and skipping it would erase the call.
    """
    import torch

    configured = model.generation_config.eos_token_id
    configured = configured if isinstance(configured, list) else [configured]
    stop_ids = {i for i in [*configured, tokenizer.eos_token_id] if i is not None}
    # Not `pad_token_id or ...`: SmolLM2's pad id may be 0, which is falsy.
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def generate(messages: list[dict], schemas: list[dict]) -> str:
        inputs = tokenizer.apply_chat_template(
            messages, tools=schemas or None, add_generation_prompt=True,
            return_dict=True, return_tensors="pt",
        ).to(model.device)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=pad_id)
        new_ids = output[0, inputs["input_ids"].shape[1]:].tolist()
        end = next((i for i, token in enumerate(new_ids) if token in stop_ids), len(new_ids))
        return tokenizer.decode(new_ids[:end], skip_special_tokens=False)

    return generate


# --- Example tools --------------------------------------------------------------------------
# get_weather comes from `world.py`: it is the exact tool the nano instruct model was trained
# to call, so the schema here and the one in its training data cannot drift apart.


def get_capital(country: str) -> str:
    """
    Get the capital city of a country.

    Args:
        country: The name of the country, for example France.
    """
    if country not in COUNTRIES:
        # Raising is the honest answer; the tool loop turns it into a tool message.
        raise KeyError(f"no capital known for {country!r}")
    return COUNTRIES[country]


def convert_temperature(celsius: float, unit: str) -> float:
    """
    Convert a temperature from degrees Celsius to another unit.

    Args:
        celsius: The temperature in degrees Celsius.
        unit: The unit to convert to. (choices: ["fahrenheit", "kelvin"])
    """
    # The "(choices: ...)" suffix becomes an "enum" in the schema, so `validate_call` rejects
    # other units before the function runs.
    if unit == "fahrenheit":
        return round(celsius * 9 / 5 + 32, 2)
    return round(celsius + 273.15, 2)


EXAMPLE_TOOLS = [get_weather, get_capital, convert_temperature]
