"""One-edit mutants of a Python answer: the slips a learner makes writing one.

Off-by-one numbers and slices, ``//`` for ``/``, inverted comparisons, ``rstrip`` for
``removesuffix``, a dropped list element or dict key, two arguments swapped, a keyword argument
dropped, flipped or added (``add_generation_prompt``, ``eos_token_id``, ``use_cpu``...), the
caller's list mutated instead of copied, a statement or a branch dropped, a loop over the first
item only, whitespace in a string, one special token for another; and every edit of
`template_edits` inside a string that holds a Jinja template.

Written here, not taken from a mutation-testing library (mutmut, cosmic-ray): those mutate the
files of an installed package and run its test suite, while these mutants are answer cells,
graded by `check`, and the edits that matter are course-specific. Each edit replaces one node's
source text, so a survivor is shown as the learner would have written it, comments and all.
"""
from __future__ import annotations

import ast
import copy
from typing import Callable, Iterator

from .template_edits import short, template_mutants

Edit = tuple[str, str]  # (what the edit does, the source after it)
Replacement = tuple[ast.AST, str, str]  # (the node, its new source text, what the edit does)

_OPERATORS = {ast.Div: ast.FloorDiv, ast.FloorDiv: ast.Div, ast.Add: ast.Sub, ast.Sub: ast.Add}
_COMPARISONS = {ast.GtE: ast.Gt, ast.Gt: ast.GtE, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Eq: ast.NotEq,
                ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_METHODS = {"removesuffix": ["rstrip"], "removeprefix": ["lstrip"], "rstrip": ["strip", "removesuffix"],
            "lstrip": ["strip"], "strip": ["rstrip", "lstrip"], "extend": ["append"], "append": ["extend"],
            "startswith": ["endswith"], "endswith": ["startswith"], "findall": ["search"]}
# Keyword arguments a learner adds where they do not belong, by the function they are passed to.
_ADDED_KEYWORDS = {
    "apply_chat_template": ["add_generation_prompt=True", "continue_final_message=True", "tokenize=False"],
    "generate": ["eos_token_id=tokenizer.eos_token_id", "max_length=64"],
    "decode": ["skip_special_tokens=True"],
    "SFTConfig": ["use_cpu=True", "packing=True"],
    "SFTTrainer": ["eval_dataset=None"],
}
_COPIES = {"list", "dict", "deepcopy", "copy"}
_SPECIAL_TOKENS = {"<|im_end|>": "<|endoftext|>", "<|endoftext|>": "<|im_end|>", "<|im_start|>": "<|im_end|>"}


def python_mutants(source: str) -> Iterator[Edit]:
    """Every one-edit mutant of `source` (a solution block), described with its line."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree) if _has_docstring(node)}
    # Python 3.11 gives the parts of an f-string the position of the whole string: no exact edit.
    in_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                   for part in ast.walk(node)}
    for node in ast.walk(tree):
        for operator in _NODE_EDITS:
            for target, text, edit in operator(node):
                if id(target) in docstrings or id(target) in in_fstrings:
                    continue
                start, end = _offset(lines, target.lineno, target.col_offset), \
                    _offset(lines, target.end_lineno, target.end_col_offset)
                yield f"line {target.lineno}: {edit}", source[:start] + text + source[end:]


def _offset(lines: list[str], lineno: int, col_bytes: int) -> int:
    """The character offset of an ast position (its column counts UTF-8 bytes)."""
    line = lines[lineno - 1]
    return sum(len(previous) for previous in lines[: lineno - 1]) + len(line.encode()[:col_bytes].decode())


def _has_docstring(node: ast.AST) -> bool:
    return (isinstance(node, (ast.Module, ast.FunctionDef)) and bool(node.body)
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
            and isinstance(node.body[0].value.value, str))


def _changed(node: ast.AST, change: Callable[[ast.AST], None]) -> str:
    twin = copy.deepcopy(node)
    change(twin)
    return ast.unparse(twin)


def _numbers(node) -> Iterator[Replacement]:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        for new in (node.value + 1, node.value - 1):
            yield node, str(new), f"{node.value} -> {new}"


def _operators(node) -> Iterator[Replacement]:
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        text = _changed(node, lambda n: setattr(n, "op", _OPERATORS[type(n.op)]()))
        yield node, f"({text})", f"{ast.unparse(node)} -> {text}"
    if isinstance(node, ast.BoolOp):
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        text = _changed(node, lambda n: setattr(n, "op", other))
        yield node, f"({text})", f"{ast.unparse(node)} -> {text}"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node, f"({ast.unparse(node.operand)})", f"drops the 'not' of {ast.unparse(node)}"


def _comparisons(node) -> Iterator[Replacement]:
    if isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            if type(op) in _COMPARISONS:
                text = _changed(node, lambda n: n.ops.__setitem__(index, _COMPARISONS[type(op)]()))
                yield node, f"({text})", f"{ast.unparse(node)} -> {text}"


def _methods(node) -> Iterator[Replacement]:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        for other in _METHODS.get(node.func.attr, []):
            text = _changed(node, lambda n: setattr(n.func, "attr", other))
            yield node, text, f".{node.func.attr}(...) -> .{other}(...)"


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _arguments(node) -> Iterator[Replacement]:
    if not isinstance(node, ast.Call):
        return
    name = _call_name(node)
    positional = [a for a in node.args if not isinstance(a, ast.Starred)]
    for index in range(len(positional) - 1):
        def swap(n, i=index):
            n.args[i], n.args[i + 1] = n.args[i + 1], n.args[i]
        yield node, _changed(node, swap), f"swaps the arguments {index + 1} and {index + 2} of {name}()"
    for index, keyword in enumerate(node.keywords):
        if keyword.arg is None:
            continue
        yield node, _changed(node, lambda n, i=index: n.keywords.pop(i)), f"drops {keyword.arg}= from {name}()"
        if isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, bool):
            flipped = not keyword.value.value
            text = _changed(node, lambda n, i=index: setattr(n.keywords[i].value, "value", flipped))
            yield node, text, f"{keyword.arg}={flipped} in {name}()"
    present = {k.arg for k in node.keywords}
    for added in _ADDED_KEYWORDS.get(name, []):
        if added.partition("=")[0] not in present:
            extra = ast.parse(f"f({added})", mode="eval").body.keywords[0]
            yield node, _changed(node, lambda n: n.keywords.append(extra)), f"adds {added} to {name}()"


def _collections(node) -> Iterator[Replacement]:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
        if len(node.elts) >= 2:
            for index, element in enumerate(node.elts):
                text = _changed(node, lambda n, i=index: n.elts.pop(i))
                yield node, f"({text})" if isinstance(node, ast.Tuple) else text, f"drops {_short(element)}"
    if isinstance(node, ast.Dict) and len(node.keys) >= 2:
        for index, key in enumerate(node.keys):
            if key is not None:
                def drop(n, i=index):
                    n.keys.pop(i), n.values.pop(i)
                yield node, _changed(node, drop), f"drops the key {_short(key)}"


def _roles(node) -> Iterator[Replacement]:
    """A message's role hard-coded where the answer computes it."""
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and key.value == "role" and not isinstance(value, ast.Constant):
                for role in ("user", "assistant"):
                    yield value, repr(role), f"hard-codes the role {_short(value)} as {role!r}"


def _copies(node) -> Iterator[Replacement]:
    """The caller's object changed instead of a copy of it."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.right, ast.List) \
            and isinstance(node.left, ast.Name):
        name = node.left.id
        yield node, f"({name}.extend({ast.unparse(node.right)}) or {name})", f"extends {name} in place"
    if isinstance(node, ast.Call) and _call_name(node) in _COPIES and len(node.args) == 1 and not node.keywords:
        yield node, ast.unparse(node.args[0]), f"uses {_short(node.args[0])} itself, not {_short(node)}"


def _statements(node) -> Iterator[Replacement]:
    for field in ("body", "orelse"):
        body = getattr(node, field, None)
        # A lone statement (a template's assignment) dropped is no answer at all: nothing to learn.
        if not isinstance(body, list) or len(body) < 2:
            continue
        for statement in body:
            if not isinstance(statement, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Expr)):
                yield statement, "pass", f"drops the statement {_short(statement)}"


def _branches(node) -> Iterator[Replacement]:
    if isinstance(node, (ast.If, ast.IfExp, ast.While)):
        for forced in ("True", "False"):
            yield node.test, forced, f"forces '{_short(node.test)}' to {forced}"
    if isinstance(node, ast.For):
        yield node.iter, f"{ast.unparse(node.iter)}[:1]", f"loops over the first item of {_short(node.iter)} only"
    if isinstance(node, ast.comprehension):
        yield node.iter, f"list({ast.unparse(node.iter)})[:1]", f"takes the first item of {_short(node.iter)} only"


def _slices(node) -> Iterator[Replacement]:
    if isinstance(node, ast.Slice):
        for bound in (node.lower, node.upper):
            if bound is not None and not isinstance(bound, (ast.Constant, ast.UnaryOp)):
                for sign in ("+", "-"):
                    yield bound, f"({ast.unparse(bound)} {sign} 1)", f"slices from {_short(bound)} {sign} 1"


def _strings(node) -> Iterator[Replacement]:
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return
    value = node.value
    if "{%" in value or "{{" in value:
        for edit, template in template_mutants(value):
            yield node, _string_literal(template), f"in the template, {edit}"
        return
    if value in _SPECIAL_TOKENS:
        yield node, repr(_SPECIAL_TOKENS[value]), f"{value} -> {_SPECIAL_TOKENS[value]}"
    for index, char in enumerate(value):
        if char == "\n":
            yield node, repr(value[:index] + value[index + 1:]), f"drops a newline from {value!r}"
    if "\n" in value or "<|" in value:  # text a model reads, not a key or a flag
        yield node, repr(value + "\n"), f"adds a newline to {value!r}"


def _string_literal(template: str) -> str:
    """A template as the learner writes it: a raw triple-quoted string, where that is exact."""
    if '"""' in template or template.endswith("\\"):
        return repr(template)
    return f'r"""{template}"""'


def _short(node: ast.AST) -> str:
    return short(ast.unparse(node), width=40)


_NODE_EDITS = (_numbers, _operators, _comparisons, _methods, _arguments, _collections, _roles, _copies,
               _statements, _branches, _slices, _strings)
