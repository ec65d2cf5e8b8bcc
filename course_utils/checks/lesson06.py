"""Lesson 06 checks: a tool's schema, parsing tool calls, the tool messages, the tool loop,
which named template apply_chat_template picks, and documents for retrieval-augmented generation.

06.loop runs the learner's loop against `ToolCallingModel` (checks/tool_model.py), a stand-in
that replies as a well-trained tool-calling model would and records every prompt, the messages
it was rendered from and the generate() options, so the check can say which step is wrong;
checks/tool_history.py says what those messages must hold.
"""
from __future__ import annotations

import copy
import json

from ..display import first_difference
from ..status import NOT_ATTEMPTED_YET
from ..world import get_weather
from .calls import call, short_repr
from .course_models import course_tokenizer
from .expect import expect_equal, expect_text, expect_type
from .failure import CheckFailed
from .registry import exercise
from .template_choice import Raised, template_cases, value_error_as_result
from .tool_history import expect_call_history
from .tool_model import (
    END_OF_TURN,
    GENERATION_PROMPT,
    ToolCallingModel,
    expect_generation_options,
    recording_renders,
    tool_call_text,
)

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
    shown = "get_forecast('Oslo', 3)"
    result = call(tool, "Oslo", 3, shown_as=shown)
    if not isinstance(result, str):
        raise CheckFailed(f"{shown} returned {short_repr(result)}; a tool returns a string, the text the "
                          "loop sends back to the model")


def _expect_json(got, expected, what: str) -> None:
    """Compare JSON values by their text, so the message points at the first differing key."""
    got_text, expected_text = json.dumps(got, sort_keys=True), json.dumps(expected, sort_keys=True)
    if got_text != expected_text:
        raise CheckFailed(f"{what} returned {short_repr(got_text, 200)}; "
                          f"{first_difference(expected_text, got_text)}")


# --- 06.parse -------------------------------------------------------------------------------


OSLO = {"name": "get_weather", "arguments": {"city": "Oslo"}}
TRIP = {"name": "plan_trip", "arguments": {"cities": ["Oslo", "Lima"], "options": {"days": 3}}}
PARSE_CASES = [
    (tool_call_text(**OSLO), [OSLO]),
    ("Let me look that up.\n" + tool_call_text(**OSLO), [OSLO]),
    (tool_call_text(**OSLO) + "\n" + tool_call_text(**TRIP), [OSLO, TRIP]),
    ("The weather in Oslo is snowy, -3°C.", []),
]
BROKEN_CALL = '{"name": "get_weather", "arguments": {"city": "Lima"}'


@exercise("06.parse", points=2)
def check_parse(parse_tool_calls):
    for text, expected in PARSE_CASES:
        got = call(parse_tool_calls, text, shown_as=f"parse_tool_calls({short_repr(text, 80)})")
        expect_equal(got, expected, f"parse_tool_calls({short_repr(text, 80)})")
    text = tool_call_text(**OSLO) + f"\n<tool_call>\n{BROKEN_CALL}\n</tool_call>"
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
    """(answer, the stand-in model with its prompts and histories, the call as shown)."""
    model = ToolCallingModel(tokenizer, always_call)
    messages = [{"role": "user", "content": question}]
    names = ", ".join(t.__name__ for t in tools)
    shown = f"run_tools(model, tokenizer, [{{'role': 'user', 'content': {question!r}}}], [{names}])"
    try:
        with recording_renders(tokenizer, model):
            answer = call(run_tools, model, tokenizer, messages, tools, shown_as=shown)
    except CheckFailed:
        expect_generation_options(model, shown)  # a cut reply is often why the loop failed
        raise
    expect_generation_options(model, shown)
    if messages != [{"role": "user", "content": question}]:
        raise CheckFailed(f"{shown} changed the messages it was given; work on a copy")
    for step, prompt in enumerate(model.prompts, 1):
        if not prompt.endswith(GENERATION_PROMPT):
            raise CheckFailed(f"{shown}: the prompt of step {step} does not end with "
                              f"{GENERATION_PROMPT!r}; render with add_generation_prompt=True")
        if "<tools>" not in prompt:
            raise CheckFailed(f"{shown}: the prompt of step {step} offers the model no tools; "
                              "render with apply_chat_template(messages, tools=tools, ...)")
    return answer, model, shown


@exercise("06.loop", points=3, time_limit=20.0)
def check_loop(run_tools):
    tokenizer = _nano_tokenizer()
    # Warm up outside the learner's time limit: the first render with tools imports and
    # compiles lazily, which can take seconds on a busy machine.
    tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tools=[get_weather], tokenize=False)
    result = get_weather("Oslo")
    answer, model, shown = _run(run_tools, tokenizer, "What is the weather in Oslo?", [get_weather, _get_capital])
    expect_equal(len(model.prompts), 2, f"the number of times {shown} called model.generate")
    expect_call_history(model.histories[1], shown, 1)
    if f"<tool_response>\n{result}\n</tool_response>" not in model.prompts[1]:
        raise CheckFailed(f"{shown}: the prompt of step 2 does not hold the tool's result {result!r} "
                          "in a tool turn; append {'role': 'tool', 'tool_call_id': ..., 'content': result}")
    expect_equal(answer, f"The tool says: {result}.", shown)

    answer, model, shown = _run(run_tools, tokenizer, "What is the capital of Peru?", [get_weather, _get_capital])
    expect_equal(answer, "The tool says: Lima.", shown)

    _check_one_reply_two_calls(run_tools, tokenizer)

    answer, model, shown = _run(run_tools, tokenizer, "Hello!", [get_weather])
    expect_equal((answer, len(model.prompts)), ("Hello! How can I help you today?", 1), f"{shown} (answer, steps)")

    answer, model, shown = _run(run_tools, tokenizer, "What is the capital of Atlantis?", [_get_capital])
    if "Atlantis" not in model.prompts[-1].rpartition("<tool_response>")[2]:
        raise CheckFailed(f"{shown}: get_capital raised KeyError, but the last prompt has no tool turn "
                          "with the error; send str(error) back as the tool's content")

    answer, model, shown = _run(run_tools, tokenizer, "What is the weather in Oslo?", [get_weather], always_call=True)
    expect_equal((answer, len(model.prompts)), (None, 3),
                 f"{shown} with a model that never stops calling tools (answer, steps)")


def _check_one_reply_two_calls(run_tools, tokenizer) -> None:
    """A reply with two calls is ONE assistant message with two `tool_calls`, then one tool
    message per call. Split into one assistant message per call, the next prompt shows the
    model two turns it never wrote (and a result between them that it had not seen yet)."""
    weather = get_weather("Oslo")
    answer, model, shown = _run(run_tools, tokenizer, "What is the weather in Oslo and the capital of Peru?",
                                [get_weather, _get_capital])
    if len(model.prompts) < 2:
        raise CheckFailed(f"{shown} asked the model {len(model.prompts)} time(s); after its two calls, the results "
                          "must go back to it for an answer")
    expect_call_history(model.histories[1], shown, 2)
    after_question = model.prompts[1].removesuffix(GENERATION_PROMPT).rpartition("<|im_start|>user\n")[2]
    expected = (tool_call_text("get_weather", {"city": "Oslo"}) + "\n" + tool_call_text("get_capital", {"country": "Peru"})
                + f"{END_OF_TURN}\n<|im_start|>tool\n<tool_response>\n{weather}\n</tool_response>{END_OF_TURN}\n"
                "<|im_start|>tool\n<tool_response>\nLima\n</tool_response>")
    if expected not in after_question:
        reply = after_question.partition("<|im_start|>assistant\n")[2]
        raise CheckFailed(f"{shown}: the prompt of step 2 does not show the reply's two calls followed by their "
                          f"two results in order; {first_difference(expected, reply)}")
    expect_equal(answer, f"The tools say: {weather}; Lima.", shown)


# --- 06.tool_template -----------------------------------------------------------------------


@exercise("06.tool_template", points=2)
def check_tool_template(template_for):
    learner = value_error_as_result(template_for)
    for case in template_cases():
        expected = case.transformers_choice()
        wanted = case.describe(expected)
        try:
            got = call(learner, copy.deepcopy(case.templates), case.chat_template, copy.copy(case.tools),
                       shown_as=case.shown)
        except CheckFailed as failure:  # not attempted yet, or it raised something else than a ValueError
            if failure.detail.startswith(NOT_ATTEMPTED_YET):
                raise
            raise CheckFailed(f"{case.shown}{_cut(failure.detail.removeprefix(case.shown))}; expected {wanted}: "
                              f"{case.why}") from None
        if isinstance(got, Raised):
            if not isinstance(expected, Raised):
                raise CheckFailed(f"{case.shown} raised ValueError: {_cut(str(got.error))}; expected {wanted}: "
                                  f"{case.why}")
        elif isinstance(expected, Raised) or got != expected:
            name_only = isinstance(got, str) and isinstance(case.templates, dict) and got in case.templates
            raise CheckFailed(f"{case.shown} returned {case.describe(got)}, expected {wanted}: {case.why}"
                              + "; return the template's text, not its name" * name_only)


def _cut(text: str, limit: int = 100) -> str:
    """`text` with its middle cut: an error may quote a whole template (a KeyError quotes its key),
    and the line must keep where it was raised and the rule it missed."""
    return text if len(text) <= limit else text[: limit * 3 // 5] + "…" + text[-(limit * 2 // 5 - 1):]


# --- 06.documents ---------------------------------------------------------------------------
# Search results as a search tool returns them. Distinct titles and texts, in a ranked order,
# so that keys mixed up, documents reordered or dropped each change the prompt.
SEARCH_RESULTS = [
    {"page_title": "Oslo weather now", "snippet": f"Oslo: {get_weather('Oslo')}.", "url": "https://weather.example/oslo"},
    {"page_title": "Lima weather now", "snippet": f"Lima: {get_weather('Lima')}.", "url": "https://weather.example/lima"},
    {"page_title": "Climate of Norway", "snippet": "The Gulf Stream keeps Norway's coast mild for its latitude.",
     "url": "https://encyclopedia.example/climate-of-norway"},
]
RAG_QUESTION = "Is it warmer in Oslo or in Lima right now?"


def _rag_tokenizer():
    """A copy of the course tokenizer with the templates of lesson 06: 'default', 'tool_use', 'rag'."""
    from ..templates import get_template
    from ..tools import rag_template

    tokenizer = copy.copy(course_tokenizer())  # a copy: what the learner's function does to it stays here
    templates = tokenizer.chat_template
    if not isinstance(templates, dict):  # the real SmolLM2 ships one template (the lesson's setup)
        templates = {"default": templates, "tool_use": get_template("hermes_tool_use")}
    tokenizer.chat_template = {**templates, "rag": rag_template()}
    return tokenizer


def _rag_render(tokenizer, documents, chat_template="rag") -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": RAG_QUESTION}], documents=documents,
                                         chat_template=chat_template, add_generation_prompt=True, tokenize=False)


@exercise("06.documents", points=2)
def check_documents(rag_prompt):
    for results in (SEARCH_RESULTS, SEARCH_RESULTS[1:2], []):
        tokenizer = _rag_tokenizer()
        templates = dict(tokenizer.chat_template)
        documents = [{"title": result["page_title"], "text": result["snippet"]} for result in results]
        given = copy.deepcopy(results)
        shown = f"rag_prompt(tokenizer, {RAG_QUESTION!r}, <{len(results)} search results>)"
        got = call(rag_prompt, tokenizer, RAG_QUESTION, given, shown_as=shown)
        if given != results:
            raise CheckFailed(f"{shown} changed the search results it was given; build new dicts for the documents")
        if tokenizer.chat_template != templates:
            raise CheckFailed(f"{shown} changed tokenizer.chat_template; pass the template to apply_chat_template "
                              "as chat_template=... instead")
        if not isinstance(got, str):
            raise CheckFailed(f"{shown} returned {short_repr(got, 60)}, expected the prompt as text: render with "
                              "tokenize=False")
        _expect_rag_prompt(got, tokenizer, documents, shown)


def _expect_rag_prompt(got: str, tokenizer, documents: list, shown: str) -> None:
    expected = _rag_render(tokenizer, documents)
    if got == expected:
        return
    if got + GENERATION_PROMPT == expected:
        raise CheckFailed(f"{shown} returned a prompt that does not end with {GENERATION_PROMPT!r}: render with "
                          "add_generation_prompt=True, the model answers next")
    if documents and got == _rag_render(tokenizer, documents, "default"):
        raise CheckFailed(f"{shown} returned a prompt without the documents: SmolLM2's 'default' template ignores "
                          "documents=; render with chat_template='rag'")
    if documents and "<results>" not in got:
        raise CheckFailed(f"{shown} returned a prompt with no <results> block: pass the documents to "
                          "apply_chat_template(..., documents=..., chat_template='rag'), not inside a message")
    if len(documents) > 1 and got == _rag_render(tokenizer, documents[::-1]):
        raise CheckFailed(f"{shown} returned the documents in reverse order; keep the search results' order "
                          "(the template numbers them from Document: 0, the best match)")
    expect_text(got, expected, shown)
