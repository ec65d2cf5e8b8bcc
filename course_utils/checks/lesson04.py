"""Lesson 04, generation prompts: the checks of its five exercises.

Functions are graded on the course tokenizer (the real SmolLM2-Instruct's, or its nano stand-in
offline: both carry SmolLM2's exact template) over the conversations of
`course_utils.conversations`. What they return is compared with what ``apply_chat_template``
gives when called the right way; a difference fails with the first differing character of the
decoded text (special tokens and whitespace visible), or the first differing token.

The training template (04.generation_mask) is for a family the lesson does not show, Zephyr, and
is graded twice: it must render exactly like Zephyr's own template, and its assistant mask must
cover exactly each assistant reply and its ``</s>``, token for token.
"""
from __future__ import annotations

import re

from ..conversations import conversations
from ..display import first_difference, visible
from ..templates import TEMPLATES
from .calls import call_unchanged, short_repr
from .course_models import course_tokenizer
from .expect_templates import SYSTEM_WITH_WHITESPACE, expect_same_renderings, expect_template_text
from .expect_training import expect_same_masks
from .failure import CheckFailed
from .registry import exercise

GROUPS = ("alternating", "empty system", "surrounding whitespace", "other roles")

# 04.prefill: (conversation, the start of the assistant's answer). Trailing spaces and
# punctuation are kept by continue_final_message, so they are part of what is checked. The
# starts ending in letters of "<|im_end|>" and in a newline are there for the learner who renders
# the closed turn and cuts it with rstrip("<|im_end|>\n"), which strips those characters as a set.
PREFILL_CASES = (
    ("one user turn", "The capital of France is"),
    ("system and one user turn", "Sure! "),
    ("three turns without system", '{"answer": "'),
    ("unicode", "D'accord : "),
    ("three turns with system", "Once upon a time"),
    ("empty content", "Here is my plan:\n"),
)

def _conversations_ending_with_user():
    for name, messages in conversations(*GROUPS):
        if messages[-1]["role"] == "user":
            yield name, messages


def _conversations_ending_with_assistant():
    """Every conversation of the corpus cut after its last assistant reply (if it has one)."""
    for name, messages in conversations(*GROUPS):
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
        if last is not None:
            yield name, messages[: last + 1]


def _model_input_ids(result, shown: str) -> list[int]:
    """The ids of one prompt from what `model.generate(**result)` would receive."""
    if isinstance(result, str):
        raise CheckFailed(f"{shown} returned a str (the rendered text), but generate() needs token ids: "
                          "let apply_chat_template tokenize (leave out tokenize=False)")
    if not hasattr(result, "keys") or "input_ids" not in result.keys():
        raise CheckFailed(f"{shown} returned {short_repr(result, 80)}, expected the dict of tensors that "
                          "model.generate(**inputs) takes (with 'input_ids' and 'attention_mask')")
    ids = result["input_ids"]
    if not hasattr(ids, "dim"):
        raise CheckFailed(f"{shown}['input_ids'] is a {type(ids).__name__}, but generate() needs tensors: "
                          "pass return_tensors='pt'")
    if ids.dim() != 2 or ids.shape[0] != 1:
        raise CheckFailed(f"{shown}['input_ids'] has shape {tuple(ids.shape)}, expected one row: (1, length)")
    if "attention_mask" not in result.keys():
        raise CheckFailed(f"{shown} has no 'attention_mask': return the whole BatchEncoding, not only input_ids")
    mask = result["attention_mask"]
    if not hasattr(mask, "tolist") or mask.tolist() != [[1] * ids.shape[1]]:
        raise CheckFailed(f"{shown}['attention_mask'] should be all ones, one per token of input_ids")
    return ids[0].tolist()


def _expect_same_ids(tokenizer, got: list[int], expected: list[int], shown: str) -> None:
    if got == expected:
        return
    got_text = tokenizer.decode(got, skip_special_tokens=False)
    expected_text = tokenizer.decode(expected, skip_special_tokens=False)
    where = first_difference(expected_text, got_text)
    if where is not None:
        raise CheckFailed(f"{shown}, decoded: {where}")
    index = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(got), len(expected)))
    raise CheckFailed(f"{shown} has the right text but other tokens from token {index} on: got ids "
                      f"{got[index:index + 5]}, expected {expected[index:index + 5]}; let apply_chat_template "
                      "tokenize the rendering itself")


@exercise("04.generation_prompt", points=1)
def check_generation_prompt(prompt_for_generation):
    tokenizer = course_tokenizer()
    for name, messages in _conversations_ending_with_user():
        shown = f"prompt_for_generation(tokenizer, <conversation '{name}'>)"
        result = call_unchanged(prompt_for_generation, tokenizer, messages, shown_as=shown)
        got = _model_input_ids(result, shown)
        expected = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)
        _expect_same_ids(tokenizer, got, expected, shown)


def _expect_prefills(prefill, tokenizer, cases, shown_call: str, explain=None) -> None:
    """The learner's prefill against transformers' own (the start as a final assistant message,
    `continue_final_message=True`) on each (conversation, start) case. `shown_call` is how the
    call begins in a message, e.g. "prefill(tokenizer"; `explain(tokenizer, messages, start,
    got, shown)` may raise a hint first when the ids differ."""
    corpus = dict(conversations(*GROUPS))
    for name, start in cases:
        messages = corpus[name]
        shown = f"{shown_call}, <conversation '{name}'>, {start!r})"
        result = call_unchanged(prefill, tokenizer, messages, start, shown_as=shown)
        got = _model_input_ids(result, shown)
        expected = tokenizer.apply_chat_template(
            messages + [{"role": "assistant", "content": start}], continue_final_message=True, return_dict=False)
        if got != expected:
            if explain is not None:
                explain(tokenizer, messages, start, got, shown)
            _explain_lost_end(tokenizer, messages, start, got, expected, shown)
        _expect_same_ids(tokenizer, got, expected, shown)


def _explain_lost_end(tokenizer, messages, start: str, got: list[int], expected: list[int], shown: str) -> None:
    """Name the mistake when the prompt is right but for the last characters of `start`: a strip,
    an rstrip of the closed turn's end marker (which strips a set of characters, so it goes on
    into `start`), or a slice that cuts too much."""
    got_text = tokenizer.decode(got, skip_special_tokens=False)
    expected_text = tokenizer.decode(expected, skip_special_tokens=False)
    lost = expected_text[len(got_text):]
    if not (lost and expected_text.startswith(got_text) and start.endswith(lost)):
        return
    closed = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": start}], tokenize=False)
    marker = closed[len(expected_text):] if closed.startswith(expected_text) else ""
    if not lost.strip():
        what = f"lost the trailing whitespace of start ({lost!r}): keep start exactly, trailing whitespace included"
    # rstrip(marker) stops at the first character outside the set: the one before what was lost.
    elif marker and set(lost) <= set(marker) and got_text[-1:] not in marker:
        what = (f"lost the end of start ({lost!r}), as closed_text.rstrip({marker!r}) does: rstrip removes any of "
                "the characters given, not that suffix; cut the end marker with removesuffix, or use "
                "continue_final_message=True")
    else:
        count = "the last character" if len(lost) == 1 else f"the last {len(lost)} characters"
        what = f"lost {count} of start ({lost!r}): keep start exactly, trailing characters included"
    raise CheckFailed(f"{shown} {what}; decoded: {first_difference(expected_text, got_text)}")


@exercise("04.prefill", points=2)
def check_prefill(prefill):
    _expect_prefills(prefill, course_tokenizer(), PREFILL_CASES, "prefill(tokenizer")


@exercise("04.train_vs_infer", points=2)
def check_train_vs_infer(format_example):
    tokenizer = course_tokenizer()
    for name, messages in _conversations_ending_with_assistant():
        for for_training in (True, False):
            shown = f"format_example(tokenizer, <conversation '{name}'>, for_training={for_training})"
            got = call_unchanged(format_example, tokenizer, messages, for_training, shown_as=shown)
            if not isinstance(got, str):
                raise CheckFailed(f"{shown} returned {short_repr(got, 60)}, expected the text (a str): "
                                  "pass tokenize=False")
            if for_training:
                expected = tokenizer.apply_chat_template(messages, tokenize=False)
            else:
                expected = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
            where = first_difference(expected, got)
            if where is not None:
                raise CheckFailed(f"{shown}: {where}")


# --- 04.generation_mask ---------------------------------------------------------------------
# The training twin of a family lesson 04 does not show: Zephyr (`<|user|>↵...</s>↵`). The lesson
# marks ChatML; here the end token is `</s>`, the header `<|assistant|>↵`, and the newline after
# `</s>` is written by a `}}↵` that a `{% endgeneration %}↵` would lose to trim_blocks. Zephyr
# does not enforce alternation, so the non-alternating conversations are graded too.
ZEPHYR_GROUPS = GROUPS + ("non-alternating",)
ZEPHYR_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>", "</s>")
# The reference: Zephyr's Hub template with the assistant branch split around {% generation %}.
ZEPHYR_TRAINING_TEMPLATE = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n' }}"
    "{% generation %}{{ message['content'] + eos_token }}{% endgeneration %}{{ '\n' }}"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
# A newline typed after `{% endgeneration %}` (not trimmed away by a `{{-`/`{%-` that follows).
_LOST_NEWLINE = re.compile(r"endgeneration\s*%\}\n(?![ \t]*\{[{%]-)")


def zephyr_tokenizer():
    """The course tokenizer dressed as Zephyr's: its template, and `<|system|>`, `<|user|>`,
    `<|assistant|>`, `</s>` as single tokens (eos `</s>`), so a mask is exact to the token."""
    from ..families import with_chat_template

    tokenizer = with_chat_template(course_tokenizer(), TEMPLATES["zephyr"].template, ZEPHYR_TOKENS, bos_token="<s>")
    tokenizer.eos_token = "</s>"
    return tokenizer


def _trained_spans(tokenizer, ids: list[int], mask: list[int]) -> list[str]:
    """The text of each run of trained-on tokens, whitespace visible."""
    spans, run = [], []
    for token_id, flag in zip(ids, mask):
        if flag:
            run.append(token_id)
        elif run:
            spans.append(run)
            run = []
    if run:
        spans.append(run)
    return [visible(tokenizer.decode(span, skip_special_tokens=False), keep_newlines=False) for span in spans]


def _expect_zephyr_renderings(template: str, name: str) -> None:
    try:
        expect_same_renderings(template, TEMPLATES["zephyr"].template, name, ZEPHYR_GROUPS,
                               template_kwargs=TEMPLATES["zephyr"].special_tokens, extra=(SYSTEM_WITH_WHITESPACE,))
    except CheckFailed as failed:
        if not (_LOST_NEWLINE.search(template) and "expected '↵" in failed.detail):
            raise
        raise CheckFailed("trim_blocks removes the newline written right after {% endgeneration %}, as after any "
                          "block tag; write it as {{ '\\n' }}. " + failed.detail) from None


@exercise("04.generation_mask", points=3)
def check_generation_mask(zephyr_training):
    name = "zephyr_training"
    expect_template_text(zephyr_training, name)
    # First the format: a training template must render exactly what the model reads at inference.
    _expect_zephyr_renderings(zephyr_training, name)
    # TRL's test, the one SFTTrainer applies (`{%- generation %}` and the other trim variants
    # included); imported here because TRL imports torch, which the other checks do not need.
    from trl.chat_template_utils import has_generation_markers

    if not has_generation_markers(zephyr_training):
        # Checked here rather than left to transformers, which would only log a warning and
        # return a mask of zeros: no token trained on.
        raise CheckFailed(f"{name} has no {{% generation %}} block, so its assistant mask is all zeros: "
                          "wrap each assistant reply and its </s> in {% generation %} ... {% endgeneration %}")
    expect_same_masks(zephyr_tokenizer(), zephyr_training, ZEPHYR_TRAINING_TEMPLATE, name, ZEPHYR_GROUPS,
                      tokenizer_shown="zephyr_tokenizer().", difference=_span_difference)


def _span_difference(tokenizer, ids: list[int], mask: list[int], expected_mask: list[int]) -> str:
    """How a Zephyr mask differs, as the text spans each mask trains on."""
    if not any(mask):
        return ("no token is trained on; put each assistant reply and its </s> "
                "inside {% generation %} ... {% endgeneration %}")
    got_spans = _trained_spans(tokenizer, ids, mask)
    expected_spans = _trained_spans(tokenizer, ids, expected_mask)
    return (f"the mask trains on {short_repr(got_spans, 160)}, expected exactly "
            f"{short_repr(expected_spans, 160)} (each assistant reply and its </s>; not the "
            "<|assistant|>↵ header, not the ↵ after)")


# --- 04.llama2_prefill ----------------------------------------------------------------------
# A prefill for a family lesson 04 does not show: Llama-2, whose tokenizer adds <s> to every text
# it encodes and whose template writes `[/INST]`, a space, then the answer. Ways that pass on
# SmolLM2's tokenizer (render to text and encode it again; append `start` to the generation
# prompt by hand) fail here, each on a case below.
LLAMA2_PREFILL_CASES = (
    ("one user turn", "The capital of France is"),
    ("system and one user turn", "Sure! "),
    ("three turns with system", '{"answer": "'),
)


def llama2_tokenizer():
    """The course tokenizer dressed as Llama-2's: its template, `<s>`/`</s>`, and <s> added on
    encode (`add_bos_token`), as `meta-llama/Llama-2-7b-chat-hf`'s tokenizer does."""
    from ..families import with_chat_template

    tokenizer = with_chat_template(course_tokenizer(), TEMPLATES["llama2"].template, ["[INST]", "[/INST]", "</s>"],
                                   bos_token="<s>")
    tokenizer.eos_token = "</s>"
    tokenizer.add_bos_token = True
    return tokenizer


def _explain_llama2_prefill(tokenizer, messages, start, got: list[int], shown: str) -> None:
    """Name the mistake when the ids differ in a way a learner's habit from ChatML explains."""
    bos = tokenizer.bos_token_id
    if got[:2] == [bos, bos]:
        raise CheckFailed(f"{shown} starts with two <s>: the template writes one and encoding the rendered text "
                          "added another; encode with add_special_tokens=False, or let apply_chat_template tokenize")
    by_hand = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + start
    if tokenizer.decode(got) == by_hand:
        raise CheckFailed(f"{shown} is the generation prompt with `start` appended by hand, which misses the space "
                          "Llama-2's template writes after [/INST] (and its trimming): add `start` as an assistant "
                          "message and let continue_final_message=True cut the rendering after it")


@exercise("04.llama2_prefill", points=2)
def check_llama2_prefill(llama2_prefill):
    _expect_prefills(llama2_prefill, llama2_tokenizer(), LLAMA2_PREFILL_CASES, "llama2_prefill(llama_tokenizer",
                     explain=_explain_llama2_prefill)
