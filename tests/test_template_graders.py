"""The template graders of lessons 03 and 04 are strict and fair.

Strict: a template one newline away from the reference fails, and the message names the
conversation, the options and the position of that newline. Fair: a correct template written
in another style (`{%-` everywhere, or one relying on trim_blocks; other variable names; `~`
instead of `+`; dot access) passes, because graders compare renderings, never template text.

The generic proofs (each solution passes, each stub is "not attempted yet", each known-wrong answer
fails) run over the solutions notebooks in tests/test_exercise_proofs.py; this file proves the
properties above on answers written here.
"""
from __future__ import annotations

import dataclasses
import re

import pytest

from course_utils.checks import CheckFailed, check, lesson03, lesson04, registry
from course_utils.conversations import GROUPS, conversation, conversations
from course_utils.templates import TEMPLATES, render_template

CHATML = TEMPLATES["chatml"].template
LLAMA2 = TEMPLATES["llama2"].template


def failure(exercise_id: str, *answer) -> str:
    with pytest.raises(CheckFailed) as caught:
        check(exercise_id, *answer)
    message = str(caught.value)
    assert "\n" not in message, "a check fails with one line"
    return message


# --- the corpus ------------------------------------------------------------------------------

def test_corpus_covers_what_templates_get_wrong():
    everything = [m for _, m in conversations()]
    assert any(m[0]["role"] == "system" for m in everything)
    assert any(m[0]["role"] != "system" for m in everything)
    assert any(sum(x["role"] == "user" for x in m) >= 3 for m in everything), "multi-turn"
    assert any(m[-1]["role"] == "assistant" for m in everything) and any(m[-1]["role"] == "user" for m in everything)
    contents = [x["content"] for m in everything for x in m]
    assert "" in contents, "empty content"
    assert any(not c.isascii() for c in contents), "unicode"
    assert any(c != c.strip() for c in contents), "surrounding whitespace"
    assert any("{{" in c for c in contents), "content that looks like Jinja"
    assert conversation("empty system message")[0] == {"role": "system", "content": ""}


def test_corpus_hands_out_copies():
    first = conversation("unicode")
    first.append({"role": "user", "content": "mutated"})
    assert conversation("unicode") != first
    for _, messages in conversations("alternating"):
        messages.clear()
    assert all(messages for _, messages in conversations("alternating"))


def test_non_alternating_conversations_really_do_not_alternate():
    for name, messages in GROUPS["non-alternating"].items():
        roles = [m["role"] for m in messages if m["role"] != "system" or m is not messages[0]]
        expected = ["user", "assistant"] * len(roles)
        assert roles != expected[: len(roles)], name


# --- 03.chatml -------------------------------------------------------------------------------

CHATML_RELYING_ON_TRIM_BLOCKS = """{% for message in messages %}
<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endfor %}
{% if add_generation_prompt %}
<|im_start|>assistant
{% endif %}"""

CHATML_DASHES_OTHER_NAMES = r"""
{%- for turn in messages -%}
    {{- '<|im_start|>' ~ turn['role'] ~ '\n' ~ turn['content'] ~ '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant\n' -}}
{%- endif -%}
"""

CHATML_WITH_MACRO = r"""
{%- macro turn(role, text) -%}
<|im_start|>{{ role }}
{{ text }}<|im_end|>
{% endmacro -%}
{%- for m in messages %}{{ turn(m.role, m.content) }}{% endfor -%}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif -%}
"""


@pytest.mark.parametrize("template", [CHATML, CHATML_RELYING_ON_TRIM_BLOCKS, CHATML_DASHES_OTHER_NAMES, CHATML_WITH_MACRO],
                         ids=["reference", "trim_blocks reliance", "dashes and other names", "macro"])
def test_chatml_written_in_any_style_passes(template, capsys):
    check("03.chatml", template)
    assert capsys.readouterr().out == "✅ 03.chatml passed\n"


def test_one_newline_too_many_after_im_end_is_rejected_with_its_position():
    one_more = CHATML.replace("'<|im_end|>' + '\\n'", "'<|im_end|>' + '\\n\\n'")
    assert one_more != CHATML
    message = failure("03.chatml", one_more)
    first = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
    assert f"first difference at character {len(first) + 1} (line 3, column 1)" in message
    assert "expected ⟨end of text⟩ but got '↵'" in message
    assert "conversation 'one user turn'" in message and "add_generation_prompt=False" in message


def test_one_newline_missing_after_the_role_is_rejected_with_its_position():
    one_less = CHATML.replace("message['role'] + '\\n'", "message['role']")
    message = failure("03.chatml", one_less)
    assert "first difference at character 17 (line 1, column 17)" in message
    assert "expected '↵What·is·the·capital" in message


def test_layout_newlines_reaching_the_output_are_rejected():
    indented = """{% for message in messages %}
    {{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}
{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"""
    message = failure("03.chatml", indented)
    assert "first difference at character 1 (line 1, column 1)" in message and "'····<|im_start|>" in message


def test_chatml_without_generation_prompt_is_rejected():
    no_prompt = CHATML.split("{% if add_generation_prompt %}")[0]
    message = failure("03.chatml", no_prompt)
    assert "add_generation_prompt=True" in message and "expected '<|im_start|>assistant↵' but got ⟨end of text⟩" in message


def test_chatml_that_names_only_three_roles_fails_on_the_tool_turn():
    three_roles = r"""{% for m in messages %}{% if m.role in ['system', 'user', 'assistant'] %}{{ '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"""
    assert "conversation 'a tool turn'" in failure("03.chatml", three_roles)


def test_a_template_still_none_is_reported_as_not_attempted(capsys):
    check("03.chatml", None)
    assert capsys.readouterr().out == (
        "❌ 03.chatml: not attempted yet: chatml_template is None; assign your template (a string) to it\n")


@pytest.mark.parametrize("answer, words", [
    (["not", "a", "string"], "chatml_template is a list"),
    ("   ", "empty string"),
    ("{% for m in messages %}", "syntax error"),
])
def test_chatml_answers_that_are_not_templates_fail_clearly(answer, words):
    assert words in failure("03.chatml", answer)


def test_a_template_that_never_finishes_fails_on_the_time_limit(monkeypatch):
    quick = dataclasses.replace(registry.get_exercise("03.chatml"), time_limit=0.5)
    monkeypatch.setitem(registry._REGISTRY, "03.chatml", quick)
    endless = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    assert "did not finish within 0.5 s" in failure("03.chatml", endless)


# --- 03.llama2 -------------------------------------------------------------------------------

LLAMA2_READABLE = r"""
{%- if messages[0].role == 'system' -%}
    {%- set system_prompt = messages[0].content -%}
    {%- set turns = messages[1:] -%}
{%- else -%}
    {%- set turns = messages -%}
{%- endif -%}
{%- for turn in turns -%}
    {%- if turn.role == 'user' -%}
        {%- set text = turn.content -%}
        {%- if loop.first and system_prompt is defined -%}
            {%- set text = '<<SYS>>\n' ~ system_prompt ~ '\n<</SYS>>\n\n' ~ text -%}
        {%- endif -%}
        {{- bos_token ~ '[INST] ' ~ text | trim ~ ' [/INST]' -}}
    {%- else -%}
        {{- ' ' ~ turn.content | trim ~ ' ' ~ eos_token -}}
    {%- endif -%}
{%- endfor -%}
"""


@pytest.mark.parametrize("template", [LLAMA2, LLAMA2_READABLE], ids=["reference", "readable rewrite"])
def test_llama2_written_in_any_style_passes(template, capsys):
    check("03.llama2", template)
    assert capsys.readouterr().out == "✅ 03.llama2 passed\n"


def test_llama2_with_one_newline_less_in_the_system_block_is_rejected():
    one_less = LLAMA2_READABLE.replace(r"'\n<</SYS>>\n\n'", r"'\n<</SYS>>\n'")
    assert one_less != LLAMA2_READABLE
    message = failure("03.llama2", one_less)
    prefix = "<s>[INST] <<SYS>>\nYou are a concise geography tutor.\n<</SYS>>\n"
    assert "conversation 'system and one user turn'" in message
    assert f"first difference at character {len(prefix) + 1} (line 4, column 1)" in message


def test_llama2_that_does_not_strip_content_fails_on_surrounding_whitespace():
    message = failure("03.llama2", LLAMA2_READABLE.replace(" | trim", ""))
    assert "conversation 'surrounding whitespace'" in message and "'↵··What·is" in message


def test_llama2_that_strips_the_first_user_message_apart_from_the_system_block_is_rejected():
    # Meta's template strips the system block and the first user message as one string: spaces
    # opening that message stay, after the block's two newlines.
    apart = LLAMA2.replace("+ message['content'] %}{% else %}", "+ (message['content'] | trim) %}{% else %}", 1)
    assert apart != LLAMA2
    message = failure("03.llama2", apart)
    assert "<conversation 'whitespace around the first user message after a system'>" in message
    assert "expected '··Hi·there!·[/INST]" in message


def test_llama2_without_bos_is_rejected_at_its_first_character():
    assert "first difference at character 1 " in failure("03.llama2", LLAMA2_READABLE.replace("bos_token ~ ", ""))


# --- 03.alternation --------------------------------------------------------------------------

STRICT_WITH_NAMESPACE = r"""
{%- set ns = namespace(expected='user') -%}
{%- for message in messages -%}
    {%- if not (loop.first and message.role == 'system') -%}
        {%- if message.role != ns.expected -%}
            {{- raise_exception('Expected a ' ~ ns.expected ~ ' message at index ' ~ loop.index0) -}}
        {%- endif -%}
        {%- set ns.expected = 'assistant' if ns.expected == 'user' else 'user' -%}
    {%- endif -%}
    {{- '<|im_start|>' ~ message.role ~ '\n' ~ message.content ~ '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
"""

STRICT_LIKE_LLAMA2 = r"""
{%- set offset = 1 if messages[0]['role'] == 'system' else 0 -%}
{%- for message in messages[offset:] -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
    {%- endif -%}
{%- endfor -%}
{%- for message in messages -%}
    {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
"""


@pytest.mark.parametrize("template", [STRICT_WITH_NAMESPACE, STRICT_LIKE_LLAMA2], ids=["namespace", "parity"])
def test_strict_templates_written_differently_pass(template, capsys):
    check("03.alternation", template)
    assert capsys.readouterr().out == "✅ 03.alternation passed\n"


def test_a_template_that_accepts_every_conversation_is_not_strict():
    message = failure("03.alternation", CHATML)
    assert "conversation 'two user turns in a row'" in message and "do not alternate" in message


def test_only_checking_for_repeated_roles_misses_an_assistant_speaking_first():
    repeats_only = STRICT_LIKE_LLAMA2.replace(
        "(message['role'] == 'user') != (loop.index0 % 2 == 0)",
        "not loop.first and message['role'] == messages[offset:][loop.index0 - 1]['role']")
    assert "conversation 'assistant speaks first'" in failure("03.alternation", repeats_only)


def test_failing_by_accident_is_not_raising_on_purpose():
    accident = STRICT_LIKE_LLAMA2.replace(
        "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...')", "undefined_name.x")
    assert "instead of your own raise_exception" in failure("03.alternation", accident)


def test_a_strict_template_that_also_refuses_valid_conversations_fails():
    refuses_system = STRICT_LIKE_LLAMA2.replace("{%- set offset = 1 if messages[0]['role'] == 'system' else 0 -%}",
                                                "{%- set offset = 0 -%}")
    message = failure("03.alternation", refuses_system)
    assert "conversation 'system and one user turn'" in message and "raised TemplateError" in message


def test_a_system_message_allowed_anywhere_is_refused_naming_it():
    # Leaving system messages out of the alternation test accepts every non-alternating case of
    # the corpus that a strict template must refuse, but lets a system message come anywhere.
    anywhere = STRICT_LIKE_LLAMA2.replace("messages[offset:]", "messages | rejectattr('role', 'equalto', 'system') | list")
    assert anywhere != STRICT_LIKE_LLAMA2
    message = failure("03.alternation", anywhere)
    assert "conversation 'a second system message'" in message
    assert "the system message at index 1 is not the first message" in message


def test_the_misplaced_system_conversations_alternate_once_their_system_messages_are_left_out():
    # So nothing but the misplaced system message makes a template refuse them.
    for _, messages in lesson03.MISPLACED_SYSTEM:
        roles = [m["role"] for m in messages if m["role"] != "system"]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"] * (len(roles) % 2)
        assert any(m["role"] == "system" for m in messages[1:])


# --- 03.portable -----------------------------------------------------------------------------

PORTABLE = r"""
{%- if messages[0]['role'] == 'system' -%}
    {%- set system = messages[0]['content'] | trim -%}
    {%- set turns = messages[1:] -%}
{%- else -%}
    {%- set system = 'You are a helpful AI assistant named SmolLM, trained by Hugging Face' -%}
    {%- set turns = messages -%}
{%- endif -%}
{{- '<|im_start|>system\n' ~ system ~ '<|im_end|>\n' -}}
{%- for message in turns -%}
    {{- '<|im_start|>' ~ message['role'] ~ '\n' ~ message['content'] | trim ~ '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant\n' -}}
{%- endif -%}
"""

PORTABLE_KEEPING_NONE = (lesson03.PYTHON_ONLY_TEMPLATE
                         .replace(".strip()", " | trim")
                         .replace("None", "none")
                         .replace(" == True", "")
                         .replace(r"'<|im_start|>system\n%s<|im_end|>\n' % system",
                                  r"'<|im_start|>system\n' ~ system ~ '<|im_end|>\n'")
                         .replace(r"'<|im_start|>%s\n%s<|im_end|>\n' % (message['role'], message['content'] | trim)",
                                  r"'<|im_start|>' ~ message['role'] ~ '\n' ~ (message['content'] | trim) ~ '<|im_end|>\n'"))


@pytest.mark.parametrize("template", [PORTABLE, PORTABLE_KEEPING_NONE], ids=["rewritten", "edited in place"])
def test_portable_rewrites_pass(template, capsys):
    assert "' %" not in template and ".strip()" not in template
    check("03.portable", template)
    assert capsys.readouterr().out == "✅ 03.portable passed\n"


def test_the_python_only_original_fails_in_minijinja():
    message = failure("03.portable", lesson03.PYTHON_ONLY_TEMPLATE)
    assert "not portable: minijinja fails" in message


def test_python_literals_that_minijinja_happens_to_accept_are_caught_by_lint():
    message = failure("03.portable", PORTABLE.replace("{%- if add_generation_prompt -%}",
                                                      "{%- if add_generation_prompt == True -%}"))
    assert "[python-literal]" in message and "`True`" in message


def test_a_system_message_is_trimmed_like_every_other():
    untrimmed = PORTABLE.replace("{%- set system = messages[0]['content'] | trim -%}",
                                 "{%- set system = messages[0]['content'] -%}")
    assert untrimmed != PORTABLE
    assert "conversation 'whitespace around the system message'" in failure("03.portable", untrimmed)


def test_an_empty_system_message_is_not_a_missing_one():
    falsy = PORTABLE_KEEPING_NONE.replace("{%- if system == none -%}", "{%- if not system -%}")
    assert falsy != PORTABLE_KEEPING_NONE
    message = failure("03.portable", falsy)
    assert "conversation 'empty system message'" in message


# --- lesson 04: functions of the tokenizer -----------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer():
    return lesson04.course_tokenizer()


def test_generation_prompt_passes_with_apply_chat_template_or_tokenizing_the_text(tokenizer, capsys):
    def direct(tokenizer, messages):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")

    def in_two_steps(tokenizer, messages):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return tokenizer(text, return_tensors="pt", add_special_tokens=False)

    check("04.generation_prompt", direct)
    check("04.generation_prompt", in_two_steps)
    assert capsys.readouterr().out == "✅ 04.generation_prompt passed\n" * 2


def test_generation_prompt_missing_is_rejected_at_the_end_of_the_prompt(tokenizer):
    def no_prompt(tokenizer, messages):
        return tokenizer.apply_chat_template(messages, return_tensors="pt")

    message = failure("04.generation_prompt", no_prompt)
    assert "expected '<|im_start|>assistant↵' but got ⟨end of text⟩" in message


def test_typed_control_tokens_give_the_same_text_but_are_rejected(tokenizer):
    def split(tokenizer, messages):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return tokenizer(text, return_tensors="pt", split_special_tokens=True)

    assert "has the right text but other tokens from token 0 on" in failure("04.generation_prompt", split)


def test_prefill_by_concatenating_text_is_accepted(tokenizer, capsys):
    def concatenated(tokenizer, messages, start):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + start
        return tokenizer(text, return_tensors="pt", add_special_tokens=False)

    check("04.prefill", concatenated)
    assert capsys.readouterr().out == "✅ 04.prefill passed\n"


def test_prefill_that_appends_to_the_callers_list_is_rejected(tokenizer):
    def appends(tokenizer, messages, start):
        messages.append({"role": "assistant", "content": start})
        return tokenizer.apply_chat_template(messages, continue_final_message=True, return_tensors="pt")

    assert "changed the messages it was given" in failure("04.prefill", appends)


def test_prefill_that_drops_the_trailing_space_is_rejected_at_that_space(tokenizer):
    def stripped(tokenizer, messages, start):
        return tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": start.strip()}],
                                             continue_final_message=True, return_tensors="pt")

    message = failure("04.prefill", stripped)
    assert "'Sure! '" in message and "expected '·' but got ⟨end of text⟩" in message


def _closed_turn_text(tokenizer, messages, start):
    return tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": start}], tokenize=False)


def test_prefill_that_cuts_the_end_marker_with_removesuffix_is_accepted(tokenizer, capsys):
    def removesuffix(tokenizer, messages, start):
        text = _closed_turn_text(tokenizer, messages, start).removesuffix("<|im_end|>\n")
        return tokenizer(text, return_tensors="pt", add_special_tokens=False)

    check("04.prefill", removesuffix)
    assert capsys.readouterr().out == "✅ 04.prefill passed\n"


def test_prefill_that_cuts_the_end_marker_with_rstrip_is_rejected_naming_rstrip(tokenizer):
    # rstrip takes a set of characters: it goes on into a start that ends in one of them.
    def rstripped(tokenizer, messages, start):
        text = _closed_turn_text(tokenizer, messages, start).rstrip("<|im_end|>\n")
        return tokenizer(text, return_tensors="pt", add_special_tokens=False)

    message = failure("04.prefill", rstripped)
    assert "'Once upon a time'" in message and "lost the end of start ('ime')" in message
    assert "rstrip removes any of the characters given, not that suffix" in message


@pytest.mark.parametrize("strip", [str.rstrip, lambda text: text.rstrip("\n")], ids=["rstrip()", "rstrip('\\n')"])
def test_prefill_that_strips_trailing_whitespace_from_start_is_rejected(tokenizer, strip):
    def stripped(tokenizer, messages, start):
        return tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": strip(start)}],
                                             continue_final_message=True, return_tensors="pt")

    assert "lost the trailing whitespace of start" in failure("04.prefill", stripped)


def test_prefill_that_slices_one_character_too_many_is_rejected(tokenizer):
    def sliced(tokenizer, messages, start):
        text = _closed_turn_text(tokenizer, messages, start)[:-len("<|im_end|>\n") - 1]
        return tokenizer(text, return_tensors="pt", add_special_tokens=False)

    assert "lost the last character of start ('s')" in failure("04.prefill", sliced)


def test_train_vs_infer_inference_prompt_is_a_prefix_of_the_training_text(tokenizer):
    for _, messages in lesson04._conversations_ending_with_assistant():
        training = tokenizer.apply_chat_template(messages, tokenize=False)
        inference = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
        assert training.startswith(inference)


def test_train_vs_infer_written_with_slicing_or_branches_passes(tokenizer, capsys):
    def branches(tokenizer, messages, for_training):
        if for_training:
            return tokenizer.apply_chat_template(messages, tokenize=False)
        history = [m for m in messages[:-1]]
        return tokenizer.apply_chat_template(history, tokenize=False, add_generation_prompt=True)

    def one_call(tokenizer, messages, for_training):
        return tokenizer.apply_chat_template(messages if for_training else messages[:-1], tokenize=False,
                                             add_generation_prompt=not for_training)

    check("04.train_vs_infer", branches)
    check("04.train_vs_infer", one_call)
    assert capsys.readouterr().out == "✅ 04.train_vs_infer passed\n" * 2


# --- 04.generation_mask ----------------------------------------------------------------------
# The training twin of Zephyr's template, a family lesson 04 does not show (the lesson marks
# ChatML). Graded on `lesson04.zephyr_tokenizer()`, where `</s>` and the headers are single tokens.

ZEPHYR = TEMPLATES["zephyr"].template

MASK_READABLE = r"""
{%- for message in messages %}
    {%- if message.role == 'user' %}
        {{- '<|user|>\n' + message.content + eos_token + '\n' }}
    {%- elif message.role == 'system' %}
        {{- '<|system|>\n' + message.content + eos_token + '\n' }}
    {%- elif message.role == 'assistant' %}
        {{- '<|assistant|>\n' }}
        {%- generation %}
            {{- message.content + eos_token }}
        {%- endgeneration %}
        {{- '\n' }}
    {%- endif %}
    {%- if loop.last and add_generation_prompt %}
        {{- '<|assistant|>\n' }}
    {%- endif %}
{%- endfor %}
"""
# `</s>` typed instead of eos_token, `~` instead of `+`, one branch for user and system, the
# generation prompt after the loop, `{%- generation -%}` trimming.
MASK_COMPACT = r"""
{%- for m in messages -%}
    {%- if m.role in ['user', 'system'] -%}
        {{ '<|' ~ m.role ~ '|>\n' ~ m.content ~ '</s>\n' }}
    {%- elif m.role == 'assistant' -%}
        {{ '<|assistant|>\n' }}{%- generation -%}{{ m.content ~ '</s>' }}{%- endgeneration -%}{{ '\n' }}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt and messages -%}{{ '<|assistant|>\n' }}{%- endif -%}
"""
GENERATION_BLOCK = """        {%- generation %}
            {{- message.content + eos_token }}
        {%- endgeneration %}
        {{- '\\n' }}
"""
HEADER = "        {{- '<|assistant|>\\n' }}\n"
FIRST_REPLY = "The·capital·of·Japan·is·Tokyo."


def _mask_variant(replacement: str, old: str = GENERATION_BLOCK) -> str:
    assert old in MASK_READABLE
    return MASK_READABLE.replace(old, replacement)


@pytest.mark.parametrize("template", [lesson04.ZEPHYR_TRAINING_TEMPLATE, MASK_READABLE, MASK_COMPACT],
                         ids=["hub layout", "readable", "compact"])
def test_generation_mask_written_in_any_style_passes(template, capsys):
    check("04.generation_mask", template)
    assert capsys.readouterr().out == "✅ 04.generation_mask passed\n"


def test_generation_mask_without_the_end_token_is_rejected_naming_the_spans():
    no_end = _mask_variant(GENERATION_BLOCK.replace("message.content + eos_token }}", "message.content }}")
                           .replace("{{- '\\n' }}", "{{- eos_token + '\\n' }}"))
    message = failure("04.generation_mask", no_end)
    assert "<conversation 'system, user and assistant'>" in message
    assert f"the mask trains on ['{FIRST_REPLY}'], expected exactly ['{FIRST_REPLY}</s>']" in message


def test_generation_mask_with_the_header_inside_is_rejected():
    header_inside = _mask_variant(GENERATION_BLOCK.replace("{{- message.content", "{{- '<|assistant|>\\n' + message.content"),
                                  old=HEADER + GENERATION_BLOCK)
    assert f"the mask trains on ['<|assistant|>↵{FIRST_REPLY}</s>'], expected exactly" in \
        failure("04.generation_mask", header_inside)


def test_generation_mask_that_also_trains_on_the_newline_is_rejected():
    with_newline = _mask_variant(GENERATION_BLOCK.replace("eos_token }}", "eos_token + '\\n' }}")
                                 .replace("        {{- '\\n' }}\n", ""))
    assert f"the mask trains on ['{FIRST_REPLY}</s>↵'], expected exactly ['{FIRST_REPLY}</s>']" in \
        failure("04.generation_mask", with_newline)


def test_a_newline_typed_after_endgeneration_is_lost_to_trim_blocks_and_named():
    # Zephyr's own layout, its assistant line split around the block: the `}}↵` that wrote the
    # newline after </s> becomes `{% endgeneration %}↵`, and trim_blocks eats that newline.
    old = "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    assert old in ZEPHYR
    lost = ZEPHYR.replace(old, "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + eos_token }}"
                               "{% endgeneration %}\n")
    message = failure("04.generation_mask", lost)
    assert "trim_blocks removes the newline written right after {% endgeneration %}" in message
    assert "render_template(zephyr_training, <conversation 'system, user and assistant'>" in message
    assert "expected '↵' but got ⟨end of text⟩" in message


def test_the_trim_blocks_hint_is_not_given_for_other_rendering_mistakes():
    # A newline after `{%- endgeneration %}` that a following `{{-` trims is fine; the failure
    # here is the missing newline after the user turn, and no hint about trim_blocks is given.
    wrong = MASK_READABLE.replace("eos_token + '\\n' }}\n    {%- elif message.role == 'system'",
                                  "eos_token }}\n    {%- elif message.role == 'system'")
    assert wrong != MASK_READABLE
    message = failure("04.generation_mask", wrong)
    assert "<conversation 'one user turn'>" in message and "expected '↵' but got ⟨end of text⟩" in message
    assert "trim_blocks" not in message


def test_generation_mask_must_not_trim_the_system_message():
    trimmed = MASK_READABLE.replace("'<|system|>\\n' + message.content", "'<|system|>\\n' + message.content | trim")
    assert trimmed != MASK_READABLE
    assert "conversation 'whitespace around the system message'" in failure("04.generation_mask", trimmed)


def test_generation_mask_must_still_render_like_zephyr():
    # Writing every role as `<|role|>` also renders the tool turn, which Zephyr's template drops.
    every_role = _mask_variant("{{- '<|' + message.role + '|>\\n' + message.content + eos_token + '\\n' }}\n",
                               old="{%- elif message.role == 'system' %}\n        {{- '<|system|>\\n' + "
                                   "message.content + eos_token + '\\n' }}\n    {%- elif message.role == 'assistant' %}\n")
    assert "{%- else %}" not in every_role  # the replacement left the assistant branch as the else case
    message = failure("04.generation_mask", every_role)
    assert "render_template(zephyr_training, <conversation" in message


def test_the_lessons_templates_are_not_zephyrs():
    from course_utils.sft import training_template

    message = failure("04.generation_mask", training_template())
    assert "render_template(zephyr_training, <conversation 'one user turn'>, add_generation_prompt=False)" in message
    assert "expected '<|user|>↵What·is·the·cap…' but got '<|im_start|>system↵" in message


def test_zephyrs_own_template_has_no_mask():
    assert "zephyr_training has no {% generation %} block" in failure("04.generation_mask", ZEPHYR)


def test_the_zephyr_reference_renders_like_zephyr_and_masks_exactly_the_replies():
    zephyr = lesson04.zephyr_tokenizer()
    assert zephyr.eos_token == "</s>" and zephyr.chat_template == ZEPHYR
    for token in lesson04.ZEPHYR_TOKENS:
        assert len(zephyr.encode(token, add_special_tokens=False)) == 1, token
    for _, messages in conversations(*lesson04.ZEPHYR_GROUPS):
        for flag in (False, True):
            expected = zephyr.apply_chat_template(messages, tokenize=False, add_generation_prompt=flag)
            assert render_template(lesson04.ZEPHYR_TRAINING_TEMPLATE, messages, add_generation_prompt=flag,
                                   **TEMPLATES["zephyr"].special_tokens) == expected
        out = zephyr.apply_chat_template(messages, chat_template=lesson04.ZEPHYR_TRAINING_TEMPLATE,
                                         return_assistant_tokens_mask=True, return_dict=True)
        trained = [i for i, flag in zip(out["input_ids"], out["assistant_masks"]) if flag]
        replies = [m for m in messages if m["role"] == "assistant"]
        assert zephyr.decode(trained) == "".join(m["content"] + "</s>" for m in replies)


# --- 03.debug --------------------------------------------------------------------------------

BUGGY = lesson03.BUGGY_TEMPLATE
FIXED_DEFAULT = BUGGY.replace("{%- if messages[0]['role'] != 'system' %}",
                              "{%- if loop.first and messages[0]['role'] != 'system' %}")
FIXED_BOTH = FIXED_DEFAULT.replace("<|im_start|>assistant\n{%- endif %}", "    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}")
# The smallest fix of the generation prompt: drop the `-` that strips its newline.
FIXED_BY_DROPPING_THE_DASH = FIXED_DEFAULT.replace("<|im_start|>assistant\n{%- endif %}",
                                                   "<|im_start|>assistant\n{% endif %}")
# The default system turn written once, before the loop.
FIXED_DEFAULT_BEFORE_THE_LOOP = r"""
{%- if messages[0]['role'] != 'system' %}
    {{- '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {{- '<|im_start|>' ~ message.role ~ '\n' ~ message.content ~ '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
"""


def test_the_buggy_template_has_exactly_the_two_bugs_the_exercise_describes():
    assert FIXED_DEFAULT != BUGGY and FIXED_BOTH != FIXED_DEFAULT and FIXED_BY_DROPPING_THE_DASH != FIXED_DEFAULT
    smollm2 = TEMPLATES["smollm2"].template
    for name, messages in conversations(*lesson03.DEBUG_GROUPS):
        has_system = messages[0]["role"] == "system"
        for flag in (False, True):
            same = render_template(BUGGY, messages, add_generation_prompt=flag) == \
                render_template(smollm2, messages, add_generation_prompt=flag)
            # Right exactly where neither bug shows: no generation prompt, and a system message or one message.
            assert same == (not flag and (has_system or len(messages) == 1)), (name, flag)


@pytest.mark.parametrize("template", [FIXED_BOTH, FIXED_BY_DROPPING_THE_DASH, FIXED_DEFAULT_BEFORE_THE_LOOP,
                                      TEMPLATES["smollm2"].template],
                         ids=["both lines fixed", "dash dropped", "default before the loop", "the real one-liner"])
def test_debug_fixes_written_in_any_style_pass(template, capsys):
    check("03.debug", template)
    assert capsys.readouterr().out == "✅ 03.debug passed\n"


def test_debug_unfixed_template_fails_with_the_visible_missing_newline():
    message = failure("03.debug", BUGGY)
    assert "<conversation 'one user turn'>, add_generation_prompt=True)" in message
    assert "expected '↵' but got ⟨end of text⟩" in message


def test_debug_half_fix_fails_on_the_repeated_default_system_turn():
    half = BUGGY.replace("<|im_start|>assistant\n{%- endif %}", "<|im_start|>assistant\n{% endif %}")
    message = failure("03.debug", half)
    assert "<conversation 'three turns without system'>" in message
    assert "got 'system↵You·are·a·helpful…'" in message


def test_debug_fix_that_drops_the_role_test_breaks_conversations_with_a_system_message():
    over = FIXED_BOTH.replace("loop.first and messages[0]['role'] != 'system'", "loop.first")
    assert "<conversation 'system and one user turn'>" in failure("03.debug", over)


def test_debug_fix_that_drops_the_default_system_turn_breaks_conversations_without_one():
    over = re.sub(r"\{%- if loop.first.*?\{%- endif %\}", "", FIXED_BOTH, flags=re.S)
    message = failure("03.debug", over)
    assert "<conversation 'one user turn'>, add_generation_prompt=False)" in message
    assert "expected 'system↵You·are·a·helpful" in message
