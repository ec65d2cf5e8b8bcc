"""The transformers internals the course relies on still behave as it relies on them.

``course_utils/templates/_transformers.py`` is the only module that touches transformers'
private chat-template code (``transformers.utils.chat_template_utils``). Each test below pins
one symbol it uses, directly, so that a transformers release that renames or changes one fails
one named test here, not fifty tests elsewhere.
"""
from __future__ import annotations

import dataclasses
import datetime
import re
from enum import Enum

import jinja2
import numpy as np
import pytest
import transformers
from jinja2.sandbox import ImmutableSandboxedEnvironment
from transformers.utils import chat_template_utils

from course_utils.templates import _transformers, get_template, render_template
from support.paths import ROOT

USER = [{"role": "user", "content": "Hi"}]


def test_the_wrapper_names_the_installed_transformers_version():
    # An upgrade must revisit every symbol listed in the module docstring.
    assert f"transformers=={transformers.__version__}" in _transformers.__doc__


def test_compile_jinja_template_caches_a_template_in_transformers_sandbox():
    source = "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% break %}{% endfor %}"
    compiled = chat_template_utils._compile_jinja_template(source)
    assert isinstance(compiled, jinja2.Template)
    assert chat_template_utils._compile_jinja_template(source) is compiled  # cached per source text
    environment = compiled.environment
    assert isinstance(environment, ImmutableSandboxedEnvironment)
    assert environment.trim_blocks and environment.lstrip_blocks
    tags = {tag for extension in environment.extensions.values() for tag in extension.tags}
    assert {"generation", "break", "continue"} <= tags
    assert {"raise_exception", "strftime_now", "namespace", "dict"} <= set(environment.globals)
    assert "tojson" in environment.filters
    # the guard parses with the environment of the compiled empty template
    assert isinstance(chat_template_utils._compile_jinja_template("").environment, ImmutableSandboxedEnvironment)
    with pytest.raises(jinja2.TemplateSyntaxError) as info:
        chat_template_utils._compile_jinja_template("ok\n{% for m in messages %}")
    assert info.value.lineno == 2


def test_compile_jinja_template_cache_serves_render_template():
    template = get_template("chatml") + "{# cache probe #}"
    render_template(template, USER)
    before = chat_template_utils._compile_jinja_template.cache_info()
    render_template(template, USER)
    after = chat_template_utils._compile_jinja_template.cache_info()
    assert after.hits > before.hits and after.misses == before.misses


def test_render_jinja_template_returns_renderings_and_generation_indices():
    template = ("{{ bos_token }}{{ tools is none }}{% for m in messages %}"
                "{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}"
                "{% if add_generation_prompt %}>{% endif %}")
    rendered, indices = chat_template_utils.render_jinja_template(
        conversations=[USER], chat_template=template, tools=None, documents=None,
        add_generation_prompt=True, continue_final_message=False, bos_token="<s>",
    )
    assert (rendered, indices) == (["<s>TrueHi>"], [])
    rendered, indices = chat_template_utils.render_jinja_template(
        conversations=[USER], chat_template=template, return_assistant_tokens_mask=True, bos_token="",
    )
    assert rendered == ["TrueHi"] and indices == [[(4, 6)]]
    # continue_final_message cuts the rendering where the last message ends
    chat = USER + [{"role": "assistant", "content": "The capital is"}]
    [text], _ = chat_template_utils.render_jinja_template(
        conversations=[chat], chat_template="{% for m in messages %}{{ m.content }}<end>{% endfor %}",
        continue_final_message=True,
    )
    assert text == "Hi<end>The capital is"
    # the errors render_template translates: raise_exception's exact class, and a missing field
    with pytest.raises(jinja2.TemplateError) as info:
        chat_template_utils.render_jinja_template(conversations=[USER], chat_template="{{ raise_exception('no') }}")
    assert type(info.value) is jinja2.TemplateError and info.value.message == "no"
    with pytest.raises(ValueError, match='final message has no "draft" to continue'):
        chat_template_utils.render_jinja_template(conversations=[chat], chat_template="{{ messages }}",
                                                  continue_final_message="draft")
    assert _transformers.render("{{ bos_token }}{{ messages[0].content }}", USER, bos_token="<s>") == "<s>Hi"


def test_alias_reasoning_fields_fills_reasoning_content_and_thinking():
    messages = [{"role": "assistant", "content": "Paris", "reasoning": "The user asks"}, USER[0]]
    aliased = chat_template_utils._alias_reasoning_fields(messages)
    assert aliased[0] == {"role": "assistant", "content": "Paris", "reasoning": "The user asks",
                          "reasoning_content": "The user asks", "thinking": "The user asks"}
    assert aliased[1] == USER[0]
    assert "thinking" not in messages[0]  # the caller's messages are left alone
    assert _transformers.alias_reasoning_fields(messages) == aliased


class _Role(str, Enum):
    USER = "user"


@dataclasses.dataclass
class _Point:
    x: int
    y: tuple


def test_plain_template_data_reduces_everything_to_json_types():
    value = {"role": _Role.USER, "count": np.int64(3), "flag": np.bool_(False), "point": _Point(1, (2.5,)),
             "array": np.zeros(2), "none": None, "items": [True, "a"]}
    plain = chat_template_utils._plain_template_data(value)
    assert plain == {"role": "user", "count": 3, "flag": False, "point": {"x": 1, "y": (2.5,)},
                     "array": "<ndarray>", "none": None, "items": [True, "a"]}
    assert type(plain["role"]) is str and type(plain["count"]) is int and type(plain["flag"]) is bool
    assert _transformers.plain_template_data(value) == plain


def test_replacing_the_modules_datetime_pins_strftime_now():
    assert chat_template_utils.datetime is datetime.datetime  # strftime_now reads this global
    compiled = chat_template_utils._compile_jinja_template("{{ strftime_now('%Y-%m-%d') }}")
    when = datetime.datetime(2024, 7, 26, 12, 0)
    with _transformers.pinned_clock(when):
        assert chat_template_utils.datetime.now() == when
        assert compiled.render() == "2024-07-26"
        assert _transformers.now() == when
    assert chat_template_utils.datetime is datetime.datetime
    assert compiled.render() != "2024-07-26"


# The module itself, its private names, render_jinja_template and its clock: only the wrapper.
_INTERNAL = re.compile(
    r"chat_template_utils\s+as\b|chat_template_utils\.(_|render_jinja_template|datetime)"
    r"|from transformers\.utils import [^\n]*\bchat_template_utils\b"
    r"|from transformers\.utils\.chat_template_utils import [^\n]*\b(_\w+|render_jinja_template)\b"
)


def test_no_other_course_module_touches_transformers_internals():
    wrapper = ROOT / "course_utils" / "templates" / "_transformers.py"
    touching = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "course_utils").rglob("*.py"))
                if path != wrapper and _INTERNAL.search(path.read_text(encoding="utf-8"))]
    assert touching == []
    assert _INTERNAL.search(wrapper.read_text(encoding="utf-8"))
