"""Lesson 07's references and graders: what the proofs of tests/test_exercise_proofs.py do not cover.

- Kestrel's reference templates follow the spec the learner reads (solutions/07), and its
  training twin is what a training template must be (prefix-preserving, TRL's checks, a mask
  that covers exactly what the assistant writes);
- the conversation groups lesson 07 added, and that the groups lessons 01 to 06 grade on stay
  what they were;
- the graders are fair: other correct answers pass (a prompt built by hand, templates in
  another style), and learner code cannot change what the next check sees.
"""
from __future__ import annotations

import json

import pytest

from course_utils.checks import CheckFailed, check, lesson07
from course_utils.checks.expect_training import expect_prefix_preserving
from course_utils.checks.course_models import course_tokenizer
from course_utils.conversations import GROUPS, PLAIN_GROUPS, conversation, conversations
from course_utils.kestrel import (
    GENERATION_PROMPT,
    KESTREL_GROUPS,
    KESTREL_TEMPLATE,
    KESTREL_TOKENS,
    KESTREL_TRAINING_TEMPLATE,
    kestrel_conversations,
    kestrel_tokenizer,
    render_kestrel,
)
from course_utils.templates import TemplateError, render_template

CONTROL_TOKENS = KESTREL_TOKENS + ("<|im_start|>", "<|im_end|>", "<think>", "</think>")

# A response template that parses Kestrel back (07.kestrel_parser's solution, in its own words).
RESPONSE_TEMPLATE = {
    "defaults": {"role": "assistant"},
    "start_anchor": GENERATION_PROMPT,
    "fields": {
        "reasoning_content": {"open": "<|think|>", "close": "<|/think|>", "content_args": {"strip": False}},
        "tool_calls": {"open": "<|call|>", "close": "<|/call|>", "repeats": True, "content": "json",
                       "transform": {"type": "function", "function": "{content}"}},
        "content": {"close": "<|eom|>", "content_args": {"strip": False}},
    },
}


def failure(exercise_id: str, answer) -> str:
    with pytest.raises(CheckFailed) as caught:
        check(exercise_id, answer)
    message = str(caught.value)
    assert "\n" not in message, "a check fails with one line"
    return message


# --- the corpus ------------------------------------------------------------------------------

def test_default_conversations_are_still_the_plain_groups_of_lessons_01_to_06():
    names = [name for name, _ in conversations()]
    assert names == [name for group in PLAIN_GROUPS for name in GROUPS[group]]
    assert len(names) == 12
    assert all(isinstance(m["content"], str) and set(m) == {"role", "content"} for _, ms in conversations() for m in ms)


def test_reasoning_and_tools_group_covers_what_reasoning_templates_get_wrong():
    corpus = dict(conversations("reasoning and tools"))
    messages = [m for ms in corpus.values() for m in ms]
    calls = [c for m in messages for c in m.get("tool_calls", [])]
    assert any(isinstance(c["function"]["arguments"], dict) for c in calls)
    assert any(isinstance(c["function"]["arguments"], str) for c in calls), "OpenAI-style JSON string arguments"
    assert any(len(m.get("tool_calls", [])) > 1 for m in messages), "parallel calls"
    assert any(m["role"] == "assistant" and "content" not in m for m in messages), "a call without content"
    assert any(m.get("reasoning_content") == "" for m in messages), "empty reasoning"

    def reasoning_before_last_user(ms):
        last_user = max(i for i, m in enumerate(ms) if m["role"] == "user")
        return any(m.get("reasoning_content") for m in ms[:last_user])

    assert any(reasoning_before_last_user(ms) for ms in corpus.values())
    assert {ms[-1]["role"] for ms in corpus.values()} == {"user", "assistant", "tool"}


def test_no_content_holds_a_control_token_so_every_format_can_parse_its_renderings_back():
    for name, messages in kestrel_conversations().items():
        for message in messages:
            texts = [message.get("content") or "", message.get("reasoning_content") or ""]
            assert not any(token in text for token in CONTROL_TOKENS for text in texts), name


def test_content_block_groups_hold_lists_of_blocks_and_refusable_blocks():
    blocks = [m["content"] for _, ms in conversations("content blocks") for m in ms if isinstance(m["content"], list)]
    assert [] in blocks, "an empty list of blocks"
    assert any(len(b) >= 3 for b in blocks), "several text blocks"
    assert all(block["type"] == "text" for b in blocks for block in b)
    for name, messages in conversations("non-text blocks"):
        assert lesson07._block_types(messages), name


def test_new_groups_are_reachable_by_name_and_handed_out_as_copies():
    first = conversation("parallel calls, dict and string arguments")
    first[1]["tool_calls"].clear()
    assert conversation("parallel calls, dict and string arguments")[1]["tool_calls"]
    kestrel_conversations()["one tool call"].clear()
    assert kestrel_conversations()["one tool call"]


# --- Kestrel's references follow the spec ----------------------------------------------------

def test_a_kestrel_message_is_msg_role_newline_body_eom_with_nothing_between_messages():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert render_kestrel(messages, add_generation_prompt=True) == (
        "<|msg|>system\nBe brief.<|eom|><|msg|>user\nHi<|eom|>" + GENERATION_PROMPT)


def test_kestrel_renders_reasoning_then_content_then_each_call_arguments_as_given():
    assert render_kestrel(conversation("parallel calls, dict and string arguments")[:2]) == (
        "<|msg|>user\nWeather in Oslo and in Lima?<|eom|><|msg|>assistant\n"
        "<|think|>Two cities, two calls.<|/think|>"
        '<|call|>{"name": "get_weather", "arguments": {"city": "Oslo"}}<|/call|>'
        '<|call|>{"name": "get_weather", "arguments": {"city":"Lima"}}<|/call|><|eom|>')


def test_kestrel_drops_reasoning_before_the_last_user_message_and_its_twin_keeps_it():
    messages = conversation("reasoning in an earlier turn")
    assert "12 * 12 = 144." not in render_kestrel(messages)
    assert "<|think|>13 * 13 = 169.<|/think|>169." in render_kestrel(messages)
    assert "<|think|>12 * 12 = 144.<|/think|>144." in render_kestrel(messages, training=True)


@pytest.mark.parametrize("name", sorted(kestrel_conversations()))
def test_the_twin_renders_like_the_template_once_earlier_reasoning_is_removed(name):
    messages = kestrel_conversations()[name]
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    for message in messages[:last_user]:
        message.pop("reasoning_content", None)
    for flag in (False, True):
        assert render_kestrel(messages, training=True, add_generation_prompt=flag) == render_kestrel(
            messages, add_generation_prompt=flag)


@pytest.mark.parametrize("template", [KESTREL_TEMPLATE, KESTREL_TRAINING_TEMPLATE])
def test_kestrel_refuses_a_role_it_does_not_have_by_name(template):
    with pytest.raises(TemplateError, match="Kestrel has no role 'developer'"):
        render_template(template, [{"role": "developer", "content": "x"}])


def test_kestrel_tokenizer_adds_the_six_tokens_as_single_ids_to_a_copy():
    tokenizer = course_tokenizer()
    kestrel = kestrel_tokenizer(tokenizer, KESTREL_TRAINING_TEMPLATE)
    assert all(len(kestrel.encode(token, add_special_tokens=False)) == 1 for token in KESTREL_TOKENS)
    assert kestrel.chat_template == KESTREL_TRAINING_TEMPLATE
    assert "<|eom|>" not in tokenizer.get_added_vocab() and tokenizer.chat_template != KESTREL_TRAINING_TEMPLATE


def test_the_twin_passes_every_training_check_and_the_inference_template_only_trls_narrow_one():
    from trl.chat_template_utils import is_chat_template_prefix_preserving, is_chat_template_stop_token_trained

    expect_prefix_preserving(KESTREL_TRAINING_TEMPLATE, "twin", KESTREL_GROUPS)
    twin = kestrel_tokenizer(course_tokenizer(), KESTREL_TRAINING_TEMPLATE)
    assert is_chat_template_prefix_preserving(twin) and is_chat_template_stop_token_trained(twin)
    # TRL's probe has no reasoning, so it misses what the course's own check finds.
    assert is_chat_template_prefix_preserving(kestrel_tokenizer(course_tokenizer(), KESTREL_TEMPLATE))
    with pytest.raises(CheckFailed, match=r"'reasoning in an earlier turn'>\[:2\]\) is not a prefix"):
        expect_prefix_preserving(KESTREL_TEMPLATE, "kestrel_template", KESTREL_GROUPS)


def test_the_twins_mask_trains_on_exactly_what_each_assistant_turn_writes():
    twin = kestrel_tokenizer(course_tokenizer(), KESTREL_TRAINING_TEMPLATE)
    messages = conversation("one tool call")
    out = twin.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    trained = [twin.decode([i]) for i, flag in zip(out["input_ids"], out["assistant_masks"]) if flag]
    expected = "".join(render_kestrel([m], training=True).removeprefix(GENERATION_PROMPT)
                       for m in messages if m["role"] == "assistant")
    assert "".join(trained) == expected


@pytest.mark.parametrize("name", sorted(kestrel_conversations()))
def test_every_reference_rendering_parses_back_into_its_messages(name):
    from transformers.utils.chat_parsing import parse_response

    messages = kestrel_conversations()[name]
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = render_kestrel(messages[:index], add_generation_prompt=True)
        whole = render_kestrel(messages[: index + 1])
        assert whole.startswith(prompt)
        parsed = parse_response(whole[len(prompt):], RESPONSE_TEMPLATE, prefix=prompt)
        assert lesson07._as_message(parsed) == lesson07._expected_message(message)


# --- the graders are fair --------------------------------------------------------------------

def test_a_reasoning_prompt_built_by_hand_passes_too():
    def continue_reasoning(tokenizer, messages, start):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + "<think>\n" + start

    check("07.reasoning_prefill", continue_reasoning)


def test_a_learner_who_changes_the_tokenizer_does_not_change_the_next_check():
    def thinking_off_prompt(tokenizer, messages):
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=False,
                                               tokenize=False)
        tokenizer.chat_template = "{{ 'broken' }}"
        return prompt

    with pytest.raises(CheckFailed):  # the second conversation sees the broken template
        check("07.thinking", thinking_off_prompt)
    check("07.thinking", lambda tokenizer, messages: tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, enable_thinking=False, tokenize=False))
    assert course_tokenizer().chat_template != "{{ 'broken' }}"


def test_the_reference_templates_pass_their_own_exercises():
    check("07.content_blocks", lesson07.CONTENT_BLOCKS_TEMPLATE)
    check("07.kestrel", KESTREL_TEMPLATE)
    check("07.kestrel_training", KESTREL_TRAINING_TEMPLATE)
    check("07.kestrel_parser", RESPONSE_TEMPLATE)


def test_kestrel_written_in_another_style_passes():
    # Dot access, `~` instead of `+`, `if ... else` inline, trim_blocks instead of `{%-`.
    template = (
        "{% set ns = namespace(u=-1) %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.u = loop.index0 %}"
        "{% endif %}{% endfor %}"
        "{% for m in messages %}"
        "{% if m.role not in ('system', 'user', 'assistant', 'tool') %}"
        "{{ raise_exception('Kestrel has no role \\'' ~ m.role ~ '\\'') }}{% endif %}"
        "<|msg|>{{ m.role }}\n"
        "{% if m.role == 'assistant' %}"
        "{% if m.reasoning_content and loop.index0 > ns.u %}<|think|>{{ m.reasoning_content }}<|/think|>{% endif %}"
        "{{ m.content if m.content else '' }}"
        "{% for c in m.tool_calls if m.tool_calls %}<|call|>{\"name\": {{ c.function.name | tojson }}, \"arguments\": "
        "{{ c.function.arguments if c.function.arguments is string else c.function.arguments | tojson }}}<|/call|>"
        "{% endfor %}"
        "{% else %}{{ m.content }}{% endif %}<|eom|>"
        "{% endfor %}{% if add_generation_prompt %}<|msg|>assistant\n{% endif %}"
    )
    check("07.kestrel", template)


def test_a_response_template_that_transformers_refuses_fails_in_one_line_quoting_it():
    broken = json.loads(json.dumps(RESPONSE_TEMPLATE))
    broken["fields"]["content"]["end"] = broken["fields"]["content"].pop("close")
    assert failure("07.kestrel_parser", broken) == (
        "07.kestrel_parser: transformers refuses kestrel_response_template: Field 'content': unknown keys ['end']")


def test_the_parser_check_names_the_turn_and_the_field():
    stripped = json.loads(json.dumps(RESPONSE_TEMPLATE))
    del stripped["fields"]["content"]["content_args"]
    message = failure("07.kestrel_parser", stripped)
    assert "<messages[1] of conversation 'surrounding whitespace', rendered>" in message
    assert "['content'] is 'Lima.', expected ' Lima. \\n'" in message


def test_a_content_blocks_template_that_raises_a_python_error_is_not_a_refusal():
    template = lesson07.CONTENT_BLOCKS_TEMPLATE.replace(
        """{{- raise_exception("ChatML renders only text blocks, got '" ~ block['type'] ~ "'") }}""",
        "{{- block['type'] + 1 }}")
    assert "instead of your own raise_exception" in failure("07.content_blocks", template)


def test_an_unknown_role_must_raise_the_specs_message_word_for_word():
    # The spec gives the message; a trailing newline is a difference too (the check does not strip).
    raise_call = """{{- raise_exception("Kestrel has no role '" ~ message['role'] ~ "'") }}"""
    for name, reference in (("07.kestrel", KESTREL_TEMPLATE), ("07.kestrel_training", KESTREL_TRAINING_TEMPLATE)):
        assert raise_call in reference
        newline = reference.replace(raise_call, raise_call.replace("\"'\")", "\"'\\n\")"))
        assert "not the spec's message \"Kestrel has no role 'developer'\"" in failure(name, newline)


def test_the_training_twin_must_refuse_unknown_roles_as_the_template_does():
    start = KESTREL_TRAINING_TEMPLATE.index("    {%- if message['role'] not in")
    stop = KESTREL_TRAINING_TEMPLATE.index("{%- endif %}", start) + len("{%- endif %}")
    accepting = KESTREL_TRAINING_TEMPLATE[:start] + KESTREL_TRAINING_TEMPLATE[stop:]
    assert "but Kestrel has no role 'developer'" in failure("07.kestrel_training", accepting)


def test_the_parser_check_shows_reasoning_stripped_at_its_ends_on_a_conversation_of_its_own():
    # No corpus reasoning has whitespace at its ends, so this turn is the parser check's own.
    stripped = json.loads(json.dumps(RESPONSE_TEMPLATE))
    del stripped["fields"]["reasoning_content"]["content_args"]
    message = failure("07.kestrel_parser", stripped)
    assert "the check's own conversation 'reasoning between newlines'" in message
    assert "['reasoning_content'] is 'The user asks for a capital.'" in message


# --- 07.parallel_calls -----------------------------------------------------------------------

def _record(messages, calls, results, ids=None, order=None):
    """A history in the exercise's shape; `ids` and `order` (of the tool messages) to get it wrong."""
    ids = ids or [f"call_{n}" for n in range(1, len(calls) + 1)]
    answers = [{"role": "tool", "tool_call_id": i, "content": r} for i, r in zip(ids, results)]
    turn = {"role": "assistant", "content": "", "tool_calls": [
        {"id": i, "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for i, c in zip(ids[: len(calls)], calls)]}
    return messages + [turn] + [answers[k] for k in (order or range(len(answers)))]


def _parallel_failure(record) -> str:
    def record_parallel_calls(messages, calls, results):
        return record(messages, calls, results)

    return failure("07.parallel_calls", record_parallel_calls)


def test_parallel_cases_call_one_function_twice_with_other_arguments():
    for messages, calls in lesson07.PARALLEL_CASES.values():
        names = [c["name"] for c in calls]
        assert len(set(names)) < len(names), "pairing a result by the function's name must go wrong"
        twins = [c["arguments"] for c in calls if names.count(c["name"]) > 1]
        assert len({json.dumps(a, sort_keys=True) for a in twins}) == len(twins)
    assert max(len(calls) for _, calls in lesson07.PARALLEL_CASES.values()) == 3


def test_results_paired_by_the_functions_name_render_like_the_reference_so_the_ids_are_checked():
    # Hermes pairs by order and Gemma 4 turns an id into its function's name: with get_weather called
    # twice, ids found by name render exactly like the right history. Only the structure check sees it.
    messages, calls = lesson07.PARALLEL_CASES["three calls, get_weather twice"]
    right = _record(messages, calls, ["32°C and rainy", "Lima", "5°C and snowy"])
    by_name = right[:2] + [dict(m, tool_call_id=i) for m, i in zip(right[2:], ["call_3", "call_2", "call_3"])]
    assert by_name != right
    assert lesson07._renderings(by_name) == lesson07._renderings(right)
    assert "no tool message answers call_1" in _parallel_failure(
        lambda m, c, r: _record(m, c, r)[:2] + [dict(t, tool_call_id=i) for t, i in
                                                 zip(_record(m, c, r)[2:], ["call_3", "call_2", "call_3"])])


def test_gemma4_finds_each_results_function_through_tool_call_id_and_cannot_render_an_unknown_one():
    messages, calls = lesson07.PARALLEL_CASES["three calls, get_weather twice"]
    history = _record(messages, calls, ["a", "b", "c"])
    gemma = "Gemma 4 (gemma4_chat_template)"
    assert 'response:get_capital{value:<|"|>b<|"|>}' in lesson07._renderings(history)[gemma][0]
    history[-1]["tool_call_id"] = "call_9"
    text, error = lesson07._renderings(history)[gemma]
    assert text is None and 'can only concatenate str (not "NoneType") to str' in str(error)
    history[-1]["name"] = "get_weather"  # without a matching id, Gemma 4 falls back to the message's name
    assert 'response:get_weather{value:<|"|>c<|"|>}' in lesson07._renderings(history)[gemma][0]


def test_tool_messages_in_another_order_than_the_calls_are_named_as_such():
    message = _parallel_failure(lambda m, c, r: _record(m, c, r, order=[2, 1, 0]))
    assert "the tool messages answer ['call_3', 'call_2', 'call_1'], in another order than the calls" in message


def test_a_tool_message_without_tool_call_id_or_with_an_unknown_one_is_named_by_its_index():
    def without_id(messages, calls, results):
        history = _record(messages, calls, results)
        del history[-1]["tool_call_id"]
        return history

    assert "on 'three calls, get_weather twice'[4], a tool message, has no tool_call_id" in _parallel_failure(without_id)
    counted_from_0 = _parallel_failure(lambda m, c, r: [*_record(m, c, r)[:2], *(
        dict(t, tool_call_id=f"call_{n}") for n, t in enumerate(_record(m, c, r)[2:]))])
    assert "[2] has tool_call_id 'call_0', which no call has (the calls' ids are ['call_1', 'call_2', 'call_3'])" \
        in counted_from_0


def test_changing_the_calls_or_results_given_fails_too():
    def pops(messages, calls, results):
        history = _record(messages, calls, list(results))
        results.pop()
        return history

    assert "changed the results it was given" in _parallel_failure(pops)


def test_ids_other_than_call_n_and_a_missing_type_fail_on_the_exact_messages():
    renamed = _parallel_failure(lambda m, c, r: _record(m, c, r, ids=["a", "b", "c"]))
    assert "[1:][0]['tool_calls'][0]['id'] is 'a', expected 'call_1'" in renamed

    def untyped(messages, calls, results):
        history = _record(messages, calls, results)
        for tool_call in history[1]["tool_calls"]:
            del tool_call["type"]
        return history

    assert "['tool_calls'][0] has keys ['function', 'id'], expected ['function', 'id', 'type']" in _parallel_failure(untyped)


def test_a_history_a_template_cannot_render_fails_naming_the_template_and_its_error():
    def results_as_blocks(messages, calls, results):
        return _record(messages, calls, [[{"type": "text", "text": r}] for r in results])

    assert ("on 'three calls, get_weather twice': Hermes (get_template('hermes_tool_use')) cannot render the history: "
            "template line") in _parallel_failure(results_as_blocks)
