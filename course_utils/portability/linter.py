"""``lint``: the constructs in a chat template that render differently outside Python's jinja2.

It reads the template (jinja2's syntax tree and tokens, as transformers parses it) and runs
nothing: each ``Finding`` names the line, the rule, which of the engines the course runs it
breaks (``breaks``), why, and a fix that still renders the same in transformers.

The engines are transformers' jinja2 and minijinja in its two modes (see ``engine``): strict,
the Rust crate's Jinja without Python's methods, and pycompat, the Python binding's default.
Every ``breaks`` below was checked against minijinja 3.0.5 (``tests/test_portability.py``):

- Python methods break strict only, except ``.index()`` and ``.copy()`` (pycompat lacks them
  too) and ``.title()``: pycompat's, like Jinja's ``| title``, capitalizes a letter only after a
  space or one of ``-([{<``; Python's after any non-letter (``it's`` → ``It'S``).
- ``%`` on strings, ``{% generation %}``, ``| safe`` followed by ``+`` and ``| indent`` on text
  ending with a newline break both modes; so do mutating methods, which transformers' sandbox
  refuses as well.
- ``True``/``None`` and ``tools is defined`` break none of them: jinja2 and both modes read the
  capitalized literals, and the course passes ``tools`` to every engine. They are findings for
  the servers whose engines do otherwise, which the course does not run.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jinja2
from jinja2 import nodes

from course_utils.templates.guard import lex_template, parse_template

__all__ = ["Finding", "lint", "JINJA2", "STRICT", "PYCOMPAT"]

JINJA2, STRICT, PYCOMPAT = "jinja2", "minijinja strict", "minijinja pycompat"
BOTH_MODES = (STRICT, PYCOMPAT)

# Python methods that templates call, with the Jinja spelling that renders the same in jinja2
# and in engines without Python methods (None: no portable equivalent, restructure instead).
PYTHON_METHODS = {
    "strip": "`| trim`", "upper": "`| upper`", "lower": "`| lower`",
    "title": "`| title` (it capitalizes only after a space or one of -([{<, as minijinja does)",
    "capitalize": "`| capitalize`", "replace": "`| replace(old, new)`", "items": "`| items`",
    "keys": "`| list` (iterating a dict gives its keys)", "values": "`for key, value in x | items`",
    "join": "`| join(sep)` on the list", "startswith": "`x[:n] == 'prefix'` (slices are portable)",
    "endswith": "`x[-n:] == 'suffix'`", "get": "`x[key] if key in x else default`",
    "format": "`~` concatenation, e.g. 'Hi ' ~ name", "lstrip": None, "rstrip": None, "split": None,
    "splitlines": None, "count": None, "find": None, "index": None, "isdigit": None, "copy": None,
}
# What minijinja's pycompat mode does with those methods, where it does not render Python's text.
PYCOMPAT_MISSING = {"index", "copy"}  # "unknown method" in both modes
PYCOMPAT_DIFFERS = {"title": "pycompat's `.title()` capitalizes only after a space or one of -([{<, Python's after "
                             "any non-letter (it's → It'S)"}
MUTATING_METHODS = {"append", "extend", "pop", "update", "insert", "remove", "clear", "setdefault", "sort", "reverse"}
# transformers passes these on every render (None/False when not given); other engines leave them
# undefined, so `tools is defined` is always true in one and false in the other.
ALWAYS_DEFINED = {"tools", "documents", "add_generation_prompt"}
_PY_LITERALS = {"True": "true", "False": "false", "None": "none"}


@dataclass(frozen=True)
class Finding:
    """One lint finding: where, which rule, which engines it breaks, what happens, how to fix it.

    ``breaks`` names engines the course runs (``JINJA2``, ``STRICT``, ``PYCOMPAT``); it is empty
    for a construct all three render the same, reported for servers whose engines differ.

    Example:
        >>> [finding] = lint("{{ 'turn %d' % 1 }}")
        >>> finding.breaks
        ('minijinja strict', 'minijinja pycompat')
    """

    line: int
    rule: str
    message: str
    fix: str
    breaks: tuple[str, ...] = ()

    def __str__(self) -> str:
        # One sentence ending: jinja2's own messages (syntax errors) end with a full stop already.
        message = self.message.rstrip(".")
        return f"line {self.line} [{self.rule}] {_breaks_phrase(self.breaks)}: {message}. Fix: {self.fix}"


def _breaks_phrase(breaks: tuple[str, ...]) -> str:
    if not breaks:
        return "breaks none of jinja2, minijinja strict, minijinja pycompat"
    if set(BOTH_MODES) <= set(breaks):
        others = [engine for engine in breaks if engine not in BOTH_MODES]
        return "breaks " + " and ".join(others + ["minijinja (strict and pycompat)"])
    return "breaks " + " and ".join(breaks)


def _python_method_finding(line: int, name: str) -> Finding:
    replacement = PYTHON_METHODS[name]
    fix = f"use {replacement}" if replacement else "no portable equivalent: restructure the template without it"
    if name in PYCOMPAT_MISSING:
        return Finding(line, "python-method", f"`.{name}()` is a Python method that minijinja lacks in both modes",
                       fix, BOTH_MODES)
    if name in PYCOMPAT_DIFFERS:
        return Finding(line, "python-method", f"`.{name}()` is a Python method: strict minijinja has none, and "
                       f"{PYCOMPAT_DIFFERS[name]}", fix, BOTH_MODES)
    return Finding(line, "python-method", f"`.{name}()` is a Python method: strict minijinja has none "
                   "(pycompat emulates it)", fix, (STRICT,))


def _method_finding(node: nodes.Call) -> Finding | None:
    if not isinstance(node.node, nodes.Getattr):
        return None
    name = node.node.attr
    if name in MUTATING_METHODS:
        return Finding(node.lineno, "mutation", f"`.{name}()` changes a value in place: transformers' immutable "
                       "sandbox refuses it and minijinja has no such method",
                       "build a new value: `{% set xs = xs + [item] %}`, or a `namespace()` attribute",
                       (JINJA2,) + BOTH_MODES)
    return _python_method_finding(node.lineno, name) if name in PYTHON_METHODS else None


def _always_defined_finding(node: nodes.Test) -> Finding | None:
    if node.name != "defined" or not isinstance(node.node, nodes.Name) or node.node.name not in ALWAYS_DEFINED:
        return None
    name = node.node.name
    return Finding(node.lineno, "always-defined",
                   f"`{name} is defined` is always true in transformers (it passes {name} as None/False; the "
                   "course passes it to minijinja too) but false in servers that leave it undefined",
                   f"test the value: `{{% if {name} %}}`")


def _filter_finding(node: nodes.Filter) -> Finding | None:
    if node.name == "safe":
        return Finding(node.lineno, "safe-filter", "`| safe` makes Markup: in jinja2, `'x' | safe + y` HTML-escapes "
                       "y, in minijinja it does nothing", "drop `| safe`; chat templates are not HTML", BOTH_MODES)
    if node.name == "indent":
        return Finding(node.lineno, "indent-filter", "`| indent` on text that ends with a newline: jinja2 keeps "
                       "that newline, minijinja drops it", "indent the text without its final newline, then add it: "
                       "`... | indent(2) ~ '\\n'`",
                       BOTH_MODES)
    return None


def _percent_finding(node: nodes.Mod) -> Finding | None:
    if not (isinstance(node.left, nodes.Const) and isinstance(node.left.value, str)):
        return None
    return Finding(node.lineno, "percent-format", "`'...' % value` is Python string formatting; minijinja has no "
                   "`%` on strings, not even with pycompat", "concatenate with `~`, e.g. 'Turn ' ~ loop.index",
                   BOTH_MODES)


def _tree_findings(tree: nodes.Template) -> list[Finding]:
    by_node_type = ((nodes.Call, _method_finding), (nodes.Test, _always_defined_finding),
                    (nodes.Filter, _filter_finding), (nodes.Mod, _percent_finding))
    findings = []
    for node in tree.find_all(tuple(node_type for node_type, _ in by_node_type)):
        finding = next(rule(node) for node_type, rule in by_node_type if isinstance(node, node_type))
        if finding:
            findings.append(finding)
    return findings


def _token_findings(template: str) -> list[Finding]:
    findings = []
    previous = None
    for line, kind, value in lex_template(template):
        if kind == "name" and value in _PY_LITERALS:
            findings.append(Finding(line, "python-literal",
                                    f"`{value}` is Python's spelling; Jinja documents `{_PY_LITERALS[value]}`. jinja2 and "
                                    "minijinja (both modes) read either; an engine that reads only Jinja's does not",
                                    f"write `{_PY_LITERALS[value]}`"))
        if kind == "name" and value == "generation" and previous == "block_begin":
            findings.append(Finding(line, "generation-block",
                                    "`{% generation %}` is a transformers extension for assistant masks; "
                                    "minijinja stops with a syntax error",
                                    "keep it in a training-only template (e.g. TRL's *_training.jinja)", BOTH_MODES))
        if kind not in ("whitespace",):
            previous = kind
    return findings


@lru_cache(maxsize=256)
def _lint_cached(template: str) -> tuple[Finding, ...]:
    try:
        tree = parse_template(template)  # parsed, never compiled: linting runs nothing
    except jinja2.TemplateSyntaxError as exc:
        return (Finding(exc.lineno, "syntax-error", f"jinja2 cannot parse it: {exc.message}", "fix the syntax first",
                        (JINJA2,)),)
    findings = _tree_findings(tree) + _token_findings(template)
    return tuple(sorted(findings, key=lambda finding: (finding.line, finding.rule)))


def lint(template: str) -> list[Finding]:
    """Constructs in ``template`` that render differently outside Python's jinja2, sorted by line.

    Example:
        >>> for finding in lint("{{ messages[0]['content'].strip() }}{% if tools is defined %}{% endif %}"):
        ...     print(finding)
        line 1 [always-defined] breaks none of jinja2, minijinja strict, minijinja pycompat: `tools is defined` is always true in transformers (it passes tools as None/False; the course passes it to minijinja too) but false in servers that leave it undefined. Fix: test the value: `{% if tools %}`
        line 1 [python-method] breaks minijinja strict: `.strip()` is a Python method: strict minijinja has none (pycompat emulates it). Fix: use `| trim`
    """
    if not isinstance(template, str):
        raise TypeError(f"lint() takes the template source (a str), got {type(template).__name__}")
    return list(_lint_cached(template))
