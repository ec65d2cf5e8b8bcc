"""Did SFT work? Stop rate, held-out accuracy, and before/after generations.

A chat model must end its reply with `<|im_end|>`; a base model never learned to. The stop
rate is the fraction of held-out prompts whose greedy reply (at most `max_new_tokens`, stopping
where the model's generation config says) ends with `<|im_end|>`. For the nano world the answers are known, so accuracy is measured too
(`world.answer_matches`: the answer as a whole word, or a sum as the reply's last number).

Replies are generated in left-padded batches: one `generate` call per batch instead of one
per prompt, which is what makes evaluating 180 prompts take seconds on CPU.
"""
from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence
from dataclasses import dataclass

from ..generation import MARKS_LEGEND, Generation, generate_batch

DEFAULT_MAX_NEW_TOKENS = 64


def _as_messages(prompt) -> list[dict]:
    """A prompt is a user question (str) or a whole conversation (a list of messages)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [dict(m) for m in prompt]


def generate_replies(model, tokenizer, prompts: Sequence, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                     batch_size: int = 64) -> list[Generation]:
    """Greedy replies to each prompt (a question or a message list), rendered with the
    tokenizer's chat template and its generation prompt.

    Generation stops where the model's generation config says, exactly as a one-prompt
    `model.generate` call would (tests/test_sft.py checks that batched equals one at a time).

    Returns `generation.Generation` objects: `.reply` is the text, `.ended_turn` whether it
    ended with `<|im_end|>`, `.stopped_by` the special token it ended on (None: cut off).
    """
    texts = [tokenizer.apply_chat_template(_as_messages(p), add_generation_prompt=True, tokenize=False)
             for p in prompts]
    return [dataclasses.replace(g, reply=g.reply.strip())
            for g in generate_batch(model, tokenizer, texts, max_new_tokens, batch_size)]


def stop_rate(model, tokenizer, prompts: Sequence, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> float:
    """Fraction of prompts whose greedy reply ends its turn with `<|im_end|>`."""
    if not prompts:
        raise ValueError("stop_rate needs at least one prompt")
    generations = generate_replies(model, tokenizer, prompts, max_new_tokens)
    return sum(g.ended_turn for g in generations) / len(generations)


@dataclass
class Evaluation:
    """Replies to held-out questions, their stop rate and (when answers are known) accuracy."""

    label: str
    questions: list
    generations: list[Generation]

    @property
    def stop_rate(self) -> float:
        return sum(g.ended_turn for g in self.generations) / len(self.generations)

    @property
    def accuracy(self) -> float | None:
        """Fraction of replies that give the known answer, None when answers are unknown."""
        from ..world import answer_matches

        scored = [(q.answer, g.reply) for q, g in zip(self.questions, self.generations) if q.answer is not None]
        if not scored:
            return None
        return sum(answer_matches(reply, answer) for answer, reply in scored) / len(scored)

    def summary(self) -> str:
        accuracy = "" if self.accuracy is None else f", accuracy {self.accuracy:.2f}"
        return f"{self.label}: stop rate {self.stop_rate:.2f}{accuracy} on {len(self.generations)} held-out questions"


def evaluate(model, tokenizer, questions: Sequence, label: str = "model",
             max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> Evaluation:
    """Generate a reply to every held-out question (`data.EvalQuestion`) and keep them."""
    generations = generate_replies(model, tokenizer, [q.question for q in questions], max_new_tokens)
    return Evaluation(label, list(questions), generations)


class BeforeAfter:
    """Two evaluations on the same questions, side by side: summaries, then a few replies.

    Each reply carries two marks: how it ended (⏹ or ✂, never ✅: a turn can end well and say
    something wrong), and, where the question's answer is known, ✅ or ❌ for the answer.
    """

    def __init__(self, before: Evaluation, after: Evaluation, examples: int = 4):
        if [q.question for q in before.questions] != [q.question for q in after.questions]:
            raise ValueError("before and after must be evaluated on the same questions")
        self.before, self.after, self.examples = before, after, examples

    def _rows(self):
        for i in range(min(self.examples, len(self.before.generations))):
            yield self.before.questions[i], self.before.generations[i], self.after.generations[i]

    def __str__(self) -> str:
        lines = [self.before.summary(), self.after.summary(), f"marks: {MARKS_LEGEND}"]
        for question, b, a in self._rows():
            lines.append(f"Q: {question.question}")
            for label, generation in ((self.before.label, b), (self.after.label, a)):
                marks = " ".join(f"[{mark}]" for mark in generation.marks(question.answer))
                lines.append(f"  {label}: {generation.text!r} {marks}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cell = "vertical-align:top;text-align:left;padding:4px 8px;border:1px solid #ddd"
        head = (f'<tr><th style="{cell}">question</th><th style="{cell}">{html.escape(self.before.label)}</th>'
                f'<th style="{cell}">{html.escape(self.after.label)}</th></tr>')
        rows = "".join(f'<tr><td style="{cell}">{html.escape(q.question)}</td>'
                       f'<td style="{cell}">{b.as_html(q.answer)}</td>'
                       f'<td style="{cell}">{a.as_html(q.answer)}</td></tr>' for q, b, a in self._rows())
        summary = "<br>".join(html.escape(e.summary()) for e in (self.before, self.after))
        legend = f"<p><small>{html.escape(MARKS_LEGEND)}</small></p>"
        return f"<div><p>{summary}</p>{legend}<table style='border-collapse:collapse'>{head}{rows}</table></div>"


def before_after(before: Evaluation, after: Evaluation, examples: int = 4) -> BeforeAfter:
    """Show stop rates (and accuracy) before and after SFT, and a few replies side by side, each
    marked for how it ended and, where the answer is known, for whether the answer is right."""
    return BeforeAfter(before, after, examples)

