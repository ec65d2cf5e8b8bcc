"""Generate from the course's models and see how, and why, each generation ended.

Lesson 02 puts a base model and an instruct model side by side on the same prompt. What it
needs to show is not only the text they write but the tokens they end on: an instruct model
closes its turn with `<|im_end|>`, a base model runs on until `max_new_tokens` or ends the whole
document with `<|endoftext|>`. `generate_text` returns a `Generation` that keeps the special
tokens and names the reason it stopped; `side_by_side` lays several generations out in columns.

How a generation ended is not whether its answer is right, so the two get separate marks: the
verdict on the ending is neutral (⏹ stopped on a special token, ✂ cut off), never ✅, and where
the expected answer is known `answer_mark` adds ✅ or ❌ for the answer itself.

Generation here is greedy (`do_sample=False`), so a cell gives the same output every time it
runs on the same model. The prompt is text that already holds every special token it needs
(e.g. from `apply_chat_template(..., tokenize=False)`), so it is encoded with
`add_special_tokens=False`, exactly as `apply_chat_template` encodes its own rendering.

Why that matters: many tokenizers (Llama, Mistral, Gemma) add a BOS token such as `<s>` to every
text they encode, and their chat templates write one too. Rendering with `tokenize=False`, then
calling `tokenizer(text)`, gives a prompt that starts with two BOS tokens, silently: the model
reads a start it never saw in training. SmolLM2's tokenizer adds nothing, so the course's own
models would not show the bug; lesson 02 ("A pitfall: rendering, then tokenizing again") shows
it on a Llama-style copy of the course tokenizer, and tests/test_generation.py keeps this
module free of it.
"""
from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

from .display import show, visible
from .world import answer_matches

__all__ = [
    "END_OF_TURN", "END_OF_TEXT", "Generation", "generate_text", "side_by_side", "SideBySide",
    "stop_ids", "pad_token_id", "cut_at_stop", "as_generation", "generate_batch",
    "answer_mark", "MARKS_LEGEND",
]

END_OF_TURN = "<|im_end|>"  # ChatML's end of a turn: what an instruct model is trained to emit
END_OF_TEXT = "<|endoftext|>"  # the end of a pretraining document
DEFAULT_MAX_NEW_TOKENS = 48

# Neutral marks for how generation ended: ending a turn is the format, not a right answer, so
# it never gets the ✅ that checks and answers use (issue 18).
STOPPED = "⏹"
CUT_OFF = "✂"
ANSWER_RULE = "the expected answer appears in the reply as a whole word (for a sum, as its last number)"
MARKS_LEGEND = (f"{STOPPED} stopped on a special token, {CUT_OFF} cut off: how generation ended, not whether the "
                f"answer is right. ✅ right answer, ❌ wrong answer: right when {ANSWER_RULE}.")

_STYLE_TABLE = "border-collapse:collapse;table-layout:fixed;width:100%"
_STYLE_CELL = "vertical-align:top;padding:4px 8px;border:1px solid #ddd;text-align:left"


@dataclass
class Generation:
    """One greedy generation: the prompt, the new tokens and why generation stopped.

    Attributes:
        prompt: the text the model was given.
        new_ids: the ids the model generated (the prompt's ids are not included).
        text: `new_ids` decoded with the special tokens kept, so `<|im_end|>` is visible.
        reply: `new_ids` decoded without special tokens: what a chat app would display.
        stopped_by: the special token generation ended on, or None when it was cut off.
        max_new_tokens: the limit generation ran under.
    """

    prompt: str
    new_ids: list[int]
    text: str
    reply: str
    stopped_by: str | None
    max_new_tokens: int

    @property
    def ended_turn(self) -> bool:
        """True when the last generated token is the end-of-turn token `<|im_end|>`."""
        return self.stopped_by == END_OF_TURN

    @property
    def verdict(self) -> str:
        """One line saying how generation ended (a neutral mark: it says nothing of the answer)."""
        n = len(self.new_ids)
        tokens = f"{n} token" if n == 1 else f"{n} tokens"
        if self.stopped_by == END_OF_TURN:
            return f"{STOPPED} ended its turn with {END_OF_TURN} after {tokens}"
        if self.stopped_by == END_OF_TEXT:
            return f"{STOPPED} ended the whole document with {END_OF_TEXT} after {tokens}, not a turn"
        if self.stopped_by is not None:
            return f"{STOPPED} stopped at {self.stopped_by} after {tokens}"
        return f"{CUT_OFF} did not stop: cut off at max_new_tokens={self.max_new_tokens}"

    def marks(self, answer: str | None = None) -> list[str]:
        """The verdict on how generation ended, then, when the expected `answer` is known, the
        separate mark for the answer itself (`answer_mark`)."""
        return [self.verdict] + ([answer_mark(self.reply, answer)] if answer is not None else [])

    def as_text(self, answer: str | None = None) -> str:
        """The new text, whitespace and special tokens visible, then one line per mark."""
        return visible(self.text) + "".join(f"\n[{mark}]" for mark in self.marks(answer))

    def as_html(self, answer: str | None = None) -> str:
        """The new text, special tokens highlighted, then one line per mark."""
        marks = "".join(f"<div><b>{html.escape(mark)}</b></div>" for mark in self.marks(answer))
        return f"{show(self.text)._repr_html_()}{marks}"

    def __str__(self) -> str:
        return self.as_text()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.as_html()


def answer_mark(reply: str, answer: str) -> str:
    """✅ or ❌ for what a reply says, apart from how it ended: right when `ANSWER_RULE` holds
    (`world.answer_matches`), e.g. "Ottawa" as a word of "It is Ottawa.".

    >>> answer_mark("It is Ottawa.", "Ottawa"), answer_mark("The capital of Switzerland is Bern.", "Ottawa")
    ('✅ right answer (Ottawa)', '❌ wrong answer (expected Ottawa)')
    """
    if answer_matches(reply, answer):
        return f"✅ right answer ({answer})"
    return f"❌ wrong answer (expected {answer})"


def stop_ids(model, tokenizer) -> list[int]:
    """The ids generation stops at: the model's own `generation_config.eos_token_id`.

    A base SmolLM2 stops only at <|endoftext|>; TRL's `SFTConfig(eos_token="<|im_end|>")` adds
    <|im_end|> in front. Stopping is the model's setting; ending the turn is what it learned.
    The tokenizer's eos stands in when the config names none.
    """
    eos = model.generation_config.eos_token_id
    eos = eos if isinstance(eos, (list, tuple)) else [eos]
    ids = [i for i in eos if i is not None] or [tokenizer.eos_token_id]
    return list(dict.fromkeys(ids))


def pad_token_id(tokenizer, stops: list[int]) -> int:
    """The id that pads finished or shorter rows: the tokenizer's pad token, else the first stop
    id. A base tokenizer has no pad token, and without one `generate()` warns on every call;
    setting one on the tokenizer would change what learners inspect, so it is passed instead."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stops[0]


def cut_at_stop(tokenizer, ids: list[int], stops: list[int]) -> tuple[list[int], str | None]:
    """The ids up to and including the first stop id, and the special token they end on
    (None when `max_new_tokens` cut generation off).

    A generation ended on a special token when its last token is a stop id, <|im_end|> or
    <|endoftext|>. Finished rows of a batch are padded, possibly with <|im_end|> itself, so only
    the first stop counts.
    """
    end = next((i + 1 for i, token_id in enumerate(ids) if token_id in stops), len(ids))
    ids = ids[:end]
    if not ids:
        return ids, None
    last = tokenizer.convert_ids_to_tokens(ids[-1])
    ended = ids[-1] in stops or last in (END_OF_TURN, END_OF_TEXT)
    return ids, last if ended else None


def _new_ids(model, tokenizer, prompts: list[str], max_new_tokens: int, stops: list[int]) -> list[list[int]]:
    """Greedy continuations of several rendered prompts in one `generate` call: the new ids of each.

    The prompts are left-padded by hand (a decoder-only model continues every row from its right
    edge; a base tokenizer has no pad token, and setting one would change it) and encoded with
    `add_special_tokens=False`, as `generate_text` encodes one. Rows that finish early are padded
    after their stop: `as_generation` cuts each at its first stop.
    """
    import torch

    pad = pad_token_id(tokenizer, stops)
    rows = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    width = max(len(r) for r in rows)
    input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=model.device)
    attention_mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=model.device)
    with torch.no_grad():
        out = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=pad)
    return out[:, width:].tolist()


def as_generation(tokenizer, prompt: str, ids: list[int], stops: list[int], max_new_tokens: int) -> Generation:
    """A `Generation` from the ids generated after `prompt`, cut at the first stop."""
    new_ids, stopped_by = cut_at_stop(tokenizer, ids, stops)
    return Generation(
        prompt=prompt,
        new_ids=new_ids,
        text=tokenizer.decode(new_ids, skip_special_tokens=False),
        reply=tokenizer.decode(new_ids, skip_special_tokens=True),
        stopped_by=stopped_by,
        max_new_tokens=max_new_tokens,
    )


def generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                   batch_size: int = 64) -> list[Generation]:
    """`generate_text` for many rendered prompts: one `Generation` each, greedy, generated in
    left-padded batches of `batch_size` (one `generate` call per batch, which is what makes 180
    prompts take seconds on a CPU). Stops where the model's generation config says, exactly as
    one prompt at a time would (tests/test_sft.py compares the two)."""
    stops = stop_ids(model, tokenizer)
    was_training = model.training
    model.eval()
    generations = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        for prompt, ids in zip(chunk, _new_ids(model, tokenizer, chunk, max_new_tokens, stops)):
            generations.append(as_generation(tokenizer, prompt, ids, stops, max_new_tokens))
    model.train(was_training)
    return generations


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> Generation:
    """Continue `prompt` greedily and keep everything needed to see how generation ended.

    Args:
        model: a causal LM, e.g. from `course_utils.models.load_model`.
        tokenizer: its tokenizer.
        prompt: the exact text the model reads, special tokens included (a raw sentence, or the
            output of `tokenizer.apply_chat_template(messages, add_generation_prompt=True,
            tokenize=False)`).
        max_new_tokens: the most tokens to generate. Generation also stops earlier at the
            model's end-of-sequence token (`model.generation_config.eos_token_id`).

    Returns:
        A `Generation`; in a notebook it shows the new text with special tokens highlighted and
        one line saying how it ended.

    Example:
        >>> gen = generate_text(model, tokenizer, "The capital of France is")  # doctest: +SKIP
        >>> gen.new_ids[-1], gen.ended_turn  # doctest: +SKIP
    """
    import torch

    if not isinstance(prompt, str):
        raise TypeError(
            f"generate_text() takes the prompt as text, got {type(prompt).__name__}; render messages "
            "first with tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)"
        )
    # add_special_tokens=False: the rendered prompt already starts with the template's own BOS
    # (if its family has one); letting the tokenizer add another gives a double BOS.
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    stops = stop_ids(model, tokenizer)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                pad_token_id=pad_token_id(tokenizer, stops))
    return as_generation(tokenizer, prompt, output[0, inputs["input_ids"].shape[1]:].tolist(), stops, max_new_tokens)


class SideBySide:
    """Generations in columns, one per label; shows the prompt once when all share it. Given the
    expected `answer`, each column also marks the answer right or wrong, under a legend."""

    def __init__(self, generations: Mapping[str, Generation], answer: str | None = None):
        if not generations:
            raise ValueError("side_by_side() needs at least one generation, e.g. {'base': gen}")
        for label, generation in generations.items():
            if not isinstance(generation, Generation):
                raise TypeError(f"side_by_side(): {label!r} is a {type(generation).__name__}, "
                                "not a Generation from generate_text()")
        self.generations = dict(generations)
        self.answer = answer

    @property
    def shared_prompt(self) -> str | None:
        prompts = {g.prompt for g in self.generations.values()}
        return prompts.pop() if len(prompts) == 1 else None

    def __str__(self) -> str:
        # The legend comes first, so that every column ends with its own marks.
        parts = [] if self.answer is None else [f"marks: {MARKS_LEGEND}"]
        if self.shared_prompt is not None:
            parts.append(f"── prompt ──\n{visible(self.shared_prompt)}")
        for label, generation in self.generations.items():
            if self.shared_prompt is None:
                parts.append(f"── {label}: prompt ──\n{visible(generation.prompt)}")
            parts.append(f"── {label} ──\n{generation.as_text(self.answer)}")
        return "\n".join(parts)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        shared = self.shared_prompt
        header = "".join(f'<th style="{_STYLE_CELL}">{html.escape(label)}</th>' for label in self.generations)
        cells = []
        for generation in self.generations.values():
            prompt = "" if shared is not None else f"<small>prompt</small>{show(generation.prompt)._repr_html_()}<small>generated</small>"
            cells.append(f'<td style="{_STYLE_CELL}">{prompt}{generation.as_html(self.answer)}</td>')
        top = f"<small>prompt</small>{show(shared)._repr_html_()}" if shared is not None else ""
        if self.answer is not None:
            top = f"<p><small>{html.escape(MARKS_LEGEND)}</small></p>{top}"
        return (f'<div class="course-side-by-side">{top}<table style="{_STYLE_TABLE}">'
                f"<tr>{header}</tr><tr>{''.join(cells)}</tr></table></div>")


def side_by_side(generations: Mapping[str, Generation], answer: str | None = None) -> SideBySide:
    """Lay generations out in columns, e.g. `side_by_side({"base": gen1, "instruct": gen2})`.

    With the expected `answer` (e.g. `answer="Paris"`), each column marks its answer right or
    wrong (`answer_mark`), apart from how it ended."""
    return SideBySide(generations, answer)
