"""tools: schemas, the Hermes tool-call parser (transformers' response parser plus the course's
checks) and its errors, the tool loop, named templates, RAG."""
import json

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast
from transformers.utils.chat_parsing import parse_response

from course_utils import tools, world
from course_utils.assets import data_path, model_dir, read_template
from course_utils.generation import generate_text
from course_utils.templates import render_template
from course_utils.tools import (
    EXAMPLE_TOOLS, HERMES_RESPONSE_TEMPLATE, InvalidArguments, MalformedToolCall, ToolCallError, ToolSchemaError,
    UnknownTool, get_weather, parse_tool_calls, run_tool_loop,
)

SMOLLM2 = read_template("smollm2_instruct.jinja")
HERMES = read_template("hermes_tool_use.jinja")


def call_text(name, arguments):
    """A tool call exactly as the Hermes template writes it."""
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": arguments})}\n</tool_call>'


def parse_error(reply, tools_=EXAMPLE_TOOLS):
    with pytest.raises(ToolCallError) as caught:
        parse_tool_calls(reply, tools_)
    return caught.value


# --- Schemas ------------------------------------------------------------------------------


def test_get_weather_schema_is_what_the_nano_model_was_trained_with():
    [schema] = tools.tool_schemas([get_weather])
    assert get_weather is world.get_weather
    assert schema["function"]["name"] == "get_weather"
    assert schema["function"]["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "The name of the city, for example Paris."}},
        "required": ["city"],
    }


def test_choices_in_a_docstring_become_an_enum():
    [schema] = tools.tool_schemas([tools.convert_temperature])
    assert schema["function"]["parameters"]["properties"]["unit"]["enum"] == ["fahrenheit", "kelvin"]


def test_an_undocumented_argument_names_the_function_the_argument_and_the_fix():
    def lookup(city: str, day: int) -> str:
        """
        Look something up.

        Args:
            city: The city.
        """

    with pytest.raises(ToolSchemaError, match=r"^lookup: .*argument 'day'.*'Args:' block"):
        tools.tool_schemas([lookup])


def test_a_missing_type_hint_is_a_schema_error():
    def lookup(city):
        """
        Look something up.

        Args:
            city: The city.
        """

    with pytest.raises(ToolSchemaError, match="lookup: .*missing a type hint"):
        tools.tool_schemas([lookup])


# --- The parser: what it accepts ------------------------------------------------------------


def test_one_call_is_parsed_into_name_and_arguments():
    reply = call_text("get_weather", {"city": "Paris"})
    assert parse_tool_calls(reply, EXAMPLE_TOOLS) == [{"name": "get_weather", "arguments": {"city": "Paris"}}]


def test_several_calls_in_one_reply_come_back_in_order_with_the_text_around_them_ignored():
    reply = ("Let me check.\n" + call_text("get_weather", {"city": "Oslo"}) + "\n"
             + call_text("convert_temperature", {"celsius": 20, "unit": "kelvin"}))
    assert parse_tool_calls(reply, EXAMPLE_TOOLS) == [
        {"name": "get_weather", "arguments": {"city": "Oslo"}},
        {"name": "convert_temperature", "arguments": {"celsius": 20, "unit": "kelvin"}},
    ]
    assert tools.text_outside_calls(reply) == "Let me check."


def test_a_reply_without_calls_is_a_final_answer():
    assert parse_tool_calls("The weather in Oslo is sunny, 3°C.", EXAMPLE_TOOLS) == []


def test_without_tools_only_the_format_is_checked():
    assert parse_tool_calls(call_text("anything", {"x": 1})) == [{"name": "anything", "arguments": {"x": 1}}]


def test_a_call_without_arguments_gets_an_empty_dict():
    assert parse_tool_calls('<tool_call>{"name": "now"}</tool_call>') == [{"name": "now", "arguments": {}}]


def test_a_rendered_assistant_turn_parses_back_to_its_calls():
    calls = [{"name": "get_weather", "arguments": {"city": "Lima"}},
             {"name": "get_capital", "arguments": {"country": "Peru"}}]
    message = tools.assistant_message(calls, ["call_1_1", "call_1_2"])
    rendered = word_tokenizer(HERMES).apply_chat_template([{"role": "user", "content": "hi"}, message], tokenize=False)
    assert parse_tool_calls(rendered, EXAMPLE_TOOLS) == calls


# --- The parser: every error path -----------------------------------------------------------


def test_malformed_json_names_the_call_and_the_position():
    reply = call_text("get_weather", {"city": "Paris"}) + '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}</tool_call>'
    error = parse_error(reply)
    assert isinstance(error, MalformedToolCall)
    assert str(error).startswith("Error: tool call 2 is not valid JSON (Expecting ',' delimiter at character")


def test_an_unclosed_tag_is_an_error_not_a_dropped_call():
    error = parse_error('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}')
    assert isinstance(error, MalformedToolCall)
    assert "not closed by </tool_call>" in str(error)


def test_a_closing_tag_without_an_opening_one_is_an_error_not_an_answer():
    reply = '</tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    error = parse_error(reply)
    assert isinstance(error, MalformedToolCall)
    assert "a </tool_call> tag has no <tool_call> before it" in str(error)
    result = run_tool_loop(ScriptedModel(reply, "Sorry."), QUESTION, EXAMPLE_TOOLS)
    assert result.messages[2]["content"] == str(error) and result.answer == "Sorry."


@pytest.mark.parametrize("body", [
    '["get_weather", "Paris"]',
    '{"arguments": {"city": "Paris"}}',
    '{"name": "get_weather", "arguments": "Paris"}',
    '{"name": 3, "arguments": {}}',
])
def test_json_of_the_wrong_shape_says_what_shape_is_expected(body):
    error = parse_error(f"<tool_call>{body}</tool_call>")
    assert isinstance(error, MalformedToolCall)
    assert '{"name": <string>, "arguments": <object>}' in str(error)


def test_an_unknown_tool_suggests_the_closest_name_and_lists_the_tools():
    error = parse_error(call_text("get_wether", {"city": "Paris"}))
    assert isinstance(error, UnknownTool)
    assert str(error) == ("Error: unknown tool 'get_wether'. Did you mean 'get_weather'? "
                          "Available tools: get_weather, get_capital, convert_temperature.")


def test_an_unexpected_argument_name_shows_the_right_signature():
    error = parse_error(call_text("get_weather", {"town": "Paris"}))
    assert isinstance(error, InvalidArguments)
    assert str(error) == ("Error: get_weather has no argument 'town'. "
                          "Call it as get_weather(city (string, required)).")


def test_a_missing_required_argument_is_named():
    error = parse_error(call_text("get_weather", {}))
    assert isinstance(error, InvalidArguments)
    assert "missing the required argument 'city'" in str(error)


@pytest.mark.parametrize("name, arguments, expected", [
    ("get_weather", {"city": 3}, "argument 'city' must be string, got 3"),
    ("convert_temperature", {"celsius": "20", "unit": "kelvin"}, "argument 'celsius' must be number, got \"20\""),
    ("convert_temperature", {"celsius": True, "unit": "kelvin"}, "argument 'celsius' must be number, got true"),
    ("convert_temperature", {"celsius": 20, "unit": "rankine"},
     'argument \'unit\' must be one of ["fahrenheit", "kelvin"], got "rankine"'),
])
def test_a_wrongly_typed_argument_says_what_was_expected_and_what_came(name, arguments, expected):
    error = parse_error(call_text(name, arguments))
    assert isinstance(error, InvalidArguments)
    assert expected in str(error)


def plan(cities: list[str], days: int | None = None) -> str:
    """
    Plan a trip.

    Args:
        cities: The cities to visit.
        days: How many days, if known.
    """


def test_optional_list_and_union_types_follow_the_schema():
    assert parse_tool_calls(call_text("plan", {"cities": ["Oslo"], "days": None}), [plan])
    assert "must be array of string" in str(parse_error(call_text("plan", {"cities": ["Oslo", 4]}), [plan]))
    assert "must be integer or null" in str(parse_error(call_text("plan", {"cities": [], "days": 1.5}), [plan]))


# --- transformers' response parser: what the course relies on, and what it guards against ---
# parse_tool_calls runs transformers.utils.chat_parsing.parse_response with HERMES_RESPONSE_TEMPLATE.
# The tests named test_library_... pin the parser's own behaviour (transformers 5.23), so that an
# upgrade that changes it fails here, next to the course check that depends on it.

CALL_PARIS = call_text("get_weather", {"city": "Paris"})


def library_parse(text, **options):
    return parse_response(text, HERMES_RESPONSE_TEMPLATE, **{"prefix": "", **options})


def as_tool_call(call):
    return {"type": "function", "function": call}


def test_the_response_template_turns_a_reply_into_an_assistant_message():
    reply = "Let me check.\n" + CALL_PARIS + "\n" + call_text("get_capital", {"country": "Peru"}) + "<|im_end|>"
    assert library_parse(reply) == {"role": "assistant", "content": "Let me check.", "tool_calls": [
        as_tool_call({"name": "get_weather", "arguments": {"city": "Paris"}}),
        as_tool_call({"name": "get_capital", "arguments": {"country": "Peru"}})]}
    assert library_parse("Sunny, 3°C.<|im_end|>") == {"role": "assistant", "content": "Sunny, 3°C."}
    assert tools.parse_reply(reply) == library_parse(reply)


@pytest.mark.parametrize("content", ["", "Let me look both up."])
def test_the_response_template_reads_back_what_the_hermes_template_renders(content):
    calls = [{"name": "get_weather", "arguments": {"city": "Lima"}},
             {"name": "convert_temperature", "arguments": {"celsius": 24, "unit": "kelvin"}}]
    conversation = [{"role": "user", "content": "Weather in Lima, in kelvin?"},
                    tools.assistant_message(calls, ["call_1_1", "call_1_2"], content)]
    prompt = render_template(HERMES, conversation[:1], add_generation_prompt=True)
    rendered = render_template(HERMES, conversation)
    assert rendered.startswith(prompt)
    reply = rendered[len(prompt):]  # the assistant turn, <|im_end|>\n included
    expected = {"role": "assistant", **({"content": content} if content else {}),
                "tool_calls": [as_tool_call(call) for call in calls]}
    assert library_parse(reply, prefix=prompt) == expected
    assert library_parse(rendered) != expected  # without the prompt as prefix, the prompt is content
    assert parse_tool_calls(reply, EXAMPLE_TOOLS) == parse_tool_calls(rendered, EXAMPLE_TOOLS) == calls
    assert tools.text_outside_calls(reply) == content


def test_library_needs_the_prompt_as_prefix_so_the_course_passes_an_empty_one():
    with pytest.raises(ValueError, match="requires `prefix`"):
        parse_response(CALL_PARIS, HERMES_RESPONSE_TEMPLATE)


def test_library_parses_an_unclosed_tag_so_the_course_rejects_it():
    cut_off = CALL_PARIS.removesuffix("\n</tool_call>")  # as if max_new_tokens ended the reply there
    paris = {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert library_parse(cut_off)["tool_calls"] == [as_tool_call(paris)]  # taken as a call
    with pytest.raises(MalformedToolCall, match="a <tool_call> tag is not closed by </tool_call>"):
        parse_tool_calls(cut_off)


def test_library_takes_a_closing_tag_without_an_opening_one_as_text_so_the_course_rejects_it():
    garbled = CALL_PARIS.replace("<tool_call>", "</tool_call>", 1)
    assert library_parse(garbled) == {"role": "assistant", "content": garbled}  # reads as a final answer
    assert library_parse(CALL_PARIS + "</tool_call>")["content"] == "</tool_call>"
    for reply in (garbled, CALL_PARIS + "</tool_call>"):
        with pytest.raises(MalformedToolCall, match="a </tool_call> tag has no <tool_call> before it"):
            parse_tool_calls(reply)


def test_an_opening_tag_left_open_is_reported_before_a_stray_closing_tag():
    for reply in ("</tool_call>" + "<tool_call>{}", '<tool_call><tool_call>{"name": "now"}</tool_call>'):
        with pytest.raises(MalformedToolCall, match="is not closed by"):
            tools.check_tags(reply)


def test_library_raises_a_bare_value_error_from_the_json_error_which_the_course_rewords():
    block = '\n{"name": "get_weather", "arguments": {"city": "Rome"}\n'
    with pytest.raises(ValueError, match="json parser could not parse region as JSON") as caught:
        library_parse(f"<tool_call>{block}</tool_call>")
    assert not isinstance(caught.value, ToolCallError)
    decode_error = caught.value.__cause__  # what the course reads the block and position from
    assert isinstance(decode_error, json.JSONDecodeError) and decode_error.doc == block
    error = parse_error(f"<tool_call>{block}</tool_call>")
    assert str(error) == ("Error: tool call 1 is not valid JSON (Expecting ',' delimiter at character "
                          f"{decode_error.pos}): {block.strip()}")


def test_a_broken_call_is_numbered_even_when_an_earlier_call_starts_with_the_same_text():
    reply = '<tool_call>{"name": "now"}</tool_call>\n<tool_call>{"name": "now"</tool_call>'
    assert str(parse_error(reply, None)).startswith("Error: tool call 2 is not valid JSON")


def test_library_keeps_any_json_value_so_the_course_checks_the_shape():
    assert library_parse('<tool_call>["get_weather", "Paris"]</tool_call>')["tool_calls"] == [
        as_tool_call(["get_weather", "Paris"])]
    with pytest.raises(MalformedToolCall, match=r'call 1 must be a JSON object .*got: \["get_weather", "Paris"\]'):
        parse_tool_calls('<tool_call>["get_weather", "Paris"]</tool_call>')


def test_library_casts_arguments_given_tools_so_the_course_does_not_pass_them():
    reply = call_text("convert_temperature", {"celsius": "20", "unit": "kelvin"})
    cast = library_parse(reply, tools=EXAMPLE_TOOLS)["tool_calls"][0]["function"]["arguments"]
    assert cast == {"celsius": 20, "unit": "kelvin"}  # "20" quietly became 20
    assert library_parse(call_text("get_weather", {"city": 3}), tools=EXAMPLE_TOOLS)["tool_calls"][0][
        "function"]["arguments"] == {"city": 3}  # and what it cannot cast is kept as it is
    assert "argument 'celsius' must be number, got \"20\"" in str(parse_error(reply))


def test_library_keeps_one_piece_of_text_the_last_one():
    # `content` is not a repeating field: each piece of text outside the calls replaces the one before.
    assert library_parse("Checking.\n" + CALL_PARIS + "\nDone.")["content"] == "Done."
    assert tools.text_outside_calls("Checking.\n" + CALL_PARIS + "\nDone.") == "Done."


def test_library_strips_whitespace_and_the_close_patterns_swallow_it():
    assert library_parse("  Sunny.  <|im_end|>\n") == {"role": "assistant", "content": "Sunny."}
    assert "content" not in library_parse(CALL_PARIS + "\n\n" + CALL_PARIS + "\n<|im_end|>\n")
    # Why the end of turn is a pattern with \s*: with the plain tag, the newline the template writes
    # after <|im_end|> is a new piece of text, which replaces the answer, and empty text is dropped.
    plain_end = {**HERMES_RESPONSE_TEMPLATE,
                 "fields": {**HERMES_RESPONSE_TEMPLATE["fields"], "content": {"close": "<|im_end|>"}}}
    assert parse_response("Sunny.<|im_end|>\n", plain_end, prefix="") == {"role": "assistant"}


def test_the_parsing_examples_run():
    import doctest

    from course_utils.tools import parsing

    assert doctest.testmod(parsing).failed == 0


# --- jsonschema decides: what the schema says beyond types and enums is enforced -------------


def book(seats: dict[str, int], pair: tuple[int, str], note: str | None = None,
         floors: list[int | None] | None = None) -> str:
    """
    Book seats.

    Args:
        seats: Seats per class.
        pair: A number and a name.
        note: A note, if any.
        floors: Preferred floors, with null for "any".
    """


BOOKING = {"seats": {"economy": 2}, "pair": [1, "a"]}


def test_the_values_of_a_dict_argument_must_fit_its_schema():
    # get_json_schema writes dict[str, int] as {"type": "object", "additionalProperties": {...}}.
    error = parse_error(call_text("book", {**BOOKING, "seats": {"economy": "two"}}), [book])
    assert isinstance(error, InvalidArguments)
    assert str(error).startswith("Error: book argument 'seats' must be object, got {\"economy\": \"two\"} "
                                 "(at seats.economy: 'two' is not of type 'integer'). Call it as book(")


def test_each_item_of_a_tuple_argument_must_fit_its_position():
    # tuple[int, str] becomes "prefixItems": one schema per position.
    error = parse_error(call_text("book", {**BOOKING, "pair": [1, 2]}), [book])
    assert isinstance(error, InvalidArguments)
    assert "argument 'pair' must be array, got [1, 2] (at pair[1]: 2 is not of type 'string')" in str(error)


def test_a_minimum_in_a_hand_written_schema_is_enforced():
    schema = {"type": "function", "function": {
        "name": "reserve", "description": "Reserve a table.",
        "parameters": {"type": "object", "required": ["people"],
                       "properties": {"people": {"type": "integer", "minimum": 1}}}}}
    assert parse_tool_calls(call_text("reserve", {"people": 2}), [schema])
    error = parse_error(call_text("reserve", {"people": 0}), [schema])
    assert isinstance(error, InvalidArguments)
    assert str(error) == ("Error: reserve argument 'people' must be integer, got 0 (0 is less than the "
                          "minimum of 1). Call it as reserve(people (integer, required)).")


def test_optional_arguments_accept_none_even_inside_a_list():
    # get_json_schema marks Optional with OpenAPI's "nullable", which validation translates.
    assert parse_tool_calls(call_text("book", {**BOOKING, "note": None, "floors": [3, None]}), [book])
    assert parse_tool_calls(call_text("book", {**BOOKING, "floors": None}), [book])
    error = parse_error(call_text("book", {**BOOKING, "floors": [3, "top"]}), [book])
    assert isinstance(error, InvalidArguments) and "argument 'floors'" in str(error) and 'got [3, "top"]' in str(error)


def test_a_float_is_not_an_integer_even_with_no_fraction():
    # JSON schema counts 1.0 as an integer; a function typed `int` must not be handed a float.
    error = parse_error(call_text("plan", {"cities": [], "days": 1.0}), [plan])
    assert "argument 'days' must be integer or null, got 1.0" in str(error)


def test_the_first_problem_is_reported_in_the_order_unknown_extra_missing_then_arguments():
    assert "has no argument 'x'" in str(parse_error(call_text("book", {"pair": 3, "x": 1}), [book]))
    assert "missing the required argument 'seats'" in str(parse_error(call_text("book", {"pair": 3}), [book]))
    both_wrong = {"pair": 3, "seats": 4}  # the call's order, not the schema's
    assert "argument 'pair' must be" in str(parse_error(call_text("book", both_wrong), [book]))


def test_every_parser_error_is_a_value_error_the_loop_can_catch_as_one_type():
    for error_type in (MalformedToolCall, UnknownTool, InvalidArguments):
        assert issubclass(error_type, ToolCallError) and issubclass(error_type, ValueError)


# --- Running calls ---------------------------------------------------------------------------


def test_a_tool_that_raises_becomes_an_error_result():
    result = tools.call_tool({"name": "get_capital", "arguments": {"country": "Atlantis"}},
                             {"get_capital": tools.get_capital})
    assert result == "Error: get_capital raised KeyError: \"no capital known for 'Atlantis'\""


def test_a_result_that_is_not_text_is_written_as_json():
    def forecast(city: str) -> dict:
        return {"city": city, "days": ["sunny", "rainy"]}

    result = tools.call_tool({"name": "forecast", "arguments": {"city": "Oslo"}}, {"forecast": forecast})
    assert json.loads(result) == {"city": "Oslo", "days": ["sunny", "rainy"]}


# --- The loop, with a scripted model --------------------------------------------------------


class ScriptedModel:
    """A `generate(messages, schemas)` that replies from a script and records what it saw."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.seen = []

    def __call__(self, messages, schemas):
        self.seen.append((json.loads(json.dumps(messages)), schemas))
        return self.replies.pop(0)


QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
PARIS = get_weather("Paris")


def test_the_loop_calls_the_tool_hands_back_the_result_and_returns_the_answer():
    model = ScriptedModel(call_text("get_weather", {"city": "Paris"}), f"The weather in Paris is {PARIS}.")
    result = run_tool_loop(model, QUESTION, EXAMPLE_TOOLS)
    assert result.answer == f"The weather in Paris is {PARIS}." and result.steps == 2
    assert result.messages[1:] == [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1_1", "type": "function",
         "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "call_1_1", "name": "get_weather", "content": PARIS},
        {"role": "assistant", "content": f"The weather in Paris is {PARIS}."},
    ]
    assert result.calls == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert QUESTION == [{"role": "user", "content": "What is the weather in Paris?"}]  # not mutated


def test_the_model_is_given_every_tool_schema_and_the_growing_conversation():
    model = ScriptedModel(call_text("get_weather", {"city": "Paris"}), "Done.")
    run_tool_loop(model, QUESTION, EXAMPLE_TOOLS)
    (first, schemas), (second, _) = model.seen
    assert [s["function"]["name"] for s in schemas] == ["get_weather", "get_capital", "convert_temperature"]
    assert first == QUESTION and [m["role"] for m in second] == ["user", "assistant", "tool"]


def test_several_calls_in_one_step_get_one_tool_message_each_paired_by_id():
    reply = call_text("get_weather", {"city": "Oslo"}) + "\n" + call_text("get_capital", {"country": "Peru"})
    result = run_tool_loop(ScriptedModel(reply, "Answer."), QUESTION, EXAMPLE_TOOLS)
    assistant, *tool_turns = result.messages[1:4]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_1_1", "call_1_2"]
    assert [(t["tool_call_id"], t["content"]) for t in tool_turns] == [
        ("call_1_1", get_weather("Oslo")), ("call_1_2", "Lima")]


def test_an_unknown_tool_goes_back_to_the_model_which_can_correct_itself():
    model = ScriptedModel(call_text("weather", {"city": "Paris"}), call_text("get_weather", {"city": "Paris"}),
                          f"It is {PARIS}.")
    result = run_tool_loop(model, QUESTION, EXAMPLE_TOOLS)
    assert result.messages[2]["content"].startswith("Error: unknown tool 'weather'.")
    assert result.messages[4]["content"] == PARIS
    assert result.answer == f"It is {PARIS}." and result.steps == 3
    assert result.calls == [{"name": "get_weather", "arguments": {"city": "Paris"}}]


def test_malformed_json_is_kept_as_written_and_answered_with_the_error():
    broken = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}\n</tool_call>'
    result = run_tool_loop(ScriptedModel(broken, "Sorry."), QUESTION, EXAMPLE_TOOLS)
    assert result.messages[1] == {"role": "assistant", "content": broken}
    assert result.messages[2]["role"] == "tool"
    assert result.messages[2]["content"].startswith("Error: tool call 1 is not valid JSON")
    assert result.calls == []


def test_a_tool_that_raises_is_reported_in_its_tool_message():
    model = ScriptedModel(call_text("get_capital", {"country": "Atlantis"}), "I don't know.")
    result = run_tool_loop(model, QUESTION, EXAMPLE_TOOLS)
    assert result.messages[2]["content"] == "Error: get_capital raised KeyError: \"no capital known for 'Atlantis'\""
    assert result.answer == "I don't know."


def test_the_step_limit_stops_a_model_that_never_answers():
    call = call_text("get_weather", {"city": "Paris"})
    model = ScriptedModel(call, call, call, "never reached")
    result = run_tool_loop(model, QUESTION, EXAMPLE_TOOLS, max_steps=3)
    assert result.answer is None and result.hit_step_limit and result.steps == 3
    assert len(model.seen) == 3 and model.replies == ["never reached"]


def test_a_direct_answer_takes_one_step():
    result = run_tool_loop(ScriptedModel("Hello!"), [{"role": "user", "content": "Hi"}], EXAMPLE_TOOLS)
    assert (result.answer, result.steps, len(result.messages)) == ("Hello!", 1, 2)


def test_on_step_sees_the_conversation_before_each_step():
    seen = []
    model = ScriptedModel(call_text("get_weather", {"city": "Paris"}), "Done.")
    run_tool_loop(model, QUESTION, EXAMPLE_TOOLS, on_step=lambda step, msgs: seen.append((step, len(msgs))))
    assert seen == [(1, 1), (2, 3)]


def test_a_loop_result_shows_its_conversation_in_a_notebook_with_results_under_their_calls():
    from IPython.lib.pretty import pretty

    from course_utils.chat_view import show_conversation

    model = ScriptedModel(call_text("get_weather", {"city": "Paris"}), f"It is {PARIS}.")
    result = run_tool_loop(model, QUESTION, EXAMPLE_TOOLS)
    text = pretty(result)  # what a notebook stores as text/plain
    assert text == f"{show_conversation(result.messages)}\n(answer after 2 steps)"
    assert text.index("tool call · id call_1_1") < text.index("↳ [2] tool · get_weather · answers call_1_1")
    page = result._repr_html_()
    assert page.startswith(show_conversation(result.messages)._repr_html_()) and "answer after 2 steps" in page
    assert repr(result).startswith("ToolLoopResult(messages=[")  # repr() stays the dataclass's, for debugging


def test_a_loop_stopped_by_the_step_limit_says_so_under_its_conversation():
    call = call_text("get_weather", {"city": "Paris"})
    result = run_tool_loop(ScriptedModel(call, call), QUESTION, EXAMPLE_TOOLS, max_steps=2)
    assert "no answer: the step limit stopped the loop after 2 steps" in result._repr_html_()


# --- Named templates and documents -----------------------------------------------------------


def word_tokenizer(chat_template):
    """A minimal fast tokenizer: these tests render text, so the vocabulary does not matter."""
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    tokenizer.chat_template = chat_template
    return tokenizer


def test_tools_make_apply_chat_template_pick_the_tool_use_template():
    tokenizer = word_tokenizer({"default": SMOLLM2, "tool_use": HERMES})
    plain = tokenizer.apply_chat_template(QUESTION, tokenize=False)
    with_tools = tokenizer.apply_chat_template(QUESTION, tools=[get_weather], tokenize=False)
    assert "<tools>" not in plain and plain == word_tokenizer(SMOLLM2).apply_chat_template(QUESTION, tokenize=False)
    assert "<tools>\n" + json.dumps(tools.tool_schemas([get_weather])[0]["function"]) in with_tools
    assert tokenizer.apply_chat_template(QUESTION, chat_template="tool_use", tokenize=False) == \
        word_tokenizer(HERMES).apply_chat_template(QUESTION, tokenize=False)


def test_named_templates_survive_save_and_load(tmp_path):
    word_tokenizer({"default": SMOLLM2, "tool_use": HERMES}).save_pretrained(tmp_path)
    assert (tmp_path / "additional_chat_templates" / "tool_use.jinja").read_text() == HERMES
    reloaded = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    assert reloaded.chat_template == {"default": SMOLLM2, "tool_use": HERMES}


DOCUMENTS = [{"title": "Oslo today", "text": "snowy, -3°C"}, {"title": "Lima today", "text": "sunny, 24°C"}]


def test_documents_are_numbered_in_the_system_turn():
    rendered = word_tokenizer(tools.rag_template()).apply_chat_template(
        QUESTION, documents=DOCUMENTS, add_generation_prompt=True, tokenize=False)
    assert rendered.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert ("<results>\nDocument: 0\ntitle: Oslo today\ntext: snowy, -3°C\n\n"
            "Document: 1\ntitle: Lima today\ntext: sunny, 24°C\n</results><|im_end|>\n") in rendered
    assert rendered.endswith("<|im_start|>user\nWhat is the weather in Paris?<|im_end|>\n<|im_start|>assistant\n")


def test_without_documents_the_rag_template_renders_exactly_like_smollm2():
    conversation = [{"role": "system", "content": "Be brief."}, *QUESTION, {"role": "assistant", "content": "Sunny."}]
    for messages in (QUESTION, conversation):
        assert word_tokenizer(tools.rag_template()).apply_chat_template(messages, tokenize=False) == \
            word_tokenizer(SMOLLM2).apply_chat_template(messages, tokenize=False)


def test_a_document_without_text_is_rejected_with_the_expected_shape():
    with pytest.raises(Exception, match=r'Document 1 has no "text" key'):
        word_tokenizer(tools.rag_template()).apply_chat_template(
            QUESTION, documents=[DOCUMENTS[0], {"title": "empty"}], tokenize=False)


# --- With the bundled nano instruct model ----------------------------------------------------

NANO = model_dir("nano-smollm2-instruct")
needs_nano = pytest.mark.skipif(not (NANO / "config.json").exists(), reason="nano assets not built yet (make nano)")


@pytest.fixture(scope="module")
def nano():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(NANO).eval(), AutoTokenizer.from_pretrained(NANO)


@needs_nano
def test_the_nano_tokenizer_picks_the_hermes_template_when_given_tools(nano):
    _, tokenizer = nano
    assert tokenizer.chat_template == {"default": SMOLLM2, "tool_use": HERMES}
    rendered = tokenizer.apply_chat_template(QUESTION, tools=[get_weather], tokenize=False)
    assert rendered == word_tokenizer(HERMES).apply_chat_template(QUESTION, tools=[get_weather], tokenize=False)


@needs_nano
def test_the_loop_answers_a_held_out_weather_question_with_the_tool_result(nano):
    model, tokenizer = nano
    heldout = json.loads(data_path("weather_heldout.jsonl").read_text().splitlines()[0])
    messages = [{"role": "user", "content": heldout["question"]}]
    result = run_tool_loop(tools.model_generator(model, tokenizer), messages, [get_weather], max_steps=3)
    assert result.calls == [{"name": "get_weather", "arguments": {"city": heldout["city"]}}]
    assert result.messages[2]["content"] == get_weather(heldout["city"])
    assert get_weather(heldout["city"]) in result.answer and "<|im_end|>" not in result.answer


@needs_nano
def test_the_response_template_parses_the_nano_models_reply(nano):
    model, tokenizer = nano
    prompt = tokenizer.apply_chat_template(QUESTION, tools=[get_weather], add_generation_prompt=True, tokenize=False)
    generation = generate_text(model, tokenizer, prompt, max_new_tokens=64)
    assert generation.text.endswith("<|im_end|>")
    assert tokenizer.parse_response(generation.text, HERMES_RESPONSE_TEMPLATE, prefix=prompt) == {
        "role": "assistant", "tool_calls": [as_tool_call({"name": "get_weather", "arguments": {"city": "Paris"}})]}


def test_a_hand_written_schema_with_a_type_json_schema_lacks_is_the_tools_fault_named():
    schema = {"type": "function", "function": {"name": "lookup", "description": "Look up.",
                                               "parameters": {"type": "object", "properties": {"key": {"type": "any"}}}}}
    with pytest.raises(ToolSchemaError, match="lookup: its schema uses the type 'any'"):
        parse_tool_calls('<tool_call>\n{"name": "lookup", "arguments": {"key": 1}}\n</tool_call>', [schema])
