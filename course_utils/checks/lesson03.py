"""Lesson 03, writing chat templates: the checks of its six exercises.

A template is graded by what it renders, never by its text: the learner's template and the
reference are rendered with `render_template` (transformers' own renderer) over the
conversations of `course_utils.conversations` (and the few an exercise adds below, for a mistake
the corpus cannot show), with and without the generation prompt, and the first rendering that
differs fails the check with `first_difference`'s one line. So any correct template passes,
whatever its Jinja style, variable names or whitespace control, and a template one newline off
fails with the position of that newline. 03.python_first grades a Python function the same way:
what it returns against what the course tokenizer's `apply_chat_template` renders.
"""
from __future__ import annotations

import copy

import jinja2

from ..conversations import GENERATION_PROMPT_OPTIONS, conversations
from ..display import first_difference, visible
from ..templates import TEMPLATES
from .calls import call, short_repr
from .course_models import course_tokenizer
from .expect import expect_type
from .expect_templates import (
    SYSTEM_WITH_WHITESPACE,
    expect_same_renderings,
    expect_template_text,
    render_outcome,
    shown_render,
)
from .failure import CheckFailed
from .registry import exercise

__all__ = ["BUGGY_TEMPLATE", "PYTHON_ONLY_TEMPLATE"]

# Conversations each exercise renders over (groups of course_utils.conversations).
CHATML_GROUPS = ("alternating", "empty system", "surrounding whitespace", "other roles")
LLAMA2_GROUPS = ("alternating", "surrounding whitespace")
STRICT_GROUPS = ("alternating", "empty system", "surrounding whitespace")
PORTABLE_GROUPS = ("alternating", "empty system", "surrounding whitespace", "other roles")
DEBUG_GROUPS = ("alternating", "empty system", "surrounding whitespace", "other roles")

# 03.llama2: the system block and the first user message are stripped as one string, so spaces
# that open that message stay (after the block's two newlines). The corpus leaves this out; the
# exercise states it, and a template that strips the message before adding the block differs here.
LLAMA2_PADDED_FIRST_USER = ("whitespace around the first user message after a system", [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "  Hi there! \n"},
    {"role": "assistant", "content": " Hello. "},
    {"role": "user", "content": "\tBye "},
])

# 03.alternation: conversations whose only fault is a system message that is not first. A template
# that leaves system messages out of its alternation test (`rejectattr('role', 'equalto', 'system')`)
# sees user/assistant alternating in each, so only these show that it lets a system message anywhere.
MISPLACED_SYSTEM = (
    ("a second system message", [{"role": "system", "content": "You are helpful."},
                                 {"role": "system", "content": "Answer briefly."},
                                 {"role": "user", "content": "Hi!"}]),
    ("a system message mid-conversation", [{"role": "user", "content": "What colour is snow?"},
                                           {"role": "system", "content": "Answer in French."},
                                           {"role": "assistant", "content": "Blanche."},
                                           {"role": "user", "content": "And coal?"}]),
)

# 03.portable: a template that only Python's jinja2 renders as intended. It is SmolLM2's format
# (ChatML, with a default system turn when the conversation has none), written with Python
# habits: a string method (.strip()), the `%` operator, and Python's capitalised True/None.
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
PYTHON_ONLY_TEMPLATE = """\
{%- if messages[0]['role'] == 'system' -%}
    {%- set system = messages[0]['content'].strip() -%}
    {%- set turns = messages[1:] -%}
{%- else -%}
    {%- set system = None -%}
    {%- set turns = messages -%}
{%- endif -%}
{%- if system == None -%}
    {%- set system = '""" + DEFAULT_SYSTEM + """' -%}
{%- endif -%}
{{- '<|im_start|>system\\n%s<|im_end|>\\n' % system -}}
{%- for message in turns -%}
    {{- '<|im_start|>%s\\n%s<|im_end|>\\n' % (message['role'], message['content'].strip()) -}}
{%- endfor -%}
{%- if add_generation_prompt == True -%}
    {{- '<|im_start|>assistant\\n' -}}
{%- endif -%}
"""


# 03.debug: SmolLM2's template as someone rewrote it by hand, readable, with two bugs that each
# show in some conversations only: the default system turn's test lacks `loop.first`, so without
# a system message the default is written again before every turn; and the generation prompt is
# written as text on its own line, whose newline the `{%- endif %}` after it strips. The fix is
# graded against the model's real template, TEMPLATES["smollm2"].
BUGGY_TEMPLATE = r"""
{%- for message in messages %}
    {%- if messages[0]['role'] != 'system' %}
        {{- '<|im_start|>system\n""" + DEFAULT_SYSTEM + r"""<|im_end|>\n' }}
    {%- endif %}
    {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
<|im_start|>assistant
{%- endif %}
"""


@exercise("03.chatml", points=1)
def check_chatml(chatml_template):
    expect_template_text(chatml_template, "chatml_template")
    expect_same_renderings(chatml_template, TEMPLATES["chatml"].template, "chatml_template", CHATML_GROUPS)


@exercise("03.llama2", points=2)
def check_llama2(llama2_template):
    expect_template_text(llama2_template, "llama2_template")
    reference = TEMPLATES["llama2"]
    expect_same_renderings(llama2_template, reference.template, "llama2_template", LLAMA2_GROUPS,
                           template_kwargs=dict(reference.special_tokens), extra=(LLAMA2_PADDED_FIRST_USER,))


@exercise("03.alternation", points=2)
def check_alternation(strict_template):
    expect_template_text(strict_template, "strict_template")
    # Valid conversations first: a template that raises on everything is not strict, it is broken.
    expect_same_renderings(strict_template, TEMPLATES["chatml"].template, "strict_template", STRICT_GROUPS)
    for conversation, messages in [*conversations("non-alternating"), *MISPLACED_SYSTEM]:
        for flag in GENERATION_PROMPT_OPTIONS:
            _expect_refused(strict_template, conversation, messages, {"add_generation_prompt": flag})


def _expect_refused(strict_template: str, conversation: str, messages, options: dict) -> None:
    """Fail unless rendering `messages` stops at the template's own raise_exception('...')."""
    shown = shown_render("strict_template", conversation, options)
    text, error = call(render_outcome, strict_template, messages, shown_as=shown, **options)
    roles = [message["role"] for message in messages]
    if error is None:
        misplaced = [i for i, role in enumerate(roles) if role == "system" and i > 0]
        if misplaced:
            raise CheckFailed(f"{shown} rendered {short_repr(text, 60)} but the system message at index "
                              f"{misplaced[0]} is not the first message (roles {roles}): a system message may "
                              "only come first; call raise_exception('...') for one anywhere else")
        raise CheckFailed(f"{shown} rendered {short_repr(text, 80)} but the roles {roles} do not "
                          "alternate: call raise_exception('...') for such a conversation")
    # raise_exception raises jinja2's base TemplateError; every other failure is a subclass.
    if type(error.__cause__) is not jinja2.TemplateError:
        raise CheckFailed(f"{shown} failed with {error} instead of your own raise_exception('...') "
                          f"(roles {roles})")
    if not str(error).partition(" (raise_exception at")[0].strip():
        raise CheckFailed(f"{shown} called raise_exception with an empty message: say what is wrong, "
                          "e.g. raise_exception('Conversation roles must alternate user/assistant')")


@exercise("03.portable", points=3)
def check_portable(portable_template):
    from ..portability import cross_check, lint

    expect_template_text(portable_template, "portable_template")
    # 1. Same output as the Python-only original, in transformers.
    expect_same_renderings(portable_template, PYTHON_ONLY_TEMPLATE, "portable_template", PORTABLE_GROUPS,
                           extra=(SYSTEM_WITH_WHITESPACE,))
    # 2. Same output in minijinja's strict mode (no Python methods, as its Rust crate ships):
    #    `.portable` is the strict verdict; the pycompat mode would accept `.strip()`.
    for conversation, messages in [*conversations(*PORTABLE_GROUPS), SYSTEM_WITH_WHITESPACE]:
        for flag in GENERATION_PROMPT_OPTIONS:
            shown = f"cross_check(portable_template, <conversation '{conversation}'>, add_generation_prompt={flag})"
            result = call(cross_check, portable_template, messages, shown_as=shown, add_generation_prompt=flag)
            if not result.portable:
                raise CheckFailed(f"{shown}: {result}")
    # 3. No construct that only some engines accept (Python's True/None are read by jinja2 and
    #    minijinja alike, so rendering alone cannot catch them).
    findings = call(lint, portable_template, shown_as="lint(portable_template)")
    if findings:
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        raise CheckFailed(f"lint(portable_template) finds {findings[0]}{more}")


@exercise("03.debug", points=2)
def check_debug(fixed_template):
    expect_template_text(fixed_template, "fixed_template")
    expect_same_renderings(fixed_template, TEMPLATES["smollm2"].template, "fixed_template", DEBUG_GROUPS)


# 03.python_first: each conversation is rendered with add_generation_prompt False, True and left
# out, so a function whose default is not False shows too.
PYTHON_FIRST_OPTIONS = ({"add_generation_prompt": False}, {"add_generation_prompt": True}, {})
SYSTEM_TURN = "<|im_start|>system"
# Calls that render with a template rather than build the string: the exercise is the loop.
TEMPLATE_CALLS = {"apply_chat_template", "render_template", "render_jinja_template"}


def _names_used(code) -> set[str]:
    """The global and attribute names a function's code uses, its nested functions' included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names_used(const)
    return names


def _python_first_hint(expected: str, got: str, messages, generation_prompt: str, flag: bool) -> str:
    """What the most common slips look like in the output: the default system turn, the generation
    prompt, a system turn written twice."""
    if messages[0]["role"] != "system" and expected.endswith(got) and got != expected:
        return (f": SmolLM2's template starts a conversation that has no system message with its default "
                f"system turn, {visible(expected[: len(expected) - len(got)], keep_newlines=False)!r}")
    if not flag and got == expected + generation_prompt:
        return ": the generation prompt is added only when add_generation_prompt is true (it defaults to False)"
    if flag and got + generation_prompt == expected:
        shown_prompt = visible(generation_prompt, keep_newlines=False)
        return f": add_generation_prompt=True ends the text with the generation prompt {shown_prompt!r}"
    if got.count(SYSTEM_TURN) > expected.count(SYSTEM_TURN):
        return (f": {got.count(SYSTEM_TURN)} system turns, expected {expected.count(SYSTEM_TURN)}; write one: the "
                "conversation's own when its first message is a system message (even an empty one), else the default")
    return ""


@exercise("03.python_first", points=2)
def check_python_first(render_in_python):
    if not callable(render_in_python):
        raise CheckFailed(f"render_in_python is {short_repr(render_in_python)}, expected a function")
    code = getattr(render_in_python, "__code__", None)
    used = sorted(TEMPLATE_CALLS & _names_used(code)) if code is not None else []
    if used:
        raise CheckFailed(f"render_in_python uses {used[0]}, which renders a template: build the string "
                          "yourself, with a loop over the messages")
    tokenizer = course_tokenizer()
    # Every plain conversation of the template exercises, and a system message with whitespace
    # around it: the template writes contents as they are, so a function that strips them differs.
    for conversation, messages in [*conversations(), SYSTEM_WITH_WHITESPACE]:
        rendered = {flag: tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=flag)
                    for flag in GENERATION_PROMPT_OPTIONS}
        generation_prompt = rendered[True][len(rendered[False]):]
        for options in PYTHON_FIRST_OPTIONS:
            flag = options.get("add_generation_prompt", False)
            extra = "".join(f", {key}={value}" for key, value in options.items())
            shown = f"render_in_python(<conversation '{conversation}'>{extra})"
            given = copy.deepcopy(messages)
            got = call(render_in_python, given, shown_as=shown, **options)
            if given != messages:
                raise CheckFailed(f"{shown} changed the messages it was given: build the text, leave the "
                                  "list as it was (no default system message inserted into it)")
            expect_type(got, str, shown)
            where = first_difference(rendered[flag], got)
            if where is not None:
                hint = _python_first_hint(rendered[flag], got, messages, generation_prompt, flag)
                raise CheckFailed(f"{shown}: {where}{hint}")
