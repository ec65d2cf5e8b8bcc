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
- conversations whose roles do not alternate, which a strict template must refuse;
- what templates meet today (lesson 07): assistant turns with ``reasoning_content`` (in the last
  turn and in earlier ones), tool calls with ``arguments`` as a dict or as a JSON string, several
  calls in one turn, ``tool`` results; ``content`` as a list of text blocks; and non-text blocks
  that a text-only template must refuse.

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
from typing import Any

__all__ = ["GROUPS", "PLAIN_GROUPS", "conversations", "conversation", "GENERATION_PROMPT_OPTIONS"]

Messages = list[dict[str, str]]
RichMessages = list[dict[str, Any]]  # reasoning, tool calls, content blocks (lesson 07)


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


def _call(name: str, arguments: dict | str, call_id: str | None = None) -> dict[str, Any]:
    """One entry of an assistant's ``tool_calls``; ``arguments`` a dict, or a JSON string (OpenAI style)."""
    entry: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id is not None:
        entry["id"] = call_id
    return entry


def _assistant(content: str | None = "", reasoning: str | None = None, calls: list | None = None) -> dict[str, Any]:
    """An assistant turn; ``content=None`` leaves the key out, as APIs do for a turn that only calls tools."""
    message: dict[str, Any] = {"role": "assistant"}
    if content is not None:
        message["content"] = content
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if calls is not None:
        message["tool_calls"] = calls
    return message


# Conversations of reasoning models and tool use (lesson 07). Reasoning appears in the last
# assistant turn and in turns before the last user message (which Qwen3-style templates drop);
# tool calls carry their arguments as a dict or as a JSON string; a turn may make several calls.
# No content contains a control token, so that any format can parse its own renderings back.
_REASONING_AND_TOOLS: dict[str, RichMessages] = {
    "reasoning in the last turn": [
        _m("system", "You are a concise geography tutor."),
        _m("user", "What is the capital of Australia?"),
        _assistant("Canberra.", "Not Sydney: the capital is Canberra."),
    ],
    "reasoning in an earlier turn": [
        _m("user", "What is 12 * 12?"),
        _assistant("144.", "12 * 12 = 144."),
        _m("user", "And 13 * 13?"),
        _assistant("169.", "13 * 13 = 169."),
    ],
    "earlier reasoning, ends with a question": [
        _m("user", "Is a tomato a fruit?"),
        _assistant("Yes, botanically it is a fruit.", "Botany: it grows from the flower and holds seeds."),
        _m("user", "And a cucumber?"),
    ],
    "empty reasoning": [
        _m("user", "Say hi."),
        _assistant("Hi!", ""),
    ],
    "one tool call": [
        _m("system", "You can check the weather."),
        _m("user", "Weather in Oslo?"),
        _assistant("", "I need the weather tool.", [_call("get_weather", {"city": "Oslo"})]),
        {"role": "tool", "name": "get_weather", "content": "snowy, -3°C"},
        _assistant("It is snowing in Oslo, -3°C.", "The tool answered."),
    ],
    "parallel calls, dict and string arguments": [
        _m("user", "Weather in Oslo and in Lima?"),
        _assistant(None, "Two cities, two calls.", [
            _call("get_weather", {"city": "Oslo"}, "call_1"),
            _call("get_weather", '{"city":"Lima"}', "call_2"),
        ]),
        {"role": "tool", "tool_call_id": "call_1", "content": "snowy, -3°C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "sunny, 24°C"},
    ],
    "text before a call, then a follow-up question": [
        _m("system", "You plan trips."),
        _m("user", "Plan 3 days in Kyoto."),
        _assistant("Let me look that up.", None, [
            _call("plan_trip", {"city": "Kyoto", "days": 3, "options": {"budget": "low", "museums": True}}),
        ]),
        {"role": "tool", "name": "plan_trip",
         "content": '{"day 1": "temples", "day 2": "gardens", "day 3": "markets"}'},
        _assistant("Day 1 temples, day 2 gardens, day 3 markets.", "Summarise the plan."),
        _m("user", "Thanks! And the weather?"),
    ],
    "unicode reasoning and arguments": [
        _m("user", "Quel temps fait-il à Zürich ? 🌦"),
        _assistant(None, "L'utilisateur veut la météo de Zürich (チューリッヒ).", [
            _call("get_weather", {"city": "Zürich", "unit": "°C"}),
        ]),
        {"role": "tool", "name": "get_weather", "content": "nuageux, 12 °C"},
        _assistant("À Zürich : nuageux, 12 °C. 🌥", "Réponse en français."),
    ],
}

# Content as a list of text blocks (the form vision models and OpenAI-style APIs use), mixed
# with plain strings. A text-only template that accepts blocks writes their texts one after the
# other, with nothing between them.
_CONTENT_BLOCKS: dict[str, RichMessages] = {
    "one text block": [
        {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]},
    ],
    "several text blocks": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": [
            {"type": "text", "text": "Compare "},
            {"type": "text", "text": "Oslo"},
            {"type": "text", "text": " and Lima:\nwhich is warmer?"},
        ]},
        {"role": "assistant", "content": [{"type": "text", "text": "Lima."}]},
    ],
    "strings and blocks mixed": [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi, "},
                                          {"type": "text", "text": "how can I help?"}]},
        {"role": "user", "content": [{"type": "text", "text": "What is 2 + 3?"}]},
        {"role": "assistant", "content": "5."},
    ],
    "an empty list of blocks": [
        {"role": "user", "content": []},
        {"role": "assistant", "content": "Did you mean to send something?"},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Yes: hi."}]},
    ],
    "unicode blocks": [
        {"role": "user", "content": [{"type": "text", "text": "Quelle est la capitale du Japon ? "},
                                     {"type": "text", "text": "東京ですか？ 🗾"}]},
    ],
}

# Blocks a text-only template cannot render: it must refuse them (raise_exception), naming the type.
_NON_TEXT_BLOCKS: dict[str, RichMessages] = {
    "an image block": [
        {"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                     {"type": "image", "url": "https://example.com/cat.png"}]},
    ],
    "a video block after text turns": [
        {"role": "user", "content": "I will send a clip."},
        {"role": "assistant", "content": "Go ahead."},
        {"role": "user", "content": [{"type": "video", "url": "https://example.com/clip.mp4"},
                                     {"type": "text", "text": "What happens here?"}]},
    ],
}

GROUPS: dict[str, dict[str, RichMessages]] = {
    "alternating": _ALTERNATING,
    "empty system": _EMPTY_SYSTEM,
    "surrounding whitespace": _SURROUNDING_WHITESPACE,
    "other roles": _OTHER_ROLES,
    "non-alternating": _NON_ALTERNATING,
    "reasoning and tools": _REASONING_AND_TOOLS,
    "content blocks": _CONTENT_BLOCKS,
    "non-text blocks": _NON_TEXT_BLOCKS,
}
"""The corpus by group. Graders pick the groups their template must handle."""

PLAIN_GROUPS = ("alternating", "empty system", "surrounding whitespace", "other roles")
"""The groups of plain ``{'role', 'content': str}`` conversations that every template of lessons
01 to 06 renders: what ``conversations()`` gives when no group is named."""

GENERATION_PROMPT_OPTIONS = (False, True)
"""Every conversation is rendered once without and once with ``add_generation_prompt``."""


def conversations(*groups: str) -> Iterator[tuple[str, Messages]]:
    """Yield ``(name, messages)`` for every conversation of the given groups, as fresh copies.

    Args:
        groups: names from ``GROUPS``; none means ``PLAIN_GROUPS`` (every group of plain text
            conversations that alternate).

    Returns:
        An iterator of (name, a deep copy of the message list).
    """
    unknown = [group for group in groups if group not in GROUPS]
    if unknown:
        raise KeyError(f"unknown conversation group(s) {unknown}; known: {sorted(GROUPS)}")
    chosen = groups or PLAIN_GROUPS
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
