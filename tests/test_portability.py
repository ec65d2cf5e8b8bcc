"""course_utils.portability: lint names what other engines break on; cross_check proves it by running minijinja.

minijinja runs in two modes: strict (``pycompat=False``: no Python methods, as minijinja's Rust
crate ships) and pycompat (the Python binding's default). The tests named after a construct pin
down, with the installed minijinja, what each engine does with it.
"""
from __future__ import annotations

import pytest

import minijinja

from course_utils.portability import CrossCheck, cross_check, lint, render_minijinja
from course_utils.portability.linter import JINJA2, PYCOMPAT, PYTHON_METHODS, STRICT
from course_utils.templates import (TEMPLATES, MessageError, TemplateError, TemplateSecurityError, fixed_clock,
                                    render_template)

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


@pytest.mark.parametrize("template", ["{% if messages", "{% for m in messages %}{% endif %}", "{{ a ) }}"])
def test_a_syntax_error_finding_reads_as_sentences_before_the_fix(template):
    # jinja2's messages end with a full stop, or do not; the finding adds exactly one.
    [finding] = lint(template)
    assert ".." not in str(finding) and ". Fix: fix the syntax first" in str(finding)


def test_lint_str_is_one_line_naming_the_engines_it_breaks_and_the_fix():
    [finding] = lint("{{ messages[0].content.lower() }}")
    assert str(finding) == ("line 1 [python-method] breaks minijinja strict: `.lower()` is a Python method: strict "
                            "minijinja has none (pycompat emulates it). Fix: use `| lower`")


# --- cross_check ------------------------------------------------------------------------------

def test_python_method_breaks_strict_minijinja_with_the_line_named():
    check = cross_check("{{ 'x' }}\n{{ messages[0].content.strip() }}", CHAT)
    assert not check.portable and check.jinja2 == "x\nHello <b>there</b>" and check.minijinja is None
    assert check.minijinja_error == "template line 2: minijinja: unknown method: string has no method named strip"
    assert str(check).startswith("not portable: minijinja fails in strict mode: template line 2")


def test_cross_check_reports_the_pycompat_mode_beside_the_strict_one():
    check = cross_check("{{ messages[0].content.strip() }}", CHAT)
    assert check.pycompat_portable and check.pycompat_same_output and check.minijinja_pycompat == "Hello <b>there</b>"
    assert str(check).endswith("; with pycompat it renders the same")


def test_a_portable_template_is_named_portable_in_both_modes():
    check = cross_check("{{ messages[0].content | trim }}", CHAT)
    assert check.portable and check.pycompat_portable
    assert str(check) == "portable: jinja2 and minijinja (strict and pycompat) render the same 18 characters"


def test_the_pycompat_keyword_is_refused_with_the_reason():
    with pytest.raises(TypeError, match="both with and without pycompat"):
        cross_check("{{ messages }}", CHAT, pycompat=True)


def test_render_minijinja_is_strict_unless_asked():
    with pytest.raises(TemplateError, match="string has no method named upper"):
        render_minijinja("{{ messages[0].content.upper() }}", CHAT)
    assert render_minijinja("{{ messages[0].content.upper() }}", CHAT, pycompat=True) == "  HELLO <B>THERE</B>  "


def test_tojson_behaves_as_in_transformers_in_both_engines():
    check = cross_check("{{ messages | tojson }}|{{ {'é': 1, 'a': [true]} | tojson(indent=1) }}", CHAT)
    assert check.same_output and check.pycompat_same_output, str(check)
    assert '"content": "  Hello <b>there</b>  "' in check.jinja2  # no HTML escaping, key order kept


def test_float_printing_difference_is_located():
    check = cross_check("{{ 1e100 }}", CHAT)
    assert not check.portable and not check.pycompat_portable
    assert check.difference.startswith("first difference at character 2 (line 1, column 2)")
    assert "(expected = jinja2, got = minijinja); with pycompat the same difference" in str(check)


def test_raise_exception_in_every_engine_counts_as_portable():
    check = cross_check("{% if messages[0].role != 'system' %}{{ raise_exception('need a system turn') }}{% endif %}", CHAT)
    assert check.portable and check.pycompat_portable and not check.same_output
    assert "need a system turn" in check.jinja2_error and "need a system turn" in check.minijinja_error
    assert str(check).startswith("portable: every engine refuses it (jinja2: need a system turn")
    assert "| minijinja strict and pycompat: template: minijinja: need a system turn)" in str(check)


def test_strftime_now_is_pinned_in_both_engines():
    with fixed_clock("2024-07-26"):
        check = cross_check("{{ strftime_now('%d %B %Y') }}", CHAT)
    assert check.same_output and check.pycompat_same_output and check.jinja2 == "26 July 2024"


def test_both_engines_see_tools_and_documents_as_none():
    check = cross_check("{{ tools is none }}/{{ documents is none }}/{{ add_generation_prompt }}", CHAT)
    assert check.jinja2 == "True/True/False"
    assert check.minijinja is not None and check.minijinja.lower() == "true/true/false"


def test_minijinja_sees_plain_data_not_python_objects():
    # A Python dict handed to minijinja-py would expose .items() even in strict mode; a literal map does not.
    with pytest.raises(TemplateError, match="map has no method named items"):
        render_minijinja("{{ messages[0].items() }}", CHAT)


def test_jinja2_syntax_error_is_reported_and_minijinja_not_run():
    check = cross_check("{% if %}", CHAT)
    assert check.jinja2 is None and check.minijinja is None and check.minijinja_error is None
    assert check.minijinja_pycompat is None and check.minijinja_pycompat_error is None
    assert "syntax error" in check.jinja2_error and "minijinja not run" in check.jinja2_error
    assert str(check).startswith("not portable: jinja2 (transformers) fails: template line 1: syntax error")


def test_malformed_messages_raise_before_either_engine():
    with pytest.raises(MessageError, match="message 0, key 'role'"):
        cross_check("{{ messages }}", [{"content": "x"}])


def test_continue_final_message_is_refused_with_the_reason():
    with pytest.raises(TypeError, match="post-processing"):
        cross_check("{{ messages }}", CHAT, continue_final_message=True)


def test_html_view_escapes_and_shows_both_modes():
    page = cross_check("{{ messages[0].content }}{{ 1e100 }}", CHAT)._repr_html_()
    assert "<b>there" not in page and "&lt;b&gt;there" in page
    assert "jinja2 (transformers):" in page and "minijinja (strict and pycompat):" in page
    page = cross_check("{{ messages[0].content.strip() }}{{ 1e100 }}", CHAT)._repr_html_()
    assert "minijinja fails in strict mode" in page and "minijinja pycompat:" in page
    assert isinstance(cross_check("x", CHAT), CrossCheck)


# --- what each engine does with each construct (minijinja 3.0.5) ---------------------------------

def test_the_python_binding_turns_pycompat_on_by_default():
    assert minijinja.Environment().render_str("{{ 'a'.upper() }}") == "A"
    with pytest.raises(minijinja.TemplateError, match="has no method named upper"):
        minijinja.Environment(pycompat=False).render_str("{{ 'a'.upper() }}")


RESCUED_BY_PYCOMPAT = ["strip", "upper", "lower", "capitalize", "replace", "items", "keys", "values", "join",
                       "startswith", "endswith", "get", "format", "lstrip", "rstrip", "split", "splitlines", "count",
                       "find", "isdigit"]
# One call per method of lint's table, on s = "it's 2 o'clock <b>" and d = the first message.
METHOD_CALLS = {
    "strip": "s.strip()", "upper": "s.upper()", "lower": "s.lower()", "title": "s.title()",
    "capitalize": "s.capitalize()", "replace": "s.replace('o', '0')", "items": "d.items() | list",
    "keys": "d.keys() | list", "values": "d.values() | list", "join": "'-'.join(['a', 'b'])",
    "startswith": "s.startswith('it')", "endswith": "s.endswith('>')", "get": "d.get('role')",
    "format": "'{}!'.format(s)", "lstrip": "s.lstrip('i')", "rstrip": "s.rstrip('>')", "split": "s.split()",
    "splitlines": "s.splitlines()", "count": "s.count('o')", "find": "s.find('o')", "index": "s.index('o')",
    "isdigit": "s.isdigit()", "copy": "d.copy()",
}
METHOD_CHAT = [{"role": "user", "content": "it's 2 o'clock <b>"}]


def method_template(method: str) -> str:
    return "{% set s = messages[0].content %}{% set d = messages[0] %}{{ " + METHOD_CALLS[method] + " }}"


def test_every_linted_method_has_a_verified_call():
    assert set(METHOD_CALLS) == set(PYTHON_METHODS)


@pytest.mark.parametrize("method", RESCUED_BY_PYCOMPAT)
def test_python_methods_fail_in_strict_minijinja_and_pycompat_renders_them_as_python(method):
    check = cross_check(method_template(method), METHOD_CHAT)
    assert f"has no method named {method}" in check.minijinja_error
    assert check.pycompat_same_output, str(check)


@pytest.mark.parametrize("method", ["index", "copy"])
def test_index_and_copy_fail_in_both_minijinja_modes(method):
    check = cross_check(method_template(method), METHOD_CHAT)
    assert check.jinja2 is not None
    assert check.minijinja_error == check.minijinja_pycompat_error and "has no method named" in check.minijinja_error


def test_title_method_in_pycompat_capitalizes_like_jinjas_filter_not_like_python():
    python_title = "It'S 2 O'Clock <B>"
    assert render_template(method_template("title"), METHOD_CHAT) == python_title
    jinja_title = "It's 2 O'clock <B>"  # a capital only after a space or one of -([{<
    assert render_minijinja(method_template("title"), METHOD_CHAT, pycompat=True) == jinja_title
    assert render_template("{{ messages[0].content | title }}", METHOD_CHAT) == jinja_title


def test_python_literals_render_in_jinja2_and_both_minijinja_modes():
    check = cross_check("{% if True %}{{ None is none }}{% endif %}{{ False }}", CHAT)
    assert check.same_output and check.pycompat_same_output and check.jinja2 == "TrueFalse"


def test_percent_format_fails_in_both_minijinja_modes():
    check = cross_check("{{ 'turn %d' % 1 }}", CHAT)
    assert check.jinja2 == "turn 1"
    assert "tried to use % operator" in check.minijinja_error and check.minijinja_pycompat_error == check.minijinja_error


def test_generation_block_is_a_syntax_error_in_both_minijinja_modes():
    check = cross_check("{% generation %}{{ messages[1].content }}{% endgeneration %}", CHAT)
    assert check.jinja2 == "Hi!" and "syntax error: unknown statement generation" in check.minijinja_error
    assert check.minijinja_pycompat_error == check.minijinja_error


def test_indent_drops_a_final_newline_in_both_minijinja_modes():
    check = cross_check("[{{ 'a\\nb\\n' | indent(2) }}]", CHAT)
    assert check.jinja2 == "[a\n  b\n]" and check.minijinja == check.minijinja_pycompat == "[a\n  b]"


@pytest.mark.parametrize("number, python, rust", [("1e100", "1e+100", "1" + "0" * 100 + ".0"), ("1e-7", "1e-07", "0.0000001")])
def test_float_printing_differs_in_both_minijinja_modes(number, python, rust):
    check = cross_check("{{ %s }}" % number, CHAT)
    assert check.jinja2 == python and check.minijinja == check.minijinja_pycompat == rust


@pytest.mark.parametrize("pycompat", [False, True])
def test_minijinjas_own_tojson_escapes_html_characters_in_both_modes(pycompat):
    own = minijinja.Environment(pycompat=pycompat).render_str("{{ text | tojson }}", text="<b> & 'q'")
    assert own == '"\\u003cb\\u003e \\u0026 \\u0027q\\u0027"'
    assert render_template("{{ '<b> & \\'q\\'' | tojson }}", CHAT) == '"<b> & \'q\'"'


def test_safe_then_plus_escapes_only_in_jinja2():
    check = cross_check("{{ ('<' | safe) + messages[0].content }}", CHAT)
    assert check.jinja2 == "<  Hello &lt;b&gt;there&lt;/b&gt;  "
    assert check.minijinja == check.minijinja_pycompat == "<  Hello <b>there</b>  "


def test_mutating_methods_fail_in_jinja2_and_both_minijinja_modes():
    template = "{% set xs = [1] %}{% set _ = xs.append(2) %}{{ xs }}"
    # transformers' sandbox refuses it as unsafe: cross_check raises instead of comparing
    with pytest.raises(TemplateSecurityError, match="refused by the sandbox"):
        render_template(template, CHAT)
    for pycompat in (False, True):
        with pytest.raises(TemplateError, match="sequence has no method named append"):
            render_minijinja(template, CHAT, pycompat=pycompat)
    [finding] = lint(template)
    assert finding.breaks == (JINJA2, STRICT, PYCOMPAT)


# --- lint's `breaks` is what cross_check sees ----------------------------------------------------

def engines_that_differ(check: CrossCheck) -> tuple[str, ...]:
    """The engines whose result is not transformers' text: jinja2 when it fails, a mode when it fails or differs."""
    if check.jinja2_error is not None:
        return (JINJA2,) + tuple(mode for mode, error in ((STRICT, check.minijinja_error),
                                                           (PYCOMPAT, check.minijinja_pycompat_error)) if error)
    return tuple(mode for mode, same in ((STRICT, check.same_output), (PYCOMPAT, check.pycompat_same_output))
                 if not same)


CONSTRUCTS = {
    "percent-format": ("{{ 'turn %d' % 1 }}", CHAT),
    "generation-block": ("{% generation %}{{ messages[1].content }}{% endgeneration %}", CHAT),
    "indent-filter": ("{{ (messages[0].content ~ '\\n') | indent(2) }}", CHAT),
    "safe-filter": ("{{ ('<' | safe) + messages[0].content }}", CHAT),
    "python-literal": ("{% if True %}yes{% endif %}", CHAT),
    "always-defined": ("{% if tools is defined %}tools{% endif %}", CHAT),
    **{f"python-method .{method}()": (method_template(method), METHOD_CHAT) for method in METHOD_CALLS},
}


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_lint_says_which_engines_a_construct_breaks_as_cross_check_finds(construct):
    template, chat = CONSTRUCTS[construct]
    [finding] = lint(template)
    assert construct.startswith(finding.rule)
    assert finding.breaks == engines_that_differ(cross_check(template, chat))


@pytest.mark.parametrize("module", ["course_utils.portability.linter", "course_utils.portability.comparison",
                                    "course_utils.portability.engine"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted >= 1 and result.failed == 0
