"""Lesson 06, tool schemas and what apply_chat_template does with tools (issue 20).

Each test reads the offline run's stored output of one cell (by id) and the text that describes
it, and fails when a re-run (new nano assets, a new transformers) makes them disagree:

- get_json_schema's docstring rules: `a (int):` is reported as a missing description, a missing
  type hint raises TypeHintParsingException, `(choices: ...)` becomes an enum, `Returns:` the
  description of "return";
- a hand-written schema renders like a function's, beside it in one `tools=` list;
- `tools=` alone makes apply_chat_template render the `tool_use` template, `"default"` drops tools;
- parallel calls: one assistant turn with both calls, one tool turn per result, no ids in the text;
- the schema measurement: the rates the text quotes, and what it concludes from them;
- the Practise table lists every exercise of the lesson, each new one has its pointer, and
  "What you saw" closes the lesson.
"""
from __future__ import annotations

import json
import re

import nbformat

from support.paths import NOTEBOOKS, ROOT
from support.stored_outputs import cell_source, stored_text

LESSON = NOTEBOOKS / "06_tool_use.ipynb"
# tqdm's text, as tests/test_stored_outputs.py catches it.
PROGRESS_BAR = re.compile(r"\d+%\||\d+/\d+ \[\d+:\d+|\d(?:it|s)/s\]|s/it\]")


def _cells():
    return nbformat.read(LESSON, as_version=4).cells


# --- what get_json_schema reads -------------------------------------------------------------

def test_a_type_in_parentheses_is_reported_as_a_missing_description_as_the_text_says():
    assert "a (int): The first number." in cell_source(LESSON, "l06-79")
    errors = dict(line.split(": ", 1) for line in stored_text(LESSON, "l06-79").splitlines())
    assert errors["add"] == ("DocstringParsingException: Cannot generate JSON schema for add because the "
                             "docstring has no description for the argument 'a'")
    said = cell_source(LESSON, "l06-80")
    assert "it says `a` has **no description**, although it has one" in said


def test_an_argument_without_a_type_hint_raises_a_type_hint_parsing_exception():
    assert "def scale(x, factor: float)" in cell_source(LESSON, "l06-79")
    errors = dict(line.split(": ", 1) for line in stored_text(LESSON, "l06-79").splitlines())
    assert errors["scale"].startswith("TypeHintParsingException: Argument x is missing a type hint")


def test_choices_become_an_enum_and_returns_the_description_of_return():
    source = cell_source(LESSON, "l06-81")
    assert '(choices: ["celsius", "fahrenheit"])' in source and "Returns:" in source
    schema = json.loads(stored_text(LESSON, "l06-81"))
    unit = schema["parameters"]["properties"]["unit"]
    assert unit["enum"] == ["celsius", "fahrenheit"]
    assert "choices" not in unit["description"]  # "the choices leave the description"
    assert schema["return"] == {"type": "number", "description": "The temperature, in the unit asked for."}
    assert schema["parameters"]["required"] == ["city"]
    assert "`unit` missing from `required`" in cell_source(LESSON, "l06-80")


# --- tools= and the template ------------------------------------------------------------------

def test_a_hand_written_schema_renders_like_a_function_beside_it():
    source = cell_source(LESSON, "l06-86")
    assert "tokenizer.apply_chat_template(question, tools=[get_weather, get_time_schema]" in source
    block, verdict = stored_text(LESSON, "l06-86").rsplit("</tools>\n", 1)
    lines = block.removeprefix("<tools>\n").splitlines()
    function, by_hand = (json.loads(line) for line in lines)
    assert [function["name"], by_hand["name"]] == ["get_weather", "get_time"]
    # "name, description and parameters in that order (the function's also has "return")"
    assert list(by_hand) == ["name", "description", "parameters"]
    assert list(function) == ["name", "description", "parameters", "return"]
    assert verdict.strip() == "a function renders exactly as its schema does: True"


def test_tools_alone_pick_the_tool_use_template_and_default_drops_the_tools():
    source = cell_source(LESSON, "l06-83")
    assert source.count("tokenizer.apply_chat_template(") == 4
    assert stored_text(LESSON, "l06-83").splitlines() == [
        'tools= renders the same prompt as chat_template="tool_use": True',
        'chat_template="default" renders the prompt without tools:   True',
    ]
    assert "the tools vanish without an error" in cell_source(LESSON, "l06-82")


def test_parallel_calls_render_as_one_assistant_turn_and_one_tool_turn_per_result():
    source = cell_source(LESSON, "l06-88")
    assert source.count('"id": "call_') == 2 and source.count('"tool_call_id": "call_') == 2
    text = stored_text(LESSON, "l06-88").replace("·", " ").replace("↵", "")
    first, rendered = text.split("\n", 1)
    assert first == "the ids are in the text: False"
    assistant = rendered.split("<|im_start|>assistant\n")[1].split("<|im_end|>")[0]
    assert assistant.count("<tool_call>") == 2 and "get_capital" in assistant and "convert_temperature" in assistant
    tool_turns = re.findall(r"<\|im_start\|>tool\n<tool_response>\n(.*?)\n</tool_response>", rendered)
    assert tool_turns == ["Lima", "69.8"]  # in the order of the calls
    said = cell_source(LESSON, "l06-89")
    assert said.startswith("They are not") and "by order" in said


# --- simple schemas for small models ------------------------------------------------------------

_RATE = re.compile(r"^ *(?P<name>[^:]+): (?P<rate>\d\.\d\d) valid calls "
                   r"\((?P<broken>\d+) not a call, (?P<rejected>\d+) rejected by the schema\)$")


def _measured() -> tuple[dict[str, dict], int, int]:
    """{schema: {rate, broken, rejected}}, and "nested: N of M replies pass city at the top"."""
    text = stored_text(LESSON, "l06-95")
    rates = {m["name"]: {"rate": float(m["rate"]), "broken": int(m["broken"]), "rejected": int(m["rejected"])}
             for m in map(_RATE.match, text.splitlines()) if m}
    top, total = map(int, re.search(r"nested: (\d+) of (\d+) replies pass city at the top", text).groups())
    return rates, top, total


def test_the_measurement_covers_four_schemas_on_the_72_held_out_questions_with_a_bar_that_is_not_stored():
    rates, _top, total = _measured()
    assert list(rates) == ["simple", "flat, with extras", "the same, reworded", "nested"] and total == 72
    source = cell_source(LESSON, "l06-95")
    assert "tqdm(" in source and "clear_output()" in source and "heldout_weather_cases()" in source
    assert not PROGRESS_BAR.search(stored_text(LESSON, "l06-95"))
    # "A richer schema also costs prompt tokens": the simple one makes the shortest prompt.
    tokens = {name.strip(): int(n) for name, n in re.findall(r"^(.*): a (\d+)-token prompt$",
                                                            stored_text(LESSON, "l06-91"), re.M)}
    assert min(tokens, key=tokens.get) == "simple", tokens


def test_jsonschema_rejects_the_trained_call_under_the_nested_schema_only():
    lines = [line.strip() for line in stored_text(LESSON, "l06-93").splitlines()]
    assert lines == ["simple: valid", "flat, with extras: valid", "the same, reworded: valid",
                     "nested: rejected 'location' is a required property"]


def test_the_rates_are_the_ones_the_text_quotes_and_support_what_it_concludes():
    rates, top, total = _measured()
    simple, flat, reworded, nested = (rates[name] for name in rates)
    said = cell_source(LESSON, "l06-96")
    # The trained schema: every call valid.
    assert simple["rate"] == 1.0 and "makes a valid call for every question (1.00)" in said
    # The nested schema: none, because the model writes the shape it learnt, whatever the schema says.
    assert nested["rate"] == 0.0 and top == total and "for none (0.00)" in said
    assert f"all {top} replies pass `city` at the top" in said
    assert f"rejects the {nested['rejected']} that are well-formed calls" in said
    # The flat schemas: both accept the trained call, and one description's wording swings the rate.
    assert flat["rate"] < 0.5 < reworded["rate"] and flat["broken"] > total / 2, (flat, reworded)
    assert f"{flat['rate']:.2f} with one wording, where {flat['broken']} replies are not even a call" in said
    assert f"{reworded['rate']:.2f} with `country` described in other, fewer words" in said
    # The conclusion is the narrow one the model supports.
    assert "cannot be told apart from novelty" in said
    summary = cell_source(LESSON, "l06-97")
    assert f"{flat['rate']:.2f} or {reworded['rate']:.2f} depending on one description's wording" in summary


def test_the_reworded_schema_differs_from_the_flat_one_only_in_countrys_description():
    source = cell_source(LESSON, "l06-91")
    flat = re.search(r'"flat, with extras": weather_schema\((.*?)\),\n', source, re.S).group(1)
    reworded = re.search(r'"the same, reworded": weather_schema\((.*?)\),\n', source, re.S).group(1)
    assert " ".join(reworded.replace("country_reworded", "country").split()) == " ".join(flat.split())


# --- practise and what you saw ------------------------------------------------------------------

def test_the_practise_table_lists_every_exercise_of_the_lesson_with_its_tier():
    lesson = next(entry for entry in json.loads((ROOT / "docs" / "course_map.json").read_text(encoding="utf-8"))["lessons"]
                  if entry["stem"] == LESSON.stem)
    table = cell_source(LESSON, "l06-97").split("## Practise", 1)[1].split("## What you saw")[0]
    rows = re.findall(r"^\| `([\w.]+)` \| (\S+) \|", table, re.M)
    assert rows == [(exercise["id"], exercise["tier"]) for exercise in lesson["exercises"]]


def test_each_new_exercise_is_pointed_to_at_the_end_of_its_section():
    ids = [cell.get("id") for cell in _cells()]
    # Named templates ends where "The prompt the model actually sees" begins.
    assert ids[ids.index("l06-84") + 1] == "l06-21" and cell_source(LESSON, "l06-21").startswith("## The prompt")
    assert "`06.tool_template`" in cell_source(LESSON, "l06-84")
    # Documents is the last section, before the Practise table.
    assert ids[ids.index("l06-55") + 1] == "l06-97"
    assert cell_source(LESSON, "l06-55").splitlines()[-1].startswith("Practise it in exercise `06.documents`")


def test_what_you_saw_closes_the_lesson():
    last = _cells()[-1]
    assert last.cell_type == "markdown" and "## What you saw" in last.source and "## Summary" not in last.source
