"""The conversations that the template exercises are graded on.

A template grader never reads the learner's template text: it renders the learner's template
and the reference over these conversations, with and without the generation prompt, and
compares the strings. So this corpus decides what "the same template" means. It covers what
real chats contain and what templates get wrong:

- with and without a system message, one turn and several, ending on a user or an assistant
  turn (so ``add_generation_prompt`` is tried after both);
- unicode (accents, CJK, emoji), empty content, an empty system message, content with inner
  and surrounding whitespace, content that looks like Jinja or HTML (``{{ }}``, ``<b>``) and
  must come out verbatim;
- other role names (``tool``), for templates that must render any role;
- conversations whose roles do not alternate, which a strict template must refuse.

Every accessor returns fresh copies, so a learner's function that mutates its input cannot
change what the next check sees.

Example:
    >>> from course_utils.conversations import conversations
    >>> [name for name, _ in conversations("alternating")][:2]
    ['one user turn', 'system and one user turn']
"""
from __future__ import annotations

import copy
from collections.abc import Iterator

__all__ = ["GROUPS", "conversations", "conversation", "GENERATION_PROMPT_OPTIONS"]

Messages = list[dict[str, str]]


def _m(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


# Conversations in which user and assistant alternate after an optional leading system message.
# Every template in the course accepts them, including the strict Llama-2 one.
_ALTERNATING: dict[str, Messages] = {
    "one user turn": [
        _m("user", "What is the capital of France?"),
    ],
    "system and one user turn": [
        _m("system", "You are a concise geography tutor."),
        _m("user", "What is the capital of Japan?"),
    ],
    "system, user and assistant": [
        _m("system", "You are a concise geography tutor."),
        _m("user", "What is the capital of Japan?"),
        _m("assistant", "The capital of Japan is Tokyo."),
    ],
    "three turns without system": [
        _m("user", "What colour is the sky?"),
        _m("assistant", "The sky is blue."),
        _m("user", "And grass?"),
        _m("assistant", "Grass is green."),
        _m("user", "What is 2 + 3?"),
    ],
    "three turns with system": [
        _m("system", "Answer in one short sentence."),
        _m("user", "Hello, how are you?"),
        _m("assistant", "I'm doing great. How can I help you today?"),
        _m("user", "What is 4 + 4?"),
        _m("assistant", "4 + 4 is 8."),
        _m("user", "Thanks!"),
    ],
    "unicode": [
        _m("system", "Réponds en français, s'il te plaît."),
        _m("user", "Quelle est la capitale du Japon ? 東京ですか？ 🗾"),
        _m("assistant", "Oui : c'est Tokyo (東京). 🙂 «Voilà» — naïve café"),
    ],
    "empty content": [
        _m("user", ""),
        _m("assistant", ""),
        _m("user", "Are you there?"),
    ],
    "newlines and spaces inside content": [
        _m("user", "Two lines:\nline one\n\nline two"),
        _m("assistant", "Indented:\n    four spaces\n\ttab"),
    ],
    "content that looks like code": [
        _m("user", "Print {{ messages }} and {% raw %} as text, with 'quotes', \"double\" and \\ <b>bold</b> & co"),
        _m("assistant", "{{ messages }} and {% raw %} are just text here: <b>bold</b> & co"),
    ],
}

# Content whose leading/trailing whitespace a template may strip (Llama-2 does, ChatML does not).
# No system message here: Llama-2 strips the system block and the first user message as one
# string, a subtlety this corpus leaves out so that any sensible stripping agrees.
_SURROUNDING_WHITESPACE: dict[str, Messages] = {
    "surrounding whitespace": [
        _m("user", "\n  What is the capital of Peru?  "),
        _m("assistant", " Lima. \n"),
        _m("user", "  Thanks!\t"),
    ],
}

# An empty system message is still a system message: templates that test `if system` rather
# than the role differ here. Llama-2 graders leave it out (Meta's template prints an empty
# <<SYS>> block, a corner no lesson teaches).
_EMPTY_SYSTEM: dict[str, Messages] = {
    "empty system message": [
        _m("system", ""),
        _m("user", "Hi!"),
    ],
}

# Roles other than system/user/assistant: a ChatML template writes any role name it is given.
_OTHER_ROLES: dict[str, Messages] = {
    "a tool turn": [
        _m("system", "You can check the weather."),
        _m("user", "Weather in Oslo?"),
        _m("assistant", "Let me check."),
        _m("tool", '{"city": "Oslo", "forecast": "snow"}'),
        _m("assistant", "It is snowing in Oslo."),
    ],
}

# Conversations whose user/assistant roles do not alternate: a strict template raises on each.
_NON_ALTERNATING: dict[str, Messages] = {
    "two user turns in a row": [
        _m("user", "Hello?"),
        _m("user", "Is anyone there?"),
    ],
    "assistant speaks first": [
        _m("assistant", "Hi, I'm the assistant."),
        _m("user", "Hi."),
    ],
    "system then assistant": [
        _m("system", "You are helpful."),
        _m("assistant", "How can I help?"),
    ],
    "two assistant turns in a row": [
        _m("user", "What is 1 + 1?"),
        _m("assistant", "2."),
        _m("assistant", "I mean: 1 + 1 is 2."),
    ],
    "user twice after a system and a full exchange": [
        _m("system", "You are helpful."),
        _m("user", "What colour is snow?"),
        _m("assistant", "White."),
        _m("user", "And coal?"),
        _m("user", "Hello?"),
    ],
}

GROUPS: dict[str, dict[str, Messages]] = {
    "alternating": _ALTERNATING,
    "empty system": _EMPTY_SYSTEM,
    "surrounding whitespace": _SURROUNDING_WHITESPACE,
    "other roles": _OTHER_ROLES,
    "non-alternating": _NON_ALTERNATING,
}
"""The corpus by group. Graders pick the groups their template must handle."""

GENERATION_PROMPT_OPTIONS = (False, True)
"""Every conversation is rendered once without and once with ``add_generation_prompt``."""


def conversations(*groups: str) -> Iterator[tuple[str, Messages]]:
    """Yield ``(name, messages)`` for every conversation of the given groups, as fresh copies.

    Args:
        groups: names from ``GROUPS``; none means all groups except ``"non-alternating"``.

    Returns:
        An iterator of (name, a deep copy of the message list).
    """
    unknown = [group for group in groups if group not in GROUPS]
    if unknown:
        raise KeyError(f"unknown conversation group(s) {unknown}; known: {sorted(GROUPS)}")
    chosen = groups or tuple(group for group in GROUPS if group != "non-alternating")
    for group in chosen:
        for name, messages in GROUPS[group].items():
            yield name, copy.deepcopy(messages)


def conversation(name: str) -> Messages:
    """A fresh copy of one named conversation, e.g. ``conversation("unicode")``."""
    for group in GROUPS.values():
        if name in group:
            return copy.deepcopy(group[name])
    names = [n for group in GROUPS.values() for n in group]
    raise KeyError(f"no conversation named {name!r}; known: {names}")
