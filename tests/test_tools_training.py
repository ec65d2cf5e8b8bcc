"""Lesson 06's tool-call training: the training twin of the Hermes template, the conversations,
and the measures (course_utils/tools/training.py)."""
from __future__ import annotations

import json
import random

import pytest
from transformers.utils.chat_template_utils import render_jinja_template

from course_utils import world
from course_utils.assets import model_dir, read_template
from course_utils.tools import parse_tool_calls
from course_utils.tools.training import (
    TOOL_TRAINING_TEMPLATE_PATH, WEATHER_SCHEMAS, checked_get_weather, heldout_weather_cases, misspell,
    tool_training_conversations,
)

NANO = model_dir("nano-smollm2-instruct")
INFERENCE = read_template("hermes_tool_use.jinja")
TWIN = TOOL_TRAINING_TEMPLATE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def nano():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(NANO), AutoTokenizer.from_pretrained(NANO)


def _render(template: str, messages, tools, add_generation_prompt=False, **kwargs):
    rendered, _ = render_jinja_template([messages], chat_template=template, tools=tools,
                                        add_generation_prompt=add_generation_prompt, **kwargs)
    return rendered[0]


def _more_shapes() -> list[tuple[list[dict], list | None]]:
    """Shapes the generated data does not have: a system prompt, text beside calls, two calls
    in one reply, arguments as a JSON string, no tools, a plain chat."""
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
    lima = {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lima"}'}}
    return [
        ([{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Weather in Oslo?"},
          {"role": "assistant", "content": "Let me check.", "tool_calls": [call, lima]},
          {"role": "tool", "content": "3°C and rainy"}, {"role": "tool", "content": "20°C and sunny"},
          {"role": "assistant", "content": "Oslo 3°C, Lima 20°C."}], WEATHER_SCHEMAS),
        ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], None),
        ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
          {"role": "user", "content": "Weather in Oslo?"}, {"role": "assistant", "tool_calls": [call]}], WEATHER_SCHEMAS),
    ]


def _conversations():
    rows = tool_training_conversations(n=200, seed=3)
    return [(row["messages"], json.loads(row["tools"])) for row in rows] + _more_shapes()


@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_training_twin_renders_byte_for_byte_like_the_tool_use_template(add_generation_prompt):
    for messages, tools in _conversations():
        for end in range(1, len(messages) + 1):  # every prefix, as a loop's prompts are
            expected = _render(INFERENCE, messages[:end], tools, add_generation_prompt)
            assert _render(TWIN, messages[:end], tools, add_generation_prompt) == expected


def test_twin_marks_every_assistant_turn_and_nothing_else(nano):
    tokenizer_instruct = nano[1]
    messages, tools = _more_shapes()[0]
    out = tokenizer_instruct.apply_chat_template(messages, tools=tools, chat_template=TWIN, return_dict=True,
                                                 return_assistant_tokens_mask=True)
    trained = tokenizer_instruct.decode([t for t, m in zip(out["input_ids"], out["assistant_masks"]) if m])
    call_turn = ('Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
                 '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Lima"}}\n</tool_call><|im_end|>')
    assert trained == call_turn + "Oslo 3°C, Lima 20°C.<|im_end|>"


def test_conversations_are_seeded_and_use_training_phrasings_only():
    assert tool_training_conversations(n=50, seed=1) == tool_training_conversations(n=50, seed=1)
    assert tool_training_conversations(n=50, seed=1) != tool_training_conversations(n=50, seed=2)
    questions = [m["content"] for row in tool_training_conversations(n=400) for m in row["messages"]
                 if m["role"] == "user"]
    heldout_starts = [t.split("{city}")[0] for t in world.WEATHER_QUESTIONS_HELDOUT]
    assert not [q for q in questions if any(start in q for start in heldout_starts)]
    assert not {c.question for c in heldout_weather_cases()} & set(questions)


def test_a_failing_call_is_followed_by_the_corrected_retry_then_the_answer():
    rows = tool_training_conversations(n=300, seed=0)
    retries = [row["messages"][:6] for row in rows if "did you mean" in row["messages"][2]["content"]]
    assert 0.2 < len(retries) / len(rows) < 0.8
    for user, bad, error, good, result, answer in retries:
        typo = bad["tool_calls"][0]["function"]["arguments"]["city"]
        city = good["tool_calls"][0]["function"]["arguments"]["city"]
        assert typo in user["content"] and typo not in world.CITIES and city in world.CITIES
        assert error["content"] == f"Error: get_weather raised ValueError: unknown city '{typo}'; did you mean '{city}'?"
        assert result["role"] == "tool" and result["content"] in answer["content"] and city in answer["content"]


def test_misspellings_point_back_to_their_city():
    rng = random.Random(0)
    for city in world.CITIES:
        typo = misspell(city, rng)
        with pytest.raises(ValueError, match=f"did you mean '{city}'"):
            checked_get_weather(typo)
    assert checked_get_weather("Oslo") == world.get_weather("Oslo")


def test_heldout_cases_are_the_heldout_file_with_a_misspelt_twin():
    cases = heldout_weather_cases()
    assert len(cases) == 72
    for case in cases:
        assert case.city in case.question and case.typo in case.misspelt_question
        assert case.misspelt_question == case.question.replace(case.city, case.typo)
    assert parse_tool_calls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
                            tools=WEATHER_SCHEMAS)


def test_measures_of_the_nano_instruct(nano):
    """The nano instruct was trained on thousands of tool calls, each failure answered with an
    apology: it calls and answers on held-out phrasings, and never retries."""
    from course_utils.tools.training import measure_tool_use

    rates = measure_tool_use(*nano, heldout_weather_cases(limit=24), label="instruct")
    assert rates.tool_call_rate >= 0.9 and rates.answer_rate >= 0.9
    assert rates.recovery_rate <= 0.1
