"""Lesson 07, chat templates today: the checks of its seven exercises.

- 07.thinking, 07.reasoning_prefill: functions graded on a copy of the course tokenizer that
  carries TRL's Qwen3 template, over conversations with reasoning and tool calls; what they
  return is compared with what ``apply_chat_template`` gives when called the right way.
- 07.content_blocks: a ChatML template that also takes ``content`` as a list of text blocks,
  rendered against a reference, and that must refuse other blocks naming their type.
- 07.kestrel, 07.kestrel_training, 07.kestrel_parser: the capstone, a format no lesson shows
  (`course_utils.kestrel`). The template renders against the reference; the training twin must
  also be prefix-preserving, pass TRL's checks and give the reference's assistant mask; the
  response template must parse every reference rendering back into the message it came from.
- 07.parallel_calls: the history after one reply made several calls: its shape (one assistant
  message, one tool message per call, paired by id and in order), then its renderings by Hermes
  and by Gemma 4 (which reads `tool_call_id`) against the reference history's.
"""
from __future__ import annotations

import copy
import json

import jinja2

from ..conversations import GENERATION_PROMPT_OPTIONS, PLAIN_GROUPS, conversations
from ..display import first_difference
from ..families import with_chat_template
from ..kestrel import (
    KESTREL_GROUPS,
    KESTREL_TEMPLATE,
    KESTREL_TRAINING_TEMPLATE,
    kestrel_conversations,
    kestrel_tokenizer,
    render_kestrel,
)
from ..status import NOT_ATTEMPTED_YET
from .calls import call, call_unchanged, short_repr
from .course_models import course_tokenizer
from .expect import expect_equal, expect_type
from .expect_templates import expect_same_renderings, expect_template_text, render_outcome, shown_render
from .expect_training import expect_prefix_preserving, expect_same_masks, expect_trl_training_checks
from .failure import CheckFailed
from .registry import exercise

__all__ = ["CONTENT_BLOCKS_TEMPLATE"]

# --- 07.thinking and 07.reasoning_prefill: Qwen3's template ---------------------------------

THINKING_GROUPS = ("alternating", "other roles", "reasoning and tools")

# 07.reasoning_prefill: (conversation, the start of the reasoning). Trailing spaces and inner
# newlines are kept by continue_final_message, so they are part of what is checked.
REASONING_CASES = (
    ("one user turn", "The user asks about France. "),
    ("earlier reasoning, ends with a question", "A cucumber grows from a flower too,"),
    ("parallel calls, dict and string arguments", "Both tools answered.\nOslo"),
    ("text before a call, then a follow-up question", "No weather tool was called for Kyoto yet. "),
)


def _qwen3_tokenizer():
    """A fresh copy of the course tokenizer with TRL's Qwen3 template (learner code may change it)."""
    from trl.chat_template_utils import qwen3_chat_template  # TRL imports torch: only when checked

    return with_chat_template(course_tokenizer(), qwen3_chat_template)


def _expect_prompt_text(got, expected: str, shown: str) -> None:
    if not isinstance(got, str):
        raise CheckFailed(f"{shown} returned {short_repr(got, 60)}, expected the prompt text (a str): "
                          "pass tokenize=False")
    where = first_difference(expected, got)
    if where is not None:
        raise CheckFailed(f"{shown}: {where}")


@exercise("07.thinking", points=1)
def check_thinking(thinking_off_prompt):
    tokenizer = _qwen3_tokenizer()
    for name, messages in conversations(*THINKING_GROUPS):
        if messages[-1]["role"] == "assistant":
            continue  # a prompt for a new reply follows a user or tool turn
        shown = f"thinking_off_prompt(qwen3_tokenizer, <conversation '{name}'>)"
        got = call_unchanged(thinking_off_prompt, tokenizer, messages, shown_as=shown)
        expected = tokenizer.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=False,
                                                 tokenize=False)
        thinking_on = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if got == thinking_on:
            raise CheckFailed(f"{shown} returned the prompt with thinking on ({first_difference(expected, got)}): "
                              "Qwen3's template reads the keyword enable_thinking, and ignores without an "
                              "error a keyword it does not read")
        _expect_prompt_text(got, expected, shown)


@exercise("07.reasoning_prefill", points=2)
def check_reasoning_prefill(continue_reasoning):
    tokenizer = _qwen3_tokenizer()
    corpus = dict(conversations(*THINKING_GROUPS))
    for name, start in REASONING_CASES:
        messages = corpus[name]
        shown = f"continue_reasoning(qwen3_tokenizer, <conversation '{name}'>, {start!r})"
        got = call_unchanged(continue_reasoning, tokenizer, messages, start, shown_as=shown)
        opened = messages + [{"role": "assistant", "content": "", "reasoning_content": start}]
        expected = tokenizer.apply_chat_template(opened, continue_final_message="reasoning_content", tokenize=False)
        if isinstance(got, str) and "</think>" in got.rpartition("<|im_start|>assistant\n")[2]:
            raise CheckFailed(f"{shown}: {first_difference(expected, got)}; the think block is already closed, "
                              "so the model would write its answer, not go on thinking: continue the "
                              "reasoning_content field")
        _expect_prompt_text(got, expected, shown)


# --- 07.content_blocks ----------------------------------------------------------------------

# ChatML, with content as a string or as a list of text blocks; any other block is refused.
CONTENT_BLOCKS_TEMPLATE = """\
{%- for message in messages %}
    {{- '<|im_start|>' + message['role'] + '\\n' }}
    {%- if message['content'] is string %}
        {{- message['content'] }}
    {%- else %}
        {%- for block in message['content'] %}
            {%- if block['type'] != 'text' %}
                {{- raise_exception("ChatML renders only text blocks, got '" ~ block['type'] ~ "'") }}
            {%- endif %}
            {{- block['text'] }}
        {%- endfor %}
    {%- endif %}
    {{- '<|im_end|>\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""
CONTENT_BLOCK_GROUPS = PLAIN_GROUPS + ("content blocks",)


def _block_types(messages) -> list[str]:
    return [block["type"] for message in messages if isinstance(message["content"], list)
            for block in message["content"] if block["type"] != "text"]


def _expect_raised_naming(template: str, name: str, conversation: str, messages, what: str, word: str,
                          exact: str | None = None) -> None:
    """Rendering must fail through the template's own raise_exception, with `word` in the message
    (or, where a spec gives the message, with exactly the message `exact`)."""
    for flag in GENERATION_PROMPT_OPTIONS:
        options = {"add_generation_prompt": flag}
        shown = shown_render(name, conversation, options)
        text, error = call(render_outcome, template, messages, shown_as=shown, **options)
        if error is None:
            raise CheckFailed(f"{shown} rendered {short_repr(text, 80)}, but {what}: "
                              f"call raise_exception('...') naming {word!r}")
        # raise_exception raises jinja2's base TemplateError; every other failure is a subclass.
        if type(error.__cause__) is not jinja2.TemplateError:
            raise CheckFailed(f"{shown} failed with {error} instead of your own raise_exception('...') ({what})")
        said = str(error).partition(" (raise_exception at")[0]
        if word not in said:
            raise CheckFailed(f"{shown} raised {said.strip()!r}, which does not name {word!r}: say what cannot "
                              "be rendered")
        if exact is not None and said != exact:
            raise CheckFailed(f"{shown} raised {said!r}, not the spec's message {exact!r}: "
                              f"{first_difference(exact, said)}")


@exercise("07.content_blocks", points=2)
def check_content_blocks(content_blocks_template):
    expect_template_text(content_blocks_template, "content_blocks_template")
    expect_same_renderings(content_blocks_template, CONTENT_BLOCKS_TEMPLATE, "content_blocks_template",
                           CONTENT_BLOCK_GROUPS)
    for conversation, messages in conversations("non-text blocks"):
        block_type = _block_types(messages)[0]
        what = f"the conversation has a block of type {block_type!r}, which ChatML cannot show"
        _expect_raised_naming(content_blocks_template, "content_blocks_template", conversation, messages, what,
                              block_type)


# --- 07.kestrel and 07.kestrel_training -----------------------------------------------------

# Roles Kestrel does not have: its template must refuse them, naming the role.
UNKNOWN_ROLES = {
    "a developer message": ("developer", [{"role": "developer", "content": "Answer briefly."},
                                          {"role": "user", "content": "Capital of Peru?"}]),
    "an ipython result": ("ipython", [{"role": "user", "content": "What is 6 * 7?"},
                                      {"role": "ipython", "content": "42"}]),
}


@exercise("07.kestrel", points=3)
def check_kestrel(kestrel_template):
    expect_template_text(kestrel_template, "kestrel_template")
    expect_same_renderings(kestrel_template, KESTREL_TEMPLATE, "kestrel_template", KESTREL_GROUPS)
    _expect_unknown_roles_refused(kestrel_template, "kestrel_template")


def _expect_unknown_roles_refused(template: str, name: str) -> None:
    """The spec gives the message word for word: `Kestrel has no role '<role>'`."""
    for conversation, (role, messages) in UNKNOWN_ROLES.items():
        _expect_raised_naming(template, name, conversation, copy.deepcopy(messages),
                              f"Kestrel has no role {role!r}", role, exact=f"Kestrel has no role '{role}'")


@exercise("07.kestrel_training", points=3)
def check_kestrel_training(kestrel_training_template):
    from trl.chat_template_utils import has_generation_markers  # TRL imports torch: only when checked

    name = "kestrel_training_template"
    expect_template_text(kestrel_training_template, name)
    expect_prefix_preserving(kestrel_training_template, name, KESTREL_GROUPS)
    if not has_generation_markers(kestrel_training_template):
        raise CheckFailed(f"{name} has no {{% generation %}} block, so its assistant mask is all zeros: wrap what "
                          "the assistant writes, through its <|eom|>, in {% generation %} ... {% endgeneration %}")
    expect_same_renderings(kestrel_training_template, KESTREL_TRAINING_TEMPLATE, name, KESTREL_GROUPS)
    tokenizer = kestrel_tokenizer(course_tokenizer(), kestrel_training_template)
    expect_trl_training_checks(tokenizer, name)
    expect_same_masks(tokenizer, kestrel_training_template, KESTREL_TRAINING_TEMPLATE, name, KESTREL_GROUPS)
    _expect_unknown_roles_refused(kestrel_training_template, name)


# --- 07.kestrel_parser ----------------------------------------------------------------------


# The corpus has no reasoning with whitespace at its ends, so a parser that strips the reasoning
# would pass on it; this conversation, the parser check's own, shows it.
REASONING_BETWEEN_NEWLINES = [
    {"role": "user", "content": "Capital of Peru?"},
    {"role": "assistant", "reasoning_content": "\nThe user asks for a capital.\n", "content": "Lima."},
]


def _replies():
    """(label, prompt, reply, message) for every assistant turn of the corpus: the prompt is the
    reference rendering of what precedes it with the generation prompt, the reply the rest."""
    corpus = [(f"conversation '{name}'", messages) for name, messages in kestrel_conversations().items()]
    corpus.append(("the check's own conversation 'reasoning between newlines'",
                   copy.deepcopy(REASONING_BETWEEN_NEWLINES)))
    for name, messages in corpus:
        for index, message in enumerate(messages):
            if message["role"] != "assistant" or index == 0:
                continue
            prompt = render_kestrel(messages[:index], add_generation_prompt=True)
            whole = render_kestrel(messages[: index + 1])
            yield f"messages[{index}] of {name}", prompt, whole[len(prompt):], message


def _arguments(arguments):
    return json.loads(arguments) if isinstance(arguments, str) else arguments


def _expected_message(message: dict) -> dict:
    """The message as a parser gives it back: the call ids and the arguments' spelling are not in
    the text, so calls are compared as {'type', 'function': {'name', 'arguments': dict}}."""
    calls = [{"type": "function", "function": {"name": c["function"]["name"],
                                               "arguments": _arguments(c["function"]["arguments"])}}
             for c in message.get("tool_calls") or []]
    return {"role": "assistant", "content": message.get("content") or "",
            "reasoning_content": message.get("reasoning_content") or "", "tool_calls": calls}


def _as_message(parsed) -> dict:
    """A parser leaves out a field it found empty; an empty field and a missing one are the same."""
    if not isinstance(parsed, dict):
        return parsed
    filled = dict(parsed)
    for key, empty in (("content", ""), ("reasoning_content", ""), ("tool_calls", [])):
        if filled.get(key) is None:
            filled[key] = empty
    return filled


@exercise("07.kestrel_parser", points=3)
def check_kestrel_parser(kestrel_response_template):
    from transformers.utils.chat_parsing import ResponseParser, parse_response

    if kestrel_response_template is None:
        raise CheckFailed(f"{NOT_ATTEMPTED_YET}: kestrel_response_template is None; assign your dict to it")
    expect_type(kestrel_response_template, dict, "kestrel_response_template")
    try:  # transformers validates the dict when a parser is built; no text is read yet
        ResponseParser(copy.deepcopy(kestrel_response_template), prefix="")
    except (ValueError, TypeError, KeyError) as error:
        raise CheckFailed(f"transformers refuses kestrel_response_template: {error}") from None
    for label, prompt, reply, message in _replies():
        shown = f"parse_response(<{label}, rendered>, kestrel_response_template, prefix=<the prompt before it>)"
        parsed = call(parse_response, reply, copy.deepcopy(kestrel_response_template), prefix=prompt, shown_as=shown)
        expect_equal(_as_message(parsed), _expected_message(message), shown)


# --- 07.parallel_calls ----------------------------------------------------------------------

# (history, calls): one reply made the calls at once. get_weather twice, so that a result paired
# with its call by the function's name lands on the wrong call, and a third call between them.
PARALLEL_CASES = {
    "three calls, get_weather twice": (
        [{"role": "user", "content": "Weather in Oslo and in Lima, and the capital of Peru?"}],
        [{"name": "get_weather", "arguments": {"city": "Oslo"}},
         {"name": "get_capital", "arguments": {"country": "Peru"}},
         {"name": "get_weather", "arguments": {"city": "Lima"}}]),
    "two calls after a system turn": (
        [{"role": "system", "content": "Answer in one sentence."},
         {"role": "user", "content": "Is 21°C warmer in Kelvin or in Fahrenheit?"}],
        [{"name": "convert_temperature", "arguments": {"celsius": 21, "unit": unit}}
         for unit in ("kelvin", "fahrenheit")]),
}


def _expect_one_turn_of_calls(new: list, count: int, shown: str) -> list:
    """One assistant message holding `count` calls, then `count` tool messages; returns the ids."""
    roles = [message.get("role") if isinstance(message, dict) else type(message).__name__ for message in new]
    if roles.count("assistant") > 1:
        raise CheckFailed(f"{shown} added {roles.count('assistant')} assistant messages (roles {roles}): the "
                          f"reply that made the {count} calls is one turn, so one assistant message whose "
                          "tool_calls holds every call; several would render as turns the model never wrote")
    if roles != ["assistant"] + ["tool"] * count:
        raise CheckFailed(f"{shown} added messages with roles {roles}, expected {['assistant'] + ['tool'] * count}: "
                          "one assistant message with every call, then one tool message per call")
    tool_calls = new[0].get("tool_calls")
    expect_type(tool_calls, list, "the assistant message's tool_calls")
    if len(tool_calls) != count:
        raise CheckFailed(f"{shown}: the assistant message's tool_calls holds {len(tool_calls)} calls, expected "
                          f"all {count}")
    ids = [c.get("id") if isinstance(c, dict) else None for c in tool_calls]
    if any(call_id in ids[:n] for n, call_id in enumerate(ids)):
        raise CheckFailed(f"{shown}: the assistant message's calls have the ids {ids}: give each call an id of its "
                          "own (call_1, call_2, ...), or a tool message cannot say which call it answers")
    return ids


def _expect_paired_by_id(new: list, ids: list, start: int, shown: str) -> None:
    """The k-th tool message answers the k-th call, through its tool_call_id."""
    answered = [message.get("tool_call_id") for message in new[1:]]
    for index, message in enumerate(new[1:], start=start + 1):
        if "tool_call_id" not in message:
            raise CheckFailed(f"{shown}[{index}], a tool message, has no tool_call_id: say which call it answers "
                              "with that call's id")
        if message["tool_call_id"] not in ids:
            raise CheckFailed(f"{shown}[{index}] has tool_call_id {message['tool_call_id']!r}, which no call has "
                              f"(the calls' ids are {ids}); Gemma 4 finds a result's function by this id, and fails")
    if answered != ids and sorted(answered, key=repr) == sorted(ids, key=repr):
        raise CheckFailed(f"{shown}: the tool messages answer {answered}, in another order than the calls {ids}: "
                          "Hermes and Qwen3 pair results with calls by order: the k-th result answers the k-th call")
    missing = next((call_id for call_id in ids if call_id not in answered), None)  # None: each call answered
    if missing is not None:
        raise CheckFailed(f"{shown}: the tool messages answer {answered}, but the calls are {ids}: no tool message "
                          f"answers {missing}; the k-th result answers the k-th call, whatever its function's name")


def _renderings(history) -> dict[str, tuple[str | None, object]]:
    """(text, error) of `history` rendered by Hermes (the course's tool format) and Gemma 4."""
    from trl.chat_template_utils import gemma4_chat_template  # TRL imports torch: only when checked

    from ..templates import get_template

    return {"Hermes (get_template('hermes_tool_use'))": render_outcome(get_template("hermes_tool_use"), history),
            "Gemma 4 (gemma4_chat_template)": render_outcome(gemma4_chat_template, history, bos_token="<bos>")}


def _normalised(message: dict, name: str | None) -> dict:
    """Empty, None or no assistant content is one turn; a tool message may name its function."""
    message = dict(message)  # a copy: the learner's history stays as it was returned
    if message.get("role") == "assistant" and not message.get("content"):
        message["content"] = ""
    if message.get("role") == "tool" and message.get("name") == name:
        message.pop("name")
    return message


@exercise("07.parallel_calls", points=2)
def check_parallel_calls(record_parallel_calls):
    from ..tools import EXAMPLE_TOOLS, assistant_message, call_tool, tool_message

    functions = {tool.__name__: tool for tool in EXAMPLE_TOOLS}
    for case, (messages, calls) in PARALLEL_CASES.items():
        results = [call_tool(c, functions) for c in calls]
        shown = f"record_parallel_calls(messages, calls, results) on '{case}'"
        given = copy.deepcopy((messages, calls, results))
        got = call(record_parallel_calls, *given, shown_as=shown)
        for what, before, after in zip(("messages", "calls", "results"), (messages, calls, results), given):
            if before != after:
                raise CheckFailed(f"{shown} changed the {what} it was given: build a new list, e.g. messages + [...]")
        expect_type(got, list, shown)
        if got[: len(messages)] != messages:
            raise CheckFailed(f"{shown} does not start with the {len(messages)} messages given: keep them as they "
                              "are and add the new ones after them")
        new = got[len(messages):]
        ids = _expect_one_turn_of_calls(new, len(calls), shown)
        _expect_paired_by_id(new, ids, len(messages), shown)
        # The reference, in the tool loop's own messages (lesson 06): what each template should show.
        spec_ids = [f"call_{n}" for n in range(1, len(calls) + 1)]
        reference = [assistant_message(calls, spec_ids), *map(tool_message, spec_ids, [None] * len(calls), results)]
        rendered = call(_renderings, got, shown_as=f"rendering {shown}'s history")
        for family, (expected, _) in _renderings(messages + reference).items():
            text, error = rendered[family]
            if error is not None:
                raise CheckFailed(f"{shown}: {family} cannot render the history: {error}")
            where = first_difference(expected, text)
            if where is not None:
                # Once dumped, arguments given as a JSON string read `"arguments": "`.
                strings = '"arguments": "' in json.dumps(new[0]["tool_calls"], default=repr)
                hint = "; give arguments as the dict the call had, not a JSON string" if strings else ""
                raise CheckFailed(f"{shown}, rendered by {family}: {where}{hint}")
        names = [None] + [c["name"] for c in calls]
        expect_equal([_normalised(m, name) for m, name in zip(new, names)], reference, f"{shown}[{len(messages)}:]")
