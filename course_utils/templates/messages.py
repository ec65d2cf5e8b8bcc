"""Check a conversation before a template sees it, so mistakes get one clear error.

A chat template that receives a malformed conversation fails far from the mistake
(``'dict object' has no attribute 'content'``, ``can only concatenate str (not "int") to str``)
or, worse, renders something wrong without failing. ``validate_messages`` catches the common
mistakes first and names the message index, the key and the fix.
"""
from __future__ import annotations

from collections.abc import Mapping

__all__ = ["MessageError", "validate_messages", "prepare_messages"]

_EXAMPLE = "[{'role': 'user', 'content': 'Hi!'}]"
_ROLES = "'system', 'user', 'assistant' or 'tool'"


class MessageError(ValueError):
    """A conversation that no chat template should be given. ``index``/``key`` locate the problem."""

    def __init__(self, problem: str, fix: str, index: int | None = None, key: str | None = None):
        self.problem, self.fix, self.index, self.key = problem, fix, index, key
        where = "messages" if index is None else f"message {index}"
        if key is not None:
            where += f", key {key!r}"
        super().__init__(f"{where}: {problem}. Fix: {fix}")


def _type_name(value) -> str:
    return type(value).__name__


def _check_content_blocks(index: int, blocks: list) -> None:
    # Multimodal messages carry a list of blocks such as {'type': 'text', 'text': ...};
    # templates read block['type'], so every block must be a dict that has one.
    for position, block in enumerate(blocks):
        if not isinstance(block, Mapping) or "type" not in block:
            raise MessageError(
                f"content block {position} is {block!r}, not a dict with a 'type'",
                "write each block as {'type': 'text', 'text': '...'} (or use one plain string as content)",
                index, "content",
            )


def _check_content(index: int, message: Mapping) -> None:
    has_calls = bool(message.get("tool_calls"))
    if "content" not in message or message["content"] is None:
        if has_calls:
            return  # an assistant turn that only calls tools may leave content out
        missing = "has no 'content'" if "content" not in message else "has content None"
        raise MessageError(
            f"{missing} (role {message['role']!r})",
            "add 'content': '...' (only an assistant message with 'tool_calls' may leave it out)",
            index, "content",
        )
    content = message["content"]
    if isinstance(content, str):
        return
    if isinstance(content, list):
        _check_content_blocks(index, content)
        return
    raise MessageError(
        f"content has type {_type_name(content)} ({content!r:.40}), but templates concatenate it as text",
        f"make it a string, e.g. 'content': {str(content)!r:.40}",
        index, "content",
    )


def _check_tool_calls(index: int, message: Mapping) -> None:
    calls = message.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        raise MessageError(
            f"tool_calls has type {_type_name(calls)}, not list",
            "write 'tool_calls': [{'type': 'function', 'function': {'name': ..., 'arguments': {...}}}]",
            index, "tool_calls",
        )


def _check_message(index: int, message) -> None:
    if not isinstance(message, Mapping):
        raise MessageError(
            f"has type {_type_name(message)} ({message!r:.40}), not dict",
            "write each message as {'role': 'user', 'content': '...'}",
            index,
        )
    if "role" not in message:
        raise MessageError("has no 'role'", f"add 'role': one of {_ROLES}", index, "role")
    if not isinstance(message["role"], str):
        raise MessageError(
            f"role has type {_type_name(message['role'])} ({message['role']!r:.40}), not str",
            f"use a string: {_ROLES}", index, "role",
        )
    _check_content(index, message)
    _check_tool_calls(index, message)


def _check_container(messages) -> None:
    if isinstance(messages, Mapping):
        raise MessageError(
            "is a single dict, not a list of messages",
            f"wrap it in a list: [{{...}}], e.g. {_EXAMPLE}",
        )
    if not isinstance(messages, (list, tuple)):
        raise MessageError(f"has type {_type_name(messages)}, not list", f"pass a list of dicts, e.g. {_EXAMPLE}")
    if not messages:
        raise MessageError("is empty", f"add at least one message, e.g. {_EXAMPLE}")


def prepare_messages(messages) -> list:
    """Validate the conversation and drop keys whose value is None, in one pass.

    transformers 5's ``apply_chat_template`` drops None-valued keys because APIs such as OpenAI's
    return ``content=None`` or ``tool_calls=None`` and many templates test ``is defined`` rather
    than ``is none``; ``render_template`` does the same. Messages without such keys are passed on
    as they are: transformers copies everything it renders and never writes into them.
    """
    _check_container(messages)
    prepared = []
    for index, message in enumerate(messages):
        # The common case, {'role': str, 'content': str}, in one expression: validating 10,000
        # conversations must cost next to nothing next to rendering them.
        if (type(message) is dict and len(message) == 2 and type(message.get("role")) is str
                and type(message.get("content")) is str):
            prepared.append(message)
            continue
        _check_message(index, message)
        if any(value is None for value in message.values()):
            message = {key: value for key, value in message.items() if value is not None}
        prepared.append(message)
    return prepared


def validate_messages(messages) -> None:
    """Raise ``MessageError`` unless ``messages`` is a non-empty list of well-formed message dicts.

    Checked: a list (or tuple); not empty; every item a dict with a string ``role``; ``content``
    present (a ``None``/missing content is allowed only beside ``tool_calls``) and a string or a
    list of ``{'type': ...}`` blocks; ``tool_calls`` a list.

    Example:
        >>> validate_messages([{"role": "user", "content": 42}])
        Traceback (most recent call last):
        ...
        course_utils.templates.messages.MessageError: message 0, key 'content': content has type int (42), but templates concatenate it as text. Fix: make it a string, e.g. 'content': '42'
    """
    prepare_messages(messages)
