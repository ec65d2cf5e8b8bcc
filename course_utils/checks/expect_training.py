"""Expectations for a training template (lesson 07's Kestrel twin): what SFT needs of it beyond
rendering the right text.

- prefix-preserving: the rendering of every start of a conversation (its first k messages) is
  a prefix of the rendering of the whole conversation, checked over a corpus (TRL's own check
  probes one tool-call conversation only);
- TRL's verdicts: ``is_chat_template_prefix_preserving`` and ``is_chat_template_stop_token_trained``;
- the assistant mask (``return_assistant_tokens_mask``) equal to a reference's, token for token,
  a mismatch named by its first token.
"""
from __future__ import annotations

from ..conversations import conversations
from ..display import first_difference, show_mask, visible
from .calls import call
from .expect_templates import render_outcome
from .failure import CheckFailed

__all__ = ["expect_prefix_preserving", "expect_trl_training_checks", "expect_same_masks", "assistant_mask"]


def _render(template: str, messages, shown: str) -> str:
    text, error = call(render_outcome, template, messages, shown_as=shown)
    if error is not None:
        raise CheckFailed(f"{shown} raised {type(error).__name__}: {error}")
    return text


def expect_prefix_preserving(template: str, name: str, groups: tuple[str, ...]) -> None:
    """Fail at the first conversation and k where rendering ``messages[:k]`` is not a prefix of
    rendering ``messages``: the earlier turns came out otherwise once more turns followed."""
    for conversation, messages in conversations(*groups):
        whole = _render(template, messages, f"render_template({name}, <conversation '{conversation}'>)")
        for k in range(1, len(messages)):
            start = _render(template, messages[:k], f"render_template({name}, <conversation '{conversation}'>[:{k}])")
            if not whole.startswith(start):
                where = first_difference(start, whole[: len(start)])
                raise CheckFailed(
                    f"render_template({name}, <conversation '{conversation}'>[:{k}]) is not a prefix of the "
                    f"rendering of the whole conversation ({where}), so {name} is not prefix-preserving: "
                    "a turn must render the same whatever follows it")


def expect_trl_training_checks(tokenizer, name: str) -> None:
    """TRL's two verdicts on ``tokenizer``'s chat template (the learner's), each a named failure."""
    from trl.chat_template_utils import is_chat_template_prefix_preserving, is_chat_template_stop_token_trained

    shown = f"is_chat_template_prefix_preserving(<tokenizer with {name}>)"
    if not call(is_chat_template_prefix_preserving, tokenizer, shown_as=shown):
        raise CheckFailed(f"{shown} is False: TRL's tool-call probe (a user turn, an assistant tool call, a tool "
                          "result) renders the assistant's turn otherwise once the result follows")
    shown = f"is_chat_template_stop_token_trained(<tokenizer with {name}>)"
    if not call(is_chat_template_stop_token_trained, tokenizer, shown_as=shown):
        raise CheckFailed(f"{shown} is False: the last token the assistant mask trains on is not the "
                          "end-of-message token, so the model never learns to stop; put it inside "
                          "{% generation %} ... {% endgeneration %}")


def assistant_mask(tokenizer, template: str, messages) -> tuple[list[int], list[int]]:
    out = tokenizer.apply_chat_template(messages, chat_template=template, return_dict=True,
                                        return_assistant_tokens_mask=True)
    return list(out["input_ids"]), list(out["assistant_masks"])


def _mask_difference(tokenizer, ids: list[int], got: list[int], expected: list[int]) -> str:
    """The first token whose mask differs, and the learner's mask around it (trained inside ⟦ ⟧)."""
    index = next(i for i, (mine, right) in enumerate(zip(got, expected)) if bool(mine) != bool(right))
    piece = visible(tokenizer.decode([ids[index]], skip_special_tokens=False), keep_newlines=False)
    state = "is trained on, but it must not be" if got[index] else "is not trained on, but it must be"
    start, stop = max(0, index - 6), min(len(ids), index + 6)
    around = str(show_mask(tokenizer, ids[start:stop], got[start:stop])).splitlines()[0]
    return f"token {index} {piece!r} {state}; your mask there: {around}"


def expect_same_masks(tokenizer, template: str, reference: str, name: str, groups: tuple[str, ...], *,
                      tokenizer_shown: str = "", difference=_mask_difference) -> None:
    """Fail at the first conversation whose assistant mask differs from the reference template's.

    `tokenizer_shown` prefixes the call in the message (e.g. "zephyr_tokenizer()."), and
    `difference(tokenizer, ids, mask, expected_mask)` says how the masks differ (default: the
    first token that differs, with the learner's mask around it)."""
    for conversation, messages in conversations(*groups):
        shown = (f"{tokenizer_shown}apply_chat_template(<conversation '{conversation}'>, chat_template={name}, "
                 "return_assistant_tokens_mask=True)")
        ids, mask = call(assistant_mask, tokenizer, template, messages, shown_as=shown)
        expected_ids, expected_mask = assistant_mask(tokenizer, reference, messages)
        if ids != expected_ids:  # cannot happen once the renderings agree; kept as a guard
            raise CheckFailed(f"{shown} gave other tokens than the reference template")
        if [bool(flag) for flag in mask] != [bool(flag) for flag in expected_mask]:
            raise CheckFailed(f"{shown}: {difference(tokenizer, ids, mask, expected_mask)}")
