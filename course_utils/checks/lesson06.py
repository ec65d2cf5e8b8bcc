"""Lesson 06 checks: a tool's schema, parsing tool calls, the tool messages, and the tool loop.

06.loop runs the learner's loop against `ToolCallingModel`, a stand-in that reads the prompt it
is given and replies as a well-trained tool-calling model would. A real model would make the
check slow and let a correct loop fail whenever the model errs; the stand-in is exact, and it
records every prompt, so the check can say which step's prompt is wrong.
"""
from __future__ import annotations

import copy
import json
import re

from ..display import first_difference
from ..world import get_weather
from .calls import call, short_repr
from .expect import expect_equal, expect_type
from .failure import CheckFailed
from .registry import exercise

# --- 06.schema ------------------------------------------------------------------------------

FORECAST_SCHEMA = {
    "type": "function",
    "function": {
        "name": "get_forecast",
        "description": "Get the weather forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The name of the city."},
                "days": {"type": "integer", "description": "How many days ahead to forecast."},
            },
            "required": ["city", "days"],
        },
    },
}


@exercise("06.schema", points=1)
def check_schema(tool):
    from transformers.utils import get_json_schema

    if not callable(tool):
        raise CheckFailed(f"expected a function, got {short_repr(tool)}")
    # get_json_schema only reads the signature and docstring, so learner code does not run:
    # no time limit (its first call can take seconds of lazy imports on a busy machine).
    try:
        schema = get_json_schema(tool)
    except Exception as error:  # noqa: BLE001 -- any failure is the learner's docstring or hints
        raise CheckFailed(f"get_json_schema(your function) raised {type(error).__name__}: {error}") from None
    # A return type hint adds a "return" entry that chat templates ignore; so does the check.
    schema.get("function", {}).pop("return", None)
    _expect_json(schema, FORECAST_SCHEMA, "get_json_schema(your function)")


def _expect_json(got, expected, what: str) -> None:
    """Compare JSON values by their text, so the message points at the first differing key."""
    got_text, expected_text = json.dumps(got, sort_keys=True), json.dumps(expected, sort_keys=True)
    if got_text != expected_text:
        raise CheckFailed(f"{what} returned {short_repr(got_text, 200)}; "
                          f"{first_difference(expected_text, got_text)}")


# --- 06.parse -------------------------------------------------------------------------------


def _tool_call(name: str, arguments: dict) -> str:
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": arguments})}\n</tool_call>'


OSLO = {"name": "get_weather", "arguments": {"city": "Oslo"}}
TRIP = {"name": "plan_trip", "arguments": {"cities": ["Oslo", "Lima"], "options": {"days": 3}}}
PARSE_CASES = [
    (_tool_call(**OSLO), [OSLO]),
    ("Let me look that up.\n" + _tool_call(**OSLO), [OSLO]),
    (_tool_call(**OSLO) + "\n" + _tool_call(**TRIP), [OSLO, TRIP]),
    ("The weather in Oslo is snowy, -3°C.", []),
]
BROKEN_CALL = '{"name": "get_weather", "arguments": {"city": "Lima"}'


@exercise("06.parse", points=2)
def check_parse(parse_tool_calls):
    for text, expected in PARSE_CASES:
        got = call(parse_tool_calls, text, shown_as=f"parse_tool_calls({short_repr(text, 80)})")
        expect_equal(got, expected, f"parse_tool_calls({short_repr(text, 80)})")
    text = _tool_call(**OSLO) + f"\n<tool_call>\n{BROKEN_CALL}\n</tool_call>"
    shown = f"parse_tool_calls({short_repr(text, 80)})"
    try:
        got = call(parse_tool_calls, text, shown_as=shown)
    except CheckFailed as failure:
        if "raised" in failure.detail and ("ValueError" in failure.detail or "JSONDecodeError" in failure.detail):
            if BROKEN_CALL in failure.detail:
                return
            raise CheckFailed(f"{shown} raised an error that does not quote the broken call {BROKEN_CALL!r}; "
                              "put it in the message: the model needs to see what it wrote") from None
        raise
    raise CheckFailed(f"{shown} returned {short_repr(got)}, expected a ValueError naming the call "
                      f"that is not valid JSON: {BROKEN_CALL!r}")


# --- 06.messages ----------------------------------------------------------------------------

HISTORY = [
    {"role": "system", "content": "You are a weather assistant."},
    {"role": "user", "content": "What is the weather in Oslo?"},
]


@exercise("06.messages", points=2)
def check_messages(add_tool_result):
    history = copy.deepcopy(HISTORY)
    result, call_id = get_weather("Oslo"), "call_1"
    shown = f"add_tool_result(messages, {OSLO!r}, {result!r}, {call_id!r})"
    got = call(add_tool_result, history, copy.deepcopy(OSLO), result, call_id, shown_as=shown)
    if history != HISTORY:
        raise CheckFailed(f"{shown} changed the messages it was given; return a new list instead")
    expect_type(got, list, shown)
    if len(got) != len(HISTORY) + 2 or got[: len(HISTORY)] != HISTORY:
        raise CheckFailed(f"{shown} returned {len(got)} messages; expected the {len(HISTORY)} given ones "
                          "followed by the assistant's tool call and the tool's result")
    _check_assistant_call(got[-2], call_id)
    _check_tool_result(got[-1], result, call_id)


def _check_assistant_call(message: dict, call_id: str) -> None:
    expect_equal(message.get("role"), "assistant", "the role of the first new message")
    expected_calls = [{"id": call_id, "type": "function", "function": OSLO}]
    expect_equal(message.get("tool_calls"), expected_calls, "the assistant message's tool_calls")
    if message.get("content"):
        raise CheckFailed(f"the assistant message has content {message['content']!r}; a turn that only "
                          "calls a tool has no text")


def _check_tool_result(message: dict, result: str, call_id: str) -> None:
    expect_equal(message.get("role"), "tool", "the role of the second new message")
    expect_equal(message.get("tool_call_id"), call_id, "the tool message's tool_call_id")
    expect_equal(message.get("content"), result, "the tool message's content")
    if "name" in message:
        expect_equal(message["name"], OSLO["name"], "the tool message's name")


# --- 06.loop --------------------------------------------------------------------------------

END_OF_TURN = "<|im_end|>"
GENERATION_PROMPT = "<|im_start|>assistant\n"


class ToolCallingModel:
    """A stand-in for a tool-calling chat model with `generate()`'s interface.

    It decodes the prompt it is given and replies from the last turn: a user question about the
    weather and/or a capital becomes a Hermes tool call for each (several calls in one reply,
    as trained models write them, when the question asks two things), the tool results that
    follow its last reply become "The tool says: <result>." (or "The tools say: <a>; <b>."),
    and anything else gets a greeting. With `always_call=True` it never stops calling tools,
    to test the step limit.
    """

    def __init__(self, tokenizer, always_call: bool = False):
        import torch
        from transformers import GenerationConfig

        self.tokenizer, self.always_call = tokenizer, always_call
        self.device = torch.device("cpu")
        self.generation_config = GenerationConfig(eos_token_id=tokenizer.convert_tokens_to_ids(END_OF_TURN))
        self.prompts: list[str] = []

    def generate(self, input_ids=None, attention_mask=None, inputs=None, **kwargs):
        import torch

        ids = input_ids if input_ids is not None else inputs
        if hasattr(ids, "keys"):  # model.generate(inputs) with a BatchEncoding
            ids = ids["input_ids"]
        prompt = self.tokenizer.decode(ids[0], skip_special_tokens=False)
        self.prompts.append(prompt)
        reply = self.reply(prompt) + END_OF_TURN
        new_ids = self.tokenizer(reply, add_special_tokens=False, return_tensors="pt")["input_ids"]
        return torch.cat([ids, new_ids.to(ids.device)], dim=1)

    def reply(self, prompt: str) -> str:
        turns = prompt.removesuffix(GENERATION_PROMPT).split("<|im_start|>")
        role, _, content = turns[-1].partition("\n")
        offered = re.findall(r'"name": "(\w+)"', prompt.split("</tools>")[0]) if "<tools>" in prompt else []
        if self.always_call:
            return _tool_call("get_weather", {"city": "Oslo"})
        if role == "tool":
            since_reply = prompt.removesuffix(GENERATION_PROMPT).rpartition("<|im_start|>assistant\n")[2]
            results = re.findall(r"<tool_response>\n(.*?)\n</tool_response>", since_reply, re.DOTALL)
            if len(results) > 1:
                return f"The tools say: {'; '.join(results)}."
            return f"The tool says: {results[0] if results else content.strip()}."
        calls = []
        for name, pattern in (("get_weather", r"weather in (\w+)"), ("get_capital", r"capital of (\w+)")):
            asked = re.search(pattern, content)
            if asked and name in offered:
                key = "city" if name == "get_weather" else "country"
                calls.append(_tool_call(name, {key: asked.group(1)}))
        if calls:
            return "\n".join(calls)
        return "I have no tool for that." if "weather" in content else "Hello! How can I help you today?"


def _nano_tokenizer():
    # The bundled tokenizer, loaded directly: `models.load_tokenizer` announces itself on
    # stdout, and a check prints nothing but its verdict.
    from transformers import AutoTokenizer

    from ..models import nano_path

    return AutoTokenizer.from_pretrained(nano_path("nano-smollm2-instruct"))


def _get_capital(country: str) -> str:
    """
    Get the capital city of a country.

    Args:
        country: The name of the country.
    """
    capitals = {"Peru": "Lima", "Norway": "Oslo"}
    if country not in capitals:
        raise KeyError(f"no capital known for {country}")
    return capitals[country]


_get_capital.__name__ = "get_capital"


def _run(run_tools, tokenizer, question: str, tools: list, always_call: bool = False):
    model = ToolCallingModel(tokenizer, always_call)
    messages = [{"role": "user", "content": question}]
    names = ", ".join(t.__name__ for t in tools)
    shown = f"run_tools(model, tokenizer, [{{'role': 'user', 'content': {question!r}}}], [{names}])"
    answer = call(run_tools, model, tokenizer, messages, tools, shown_as=shown)
    if messages != [{"role": "user", "content": question}]:
        raise CheckFailed(f"{shown} changed the messages it was given; work on a copy")
    for step, prompt in enumerate(model.prompts, 1):
        if not prompt.endswith(GENERATION_PROMPT):
            raise CheckFailed(f"{shown}: the prompt of step {step} does not end with "
                              f"{GENERATION_PROMPT!r}; render with add_generation_prompt=True")
        if "<tools>" not in prompt:
            raise CheckFailed(f"{shown}: the prompt of step {step} offers the model no tools; "
                              "render with apply_chat_template(messages, tools=tools, ...)")
    return answer, model.prompts, shown


@exercise("06.loop", points=3, time_limit=20.0)
def check_loop(run_tools):
    tokenizer = _nano_tokenizer()
    # Warm up outside the learner's time limit: the first render with tools imports and
    # compiles lazily, which can take seconds on a busy machine.
    tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tools=[get_weather], tokenize=False)
    result = get_weather("Oslo")
    answer, prompts, shown = _run(run_tools, tokenizer, "What is the weather in Oslo?", [get_weather, _get_capital])
    expect_equal(len(prompts), 2, f"the number of times {shown} called model.generate")
    if f"<tool_response>\n{result}\n</tool_response>" not in prompts[1]:
        raise CheckFailed(f"{shown}: the prompt of step 2 does not hold the tool's result {result!r} "
                          "in a tool turn; append {'role': 'tool', 'tool_call_id': ..., 'content': result}")
    expect_equal(answer, f"The tool says: {result}.", shown)

    answer, prompts, shown = _run(run_tools, tokenizer, "What is the capital of Peru?", [get_weather, _get_capital])
    expect_equal(answer, "The tool says: Lima.", shown)

    _check_one_reply_two_calls(run_tools, tokenizer)

    answer, prompts, shown = _run(run_tools, tokenizer, "Hello!", [get_weather])
    expect_equal((answer, len(prompts)), ("Hello! How can I help you today?", 1), f"{shown} (answer, steps)")

    answer, prompts, shown = _run(run_tools, tokenizer, "What is the capital of Atlantis?", [_get_capital])
    if "Atlantis" not in prompts[-1].rpartition("<tool_response>")[2]:
        raise CheckFailed(f"{shown}: get_capital raised KeyError, but the last prompt has no tool turn "
                          "with the error; send str(error) back as the tool's content")

    answer, prompts, shown = _run(run_tools, tokenizer, "What is the weather in Oslo?", [get_weather], always_call=True)
    expect_equal((answer, len(prompts)), (None, 3), f"{shown} with a model that never stops calling tools (answer, steps)")


def _check_one_reply_two_calls(run_tools, tokenizer) -> None:
    """A reply with two calls is ONE assistant message with two `tool_calls`, then one tool
    message per call. Split into one assistant message per call, the next prompt shows the
    model two turns it never wrote (and a result between them that it had not seen yet)."""
    weather = get_weather("Oslo")
    answer, prompts, shown = _run(run_tools, tokenizer, "What is the weather in Oslo and the capital of Peru?",
                                  [get_weather, _get_capital])
    if len(prompts) < 2:
        raise CheckFailed(f"{shown} asked the model {len(prompts)} time(s); after its two calls, the results "
                          "must go back to it for an answer")
    after_question = prompts[1].removesuffix(GENERATION_PROMPT).rpartition("<|im_start|>user\n")[2]
    turns = after_question.count("<|im_start|>assistant\n")
    if turns != 1:
        raise CheckFailed(f"{shown}: the model made 2 calls in one reply, but the prompt of step 2 shows that "
                          f"reply as {turns} assistant turns; keep one reply as one assistant message with "
                          "both calls in its tool_calls, then one tool message per call")
    expected = (_tool_call("get_weather", {"city": "Oslo"}) + "\n" + _tool_call("get_capital", {"country": "Peru"})
                + f"{END_OF_TURN}\n<|im_start|>tool\n<tool_response>\n{weather}\n</tool_response>{END_OF_TURN}\n"
                "<|im_start|>tool\n<tool_response>\nLima\n</tool_response>")
    if expected not in after_question:
        raise CheckFailed(f"{shown}: the prompt of step 2 does not show the reply's two calls followed by their "
                          f"two results in order; {first_difference(expected, after_question)}")
    expect_equal(answer, f"The tools say: {weather}; Lima.", shown)
