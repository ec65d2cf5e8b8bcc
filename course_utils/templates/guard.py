"""Refuse template-injection attempts loudly, before the template runs.

Chat templates are untrusted code from the Hub. transformers renders them in jinja2's
``ImmutableSandboxedEnvironment``, and that sandbox is the real barrier: nothing here replaces it.
But the sandbox answers a single unsafe access such as ``{{ ''.__class__ }}`` or
``{{ '{0.__class__}'.format(x) }}`` with a *silent* empty string, so an injection attempt looks
like a template that printed nothing. This module reads the template's syntax tree (jinja2's own
parser, the same environment transformers compiled) and refuses what no chat template needs:

- private or dunder names: ``x.__class__``, ``x['_y']``, ``x|attr('__globals__')``,
  ``map(attribute='__class__')``, ``{% set ns._y = 1 %}``, or any ``'__name__'`` string;
- format strings that reach attributes (``'{0.__class__}'``);
- item names built from pieces (``x['__cla' ~ 'ss__']``), which would dodge the check above;
- ``{% include %}``, ``{% import %}``, ``{% extends %}``: a chat template is one file;
- ``**`` and multiplication by huge constants, which can exhaust memory (``'a' * 10**10``).
"""
from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import nodes

from . import _transformers

__all__ = [
    "TemplateError", "TemplateSecurityError", "check_template", "template_line", "find_unsafe", "parse_template",
    "lex_template",
]

_PRIVATE_NAME = re.compile(r"_+[A-Za-z]\w*")
_FORMAT_FIELD_ATTR = re.compile(r"\{[^{}]*(?:\.|\[)\s*_")
_HUGE = 10**6
_LOADING = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


class TemplateError(ValueError):
    """A chat template that does not compile, raised through ``raise_exception``, or failed."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class TemplateSecurityError(TemplateError):
    """A template that tries to reach Python internals (refused, nothing ran)."""


def _private_access(node: nodes.Node) -> str | None:
    if isinstance(node, (nodes.Getattr, nodes.NSRef)) and node.attr.startswith("_"):
        return f"reads the private attribute {node.attr!r}"
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        if _PRIVATE_NAME.fullmatch(node.value):
            return f"uses the private name {node.value!r}"
        if _FORMAT_FIELD_ATTR.search(node.value):
            return f"has a format string that reaches an attribute ({node.value[:40]!r})"
    if isinstance(node, nodes.Keyword) and node.key.startswith("_"):
        return f"passes the private keyword {node.key!r}"
    return None


def _is_string_building(node: nodes.Node) -> bool:
    if isinstance(node, nodes.Concat):
        return True
    # `messages[loop.index0 + 1]` is an ordinary index; only `+` with a string builds a name
    return isinstance(node, nodes.Add) and any(
        isinstance(side, nodes.Const) and isinstance(side.value, str) for side in (node.left, node.right)
    )


def _built_item_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getitem) and _is_string_building(node.arg):
        return "builds an item name from pieces (x['a' ~ 'b']); index with a plain string"
    return None


def _constant_factor(node: nodes.Node) -> float:
    """The product of the number constants in a chain of `*` (1 for anything else)."""
    if isinstance(node, nodes.Const) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return abs(node.value)
    if isinstance(node, nodes.Mul):
        return _constant_factor(node.left) * _constant_factor(node.right)
    return 1


def _resource_abuse(node: nodes.Node) -> str | None:
    if isinstance(node, _LOADING):
        return "loads another template; a chat template must be self-contained"
    if isinstance(node, nodes.Pow):
        return "uses '**', which can build numbers or strings that exhaust memory"
    # jinja2 folds constant expressions while compiling, so 'a' * 99999 * 99999 would allocate
    # 10 GB inside the compiler, before any sandbox check runs.
    if isinstance(node, nodes.Mul) and _constant_factor(node) > _HUGE:
        return f"multiplies by {_constant_factor(node):.0f}, which can exhaust memory"
    return None


_RULES = (_private_access, _built_item_name, _resource_abuse)


def parse_template(template: str) -> nodes.Template:
    """jinja2's syntax tree of ``template`` as transformers would read it, without compiling it.

    Raises ``jinja2.TemplateSyntaxError`` (with ``lineno``) when it does not parse.
    """
    # Parsed in transformers' own environment (extensions for `{% generation %}` and loop
    # controls included), not compiled: compiling runs jinja2's constant folding, which is where
    # a memory bomb such as 'a' * 10**10 would go off.
    return _transformers.reference_environment().parse(template)


def lex_template(template: str):
    """jinja2's tokens of ``template``: (line, kind, value) triples."""
    return _transformers.reference_environment().lex(template)


@lru_cache(maxsize=256)
def find_unsafe(template: str) -> tuple[tuple[int, str], ...]:
    """Every (line, reason) the guard refuses in ``template``; empty when it is acceptable.

    Raises ``jinja2.TemplateSyntaxError`` when the template does not parse. Cached per template
    text, as transformers caches the compiled template.
    """
    tree = parse_template(template)
    findings = []
    for node in tree.find_all(nodes.Node):
        for rule in _RULES:
            reason = rule(node)
            if reason:
                findings.append((node.lineno, reason))
    return tuple(findings)


def check_template(template: str) -> None:
    """Raise ``TemplateSecurityError`` for the first construct the guard refuses.

    Run it before compiling (see ``parse_template``); a template that does not parse
    raises ``jinja2.TemplateSyntaxError``.
    """
    findings = find_unsafe(template)
    if findings:
        line, reason = findings[0]
        raise TemplateSecurityError(
            f"template line {line}: refused: the template {reason}. Chat templates may only read the "
            "messages and variables they are given",
            line=line,
        )


def template_line(exc: BaseException) -> int | None:
    """The template line where a rendering error happened, from jinja2's rewritten traceback."""
    line = None
    traceback = exc.__traceback__
    while traceback is not None:
        # jinja2 rewrites frames of compiled template code to point at the template source,
        # under the file name "<template>" for templates made from a string.
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
