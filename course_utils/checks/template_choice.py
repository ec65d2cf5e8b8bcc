"""Which template apply_chat_template renders with (06.tool_template), by transformers' own rule.

`tokenizer.get_chat_template(chat_template, tools)` picks it: a name in a dict of named templates,
else `tool_use` when tools= is given (not None), else `default`; a chat_template that is no name
is template text. The check asks a copy of the course tokenizer, with each case's templates set
on it, rather than restating the rule, so that it follows transformers.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field

from ..world import get_weather
from .calls import short_repr
from .course_models import course_tokenizer

# Each case: the tokenizer's templates (the names of a dict of real templates, "single" for one
# template as a string, None for none), chat_template= ("chatml" stands for a template's text),
# tools=, and the part of transformers' rule it tests, quoted when an answer gets it wrong.
# The order matters: each known mistake meets first the case that names it.
TOOLS = [get_weather]
ALL_NAMES = ("default", "tool_use", "rag")
SINGLE_IS_TEXT = "a single template has no names: chat_template='default' is template text, returned as it is"
TEMPLATE_CASES = [
    (ALL_NAMES, None, None, "no name and no tools: the 'default' template"),
    (ALL_NAMES, None, TOOLS, "with tools=, a dict with a 'tool_use' template gives that one"),
    (ALL_NAMES, "rag", None, "a name in the dict picks that template"),
    (ALL_NAMES, "default", TOOLS, "a name passed as chat_template wins over tools="),
    (ALL_NAMES, None, [], "transformers tests `tools is not None`, so tools=[] picks 'tool_use' too"),
    (ALL_NAMES, "chatml", TOOLS, "a chat_template that is no name in the dict is template text, used as it is"),
    (("default", "rag"), None, TOOLS, "with no 'tool_use' template, tools= falls back to 'default'"),
    (("tool_use", "rag"), None, TOOLS, "with tools=, 'tool_use' needs no 'default'"),
    (("tool_use", "rag"), "rag", None, "a name in the dict picks that template, 'default' or not"),
    (("tool_use", "rag"), None, None, "a dict with no 'default', and no name given: transformers raises ValueError"),
    (("rag",), None, TOOLS, "no 'tool_use' and no 'default' template, and no name given: ValueError"),
    ("single", None, TOOLS, "a single template is used whatever the tools"),
    ("single", "chatml", None, "a chat_template passed replaces the single template"),
    ("single", "default", None, SINGLE_IS_TEXT),
    (None, None, None, "no template at all, and none passed: transformers raises ValueError"),
    (None, "chatml", TOOLS, "a chat_template passed is used when the tokenizer has none"),
]


class Raised:
    """A ValueError, from transformers or the learner's function, compared like a result."""

    def __init__(self, error: ValueError):
        self.error = error


@dataclass
class TemplateCase:
    """One call of the learner's `template_for`, as the check makes it and shows it."""

    templates: dict | str | None
    chat_template: str | None
    tools: list | None
    why: str
    shown: str
    names: dict = field(default_factory=dict)  # template text -> how a message names it

    def describe(self, value) -> str:
        if isinstance(value, Raised):
            return "a ValueError"
        return self.names.get(value, short_repr(value, 60)) if isinstance(value, str) else short_repr(value, 60)

    def transformers_choice(self):
        """What `get_chat_template` returns (or raises) on a copy of the course tokenizer holding
        these templates: the template apply_chat_template renders with."""
        tokenizer = copy.copy(course_tokenizer())
        tokenizer.chat_template = copy.deepcopy(self.templates)
        try:
            return tokenizer.get_chat_template(self.chat_template, self.tools)
        except ValueError as error:
            return Raised(error)


def template_cases() -> list[TemplateCase]:
    from ..templates import get_template
    from ..tools import rag_template

    # Real templates under the names a tokenizer keeps them by; "chatml" is passed as text.
    texts = {"default": get_template("smollm2"), "tool_use": get_template("hermes_tool_use"), "rag": rag_template(),
             "chatml": get_template("chatml")}
    cases = []
    for held, chat_template, tools, why in TEMPLATE_CASES:
        names = {texts["chatml"]: "the ChatML text passed as chat_template"}
        if held == "single":
            templates, shown = texts["default"], "<one template>"
            names[templates] = "the single template"
        elif held is None:
            templates, shown = None, "None"
        else:
            templates = {name: texts[name] for name in held}
            shown = "{" + ", ".join(f"{name!r}: …" for name in held) + "}"
            names.update({text: f"the {name!r} template" for name, text in templates.items()})
        passed, passed_shown = chat_template, repr(chat_template)
        if chat_template == "chatml":
            passed, passed_shown = texts["chatml"], "<ChatML text>"
        tools_shown = None if tools is None else f"[{', '.join(tool.__name__ for tool in tools)}]"
        shown_call = f"template_for({shown}, chat_template={passed_shown}, tools={tools_shown})"
        cases.append(TemplateCase(templates, passed, tools, why, shown_call, names))
    return cases


def value_error_as_result(fn):
    """`fn`, returning a ValueError it raises as a `Raised`; other errors propagate to `call`."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as error:  # what transformers raises, where it raises
            return Raised(error)
    return run
