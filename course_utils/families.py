"""Template families as learners meet them today, and what TRL checks before training on one.

TRL 1.16 ships about 35 real chat templates (``trl/chat_templates/``, each importable as
``trl.chat_template_utils.<name>_chat_template``) with training twins for most. Lesson 07 renders
them on the course tokenizer and asks TRL the questions that decide whether a template can be
trained on. This module does the plumbing; the lesson calls TRL's functions in plain sight.

- ``with_chat_template(tokenizer, template, special_tokens=())``: a copy of a tokenizer that
  renders with another family's template (and knows its control tokens, when given), so the
  course tokenizer can show Llama-3, Gemma or Qwen3 text without downloading those models.
- ``training_checks(tokenizer)``: TRL's verdicts on one template, in one row;
  ``checks_table(...)`` shows several rows side by side.
"""
from __future__ import annotations

import copy
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["with_chat_template", "TrainingChecks", "training_checks", "ChecksTable", "checks_table"]


def with_chat_template(tokenizer, template: str, special_tokens: Iterable[str] = (), *,
                       bos_token: str | None = None):
    """A deep copy of ``tokenizer`` whose chat template is ``template``; the original is untouched.

    ``special_tokens`` are added as control tokens (each one id, never split): a mask computed
    with ``return_assistant_tokens_mask`` is token-granular, and TRL's stop-token check looks for
    the end-of-turn token among the added tokens. ``bos_token`` replaces the tokenizer's own
    (``apply_chat_template`` passes it to the template, and families spell it differently).

    Example:
        >>> from trl.chat_template_utils import llama3_2_chat_template
        >>> llama = with_chat_template(tokenizer, llama3_2_chat_template, ["<|eot_id|>"],
        ...                            bos_token="<|begin_of_text|>")  # doctest: +SKIP
    """
    copied = copy.deepcopy(tokenizer)
    tokens = [token for token in special_tokens if token not in copied.get_added_vocab()]
    if tokens:
        copied.add_special_tokens({"additional_special_tokens": tokens}, replace_extra_special_tokens=False)
    if bos_token is not None:
        copied.add_special_tokens({"bos_token": bos_token})
    copied.chat_template = template
    return copied


@dataclass(frozen=True)
class TrainingChecks:
    """TRL's answers for one template: can SFT/GRPO train on it as it is, and if not, does TRL fix it?

    ``training_twin`` is "not needed" (the template already passes), "TRL has one" (TRL swaps in
    its generation-tagged, prefix-preserving twin by itself) or "none: <TRL's reason>".
    """

    generation_markers: bool
    prefix_preserving: bool | str
    stop_token_trained: bool
    tool_calling: bool
    training_twin: str

    def cells(self) -> list[str]:
        return [_mark(self.generation_markers), _mark(self.prefix_preserving), _mark(self.stop_token_trained),
                _mark(self.tool_calling), self.training_twin]


HEADERS = ["{% generation %}", "prefix-preserving", "stop token trained", "tool calling", "TRL training twin"]


def _mark(value: bool | str) -> str:
    if isinstance(value, str):
        return value
    return "yes" if value else "no"


def _first_sentence(error: Exception) -> str:
    return str(error).split(". ")[0].rstrip(".")


def training_checks(tokenizer) -> TrainingChecks:
    """Run TRL's template checks on ``tokenizer``'s chat template (a check that raises is reported)."""
    # TRL imports torch: only when asked.
    from trl.chat_template_utils import (
        get_training_chat_template, has_generation_markers, is_chat_template_prefix_preserving,
        is_chat_template_stop_token_trained, supports_tool_calling,
    )

    template = tokenizer.chat_template
    try:
        prefix_preserving: bool | str = is_chat_template_prefix_preserving(tokenizer)
    except Exception as error:  # noqa: BLE001 -- a template that refuses TRL's probe conversation
        prefix_preserving = "cannot tell: the template raised on TRL's probe"
    try:
        twin = get_training_chat_template(tokenizer)
        training_twin = "not needed" if twin is None else "TRL has one"
    except ValueError as error:
        # TRL recognises a template by exact identity with one it stores; any other it cannot patch.
        training_twin = "none: TRL cannot patch it" if "not supported" in str(error) else f"none: {_first_sentence(error)}"
    return TrainingChecks(
        generation_markers=has_generation_markers(template),
        prefix_preserving=prefix_preserving,
        stop_token_trained=is_chat_template_stop_token_trained(tokenizer),
        tool_calling=supports_tool_calling(tokenizer),
        training_twin=training_twin,
    )


@dataclass(frozen=True)
class ChecksTable:
    """Rows of ``TrainingChecks`` by template name; prints as aligned text, shows as an HTML table."""

    rows: Mapping[str, TrainingChecks]

    def __str__(self) -> str:
        table = [["template", *HEADERS]] + [[name, *row.cells()] for name, row in self.rows.items()]
        # Pad every column but the last to its widest cell.
        widths = [max(len(line[column]) for line in table) for column in range(len(HEADERS))] + [0]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in ["template", *HEADERS])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in [name, *row.cells()]) + "</tr>"
            for name, row in self.rows.items()
        )
        return f'<table class="course-checks"><tr>{head}</tr>{body}</table>'


def checks_table(tokenizers: Mapping[str, object]) -> ChecksTable:
    """``training_checks`` for each named tokenizer, as one table."""
    return ChecksTable({name: training_checks(tokenizer) for name, tokenizer in tokenizers.items()})
