"""One-edit mutants of a Jinja chat template: the slips a learner makes writing one.

Each edit works on the template's text, so a survivor reads as the learner would have typed it:
a dropped ``\\n`` in a string literal, a whitespace-control dash flipped, a ``| trim`` removed
or added, two literals swapped, a role hard-coded, a branch forced, a comparison inverted, the
``{% generation %}`` markers forgotten. Sites are found with regular expressions over the tags
because jinja2's lexer gives tokens line numbers but no offsets, and an edit must land on one
exact place; `parse_template` (transformers' own environment) then decides what the edit means.
"""
from __future__ import annotations

import re
from typing import Iterator

# A tag: its opener, left dash, body, right dash and closer. Comments are left alone.
_TAG = re.compile(r"(\{[{%])(-?)(.*?)(-?)([}%]\})", re.DOTALL)
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_FILTER = re.compile(r"\s*\|\s*\w+(?:\([^()]*\))?")
_CONTENT = re.compile(r"message(?:\[(['\"])content\1\]|\.content)(?!\s*\|)(?!\s*\[)")
_ROLE = re.compile(r"message(?:\[(['\"])role\1\]|\.role)")
_CONDITION = re.compile(r"^(\s*)(if|elif)\s+(.*?)(\s*)$", re.DOTALL)
_COMPARISONS = {" == ": " != ", " != ": " == ", " not in ": " in ", " in ": " not in ",
                "loop.first": "loop.last", "loop.last": "loop.first", " >= ": " > ", " > ": " >= ",
                " <= ": " < ", " < ": " <= "}
_GENERATION = re.compile(r"\{%-?\s*(end)?generation\s*-?%\}")
MAX_EDITS_PER_LITERAL = 3  # a long literal's fourth dropped space teaches nothing the third did not

Edit = tuple[str, str]  # (what the edit does, the template after it)


def template_mutants(template: str) -> Iterator[Edit]:
    """Every one-edit mutant of `template`, described, in source order (parse errors included:
    the caller drops those)."""
    for tag in _TAG.finditer(template):
        line = template.count("\n", 0, tag.start()) + 1
        for edit, new_tag in _tag_edits(tag):
            yield f"line {line}: {edit}", template[: tag.start()] + new_tag + template[tag.end():]
    yield from _without_generation_markers(template)


def _tag_edits(tag: re.Match) -> Iterator[Edit]:
    opener, left, body, right, closer = tag.groups()
    yield from _dash_edits(tag.group(0), opener, left, body, right, closer)
    for edit, new_body in _body_edits(body, is_output=opener == "{{"):
        yield edit, opener + left + new_body + right + closer


def _dash_edits(text: str, opener: str, left: str, body: str, right: str, closer: str) -> Iterator[Edit]:
    flipped_left = "" if left else "-"
    flipped_right = "" if right else "-"
    yield (f"{'removes' if left else 'adds'} the left dash of {short(text)}",
           opener + flipped_left + body + right + closer)
    yield (f"{'removes' if right else 'adds'} the right dash of {short(text)}",
           opener + left + body + flipped_right + closer)


def _body_edits(body: str, is_output: bool) -> Iterator[Edit]:
    strings = list(_STRING.finditer(body))
    for match in strings:
        for edit, literal in _literal_edits(match.group(0)):
            yield edit, body[: match.start()] + literal + body[match.end():]
    for first, second in zip(strings, strings[1:]):
        if "," in body[first.end(): second.start()]:
            continue  # items of a list or arguments: their order is rarely what a slip changes
        swapped = (body[: first.start()] + second.group(0) + body[first.end(): second.start()]
                   + first.group(0) + body[second.end():])
        yield f"swaps {first.group(0)} and {second.group(0)}", swapped
    for match in _FILTER.finditer(body):
        yield f"removes the filter '{match.group(0).strip()}'", body[: match.start()] + body[match.end():]
    for match in _CONTENT.finditer(body):
        yield f"trims {match.group(0)}", body[: match.end()] + " | trim" + body[match.end():]
    if is_output or body.lstrip().startswith("set "):
        for match in _ROLE.finditer(body):
            for role in ("'user'", "'assistant'"):
                yield f"hard-codes {match.group(0)} as {role}", body[: match.start()] + role + body[match.end():]
    yield from _condition_edits(body)


def _literal_edits(literal: str) -> Iterator[Edit]:
    quote, inner = literal[0], literal[1:-1]
    for needle, name in (("\\n", "newline"), (" ", "space")):
        starts = [m.start() for m in re.finditer(re.escape(needle), inner)][:MAX_EDITS_PER_LITERAL]
        for start in starts:
            yield (f"drops a {name} from {literal}",
                   quote + inner[:start] + inner[start + len(needle):] + quote)
    yield f"adds a newline to the end of {literal}", quote + inner + "\\n" + quote
    yield f"adds a space to the end of {literal}", quote + inner + " " + quote


def _condition_edits(body: str) -> Iterator[Edit]:
    match = _CONDITION.match(body)
    if not match:
        return
    lead, keyword, condition, trail = match.groups()
    for forced in ("true", "false"):
        yield f"forces '{keyword} {short(condition)}' to {forced}", f"{lead}{keyword} {forced}{trail}"
    for old, new in _COMPARISONS.items():
        for found in re.finditer(re.escape(old), condition):
            changed = condition[: found.start()] + new + condition[found.end():]
            yield (f"changes '{old.strip()}' to '{new.strip()}' in '{keyword} {short(condition)}'",
                   f"{lead}{keyword} {changed}{trail}")


def _without_generation_markers(template: str) -> Iterator[Edit]:
    if _GENERATION.search(template):
        yield "drops the {% generation %} markers", _GENERATION.sub("", template)


def short(text: str, width: int = 48) -> str:
    """`text` on one line, cut to `width` characters: how an edit names the code it changes."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
