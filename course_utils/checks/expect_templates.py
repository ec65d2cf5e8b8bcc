"""Expectations shared by the template exercises (lessons 03 and 04): the answer is template
text, and it renders exactly like a reference over the course's conversations.

A template is graded by what it renders, never by its text, so any correct template passes
whatever its Jinja style, and one newline off fails with the position of that newline
(`display.first_difference`).
"""
from __future__ import annotations

from ..conversations import GENERATION_PROMPT_OPTIONS, conversations
from ..display import first_difference
from ..status import NOT_ATTEMPTED_YET
from ..templates import TemplateError, render_template
from .calls import call
from .expect import expect_type
from .failure import CheckFailed

__all__ = ["expect_template_text", "render_outcome", "render_learner", "expect_same_renderings", "shown_render",
           "SYSTEM_WITH_WHITESPACE"]

# A system message with whitespace around it, which the corpus leaves out for Llama-2's sake (it
# strips the system block and the first user message as one string). Templates that strip the
# system message (SmolLM2's portable rewrite) or must not (Zephyr's) differ only here.
SYSTEM_WITH_WHITESPACE = ("whitespace around the system message", [
    {"role": "system", "content": "\n  You are a pirate. \t"},
    {"role": "user", "content": "Ahoy?"},
])


def expect_template_text(template, name: str) -> None:
    """Fail unless the answer is a non-empty string of Jinja source."""
    if template is None:
        raise CheckFailed(f"{NOT_ATTEMPTED_YET}: {name} is None; assign your template (a string) to it")
    expect_type(template, str, name)
    if not template.strip():
        raise CheckFailed(f"{name} is an empty string; write your template in it")


def render_outcome(template: str, messages, **kwargs) -> tuple[str | None, TemplateError | None]:
    """(text, None) when the template renders, (None, error) when it raises a TemplateError."""
    try:
        return render_template(template, messages, **kwargs), None
    except TemplateError as error:
        return None, error


def _options_text(options: dict) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in options.items())


def shown_render(name: str, conversation: str, options: dict) -> str:
    # Special-token variables (bos_token...) are the same for every call, so they are left out.
    extra = f", {_options_text(options)}" if options else ""
    return f"render_template({name}, <conversation '{conversation}'>{extra})"


def render_learner(template: str, name: str, conversation: str, messages, options: dict,
                   template_kwargs: dict | None = None) -> str:
    """Render the learner's template under the exercise's time limit; its errors fail the check."""
    template_kwargs = template_kwargs or {}
    shown = shown_render(name, conversation, options)
    text, error = call(render_outcome, template, messages, shown_as=shown, **options, **template_kwargs)
    if error is not None:
        raise CheckFailed(f"{shown} raised {type(error).__name__}: {error}")
    return text


def expect_same_renderings(template: str, reference: str, name: str, groups: tuple[str, ...],
                           template_kwargs: dict | None = None,
                           option_sets: tuple[dict, ...] | None = None, extra: tuple = ()) -> None:
    """Fail at the first conversation and options where ``template`` renders otherwise than ``reference``.

    Args:
        template: the learner's template.
        reference: the template it must render like.
        name: how the learner's template is named in messages (its variable in the check cell).
        groups: conversation groups of `course_utils.conversations` to render over.
        template_kwargs: variables such as ``bos_token`` passed to both templates.
        option_sets: render options tried on every conversation; by default without and with
            ``add_generation_prompt``.
        extra: more ``(name, messages)`` conversations, rendered after the groups'.
    """
    template_kwargs = template_kwargs or {}
    if option_sets is None:
        option_sets = tuple({"add_generation_prompt": flag} for flag in GENERATION_PROMPT_OPTIONS)
    for conversation, messages in [*conversations(*groups), *extra]:
        for options in option_sets:
            expected = render_template(reference, messages, **options, **template_kwargs)
            got = render_learner(template, name, conversation, messages, options, template_kwargs)
            where = first_difference(expected, got)
            if where is not None:
                raise CheckFailed(f"{shown_render(name, conversation, options)}: {where}")
