"""Will this chat template work outside Python's jinja2? ``lint`` reads it, ``cross_check`` runs it.

A template on the Hub is rendered by transformers (Python jinja2), but also by TGI and mistral.rs
(minijinja), llama.cpp (minja), transformers.js (@huggingface/jinja). Python-only constructs such
as ``message['content'].strip()`` work in the first and break the others.

- ``lint(template)`` lists constructs other engines break on, each with its line and a fix that
  still renders the same in transformers.
- ``cross_check(template, messages, ...)`` renders with transformers' jinja2 (``render_template``)
  and with minijinja, and reports the first difference or either engine's error.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import jinja2
import minijinja
from jinja2 import nodes
from transformers.utils import chat_template_utils as _ctu

from course_utils.display import diff, first_difference
from course_utils.messages import prepare_messages
from course_utils.template_guard import (
    TemplateError, TemplateSecurityError, check_template, lex_template, parse_template,
)
from course_utils.templates import render_template

__all__ = ["Finding", "lint", "CrossCheck", "cross_check", "render_minijinja"]

# --- lint ------------------------------------------------------------------------------------

# Python methods that templates call, with the Jinja spelling that renders the same in jinja2
# and in engines without Python methods (None: no portable equivalent, restructure instead).
PYTHON_METHODS = {
    "strip": "`| trim`", "upper": "`| upper`", "lower": "`| lower`", "title": "`| title`",
    "capitalize": "`| capitalize`", "replace": "`| replace(old, new)`", "items": "`| items`",
    "keys": "`| list` (iterating a dict gives its keys)", "values": "`for key, value in x | items`",
    "join": "`| join(sep)` on the list", "startswith": "`x[:n] == 'prefix'` (slices are portable)",
    "endswith": "`x[-n:] == 'suffix'`", "get": "`x[key] if key in x else default`",
    "format": "`~` concatenation, e.g. 'Hi ' ~ name", "lstrip": None, "rstrip": None, "split": None,
    "splitlines": None, "count": None, "find": None, "index": None, "isdigit": None, "copy": None,
}
MUTATING_METHODS = {"append", "extend", "pop", "update", "insert", "remove", "clear", "setdefault", "sort", "reverse"}
# transformers passes these on every render (None/False when not given); other engines leave them
# undefined, so `tools is defined` is always true in one and false in the other.
ALWAYS_DEFINED = {"tools", "documents", "add_generation_prompt"}
_PY_LITERALS = {"True": "true", "False": "false", "None": "none"}


@dataclass(frozen=True)
class Finding:
    """One lint finding: where, which rule, what breaks, how to fix it."""

    line: int
    rule: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"line {self.line} [{self.rule}]: {self.message}. Fix: {self.fix}"


def _method_finding(node: nodes.Call) -> Finding | None:
    if not isinstance(node.node, nodes.Getattr):
        return None
    name = node.node.attr
    if name in MUTATING_METHODS:
        return Finding(node.lineno, "mutation", f"`.{name}()` changes a value in place: transformers' immutable "
                       "sandbox refuses it and most engines have no such method",
                       "build a new value: `{% set xs = xs + [item] %}`, or a `namespace()` attribute")
    if name not in PYTHON_METHODS:
        return None
    replacement = PYTHON_METHODS[name]
    fix = f"use {replacement}" if replacement else "no portable equivalent: restructure the template without it"
    return Finding(node.lineno, "python-method",
                   f"`.{name}()` is a Python method; engines without Python methods (minijinja, minja) fail", fix)


def _tree_findings(tree: nodes.Template) -> list[Finding]:
    findings = []
    for node in tree.find_all((nodes.Call, nodes.Test, nodes.Filter, nodes.Mod)):
        if isinstance(node, nodes.Call):
            finding = _method_finding(node)
        elif isinstance(node, nodes.Test) and node.name == "defined" and isinstance(node.node, nodes.Name) \
                and node.node.name in ALWAYS_DEFINED:
            finding = Finding(node.lineno, "always-defined",
                              f"`{node.node.name} is defined` is always true in transformers (it passes "
                              f"{node.node.name} as None/False) but false in engines that leave it undefined",
                              f"test the value: `{{% if {node.node.name} %}}`")
        elif isinstance(node, nodes.Filter) and node.name == "safe":
            finding = Finding(node.lineno, "safe-filter",
                              "`| safe` makes Markup: in jinja2, `'x' | safe + y` HTML-escapes y, in other "
                              "engines it does nothing", "drop `| safe`; chat templates are not HTML")
        elif isinstance(node, nodes.Mod) and isinstance(node.left, nodes.Const) and isinstance(node.left.value, str):
            finding = Finding(node.lineno, "percent-format",
                              "`'...' % value` is Python string formatting; minijinja has no `%` on strings",
                              "concatenate with `~`, e.g. 'Turn ' ~ loop.index")
        else:
            finding = None
        if finding:
            findings.append(finding)
    return findings


def _token_findings(template: str) -> list[Finding]:
    findings = []
    previous = None
    for line, kind, value in lex_template(template):
        if kind == "name" and value in _PY_LITERALS:
            findings.append(Finding(line, "python-literal",
                                    f"`{value}` is Python's spelling; Jinja's is `{_PY_LITERALS[value]}`, "
                                    "which every engine reads", f"write `{_PY_LITERALS[value]}`"))
        if kind == "name" and value == "generation" and previous == "block_begin":
            findings.append(Finding(line, "generation-block",
                                    "`{% generation %}` is a transformers extension for assistant masks; "
                                    "other engines stop with a syntax error",
                                    "keep it in a training-only template (e.g. TRL's *_training.jinja)"))
        if kind not in ("whitespace",):
            previous = kind
    return findings


@lru_cache(maxsize=256)
def _lint_cached(template: str) -> tuple[Finding, ...]:
    try:
        tree = parse_template(template)  # parsed, never compiled: linting runs nothing
    except jinja2.TemplateSyntaxError as exc:
        return (Finding(exc.lineno, "syntax-error", f"jinja2 cannot parse it: {exc.message}", "fix the syntax first"),)
    findings = _tree_findings(tree) + _token_findings(template)
    return tuple(sorted(findings, key=lambda finding: (finding.line, finding.rule)))


def lint(template: str) -> list[Finding]:
    """Constructs in ``template`` that other Jinja engines break on, sorted by line.

    Example:
        >>> for finding in lint("{{ messages[0]['content'].strip() }}{% if tools is defined %}{% endif %}"):
        ...     print(finding)
        line 1 [always-defined]: `tools is defined` is always true in transformers (it passes tools as None/False) but false in engines that leave it undefined. Fix: test the value: `{% if tools %}`
        line 1 [python-method]: `.strip()` is a Python method; engines without Python methods (minijinja, minja) fail. Fix: use `| trim`
    """
    if not isinstance(template, str):
        raise TypeError(f"lint() takes the template source (a str), got {type(template).__name__}")
    return list(_lint_cached(template))


# --- minijinja -------------------------------------------------------------------------------

_FUEL = 5_000_000  # minijinja's instruction budget: a runaway loop stops instead of hanging the kernel


def _raise_exception(message):
    raise minijinja.TemplateError(str(message))


def _strftime_now(format_string):
    # transformers' module clock, so `templates.fixed_clock` pins both engines at once
    return _ctu.datetime.now().strftime(format_string)


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
    - pycompat=False by default: minijinja can emulate common Python str/dict methods
      (``.strip()``, ``.items()``...), but not every engine that serves templates does, so the
      default checks the Jinja language itself; ``pycompat=True`` shows what the emulation rescues.
    - Cannot: `{% generation %}` (no extension mechanism: a syntax error) and transformers'
      restricted `dict`/`namespace` (minijinja's own are used; the template guard refuses the
      underscore names those restrictions exist for before either engine runs).
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
        tools = [tool if isinstance(tool, dict) else _ctu.get_json_schema(tool) for tool in tools]
    context = {"messages": _ctu._alias_reasoning_fields(messages), "tools": tools, "documents": documents,
               "add_generation_prompt": add_generation_prompt, **extra}
    return _ctu._plain_template_data(context)


def render_minijinja(template: str, messages, *, add_generation_prompt: bool = False,
                     tools=None, documents=None, pycompat: bool = False, **template_kwargs) -> str:
    """Render with minijinja and transformers' variables; errors are ``TemplateError`` with a line.

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


# --- cross_check -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CrossCheck:
    """What each engine made of one template and conversation.

    ``jinja2`` / ``minijinja`` hold the rendered text, or None when that engine failed, with the
    reason in ``jinja2_error`` / ``minijinja_error``. ``str()`` is a one-line verdict; in a notebook
    the result shows the first difference.
    """

    jinja2: str | None
    minijinja: str | None
    jinja2_error: str | None = None
    minijinja_error: str | None = None

    @property
    def same_output(self) -> bool:
        return self.jinja2 is not None and self.jinja2 == self.minijinja

    @property
    def portable(self) -> bool:
        """Both engines render the same text, or both refuse the conversation."""
        both_failed = self.jinja2_error is not None and self.minijinja_error is not None
        return self.same_output or both_failed

    @property
    def difference(self) -> str | None:
        if self.jinja2 is None or self.minijinja is None:
            return None
        return first_difference(self.jinja2, self.minijinja)

    def __str__(self) -> str:
        if self.same_output:
            return f"portable: jinja2 and minijinja render the same {len(self.jinja2)} characters"
        if self.jinja2_error and self.minijinja_error:
            return f"portable: both engines refuse it (jinja2: {self.jinja2_error} | minijinja: {self.minijinja_error})"
        if self.jinja2_error:
            return f"not portable: jinja2 (transformers) fails: {self.jinja2_error}"
        if self.minijinja_error:
            return f"not portable: minijinja fails: {self.minijinja_error}"
        return f"not portable: {self.difference} (expected = jinja2, got = minijinja)"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if self.jinja2 is not None and self.minijinja is not None and not self.same_output:
            return diff(self.jinja2, self.minijinja)._repr_html_().replace("expected:", "jinja2 (transformers):", 1) \
                .replace("got:", "minijinja:", 1)
        import html

        return f'<div class="course-crosscheck"><b>{html.escape(str(self))}</b></div>'


def _attempt(render) -> tuple[str | None, str | None]:
    try:
        return render(), None
    except TemplateSecurityError:
        raise  # an injection attempt is refused outright, not reported as a portability result
    except TemplateError as exc:
        return None, str(exc)


def cross_check(template: str, messages, *, pycompat: bool = False, **kwargs) -> CrossCheck:
    """Render ``template`` with transformers' jinja2 and with minijinja, and compare.

    Takes the same arguments as ``render_template`` except ``continue_final_message``, which is
    transformers' post-processing of the rendered text, not part of the template.
    ``pycompat=True`` lets minijinja emulate Python's string and dict methods.

    Raises:
        MessageError: the conversation is malformed (checked once, before either engine).
        TemplateSecurityError: the template tries to reach Python internals (neither engine runs).

    Example:
        >>> print(cross_check("{{ messages[0]['content'].strip() }}", [{"role": "user", "content": " Hi "}]))
        not portable: minijinja fails: template line 1: minijinja: unknown method: string has no method named strip
    """
    if "continue_final_message" in kwargs:
        raise TypeError("cross_check compares templates; continue_final_message is transformers' post-processing "
                        "of the output: check the template without it")
    if not isinstance(template, str):
        raise TemplateError(f"the template must be a string of Jinja source, got {type(template).__name__}")
    messages = prepare_messages(messages)
    try:
        check_template(template)  # refuses injection attempts before either engine sees them
    except jinja2.TemplateSyntaxError:
        # transformers is the reference: a template it cannot read is not run anywhere (and the
        # guard needs jinja2's syntax tree).
        _, error = _attempt(lambda: render_template(template, messages, **kwargs))
        return CrossCheck(None, None, error + " (minijinja not run: transformers' jinja2 is the reference)")
    jinja2_text, jinja2_error = _attempt(lambda: render_template(template, messages, **kwargs))
    mini_text, mini_error = _attempt(lambda: render_minijinja(template, messages, pycompat=pycompat, **kwargs))
    return CrossCheck(jinja2_text, mini_text, jinja2_error, mini_error)
