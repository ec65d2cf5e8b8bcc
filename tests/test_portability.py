"""course_utils.portability: lint names what other engines break on; cross_check proves it by running minijinja."""
from __future__ import annotations

import pytest

from course_utils.portability import CrossCheck, cross_check, lint, render_minijinja
from course_utils.templates import TEMPLATES, MessageError, TemplateError, fixed_clock, render_template

CHAT = [{"role": "user", "content": "  Hello <b>there</b>  "}, {"role": "assistant", "content": "Hi!"}]


def rules(template: str) -> list[str]:
    return [finding.rule for finding in lint(template)]


# --- lint ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_reference_templates_are_lint_clean_and_portable(name):
    reference = TEMPLATES[name]
    assert lint(reference.template) == []
    tool_call = {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]}
    messages = CHAT + [{"role": "user", "content": "Again"}]
    if name == "hermes_tool_use":
        messages = CHAT + [{"role": "user", "content": "Call f"}, tool_call, {"role": "tool", "content": "2"}]
    check = cross_check(reference.template, messages, add_generation_prompt=True, **reference.special_tokens)
    assert check.same_output, str(check)


@pytest.mark.parametrize("method, fix", [("strip", "| trim"), ("upper", "| upper"), ("items", "| items"),
                                         ("startswith", "x[:n] == 'prefix'"), ("split", "no portable equivalent")])
def test_python_methods_are_flagged_with_the_filter_to_use(method, fix):
    [finding] = lint("{{ 'x' }}\n{{ messages[0].content.%s() }}" % method)
    assert (finding.line, finding.rule) == (2, "python-method")
    assert fix in finding.fix and f"`.{method}()`" in finding.message


def test_the_suggested_filter_renders_what_the_method_rendered():
    with_method = render_template("{{ messages[0].content.strip() }}", CHAT)
    with_filter = render_template("{{ messages[0].content | trim }}", CHAT)
    assert with_method == with_filter == "Hello <b>there</b>"
    assert cross_check("{{ messages[0].content | trim }}", CHAT).same_output


def test_python_literals_are_flagged_lowercase_ones_are_not():
    template = "{% if True %}{{ None }}{% endif %}{% set x = false %}"
    findings = lint(template)
    assert [f.rule for f in findings] == ["python-literal", "python-literal"]
    assert "write `true`" in findings[0].fix and "write `none`" in findings[1].fix


@pytest.mark.parametrize("variable", ["tools", "documents", "add_generation_prompt"])
def test_is_defined_on_always_defined_variables_is_flagged(variable):
    [finding] = lint("{%% if %s is defined %%}x{%% endif %%}" % variable)
    assert finding.rule == "always-defined" and f"{{% if {variable} %}}" in finding.fix
    assert lint("{% if system_message is defined %}x{% endif %}") == []


def test_mutation_is_flagged():
    [finding] = lint("{% set xs = [] %}{% set _ = xs.append(1) %}")
    assert finding.rule == "mutation" and "xs + [item]" in finding.fix


def test_generation_block_safe_filter_and_percent_format_are_flagged():
    template = "{% generation %}\n{{ 'a' | safe }}\n{{ 'turn %d' % 1 }}\n{% endgeneration %}"
    assert rules(template) == ["generation-block", "safe-filter", "percent-format"]
    assert [f.line for f in lint(template)] == [1, 2, 3]


def test_lint_reports_a_syntax_error_as_a_finding():
    [finding] = lint("ok\n{% for m in messages %}")
    assert finding.rule == "syntax-error" and finding.line == 2


def test_lint_str_is_one_line_with_the_fix():
    [finding] = lint("{{ messages[0].content.lower() }}")
    assert str(finding) == ("line 1 [python-method]: `.lower()` is a Python method; engines without Python methods "
                            "(minijinja, minja) fail. Fix: use `| lower`")


# --- cross_check ------------------------------------------------------------------------------

def test_python_method_breaks_minijinja_with_the_line_named():
    check = cross_check("{{ 'x' }}\n{{ messages[0].content.strip() }}", CHAT)
    assert not check.portable and check.jinja2 == "x\nHello <b>there</b>" and check.minijinja is None
    assert check.minijinja_error == "template line 2: minijinja: unknown method: string has no method named strip"
    assert str(check).startswith("not portable: minijinja fails: template line 2")


def test_pycompat_mode_rescues_python_methods():
    assert cross_check("{{ messages[0].content.strip() }}", CHAT, pycompat=True).same_output


def test_generation_block_is_a_minijinja_syntax_error():
    check = cross_check("{% generation %}{{ messages[1].content }}{% endgeneration %}", CHAT)
    assert check.jinja2 == "Hi!" and "unknown statement generation" in check.minijinja_error


def test_tojson_behaves_as_in_transformers_in_both_engines():
    check = cross_check("{{ messages | tojson }}|{{ {'é': 1, 'a': [true]} | tojson(indent=1) }}", CHAT)
    assert check.same_output, str(check)
    assert '"content": "  Hello <b>there</b>  "' in check.jinja2  # no HTML escaping, key order kept


def test_float_printing_difference_is_located():
    check = cross_check("{{ 1e100 }}", CHAT)
    assert not check.portable
    assert check.difference.startswith("first difference at char 1 (line 1, column 2)")
    assert "(expected = jinja2, got = minijinja)" in str(check)


def test_raise_exception_in_both_engines_counts_as_portable():
    check = cross_check("{% if messages[0].role != 'system' %}{{ raise_exception('need a system turn') }}{% endif %}", CHAT)
    assert check.portable and not check.same_output
    assert "need a system turn" in check.jinja2_error and "need a system turn" in check.minijinja_error


def test_strftime_now_is_pinned_in_both_engines():
    with fixed_clock("2024-07-26"):
        check = cross_check("{{ strftime_now('%d %B %Y') }}", CHAT)
    assert check.same_output and check.jinja2 == "26 July 2024"


def test_both_engines_see_tools_and_documents_as_none():
    check = cross_check("{{ tools is none }}/{{ documents is none }}/{{ add_generation_prompt }}", CHAT)
    assert check.jinja2 == "True/True/False"
    assert check.minijinja is not None and check.minijinja.lower() == "true/true/false"


def test_minijinja_sees_plain_data_not_python_objects():
    # A Python dict handed to minijinja-py would expose .items(); a literal map does not.
    with pytest.raises(TemplateError, match="map has no method named items"):
        render_minijinja("{{ messages[0].items() }}", CHAT)


def test_jinja2_syntax_error_is_reported_and_minijinja_not_run():
    check = cross_check("{% if %}", CHAT)
    assert check.jinja2 is None and check.minijinja is None and check.minijinja_error is None
    assert "syntax error" in check.jinja2_error and "minijinja not run" in check.jinja2_error
    assert str(check).startswith("not portable: jinja2 (transformers) fails: template line 1: syntax error")


def test_malformed_messages_raise_before_either_engine():
    with pytest.raises(MessageError, match="message 0, key 'role'"):
        cross_check("{{ messages }}", [{"content": "x"}])


def test_continue_final_message_is_refused_with_the_reason():
    with pytest.raises(TypeError, match="post-processing"):
        cross_check("{{ messages }}", CHAT, continue_final_message=True)


def test_html_view_escapes_and_names_the_engines():
    page = cross_check("{{ messages[0].content }}{{ 1e100 }}", CHAT)._repr_html_()
    assert "<b>there" not in page and "&lt;b&gt;there" in page
    assert "jinja2 (transformers):" in page and "minijinja:" in page
    assert isinstance(cross_check("x", CHAT), CrossCheck)


@pytest.mark.parametrize("module", ["course_utils.portability.linter", "course_utils.portability.comparison"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted >= 1 and result.failed == 0
