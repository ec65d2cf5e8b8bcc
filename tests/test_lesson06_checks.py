"""06.loop is fair about the history's shape (issue 14, item 5): one reply with several calls is
one assistant message with several `tool_calls`, then one tool message per call, paired by id
(issue 17: the messages are read, since the template does not render the ids). The stand-in
model applies generate()'s length budget, end tokens and sampling as transformers does.

tests/test_exercise_proofs.py proves the solution passes and the known-wrong answers fail (the
split form among them); here, other right ways to write the loop pass too, and the stand-in
model makes its two calls in one reply.

06.tool_template compares the learner's choice with transformers' own `get_chat_template`; the
tests below pin what the installed transformers does in each case (tools=[] picks `tool_use`, a
name given to a single template is text) and keep the failure lines short and specific.
06.documents renders the expected prompt with the same tokenizer and template; the tests below
show it is fair online (a tokenizer shipping one template) and names each way to get it wrong.
"""
from __future__ import annotations

import copy
import json
import re

import pytest

from course_utils.checks import CheckFailed, lesson06
from course_utils.checks.template_choice import TEMPLATE_CASES, template_cases
from course_utils.status import NOT_ATTEMPTED_YET

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


# --- 06.tool_template: which template apply_chat_template renders with -----------------------

check_tool_template = lesson06.check_tool_template

# What transformers' get_chat_template gives in each case of TEMPLATE_CASES, in order, as the
# check names it: the case table's `why` lines say the same in words, so they must stay true.
TRANSFORMERS_CHOOSES = [
    "the 'default' template", "the 'tool_use' template", "the 'rag' template", "the 'default' template",
    "the 'tool_use' template", "the ChatML text passed as chat_template", "the 'default' template",
    "the 'tool_use' template", "the 'rag' template", "a ValueError", "a ValueError", "the single template",
    "the ChatML text passed as chat_template", "'default'", "a ValueError", "the ChatML text passed as chat_template",
]


def template_for(chat_templates, chat_template=None, tools=None):
    if isinstance(chat_templates, dict):
        if chat_template is not None:
            return chat_templates.get(chat_template, chat_template)
        if tools is not None and "tool_use" in chat_templates:
            return chat_templates["tool_use"]
        if "default" in chat_templates:
            return chat_templates["default"]
        raise ValueError("no default")
    if chat_template is None and chat_templates is None:
        raise ValueError("no template")
    return chat_templates if chat_template is None else chat_template


def test_each_case_expects_what_the_installed_transformers_does():
    cases = template_cases()
    assert len(cases) == len(TEMPLATE_CASES) == len(TRANSFORMERS_CHOOSES)
    assert [case.describe(case.transformers_choice()) for case in cases] == TRANSFORMERS_CHOOSES
    for case, chosen in zip(cases, TRANSFORMERS_CHOOSES):
        assert ("ValueError" in case.why) == (chosen == "a ValueError"), case.why


def test_an_empty_tools_list_picks_tool_use_because_transformers_tests_is_not_none():
    case = next(case for case in template_cases() if case.tools == [] and case.chat_template is None)
    assert case.transformers_choice() == case.templates["tool_use"]


def test_a_name_given_to_a_tokenizer_with_a_single_template_is_returned_as_text():
    case = next(case for case in template_cases() if isinstance(case.templates, str) and case.chat_template == "default")
    assert case.transformers_choice() == "default"


def test_the_stub_is_not_attempted_yet_through_the_value_error_wrapper():
    def template_for(chat_templates, chat_template=None, tools=None):
        raise NotImplementedError()

    with pytest.raises(CheckFailed) as caught:
        check_tool_template(template_for)
    assert caught.value.detail.startswith(NOT_ATTEMPTED_YET)


def test_returning_the_whole_dict_fails_with_one_line_not_a_crash_of_the_check():
    with pytest.raises(CheckFailed, match=r"returned \{'default': .*expected the 'default' template"):
        check_tool_template(lambda chat_templates, chat_template=None, tools=None: chat_templates)


def test_a_key_error_quoting_a_whole_template_keeps_the_rule_within_the_graders_400_characters():
    def looks_every_name_up(chat_templates, chat_template=None, tools=None):
        if isinstance(chat_templates, dict) and chat_template is not None:
            return chat_templates[chat_template]
        return template_for(chat_templates, chat_template, tools)

    with pytest.raises(CheckFailed) as caught:
        check_tool_template(looks_every_name_up)
    line = caught.value.detail
    assert len(line) < 400 and "raised KeyError" in line and "(in looks_every_name_up, line" in line
    assert line.endswith("a chat_template that is no name in the dict is template text, used as it is")


def test_a_value_error_where_transformers_returns_a_template_is_rejected():
    def strict(chat_templates, chat_template=None, tools=None):
        if isinstance(chat_templates, str) and chat_template is not None:
            raise ValueError("this tokenizer has one template: it has no names")
        return template_for(chat_templates, chat_template, tools)

    with pytest.raises(CheckFailed, match="raised ValueError: this tokenizer has one template.*expected the ChatML"):
        check_tool_template(strict)


# --- 06.documents: search results as documents -----------------------------------------------

check_documents = lesson06.check_documents


def rag_prompt(tokenizer, question, search_results):
    documents = [{"title": r["page_title"], "text": r["snippet"]} for r in search_results]
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], documents=documents,
                                         chat_template="rag", add_generation_prompt=True, tokenize=False)


def test_the_check_gives_a_single_template_tokenizer_the_lessons_three_templates(monkeypatch):
    # Online, SmolLM2-135M-Instruct ships one template (a str); the check builds the same dict
    # of 'default', 'tool_use' and 'rag' the lesson's setup does.
    single = copy.copy(lesson06.course_tokenizer())
    single.chat_template = single.chat_template["default"]
    monkeypatch.setattr(lesson06, "course_tokenizer", lambda: single)
    assert sorted(lesson06._rag_tokenizer().chat_template) == ["default", "rag", "tool_use"]
    check_documents(rag_prompt)


def test_setting_the_tokenizers_template_instead_of_passing_it_is_rejected():
    def sets_template(tokenizer, question, search_results):
        tokenizer.chat_template = tokenizer.chat_template["rag"]
        return tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                             documents=[{"title": r["page_title"], "text": r["snippet"]}
                                                        for r in search_results], tokenize=False)

    with pytest.raises(CheckFailed, match="changed tokenizer.chat_template; pass the template"):
        check_documents(sets_template)


def test_renaming_the_keys_of_the_search_results_in_place_is_rejected():
    def renames(tokenizer, question, search_results):
        for result in search_results:
            result["title"], result["text"] = result.pop("page_title"), result.pop("snippet")
        return rag_prompt(tokenizer, question, [{"page_title": r["title"], "snippet": r["text"]} for r in search_results])

    with pytest.raises(CheckFailed, match="changed the search results it was given"):
        check_documents(renames)


def test_token_ids_instead_of_text_are_rejected_with_the_option_to_set():
    def tokenized(tokenizer, question, search_results):
        documents = [{"title": r["page_title"], "text": r["snippet"]} for r in search_results]
        return tokenizer.apply_chat_template([{"role": "user", "content": question}], documents=documents,
                                             chat_template="rag", add_generation_prompt=True)

    with pytest.raises(CheckFailed, match="expected the prompt as text: render with tokenize=False"):
        check_documents(tokenized)


def test_title_and_text_swapped_fail_at_the_first_difference():
    def swapped(tokenizer, question, search_results):
        return rag_prompt(tokenizer, question, [{"page_title": r["snippet"], "snippet": r["page_title"]}
                                                for r in search_results])

    with pytest.raises(CheckFailed, match="first difference at character"):
        check_documents(swapped)
