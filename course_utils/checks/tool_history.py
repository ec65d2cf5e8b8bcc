"""What a tool loop's messages must hold after a reply with tool calls (06.loop).

One reply is one assistant message whose `tool_calls` hold every call of the reply, each with
an id of its own, followed by one `tool` message per call carrying that id, in order. The Hermes
template does not render the ids, so only the messages show a result not paired with its call:
the check reads the messages each prompt was rendered from (`tool_model.recording_renders`).
"""
from __future__ import annotations

from .calls import short_repr
from .failure import CheckFailed


def _calls(count: int) -> str:
    return f"{count} call{'s' * (count != 1)}"


def expect_call_history(history, shown: str, count: int) -> None:
    """After the question: one assistant message whose tool_calls hold the reply's `count` calls,
    each with an id of its own, then one tool message per call carrying that id, in order. The
    template does not render ids, so only the messages show a result not paired with its call."""
    if not isinstance(history, list):
        raise CheckFailed(f"{shown}: the prompt of step 2 was not rendered by "
                          "tokenizer.apply_chat_template(messages, ...)")
    roles = [m.get("role") if isinstance(m, dict) else None for m in history]
    new = history[roles.index("user") + 1:] if "user" in roles else history
    roles = roles[len(history) - len(new):]
    turns = roles.count("assistant")
    if turns == 0:
        raise CheckFailed(f"{shown}: the messages of step 2 have no assistant message after the question (roles "
                          f"after it: {roles}); append the reply as {{'role': 'assistant', 'tool_calls': [...]}} "
                          "before its results: the model must see the calls it made")
    if turns > 1:
        raise CheckFailed(f"{shown}: the model made {_calls(count)} in one reply, but the prompt of step 2 shows "
                          f"that reply as {turns} assistant turns; keep one reply as one assistant message with "
                          f"{'both calls' if count == 2 else 'its calls'} in its tool_calls, then one tool message "
                          "per call")
    if roles[0] != "assistant":
        raise CheckFailed(f"{shown}: the messages of step 2 have the results before the assistant message that "
                          f"made the calls (roles after the question: {roles}); append the assistant message "
                          "first, then the results")
    expect_paired_results(new[0].get("tool_calls"), new[1:], f"{shown}: in the messages of step 2,", count)


def expect_paired_results(calls, results: list, where: str, count: int) -> None:
    if not calls:
        raise CheckFailed(f"{where} the assistant message has no tool_calls; put the reply's calls in its "
                          "tool_calls, each as {'id': ..., 'type': 'function', 'function': call}")
    if not isinstance(calls, list) or len(calls) != count:
        held = _calls(len(calls)) if isinstance(calls, list) else short_repr(calls, 60)
        raise CheckFailed(f"{where} the assistant message's tool_calls hold {held}, but the reply made "
                          f"{_calls(count)}; put every call of the reply in it, and run each")
    ids = [c.get("id") if isinstance(c, dict) else None for c in calls]
    if None in ids or "" in ids:
        raise CheckFailed(f"{where} the assistant message's tool_calls have the ids {ids}; give each call "
                          "an id, and its tool message the same tool_call_id")
    if len(set(map(repr, ids))) < count:
        raise CheckFailed(f"{where} the calls have the ids {ids}; give each call an id of its own, so "
                          "each result pairs with one call")
    if any(c.get("type") != "function" for c in calls):
        raise CheckFailed(f"{where} the assistant message's tool_calls have the types "
                          f"{[c.get('type') for c in calls]}; write each call as "
                          "{'id': ..., 'type': 'function', 'function': call}")
    roles = [m.get("role") if isinstance(m, dict) else None for m in results]
    if roles != ["tool"] * count:
        raise CheckFailed(f"{where} the assistant message with {_calls(count)} is followed by {len(roles)} "
                          f"message(s) with the roles {roles}; run each call and append one tool message per call")
    paired = [m.get("tool_call_id") for m in results]
    if paired != ids:
        raise CheckFailed(f"{where} the tool messages have the tool_call_ids {paired}, expected {ids}: each "
                          "result carries the id of its call, in the order of the calls")


# TODO(06.tool_template): an example that `make new-exercise` wrote, so that the course stays green until
# your exercise is written. Replace the texts, the call and what is expected with yours, then
# the task, the solution and the known_wrong and known_right answers in
# solutions/06_tool_use.ipynb (docs/INSTRUCTORS.md, "Adding an exercise").
