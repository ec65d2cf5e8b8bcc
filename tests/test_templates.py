"""course_utils.templates: the reference catalog renders known outputs; render_template has transformers' semantics."""
from __future__ import annotations

import datetime
import json
import re

import pytest

from course_utils.display import first_difference
from course_utils.templates import (
    TEMPLATES, MessageError, TemplateError, TemplateSecurityError, fixed_clock, get_template, render_template,
)
from support.compat_corpus import default_root

CORPUS = default_root()
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"compat corpus not found at {CORPUS}")

# The conversation of transformers' chat-templating guide.
GUIDE = [
    {"role": "user", "content": "Hello, how are you?"},
    {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
    {"role": "user", "content": "I'd like to show off how chat templating works!"},
]
USER = [{"role": "user", "content": "Hi"}]


def _hfjs(group: str, name: str) -> dict:
    return json.loads((CORPUS / "hfjs_e2e_fixtures.json").read_text())[group][name]


def _llamacpp(stem: str, context: str) -> tuple[str, dict, str]:
    base = CORPUS / "llamacpp_goldens_2024"
    return ((base / "templates" / f"{stem}.jinja").read_text(),
            json.loads((base / "contexts" / f"{context}.json").read_text()),
            (base / "goldens" / f"{stem}-{context}.txt").read_text())


def _render_case(name: str, data: dict) -> str:
    data = dict(data)
    return render_template(get_template(name), data.pop("messages"), **data)


# --- the catalog -----------------------------------------------------------------------------

def test_catalog_has_every_format_with_a_source():
    assert set(TEMPLATES) == {"chatml", "smollm2", "llama2", "zephyr", "mistral", "blenderbot", "hermes_tool_use"}
    for name, reference in TEMPLATES.items():
        assert reference.name == name and len(reference.source) > 30 and reference.template
        assert get_template(name) == reference.template


def test_unknown_template_name_lists_the_choices():
    with pytest.raises(KeyError, match="choose one of .*'chatml'"):
        get_template("chatml2")


def test_llama2_renders_the_transformers_guide_example():
    rendered = render_template(get_template("llama2"), GUIDE, **TEMPLATES["llama2"].special_tokens)
    expected = ("<s>[INST] Hello, how are you? [/INST] I'm doing great. How can I help you today? </s>"
                "<s>[INST] I'd like to show off how chat templating works! [/INST]")
    assert rendered == expected, first_difference(expected, rendered)


def test_llama2_refuses_non_alternating_roles():
    with pytest.raises(TemplateError, match=r"^Conversation roles must alternate"):
        render_template(get_template("llama2"), USER + USER, bos_token="<s>", eos_token="</s>")


@needs_corpus
@pytest.mark.parametrize("name, group, case", [
    ("chatml", "default_templates", "_base"),
    ("blenderbot", "default_templates", "blenderbot"),
    ("llama2", "default_templates", "llama"),  # the system prompt folded into the first [INST]
    ("zephyr", "custom_templates", "HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=false)"),
    ("zephyr", "custom_templates", "HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=true)"),
])
def test_reference_template_matches_huggingface_js_fixture(name, group, case):
    fixture = _hfjs(group, case)
    data = {k: v for k, v in fixture["data"].items() if k != "USE_DEFAULT_PROMPT"}
    rendered = _render_case(name, data)
    assert rendered == fixture["target"], first_difference(fixture["target"], rendered)


@needs_corpus
def test_zephyr_and_mistral_are_the_hub_templates_byte_for_byte():
    assert get_template("zephyr") == _hfjs("custom_templates", "HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=true)")["chat_template"]
    assert get_template("mistral") == _llamacpp("mistralai-Mistral-7B-Instruct-v0.2", "simple")[0]


@needs_corpus
@pytest.mark.parametrize("context", ["simple", "system"])
def test_mistral_matches_llama_cpp_goldens(context):
    _, data, golden = _llamacpp("mistralai-Mistral-7B-Instruct-v0.2", context)
    rendered = _render_case("mistral", data)
    assert rendered == golden, first_difference(golden, rendered)


@needs_corpus
def test_smollm2_is_the_exact_instruct_template_and_matches_its_fixtures():
    assert get_template("smollm2") == (CORPUS / "smollm2" / "SmolLM2-Instruct.chat_template.jinja").read_text()
    cases = json.loads((CORPUS / "smollm2" / "smollm2_1.7b_instruct_fixtures.json").read_text())["cases"]
    assert len(cases) == 4
    for case in cases.values():
        rendered = render_template(get_template("smollm2"), case["messages"],
                                   add_generation_prompt=case["add_generation_prompt"])
        assert rendered == case["expected"], first_difference(case["expected"], rendered)


WEATHER_CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}


def test_hermes_tool_use_renders_calls_and_results_in_the_documented_format():
    messages = [{"role": "user", "content": "Weather in Paris?"}, WEATHER_CALL,
                {"role": "tool", "content": '{"temp_c": 21}'}]
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    rendered = render_template(get_template("hermes_tool_use"), messages, tools=[tool], add_generation_prompt=True)
    assert ('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
            '</tool_call><|im_end|>\n') in rendered
    assert '<|im_start|>tool\n<tool_response>\n{"temp_c": 21}\n</tool_response><|im_end|>\n' in rendered
    assert '<tools>\n{"name": "get_weather", "parameters": {"type": "object"}}\n</tools>' in rendered
    assert rendered.endswith("<|im_start|>assistant\n")


@needs_corpus
def test_hermes_tool_use_calls_and_responses_are_hermes_2_pros_own():
    """On llama.cpp's tool-use conversation, every call and response block is in Hermes-2-Pro's golden."""
    _, data, golden = _llamacpp("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", "tool_use")
    rendered = render_template(get_template("hermes_tool_use"), data["messages"], tools=data["tools"])
    calls = re.findall(r"<\|im_start\|>assistant\n(<tool_call>\n.*?\n</tool_call>)", rendered)
    responses = re.findall(r"<tool_response>\n.*?\n</tool_response>", rendered)
    assert len(calls) == 3 and len(responses) == 3
    for block in calls + responses:
        assert block in golden, block


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("messages, where, fix", [
    ("Hi", "messages: has type str, not list", "pass a list of dicts"),
    ({"role": "user", "content": "Hi"}, "messages: is a single dict", "wrap it in a list"),
    ([], "messages: is empty", "add at least one message"),
    ([{"role": "user", "content": "a"}, "b"], "message 1: has type str ('b'), not dict", "{'role': 'user'"),
    ([{"content": "a"}], "message 0, key 'role': has no 'role'", "add 'role'"),
    ([{"role": 1, "content": "a"}], "message 0, key 'role': role has type int", "use a string"),
    ([USER[0], {"role": "assistant"}], "message 1, key 'content': has no 'content' (role 'assistant')",
     "only an assistant message with 'tool_calls'"),
    ([{"role": "user", "content": None}], "message 0, key 'content': has content None", "add 'content'"),
    ([{"role": "user", "content": 42}], "message 0, key 'content': content has type int (42)", "'content': '42'"),
    ([{"role": "user", "content": ["hi"]}], "message 0, key 'content': content block 0", "{'type': 'text'"),
    ([{"role": "assistant", "content": "", "tool_calls": {"name": "f"}}],
     "message 0, key 'tool_calls': tool_calls has type dict", "'tool_calls': [{"),
])
def test_malformed_conversations_get_one_error_naming_index_key_and_fix(messages, where, fix):
    with pytest.raises(MessageError) as info:
        render_template(get_template("chatml"), messages)
    message = str(info.value)
    assert message.startswith(where) and "Fix: " in message and fix in message.split("Fix: ", 1)[1]
    assert "\n" not in message


def test_tool_call_message_may_leave_content_out_and_none_values_are_dropped():
    template = "{% for m in messages %}{{ m.role }}:{{ m.content is defined }}|{% endfor %}"
    assert render_template(template, USER + [WEATHER_CALL]) == "user:True|assistant:False|"


def test_content_blocks_are_accepted():
    template = "{{ messages[0].content[0].text }}"
    assert render_template(template, [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]) == "Hi"


# --- template errors ---------------------------------------------------------------------------

def test_raise_exception_surfaces_as_its_message():
    template = "{% if messages[0].role != 'system' %}{{ raise_exception('System message first, please') }}{% endif %}"
    with pytest.raises(TemplateError, match=r"^System message first, please \(raise_exception at template line 1\)$"):
        render_template(template, USER)


def test_syntax_error_names_the_line_and_shows_it():
    template = "{% for m in messages %}\n{{ m.content }}\n{% endfor %\n"
    with pytest.raises(TemplateError) as info:
        render_template(template, USER)
    assert info.value.line == 3
    assert str(info.value).startswith("template line 3: syntax error:")
    assert "'{% endfor %'" in str(info.value)


def test_runtime_error_names_the_line():
    with pytest.raises(TemplateError, match=r"template line 2: TypeError: can only concatenate str"):
        render_template("{% for m in messages %}\n{{ m.content + 1 }}{% endfor %}", USER)


def test_undefined_variable_says_to_pass_it():
    with pytest.raises(TemplateError, match=r"'bos_token' is undefined\. Pass it as a keyword argument.*bos_token="):
        render_template("{{ bos_token + messages[0].content }}", USER)
    assert render_template("{{ bos_token + messages[0].content }}", USER, bos_token="<s>") == "<s>Hi"


def test_template_must_be_a_string():
    with pytest.raises(TemplateError, match="must be a string of Jinja source, got NoneType"):
        render_template(None, USER)


# --- transformers' semantics -------------------------------------------------------------------

def test_tools_and_documents_are_always_defined():
    template = "{{ tools is defined }} {{ tools is none }} {{ documents is defined }} {{ add_generation_prompt }}"
    assert render_template(template, USER) == "True True True False"


def test_tojson_does_not_escape_html_and_keeps_unicode():
    assert render_template("{{ {'a': '<b>&é'} | tojson }}", USER) == '{"a": "<b>&é"}'
    assert render_template("{{ [1] | tojson(indent=2) }}", USER) == "[\n  1\n]"


def test_trim_blocks_and_lstrip_blocks_are_on():
    template = "{% for m in messages %}\n    {% if true %}\n{{ m.content }}\n    {% endif %}\n{% endfor %}"
    assert render_template(template, USER) == "Hi\n"


def test_loop_controls_and_generation_blocks_work():
    template = "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% break %}{% endfor %}"
    assert render_template(template, USER + USER) == "Hi"


def test_mutating_the_messages_is_refused_by_the_sandbox():
    with pytest.raises(TemplateSecurityError, match="refused by the sandbox: access to attribute 'append'"):
        render_template("{% set _ = messages.append(1) %}", USER)


def test_continue_final_message_stops_inside_the_last_message():
    messages = USER + [{"role": "assistant", "content": "The capital is"}]
    rendered = render_template(get_template("chatml"), messages, continue_final_message=True)
    assert rendered.endswith("<|im_start|>assistant\nThe capital is")


def test_continue_final_message_needs_the_field_it_continues():
    messages = USER + [{"role": "assistant", "content": "Paris", "reasoning_content": "The user asks"}]
    template = "{{ messages[-1].reasoning_content }}|{{ messages[-1].content }}"
    assert render_template(template, messages, continue_final_message="reasoning_content") == "The user asks"
    # transformers fills `thinking` from `reasoning_content`, so a named field is its call
    assert render_template("{{ messages[-1].thinking }}", messages, continue_final_message="thinking") == "The user asks"
    with pytest.raises(TemplateError, match='final message has no "draft" to continue'):
        render_template(template, messages, continue_final_message="draft")
    with pytest.raises(MessageError, match="message 1, key 'content': .*no content"):
        render_template(template, USER + [WEATHER_CALL], continue_final_message=True)


def test_continue_final_message_and_generation_prompt_are_exclusive():
    with pytest.raises(MessageError, match="key 'continue_final_message': .*both set"):
        render_template(get_template("chatml"), USER, continue_final_message=True, add_generation_prompt=True)


def test_fixed_clock_pins_strftime_now_and_restores_the_clock():
    with fixed_clock("2024-07-26") as when:
        assert render_template("{{ strftime_now('%d %B %Y') }}", USER) == "26 July 2024"
    assert when == datetime.datetime(2024, 7, 26)
    assert render_template("{{ strftime_now('%Y-%m-%d') }}", USER) != "2024-07-26"


def test_docstring_examples_run():
    import doctest

    from course_utils.templates import messages, render

    for module in (messages, render):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
