"""Stages 3 and 4: the model, pretraining on plain text, and SFT on conversations.

Plain PyTorch loops (as in nanoGPT): sample a batch, forward, loss, backward, AdamW step with
warmup and cosine decay. The model is transformers' LlamaForCausalLM, so it saves and loads
exactly like SmolLM2.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import torch
from transformers import LlamaConfig

IGNORE = -100  # label value the loss skips


def model_config(vocab_size: int) -> LlamaConfig:
    """SmolLM2-135M's architecture, shrunk ~150x.

    Kept from SmolLM2: Llama blocks, RMSNorm, SiLU MLP, rope_theta 1e5, grouped-query attention
    (here 4 query heads share 2 key/value heads; SmolLM2 has 9 and 3), head size 32. Shrunk:
    hidden 576 -> 128, 30 layers -> 4, FFN 1536 -> 384, vocabulary 49,152 -> ~1.4k.

    Changed: the input and output embeddings are separate matrices (SmolLM2 ties them). The eight
    weather words are random wherever they occur, so as output vectors they are pulled together;
    tied, their input vectors went with them (cosine 0.93 between words after SFT), and a copy
    of "cloudy" from a tool result came out as whichever word the reply's wording favoured. The
    cost is 180k parameters, 0.7 MB per model.
    """
    return LlamaConfig(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=384,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, rope_theta=100000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, pad_token_id=None,
    )


@dataclass
class Schedule:
    steps: int
    batch_size: int
    lr: float
    warmup: int = 30
    min_lr_ratio: float = 0.1

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.steps - self.warmup)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine)


def _train(model, schedule: Schedule, next_batch, label: str, log_every: int = 25) -> None:
    """The loop both stages share. `next_batch(step)` returns the model's keyword arguments."""
    decay = [p for p in model.parameters() if p.dim() >= 2]  # no weight decay on norms
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=schedule.lr, betas=(0.9, 0.95))
    model.train()
    start, running = time.time(), None
    for step in range(schedule.steps):
        for group in opt.param_groups:
            group["lr"] = schedule.lr_at(step)
        loss = model(**next_batch(step)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        if step % log_every == 0 or step == schedule.steps - 1:
            print(f"[{label}] step {step:4d}/{schedule.steps} loss {running:.3f} "
                  f"lr {schedule.lr_at(step):.2e} {time.time() - start:6.0f}s", flush=True)
    model.eval()


# --- Pretraining: next-token prediction on the document stream ----------------------------
def pretrain(model, stream: torch.Tensor, schedule: Schedule, seq_len: int, seed: int) -> None:
    """Train on random windows of `stream` (all documents, each ended by <|endoftext|>)."""
    gen = torch.Generator().manual_seed(seed)

    def next_batch(step):
        starts = torch.randint(0, len(stream) - seq_len, (schedule.batch_size,), generator=gen)
        window = torch.stack([stream[s:s + seq_len] for s in starts])
        return {"input_ids": window, "labels": window}  # the model shifts labels itself

    _train(model, schedule, next_batch, "pretrain")


# --- SFT: loss on the assistant's tokens only ---------------------------------------------
def assistant_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of every assistant reply in a rendered ChatML text, each including its
    <|im_end|> (the model must learn to stop) and excluding the "<|im_start|>assistant\\n"
    header (the prompt supplies it)."""
    header, end = "<|im_start|>assistant\n", "<|im_end|>"
    spans, pos = [], text.find(header)
    while pos != -1:
        start = pos + len(header)
        stop = text.index(end, start) + len(end)
        spans.append((start, stop))
        pos = text.find(header, stop)
    return spans


def sft_example(tokenizer, text: str) -> tuple[list[int], list[int]]:
    """Token ids and labels: a token is trained on when it starts inside an assistant span."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spans = assistant_spans(text)
    labels = [tid if any(a <= start < b for a, b in spans) else IGNORE
              for tid, (start, _) in zip(enc.input_ids, enc.offset_mapping)]
    return enc.input_ids, labels


def sft(model, examples: list[tuple[list[int], list[int]]], schedule: Schedule, pad_id: int, seed: int) -> None:
    """Fine-tune on whole conversations, one batch per step, padded to its longest."""
    rng = random.Random(seed)
    # Batches of similar lengths waste little compute on padding (a tool conversation is ~3x
    # longer than a plain one): sort by length (plus noise, so batches mix), cut into batches,
    # then visit the batches in a random order, epoch after epoch.
    order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]) + 16 * rng.random())
    batches = [order[i:i + schedule.batch_size] for i in range(0, len(order), schedule.batch_size)]
    queue: list[list[int]] = []

    def next_batch(step):
        if not queue:
            queue.extend(rng.sample(batches, len(batches)))
        batch = [examples[i] for i in queue.pop()]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.full((len(batch), width), pad_id)
        labels = torch.full((len(batch), width), IGNORE)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (x, y) in enumerate(batch):
            ids[row, :len(x)], labels[row, :len(y)], mask[row, :len(x)] = torch.tensor(x), torch.tensor(y), 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    _train(model, schedule, next_batch, "sft")
