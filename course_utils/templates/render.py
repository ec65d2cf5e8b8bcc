"""``render_template``: exactly what ``apply_chat_template`` renders, with errors that say what to fix.

``render_template`` does not re-implement the sandbox: it calls transformers' own
``render_jinja_template`` (the function behind ``tokenizer.apply_chat_template(tokenize=False)``),
so it has the same ``ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)``,
``raise_exception``, ``strftime_now``, JSON ``tojson``, always-defined ``tools``/``documents``,
``continue_final_message`` handling and compiled-template cache. What it adds:

- the conversation is checked first (``validate_messages``): one ``MessageError`` that names the
  message index, the key and the fix;
- the template is checked before it runs (``guard``): injection attempts are refused loudly
  instead of rendering an empty string;
- every failure becomes one ``TemplateError`` that names the template line.

``fixed_clock`` pins the clock templates read through ``strftime_now``, for reproducible outputs.
"""
from __future__ import annotations

import contextlib
import datetime as _datetime
import re

import jinja2

from . import _transformers
from .guard import TemplateError, TemplateSecurityError, check_template, template_line
from .messages import MessageError, prepare_messages

__all__ = ["render_template", "fixed_clock"]


def _check_and_compile(template: str) -> None:
    """Guard first, then transformers' cached compile; a syntax error names the line."""
    try:
        check_template(template)  # before compiling: see guard.parse_template
        _transformers.compile_template(template)
    except jinja2.TemplateSyntaxError as exc:
        lines = template.splitlines()
        text = lines[exc.lineno - 1].strip() if 0 < exc.lineno <= len(lines) else ""
        raise TemplateError(
            f"template line {exc.lineno}: syntax error: {exc.message} (the line reads: {text[:80]!r})",
            line=exc.lineno,
        ) from exc


def _undefined_hint(message: str) -> str:
    missing = re.fullmatch(r"'(\w+)' is undefined", message)
    if missing:
        return (f"Pass it as a keyword argument, e.g. render_template(template, messages, "
                f"{missing.group(1)}=...) (apply_chat_template passes the tokenizer's special tokens)")
    # Keys whose value is None were dropped before rendering, exactly as apply_chat_template does.
    return "Add that key to the message or variable (keys whose value is None are dropped, as in apply_chat_template)"


def _runtime_error(exc: Exception) -> TemplateError:
    line = template_line(exc)
    where = f"template line {line}" if line else "template"
    if type(exc) is jinja2.TemplateError:  # what the template's raise_exception() raises
        return TemplateError(f"{exc.message} (raise_exception at {where})", line=line)
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return TemplateSecurityError(f"{where}: refused by the sandbox: {exc}", line=line)
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"{where}: {exc.message}. {_undefined_hint(exc.message)}", line=line)
    return TemplateError(f"{where}: {type(exc).__name__}: {exc}", line=line)


def _check_options(messages: list, add_generation_prompt: bool, continue_final_message) -> None:
    # apply_chat_template refuses this pair before rendering; render_jinja_template does not.
    if continue_final_message and add_generation_prompt:
        raise MessageError(
            "continue_final_message and add_generation_prompt are both set",
            "use add_generation_prompt=True to start a new assistant turn, or continue_final_message=True "
            "to continue the last message, not both",
            key="continue_final_message",
        )
    # Only the default field is checked here: a named one (continue_final_message="thinking")
    # may be filled by transformers' reasoning-field aliasing, so transformers judges it.
    if continue_final_message is True and not isinstance(messages[-1].get("content"), (str, list)):
        raise MessageError(
            "continue_final_message needs text to continue, but the last message has no content",
            "end the conversation with the start of the reply, e.g. {'role': 'assistant', 'content': 'Sure,'}",
            len(messages) - 1, "content",
        )


def render_template(
    template: str,
    messages,
    *,
    add_generation_prompt: bool = False,
    continue_final_message: bool | str = False,
    tools: list | None = None,
    documents: list | None = None,
    **template_kwargs,
) -> str:
    """Render ``messages`` with a chat template exactly as ``apply_chat_template(tokenize=False)`` does.

    Args:
        template: Jinja source of a chat template (e.g. ``get_template("chatml")``).
        messages: a list of ``{'role': ..., 'content': ...}`` dicts.
        add_generation_prompt: end with the header of a new assistant turn.
        continue_final_message: end inside the last message, so the model continues it.
        tools, documents: JSON schemas / documents; the template sees ``None`` when not given.
        **template_kwargs: other template variables, e.g. ``bos_token='<s>'`` (a tokenizer's
            special tokens, which ``apply_chat_template`` passes for you).

    Returns:
        The rendered text.

    Raises:
        MessageError: the conversation is malformed (index, key and fix named).
        TemplateError: the template does not compile (line named), raised via
            ``raise_exception`` (its message), or failed while rendering.
        TemplateSecurityError: the template tries to reach Python internals.

    Example:
        >>> from course_utils.templates import get_template
        >>> render_template(get_template("chatml"), [{"role": "user", "content": "Hi"}], add_generation_prompt=True)
        '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    if not isinstance(template, str):
        raise TemplateError(f"the template must be a string of Jinja source, got {type(template).__name__}")
    messages = prepare_messages(messages)
    _check_options(messages, add_generation_prompt, continue_final_message)
    _check_and_compile(template)
    try:
        return _transformers.render(
            template,
            messages,
            tools=tools,
            documents=documents,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=continue_final_message,
            **template_kwargs,
        )
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, IndexError, AttributeError,
            ZeroDivisionError, OverflowError, RecursionError) as exc:
        raise _runtime_error(exc) from exc


@contextlib.contextmanager
def fixed_clock(when: _datetime.datetime | str):
    """Pin the clock that templates read through ``strftime_now`` (reproducible outputs).

    transformers' ``strftime_now`` calls ``datetime.now()`` from its own module at render time,
    so replacing that module's ``datetime`` for the duration (``_transformers.pinned_clock``) pins
    every template, including templates rendered by ``apply_chat_template`` and by
    ``portability.cross_check``.

    Example:
        >>> with fixed_clock("2024-07-26"):
        ...     render_template("{{ strftime_now('%d %b %Y') }}", [{"role": "user", "content": "x"}])
        '26 Jul 2024'
    """
    if isinstance(when, str):
        when = _datetime.datetime.fromisoformat(when)
    with _transformers.pinned_clock(when):
        yield when
