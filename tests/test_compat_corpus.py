"""render_template against the compatibility corpus: real Hub templates, expected renderings.

The yardstick is transformers 5.23 itself (``transformers_verdicts.json``): where transformers
reproduces the expected text (MATCH) we must too, byte for byte; where it raises (RAISE) we must
raise; where it renders something else (DIFF: the raw-jinja2 goldens assumed ``tools`` undefined,
or ``|safe`` as identity) we must render what transformers renders. Every case also goes through
``tokenizer.apply_chat_template(tokenize=False)`` to prove the two agree.
"""
from __future__ import annotations

import collections

import pytest

from course_utils.display import first_difference
from course_utils.templates import MessageError, TemplateError, _transformers, fixed_clock, render_template
from support.compat_corpus import default_root, load_cases

CORPUS = default_root()
if not CORPUS.is_dir():
    pytest.skip(f"compat corpus not found at {CORPUS} (it lives next to the repository, in ../shared)",
                allow_module_level=True)

CASES = load_cases(CORPUS)

# The one case where the verdict file (computed with render_jinja_template) and apply_chat_template
# part ways: its assistant message has content=None, which apply_chat_template drops before
# rendering (transformers 5 normalisation), and the template then reads the missing key.
# render_template follows apply_chat_template; the test below proves both raise.
DROPS_NONE_CONTENT = {"hfjs/custom_templates/meetkai/functionary-medium-v2.2"}


def _render(case):
    messages, kwargs = case.messages_and_kwargs()
    with fixed_clock(case.clock):
        return render_template(case.template, messages, **kwargs)


def _reference(case):
    """transformers' renderer (render_jinja_template) called directly on the same context (what the
    verdicts used)."""
    messages, kwargs = case.messages_and_kwargs()
    with fixed_clock(case.clock):
        return _transformers.render(case.template, messages, **kwargs)


def test_corpus_has_the_documented_shape():
    hfjs = [c for c in CASES if c.key.startswith("hfjs/")]
    llamacpp = [c for c in CASES if c.key.startswith("llamacpp/")]
    assert (len(hfjs), sum(c.jinja2_exact for c in hfjs)) == (53, 52)
    assert (len(llamacpp), sum(c.jinja2_exact for c in llamacpp)) == (114, 84)
    kinds = collections.Counter(c.verdict.split()[0] for c in CASES)
    assert kinds == {"MATCH": 123, "DIFF": 25, "RAISE": 19}


MATCH = [c for c in CASES if c.verdict == "MATCH" and c.key not in DROPS_NONE_CONTENT]
RAISE = [c for c in CASES if c.verdict.startswith("RAISE")]
DIFF = [c for c in CASES if c.verdict == "DIFF"]


@pytest.mark.parametrize("case", MATCH, ids=lambda c: c.key)
def test_match_cases_render_byte_for_byte(case):
    got = _render(case)
    assert got == case.expected, first_difference(case.expected, got)


@pytest.mark.parametrize("case", RAISE, ids=lambda c: c.key)
def test_raise_cases_raise_a_clear_error(case):
    with pytest.raises((TemplateError, MessageError)) as info:
        _render(case)
    # transformers' own message survives (e.g. "System role not supported")
    assert case.verdict.split(": ", 1)[1][:40] in str(info.value)
    assert "template line" in str(info.value)


@pytest.mark.parametrize("case", DIFF, ids=lambda c: c.key)
def test_diff_cases_render_what_transformers_renders(case):
    got = _render(case)
    assert got != case.expected
    assert got == _reference(case)


@pytest.mark.parametrize("key", sorted(DROPS_NONE_CONTENT))
def test_none_content_is_dropped_exactly_like_apply_chat_template(key, tiny_tokenizer):
    case = next(c for c in CASES if c.key == key)
    assert _reference(case) == case.expected  # the verdict: render_jinja_template keeps content=None
    messages, kwargs = case.messages_and_kwargs()
    with pytest.raises(Exception, match="has no attribute 'content'"):
        tiny_tokenizer.apply_chat_template(messages, chat_template=case.template, tokenize=False, **kwargs)
    with pytest.raises(TemplateError, match=r"template line 14: 'dict object' has no attribute 'content'"):
        _render(case)


def test_jinja2_reproducible_cases_are_all_accounted_for():
    """Every case raw jinja2 reproduces is reproduced, or transformers' own verdict says why not."""
    reproduced = [c for c in CASES if c.jinja2_exact and c in MATCH]
    not_reproduced = {c.key: c.verdict for c in CASES if c.jinja2_exact and c not in MATCH}
    assert len(reproduced) == 50 + 72  # 52 hfjs and 84 llama.cpp goldens, less 14 explained below
    assert all(v != "MATCH" or k in DROPS_NONE_CONTENT for k, v in not_reproduced.items())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.key)
def test_render_template_agrees_with_apply_chat_template(case, tiny_tokenizer):
    messages, kwargs = case.messages_and_kwargs()
    # apply_chat_template also passes the tokenizer's special tokens; the case's own win
    kwargs = {**tiny_tokenizer.special_tokens_map, **kwargs}
    with fixed_clock(case.clock):
        try:
            expected = tiny_tokenizer.apply_chat_template(
                messages, chat_template=case.template, tokenize=False, **kwargs
            )
        except Exception as exc:  # whatever transformers raises, render_template must refuse too
            with pytest.raises((TemplateError, MessageError)) as info:
                render_template(case.template, messages, **kwargs)
            assert str(exc)[:40] in str(info.value)  # with transformers' own message
            return
        got = render_template(case.template, messages, **kwargs)
    assert got == expected, first_difference(expected, got)
