"""minijinja, set up to render chat templates as transformers' jinja2 does: ``render_minijinja``.

minijinja is the Rust engine behind TGI and mistral.rs (llama.cpp has its own C++ engine). This
module gives it transformers' ``raise_exception``, ``strftime_now`` and ``tojson`` and the
template variables transformers passes, prepared the same way, so that any difference in output
is the template's, not ours.

minijinja has two modes, and the mode decides whether Python's string and dict methods exist:

- strict (``pycompat=False``): the Jinja language only, as minijinja's Rust crate ships;
  ``content.strip()`` is "unknown method". A Rust server that does not add
  ``minijinja-contrib``'s ``pycompat`` sees this.
- pycompat (``pycompat=True``): minijinja emulates the common methods (``.strip()``,
  ``.items()``, ``.get()``...). The Python binding, ``minijinja.Environment()``, turns it on by
  default, so this module always says which mode it wants.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache

import minijinja
from transformers.utils import get_json_schema

from course_utils.templates import TemplateError, _transformers
from course_utils.templates.messages import prepare_messages

__all__ = ["render_minijinja"]

_FUEL = 5_000_000  # minijinja's instruction budget: a runaway loop stops instead of hanging the kernel


def _raise_exception(message):
    raise minijinja.TemplateError(str(message))


def _strftime_now(format_string):
    # transformers' clock, so `templates.fixed_clock` pins both engines at once
    return _transformers.now().strftime(format_string)


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' tojson (no HTML escaping, same options) instead of minijinja's own, which
    # escapes '<', '>', '&' and "'" for HTML. minijinja hands the filter a Python copy of the value,
    # in the same key order.
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=2)
def _minijinja_environment(pycompat: bool = False) -> minijinja.Environment:
    """minijinja set up like transformers' sandbox, as far as it can be.

    - trim_blocks/lstrip_blocks as in transformers; loop controls and namespace() are built in.
    - raise_exception, strftime_now and tojson behave as transformers' do (above).
    - pycompat is passed explicitly because the Python binding's default (True) is not the Rust
      crate's (no Python methods): False gives the strict mode, True the emulation.
    - Cannot, in either mode: `{% generation %}` (no extension mechanism: a syntax error) and
      transformers' restricted `dict`/`namespace` (minijinja's own are used; the template guard
      refuses the underscore names those restrictions exist for before either engine runs).
    """
    environment = minijinja.Environment(
        trim_blocks=True, lstrip_blocks=True, pycompat=pycompat, fuel=_FUEL, undefined_behavior="lenient"
    )
    environment.add_function("raise_exception", _raise_exception)
    environment.add_function("strftime_now", _strftime_now)
    environment.add_filter("tojson", _tojson)
    return environment


def _literal(value) -> str:
    """A minijinja expression for plain JSON data (see ``render_minijinja`` for why)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(str(key))}: {_literal(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"cannot pass a {type(value).__name__} to minijinja")


def _context(messages: list, tools, documents, add_generation_prompt: bool, extra: dict) -> dict:
    # The same preparation as transformers' render_jinja_template: tool functions become JSON
    # schemas, reasoning fields are aliased, everything is reduced to plain JSON types.
    if tools is not None:
        tools = [tool if isinstance(tool, dict) else get_json_schema(tool) for tool in tools]
    context = {"messages": _transformers.alias_reasoning_fields(messages), "tools": tools,
               "documents": documents, "add_generation_prompt": add_generation_prompt, **extra}
    return _transformers.plain_template_data(context)


def render_minijinja(template: str, messages, *, add_generation_prompt: bool = False,
                     tools=None, documents=None, pycompat: bool = False, **template_kwargs) -> str:
    """Render with minijinja and transformers' variables; errors are ``TemplateError`` with a line.

    ``pycompat=False`` (the default) is the strict mode, ``True`` the Python-method emulation.

    Example:
        >>> chat = [{"role": "user", "content": " Hi "}]
        >>> render_minijinja("{{ messages[0].content.strip() }}", chat, pycompat=True)
        'Hi'
        >>> render_minijinja("{{ messages[0].content.strip() }}", chat)
        Traceback (most recent call last):
        ...
        course_utils.templates.guard.TemplateError: template line 1: minijinja: unknown method: string has no method named strip

    The data goes in as minijinja literals (``{% set messages = [...] %}`` on a first line that
    trim_blocks removes), not as Python objects: the Python binding would otherwise expose each
    dict's Python methods (``.items()``) to the template, which the Rust engines never do.
    """
    context = _context(prepare_messages(messages), tools, documents, add_generation_prompt, template_kwargs)
    prefix = "".join(f"{{% set {name} = {_literal(value)} %}}" for name, value in context.items())
    try:
        return _minijinja_environment(pycompat).render_str(prefix + "\n" + template, "chat_template")
    except minijinja.TemplateError as exc:
        line = exc.line - 1 if exc.line else None  # the prefix line is not the template's
        message = re.sub(r" \(in chat_template:\d+\)$", "", exc.message)
        where = f"template line {line}" if line else "template"
        raise TemplateError(f"{where}: minijinja: {message}", line=line) from exc
