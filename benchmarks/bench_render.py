"""How fast is render_template next to tokenizer.apply_chat_template(tokenize=False)?

Renders the same 10,000 conversations (1 to 12 turns, SmolLM2's template) with both, interleaved
chunk by chunk in alternating order, for several rounds, and keeps each one's best round, so that
a noisy neighbour on a shared machine does not decide the result. Prints key=value lines; the last is
``ratio`` = apply_chat_template time / render_template time (>= 1.0: no slower than transformers).

    python -m benchmarks.bench_render [--conversations 10000] [--rounds 3] [--chunk 250]
"""
from __future__ import annotations

import argparse
import random
import time

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from course_utils.templates import get_template, render_template

WORDS = "the capital of France is Paris what colour is the sky blue two plus three makes five".split()


def make_tokenizer(template: str) -> PreTrainedTokenizerFast:
    """A word-level tokenizer with SmolLM2's special tokens: rendering never touches its vocabulary."""
    vocab = {token: i for i, token in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>", *sorted(set(WORDS))])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|im_start|>",
                                        eos_token="<|im_end|>", unk_token="<|endoftext|>")
    tokenizer.chat_template = template
    return tokenizer


def make_conversations(count: int, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))

    conversations = []
    for _ in range(count):
        turns = [{"role": "system", "content": sentence()}] if rng.random() < 0.3 else []
        for turn in range(rng.randint(1, 12)):
            turns.append({"role": "user" if turn % 2 == 0 else "assistant", "content": sentence()})
        conversations.append(turns)
    return conversations


def render_all(template: str, conversations, special_tokens: dict) -> None:
    for messages in conversations:
        render_template(template, messages, add_generation_prompt=True, **special_tokens)


def apply_all(tokenizer, conversations) -> None:
    for messages in conversations:
        tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def timed_round(template, tokenizer, conversations, special_tokens, chunk: int) -> tuple[float, float]:
    """One pass over every conversation with each renderer, interleaved chunk by chunk.

    On a shared machine the load changes from second to second; timing both renderers on the
    same chunk back to back (in alternating order) exposes them to the same load.
    """
    render_total = apply_total = 0.0
    for index, start in enumerate(range(0, len(conversations), chunk)):
        part = conversations[start : start + chunk]
        jobs = [("render", lambda: render_all(template, part, special_tokens)), ("apply", lambda: apply_all(tokenizer, part))]
        for name, job in jobs if index % 2 == 0 else reversed(jobs):
            began = time.perf_counter()
            job()
            elapsed = time.perf_counter() - began
            if name == "render":
                render_total += elapsed
            else:
                apply_total += elapsed
    return render_total, apply_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=250, help="conversations per interleaved timing chunk")
    args = parser.parse_args()

    template = get_template("smollm2")
    tokenizer = make_tokenizer(template)
    conversations = make_conversations(args.conversations)
    # Same output first, or the timing compares different work.
    special_tokens = dict(tokenizer.special_tokens_map)
    for messages in conversations[:200]:
        assert render_template(template, messages, add_generation_prompt=True, **special_tokens) == \
            tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    rounds = [timed_round(template, tokenizer, conversations, special_tokens, args.chunk) for _ in range(args.rounds)]
    render_times, apply_times = zip(*rounds)

    render_best, apply_best = min(render_times), min(apply_times)
    print(f"conversations={len(conversations)}")
    print(f"rounds={args.rounds}")
    print(f"render_template_s={render_best:.3f}")
    print(f"apply_chat_template_s={apply_best:.3f}")
    print(f"ratio={apply_best / render_best:.3f}")


if __name__ == "__main__":
    main()
