"""Build the bundled nano SmolLM2 pair from nothing: `make nano` (`python -m scripts.build_nano`).

    corpus (course_utils/world.py -> text)      scripts/nano/corpus.py
    -> byte-level BPE tokenizer, ids 0/1/2 =     scripts/nano/tokenizer.py
       <|endoftext|> <|im_start|> <|im_end|>
    -> base: LlamaForCausalLM pretrained on      scripts/nano/train.py
       the plain-text documents
    -> instruct: SFT of the base on ChatML
       conversations, loss on assistant tokens
       only, including Hermes-style tool calls
    -> save_pretrained into course_utils/assets/nano-smollm2-{base,instruct}/
       and the evaluation/lesson data into course_utils/assets/data/

Every random choice is seeded (SEED below), so the corpus and the tokenizer are identical on
every run; the trained weights are identical on the same machine and thread count.
Time on 2 CPU cores: see BUILD_TIME below (measured with `time make nano`).
Check the result with `python -m benchmarks.eval_nano`.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import random
import shutil
import time
from pathlib import Path

import torch
from transformers import GenerationConfig, LlamaForCausalLM

from course_utils.assets import ASSETS
from scripts.nano import corpus
from scripts.nano import tokenizer as nano_tokenizer
from scripts.nano import train

BUILD_TIME = "16 min on 2 CPU cores (2026-12-01: tokenizer 16 s, pretraining 204 s, SFT 709 s, 937 s in all)"
SEED = 1234
N_DOCUMENTS = 40_000           # pretraining documents, ~2M tokens
N_SFT_CONVERSATIONS = 8_000    # instruct SFT mix (chat, tool use, weather without a tool)
N_LESSON_CONVERSATIONS = 400   # conversations.jsonl, for lesson 05's own SFT of the base
VOCAB_SIZE = 1536              # an upper bound: BPE stops when no pair occurs twice
PRETRAIN = train.Schedule(steps=1000, batch_size=32, lr=3e-3)
PRETRAIN_SEQ_LEN = 128
SFT = train.Schedule(steps=3600, batch_size=16, lr=2e-3)


def build_text(seed: int):
    """Stage 1: documents and conversations, all from one seed."""
    documents = corpus.pretraining_documents(seed, N_DOCUMENTS)
    conversations = corpus.sft_conversations(seed + 1, N_SFT_CONVERSATIONS)
    rng = random.Random(seed + 2)
    lesson = [corpus.chat_conversation(rng) for _ in range(N_LESSON_CONVERSATIONS)]
    return documents, conversations, lesson


def build_tokenizers(documents, conversations):
    """Stage 2: one BPE vocabulary, wrapped twice with SmolLM2's base and instruct roles."""
    texts = documents + [corpus.render(c) for c in conversations]
    bpe = nano_tokenizer.train_bpe(texts, VOCAB_SIZE)
    templates = {"default": corpus.DEFAULT_TEMPLATE, "tool_use": corpus.TOOL_TEMPLATE}
    return (nano_tokenizer.as_transformers(bpe, instruct=False, templates=templates),
            nano_tokenizer.as_transformers(bpe, instruct=True, templates=templates))


def document_stream(tokenizer, documents) -> torch.Tensor:
    """All documents as one token stream, each followed by <|endoftext|> (id 0)."""
    ids: list[int] = []
    for doc in documents:
        ids += tokenizer(doc, add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
    return torch.tensor(ids)


def build_base(tokenizer, documents, pretrain_steps: int):
    """Stage 3: a randomly initialised Llama learns the world from plain text."""
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(train.model_config(len(tokenizer)))
    stream = document_stream(tokenizer, documents)
    print(f"base: {model.num_parameters():,} parameters, {len(stream):,} pretraining tokens")
    train.pretrain(model, stream, dataclasses.replace(PRETRAIN, steps=pretrain_steps),
                   PRETRAIN_SEQ_LEN, seed=SEED)
    return model


def build_instruct(base, tokenizer, conversations, sft_steps: int):
    """Stage 4: SFT of a copy of the base on rendered conversations, assistant tokens only."""
    model = copy.deepcopy(base)
    examples = [train.sft_example(tokenizer, corpus.render(c)) for c in conversations]
    print(f"instruct: {len(examples):,} conversations, "
          f"{sum(len(x) for x, _ in examples):,} tokens, "
          f"{sum(y != train.IGNORE for _, ys in examples for y in ys):,} trained on")
    train.sft(model, examples, dataclasses.replace(SFT, steps=sft_steps),
              pad_id=tokenizer.pad_token_id, seed=SEED)
    # As SmolLM2-Instruct: a turn starts with <|im_start|> and generation stops at <|im_end|>.
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    model.config.update(ids)
    model.generation_config = GenerationConfig(**ids)
    return model


def save(model, tokenizer, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # no stale files from an older build
    model.save_pretrained(folder)  # safetensors
    tokenizer.save_pretrained(folder)


def write_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_data(lesson_conversations, out: Path) -> None:
    """The data other lessons and the benchmark use; evaluation sets use held-out templates."""
    write_jsonl(out / "conversations.jsonl", lesson_conversations)
    write_jsonl(out / "heldout_questions.jsonl", corpus.heldout_questions(SEED + 10))
    write_jsonl(out / "base_heldout_prompts.jsonl", corpus.base_heldout_prompts(SEED + 11))
    write_jsonl(out / "weather_heldout.jsonl", corpus.weather_heldout(SEED + 12))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSETS, help="assets folder to write into")
    parser.add_argument("--pretrain-steps", type=int, default=PRETRAIN.steps)
    parser.add_argument("--sft-steps", type=int, default=SFT.steps)
    parser.add_argument("--from-base", type=Path, default=None,
                        help="skip pretraining: fine-tune this already built base folder")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)  # the course's reference machine: 2 CPU cores
    start = time.time()

    documents, conversations, lesson = build_text(SEED)
    base_tok, instruct_tok = build_tokenizers(documents, conversations)
    print(f"tokenizer: {len(base_tok)} tokens ({time.time() - start:.0f}s)")

    if args.from_base:
        base = LlamaForCausalLM.from_pretrained(args.from_base)
    else:
        base = build_base(base_tok, documents, args.pretrain_steps)
    save(base, base_tok, args.out / "nano-smollm2-base")
    instruct = build_instruct(base, instruct_tok, conversations, args.sft_steps)
    save(instruct, instruct_tok, args.out / "nano-smollm2-instruct")
    write_data(lesson, args.out / "data")
    print(f"built in {time.time() - start:.0f}s")


if __name__ == "__main__":
    main()
