"""``lint``: the constructs in a chat template that Jinja engines other than Python's break on.

It reads the template (jinja2's syntax tree and tokens, as transformers parses it) and runs
nothing: each ``Finding`` names the line, the rule, what breaks, and a fix that still renders the
same in transformers.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jinja2
from jinja2 import nodes

from course_utils.templates.guard import lex_template, parse_template

__all__ = ["Finding", "lint"]

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
