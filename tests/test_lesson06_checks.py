"""06.loop is fair about the history's shape (issue 14, item 5): one reply with several calls is
one assistant message with several `tool_calls`, then one tool message per call, paired by id
(issue 17: the messages are read, since the template does not render the ids). The stand-in
model applies generate()'s length budget, end tokens and sampling as transformers does.

tests/test_exercise_proofs.py proves the solution passes and the known-wrong answers fail (the
split form among them); here, other right ways to write the loop pass too, and the stand-in
model makes its two calls in one reply.
"""
from __future__ import annotations

import copy
import json
import re

import pytest

from course_utils.checks import CheckFailed, lesson06

check_loop = lesson06.check_loop


def parse_tool_calls(text):
    return [json.loads(body) for body in re.findall(r"<tool_call>(.*?)</tool_call>", text, flags=re.DOTALL)]


def _reply(model, tokenizer, messages, tools):
    inputs = tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, return_dict=True,
                                           return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=96, do_sample=False)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def _run(tool, call):
    try:
        return str(tool(**call["arguments"]))
    except Exception as error:  # noqa: BLE001
        return f"Error: {error}"


def loop_building_the_turn_first(model, tokenizer, messages, tools, max_steps=3):
    """Right: the assistant message is built, then extended with every call, then the results."""
    functions = {tool.__name__: tool for tool in tools}
    messages = copy.deepcopy(messages)
    for step in range(max_steps):
        calls = parse_tool_calls(reply := _reply(model, tokenizer, messages, tools))
        if not calls:
            return reply
        turn = {"role": "assistant", "content": "", "tool_calls": []}
        results = []
        for n, call in enumerate(calls):
            turn["tool_calls"].append({"id": f"{step}-{n}", "type": "function", "function": call})
            results.append({"role": "tool", "tool_call_id": f"{step}-{n}", "content": _run(functions[call["name"]], call)})
        messages.extend([turn, *results])
    return None


def loop_with_json_string_arguments(model, tokenizer, messages, tools, max_steps=3):
    """Right: OpenAI's wire format, arguments as a JSON string (the template writes it as is)."""
    functions = {tool.__name__: tool for tool in tools}
    for step in range(max_steps):
        calls = parse_tool_calls(reply := _reply(model, tokenizer, messages, tools))
        if not calls:
            return reply
        ids = [f"call_{step}_{n}" for n in range(len(calls))]
        messages = messages + [{"role": "assistant", "tool_calls": [
            {"id": i, "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
            for i, c in zip(ids, calls)]}]
        messages += [{"role": "tool", "tool_call_id": i, "content": _run(functions[c["name"]], c)}
                     for i, c in zip(ids, calls)]
    return None


def loop_with_one_message_per_call(model, tokenizer, messages, tools, max_steps=3):
    """Wrong: each call in an assistant message of its own, its result right after it."""
    functions = {tool.__name__: tool for tool in tools}
    for step in range(max_steps):
        calls = parse_tool_calls(reply := _reply(model, tokenizer, messages, tools))
        if not calls:
            return reply
        for n, call in enumerate(calls):
            messages = messages + [
                {"role": "assistant", "tool_calls": [{"id": f"c{step}{n}", "type": "function", "function": call}]},
                {"role": "tool", "tool_call_id": f"c{step}{n}", "content": _run(functions[call["name"]], call)},
            ]
    return None


def loop_with_results_before_the_calls(model, tokenizer, messages, tools, max_steps=3):
    """Wrong: the results are appended before the assistant message that made the calls."""
    functions = {tool.__name__: tool for tool in tools}
    for step in range(max_steps):
        calls = parse_tool_calls(reply := _reply(model, tokenizer, messages, tools))
        if not calls:
            return reply
        ids = [f"call_{step}_{n}" for n in range(len(calls))]
        messages = messages + [{"role": "tool", "tool_call_id": i, "content": _run(functions[c["name"]], c)}
                               for i, c in zip(ids, calls)]
        messages = messages + [{"role": "assistant", "tool_calls": [
            {"id": i, "type": "function", "function": c} for i, c in zip(ids, calls)]}]
    return None


@pytest.mark.parametrize("loop", [loop_building_the_turn_first, loop_with_json_string_arguments])
def test_other_right_loops_pass(loop):
    check_loop(loop)


def test_one_assistant_message_per_call_is_rejected_with_the_reason():
    with pytest.raises(CheckFailed, match="shows that reply as 2 assistant turns; keep one reply as one assistant message"):
        check_loop(loop_with_one_message_per_call)


def test_results_before_their_calls_are_rejected():
    with pytest.raises(CheckFailed, match="have the results before the assistant message that made the calls"):
        check_loop(loop_with_results_before_the_calls)


def loop_rendering_twice_per_step(model, tokenizer, messages, tools, max_steps=3):
    """Right: renders the text to look at, then the tokens (by keyword); ids are call indexes."""
    functions = {tool.__name__: tool for tool in tools}
    for _ in range(max_steps):
        tokenizer.apply_chat_template(conversation=messages, tools=tools, add_generation_prompt=True, tokenize=False)
        calls = parse_tool_calls(reply := _reply(model, tokenizer, messages, tools))
        if not calls:
            return reply
        first = len(messages)
        messages = messages + [{"role": "assistant", "tool_calls": [
            {"id": f"{first}.{n}", "type": "function", "function": c} for n, c in enumerate(calls)]}]
        messages += [{"role": "tool", "tool_call_id": f"{first}.{n}", "content": _run(functions[c["name"]], c)}
                     for n, c in enumerate(calls)]
    return None


def test_the_history_is_read_from_the_render_before_each_generate():
    check_loop(loop_rendering_twice_per_step)


def test_the_tokenizer_is_left_as_it_was_even_when_the_loop_raises():
    tokenizer = lesson06._nano_tokenizer()

    def failing(model, tokenizer, messages, tools, max_steps=3):
        tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
        raise RuntimeError("boom")

    with pytest.raises(CheckFailed, match="boom"):
        lesson06._run(failing, tokenizer, "Hello!", [lesson06.get_weather])
    assert "apply_chat_template" not in vars(tokenizer)


@pytest.mark.parametrize("options, expected", [
    ({"max_new_tokens": 96}, "sampled at step 1: this model's generation config has do_sample=True"),
    ({"do_sample": False}, "the model's reply was cut after 20 new tokens (the whole reply takes 30)"),
    ({"do_sample": False, "max_new_tokens": 40}, "cut after 40 new tokens (the whole reply takes 60)"),
    ({"do_sample": False, "max_new_tokens": 96, "eos_token_id": 0}, "was not told to stop at <|im_end|>"),
])
def test_the_stand_in_applies_generate_options_as_transformers_does(options, expected):
    def loop(model, tokenizer, messages, tools, max_steps=3):
        functions = {tool.__name__: tool for tool in tools}
        for step in range(max_steps):
            inputs = tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True,
                                                   return_dict=True, return_tensors="pt")
            output = model.generate(**inputs, **options)
            reply = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            if not (calls := parse_tool_calls(reply)):
                return reply
            ids = [f"call_{step}_{n}" for n in range(len(calls))]
            messages = messages + [{"role": "assistant", "tool_calls": [
                {"id": i, "type": "function", "function": c} for i, c in zip(ids, calls)]}]
            messages += [{"role": "tool", "tool_call_id": i, "content": _run(functions[c["name"]], c)}
                         for i, c in zip(ids, calls)]
        return None

    with pytest.raises(CheckFailed) as caught:
        check_loop(loop)
    assert expected in str(caught.value)


def test_the_stand_in_model_makes_two_calls_in_one_reply():
    tokenizer = lesson06._nano_tokenizer()
    model = lesson06.ToolCallingModel(tokenizer)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is the weather in Oslo and the capital of Peru?"}],
                                           tools=[lesson06.get_weather, lesson06._get_capital], add_generation_prompt=True,
                                           tokenize=False)
    assert [c["name"] for c in parse_tool_calls(model.reply(prompt))] == ["get_weather", "get_capital"]
