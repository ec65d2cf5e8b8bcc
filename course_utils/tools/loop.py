"""The tool loop: ask the model, run the tools it calls, hand back the results, until it answers.

Also the two messages that record a tool call in a conversation (`assistant_message` with its
`tool_calls`, and one `tool_message` per call), and `model_generator`, which turns a model and
tokenizer into the `generate(messages, tool_schemas)` the loop asks.
"""
from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..chat_view import show_conversation
from ..generation import generate_text
from .errors import ToolCallError
from .parsing import MalformedToolCall, calls_from_message, mentions_tool_call, parse_reply
from .schemas import function_part, function_schemas, tool_schemas
from .validation import validate_call

__all__ = ["call_tool", "assistant_message", "tool_message", "ToolLoopResult", "run_tool_loop",
           "model_generator", "Generate"]


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
        message = parse_reply(reply)
        calls = calls_from_message(message)
    except MalformedToolCall as error:
        call_id = f"call_{step}_1"
        return [{"role": "assistant", "content": reply}, tool_message(call_id, None, str(error))], []
    ids = [f"call_{step}_{n}" for n in range(1, len(calls) + 1)]
    messages, ran = [assistant_message(calls, ids, message.get("content", ""))], []
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

    def summary(self) -> str:
        if self.hit_step_limit:
            return f"no answer: the step limit stopped the loop after {self.steps} steps"
        return f"answer after {self.steps} step{'s' if self.steps > 1 else ''}"

    # In a notebook the result shows its conversation (chat_view), not a dict of dicts; repr()
    # stays the dataclass's, for debugging.
    def _repr_html_(self) -> str:
        return f"{show_conversation(self.messages)._repr_html_()}<div><i>{html.escape(self.summary())}</i></div>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython's text/plain
        printer.text(f"{show_conversation(self.messages)}\n({self.summary()})")


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
    schemas = function_schemas(schema_list)  # built once, not for every call
    functions = {function_part(s)["name"]: tool for s, tool in zip(schema_list, tools)}
    conversation, ran = list(messages), []
    for step in range(1, max_steps + 1):
        if on_step is not None:
            on_step(step, list(conversation))
        reply = generate(conversation, schema_list)
        if not mentions_tool_call(reply):  # no call at all: this is the answer
            conversation.append({"role": "assistant", "content": reply})
            return ToolLoopResult(conversation, reply, step, ran)
        new_messages, new_calls = _answer_step(reply, schemas, functions, step)
        conversation += new_messages
        ran += new_calls
    return ToolLoopResult(conversation, None, max_steps, ran)


def model_generator(model, tokenizer, max_new_tokens: int = 64) -> Generate:
    """A `generate(messages, tool_schemas)` that renders with `tools=`, generates greedily
    (`generation.generate_text`) and returns the new text without the end-of-turn token.

    With a tokenizer that holds named templates, `tools=` makes `apply_chat_template` pick the
    `tool_use` one. Other special tokens are kept, because some tool-use models make
    `<tool_call>` a special token, and skipping special tokens would erase the call.
    """

    def generate(messages: list[dict], schemas: list[dict]) -> str:
        prompt = tokenizer.apply_chat_template(messages, tools=schemas or None,
                                               add_generation_prompt=True, tokenize=False)
        generation = generate_text(model, tokenizer, prompt, max_new_tokens)
        return generation.text.removesuffix(generation.stopped_by or "")

    return generate
