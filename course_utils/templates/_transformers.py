"""The one door into transformers' chat-template internals: nothing else in course_utils opens them.

The course renders templates exactly as ``tokenizer.apply_chat_template(tokenize=False)`` does,
so it calls the code behind that method rather than re-implementing it. That code lives in
``transformers.utils.chat_template_utils`` and is not public API: transformers may rename or
change it in any release. Every use is here, as one small named function, and
``tests/test_transformers_internals.py`` has one test per symbol, so an upgrade that breaks one
fails one named test instead of the whole course.

Pinned: ``transformers==5.23.0`` (pyproject.toml). Internal symbols used, and why no public API
does the job:

- ``_compile_jinja_template(source)`` (``compile_template``, ``reference_environment``): the
  compiled, cached template in transformers' own ``ImmutableSandboxedEnvironment`` (its
  ``{% generation %}`` extension, loop controls, ``raise_exception``, ``strftime_now``,
  ``tojson``, restricted ``dict``/``namespace``). No public function returns the template or its
  environment; ``apply_chat_template`` only returns the rendered text.
- ``render_jinja_template(...)`` (``render``): the renderer behind ``apply_chat_template``,
  ``continue_final_message`` and reasoning-field aliasing included. The public method needs a
  tokenizer; the course renders a template on its own. (Exported by no public module.)
- ``_alias_reasoning_fields(messages)`` (``alias_reasoning_fields``): how transformers copies a
  message's reasoning under ``reasoning_content`` and ``thinking``; another engine must see the
  same messages. Only ``render_jinja_template`` calls it.
- ``_plain_template_data(value)`` (``plain_template_data``): how transformers reduces everything
  a template sees to JSON types (placeholders for anything else). Same reason.
- the module global ``datetime`` (``now``, ``pinned_clock``): ``strftime_now`` is a closure that
  calls ``datetime.now()`` from that module at render time; transformers has no option to set the
  clock, so pinning it for reproducible outputs means replacing that global for a while.

``get_json_schema`` is public (``transformers.utils.get_json_schema``) and needs no wrapper.
"""
from __future__ import annotations

import contextlib
import datetime as _datetime

import jinja2
from transformers.utils import chat_template_utils as _ctu

__all__ = [
    "compile_template", "reference_environment", "render", "alias_reasoning_fields", "plain_template_data",
    "now", "pinned_clock",
]


def compile_template(source: str) -> jinja2.Template:
    """transformers' compiled template for ``source`` (cached by transformers, per source text).

    Raises ``jinja2.TemplateSyntaxError`` (with ``lineno``) when the source does not compile.
    """
    return _ctu._compile_jinja_template(source)


def reference_environment() -> jinja2.Environment:
    """The jinja2 environment transformers renders chat templates in, taken from its compiled
    empty template (parse with it to read a template as transformers would, without compiling)."""
    return _ctu._compile_jinja_template("").environment


def render(template: str, messages: list, /, **kwargs) -> str:
    """One conversation rendered by transformers' ``render_jinja_template``, as
    ``apply_chat_template(tokenize=False)`` renders it.

    ``kwargs`` go through unchanged: ``tools``, ``documents``, ``add_generation_prompt``,
    ``continue_final_message`` and template variables such as ``bos_token``. Nothing is checked
    here: transformers' own exceptions come through.
    """
    rendered, _generation_indices = _ctu.render_jinja_template(
        conversations=[messages], chat_template=template, **kwargs
    )
    return rendered[0]


def alias_reasoning_fields(messages: list) -> list:
    """The messages as the template sees them: reasoning under ``reasoning_content`` and ``thinking``."""
    return _ctu._alias_reasoning_fields(messages)


def plain_template_data(value):
    """``value`` rebuilt from JSON types (str, int, float, bool, None, dict, list, tuple), as
    transformers hands it to a template; anything else becomes a placeholder such as ``"<ndarray>"``."""
    return _ctu._plain_template_data(value)


def now() -> _datetime.datetime:
    """What ``strftime_now`` reads: the current time, or the pinned one inside ``pinned_clock``."""
    return _ctu.datetime.now()


class _PinnedDatetime(_datetime.datetime):
    pinned: _datetime.datetime

    @classmethod
    def now(cls, tz=None):
        return cls.pinned if tz is None else cls.pinned.astimezone(tz)


@contextlib.contextmanager
def pinned_clock(when: _datetime.datetime):
    """Make transformers' ``strftime_now`` (and ``now()``) read ``when`` until the block ends."""
    pinned = type("FixedDatetime", (_PinnedDatetime,), {"pinned": when})
    original = _ctu.datetime
    _ctu.datetime = pinned
    try:
        yield
    finally:
        _ctu.datetime = original
