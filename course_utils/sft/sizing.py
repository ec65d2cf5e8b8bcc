"""Optimizer steps sized to the data actually loaded, and the CPU's time budget.

Why: a fixed number of tokens per optimizer step suits one data size only. The GPU recipe's
16,384 tokens per step for 2 epochs is ~75 steps over smoltalk's everyday conversations, but
the bundled nano conversations (~25k tokens, what a learner gets offline or during a Hub
outage) make ~4 steps of it: loss 6.9 -> 3.7, held-out stop rate 0.00. The CPU recipe, one
1,024-token pack per step for 5 epochs, makes 125 steps of them and reaches stop rate 1.00.

The rule (`size_to_data`), applied when `plan_training` is given `data_tokens`:
1. a run needs at least `MIN_OPTIMIZER_STEPS` (120) optimizer steps: the learner must see the
   format often enough, and warmup, the cosine decay and the loss plot need some steps too;
2. while it has fewer, halve the tokens per step, giving up the least first: gradient
   accumulation (each forward pass stays as large, so a GPU stays as busy), then packs per
   forward pass (smaller matrices keep a GPU less busy), then pack length, down to
   `MIN_PACK_TOKENS` (shorter packs would cut more long conversations; 1,024 holds every
   bundled one, and it is the CPU recipe's);
3. if the run is still short, raise the epochs, whole ones, up to `MAX_EPOCHS` (5, the CPU
   recipe's): more passes over a small set, as the nano recipe already makes.
A run that already has the steps keeps its sizing: steps never grow. With the bundled data
(25,389 tokens) every device then trains 1,024 tokens per step for 5 epochs, 125 steps, the
CPU recipe; with ~600k smoltalk tokens a GPU halves its step once, to 8,192 tokens (148 steps).

On a CPU `cpu_time` also estimates the time of a step from FLOPs (`estimates.cpu_seconds_per_step`)
and, given a budget, caps the run with `max_steps`, or refuses (`NeedsGPU`) when not even
`MIN_AFFORDABLE_STEPS` fit: a 135M model takes ~6 s a step on 2 cores, and over smoltalk the
CPU recipe is ~3,000 steps, about 5 hours.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .estimates import CPU_TRAINING_FLOPS_PER_THREAD, ModelShape, cpu_seconds_per_step, cpu_threads

MIN_OPTIMIZER_STEPS = 120   # the CPU recipe's 125 steps on the nano data taught it to stop
MIN_PACK_TOKENS = 1024      # shortest pack: the CPU recipe's
MAX_EPOCHS = 5.0            # the CPU recipe's epochs, proven on the nano data; sizing adds no more
MIN_AFFORDABLE_STEPS = 5    # fewer steps than this in the budget teach nothing: refuse
ALTERNATIVES = ("a GPU (a free Colab T4 trains SmolLM2-135M over smoltalk in minutes), or the nano model "
                "on the bundled data (set COURSE_OFFLINE=1 before loading model and data; ~25 s on CPU)")


class NeedsGPU(ValueError):
    """Not even a handful of optimizer steps of this model fit the CPU time budget."""


@dataclass(frozen=True)
class StepSizing:
    """The size of an optimizer step and the number of passes over the data."""

    max_length: int          # tokens per BFD pack
    packs_per_forward: int   # per_device_train_batch_size
    accumulation: int        # gradient_accumulation_steps
    epochs: float

    @property
    def tokens_per_step(self) -> int:
        return self.max_length * self.packs_per_forward * self.accumulation

    def steps_per_epoch(self, data_tokens: int) -> int:
        """As Trainer counts them; BFD fills packs nearly full when conversations are short
        next to a pack (the nano data's 25,389 tokens make 25 packs of 1,024)."""
        packs = max(1, math.ceil(data_tokens / self.max_length))
        return math.ceil(math.ceil(packs / self.packs_per_forward) / self.accumulation)

    def steps(self, data_tokens: int) -> int:
        return math.ceil(self.epochs * self.steps_per_epoch(data_tokens))

    def smaller(self) -> StepSizing | None:
        """Half the tokens per step, giving up the least first (module docstring); None at the floor."""
        if self.accumulation > 1:
            return replace(self, accumulation=self.accumulation // 2)
        if self.packs_per_forward > 1:
            return replace(self, packs_per_forward=self.packs_per_forward // 2)
        if self.max_length > MIN_PACK_TOKENS:
            return replace(self, max_length=max(MIN_PACK_TOKENS, self.max_length // 2))
        return None


def count_training_tokens(tokenizer, dataset) -> int:
    """Tokens SFTTrainer trains on in one epoch: every `{"messages": [...]}` row rendered with
    the training template, as TRL tokenizes it (before BFD packs them)."""
    from .data import training_template

    rendered = tokenizer.apply_chat_template([list(row["messages"]) for row in dataset],
                                             chat_template=training_template(), tokenize=True, return_dict=True)
    return sum(len(ids) for ids in rendered["input_ids"])


def size_to_data(sizing: StepSizing, data_tokens: int) -> StepSizing:
    """The largest steps that still give `MIN_OPTIMIZER_STEPS`, then more epochs if needed."""
    while sizing.steps(data_tokens) < MIN_OPTIMIZER_STEPS and (smaller := sizing.smaller()):
        sizing = smaller
    if sizing.steps(data_tokens) < MIN_OPTIMIZER_STEPS:
        needed = math.ceil(MIN_OPTIMIZER_STEPS / sizing.steps_per_epoch(data_tokens))
        sizing = replace(sizing, epochs=max(sizing.epochs, min(MAX_EPOCHS, float(needed))))
    return sizing


def steps_reason(planned: StepSizing, sized: StepSizing, data_tokens: int) -> str:
    """One line: how many optimizer steps the run takes, and why its steps are this size."""
    steps = sized.steps(data_tokens)
    head = (f"{steps:,} optimizer steps: {data_tokens:,} training tokens, {sized.tokens_per_step:,} per step, "
            f"{sized.epochs:g} epochs")
    if sized == planned:
        return f"{head} (at least {MIN_OPTIMIZER_STEPS} wanted: no resizing needed)"
    changes = []
    if sized.tokens_per_step != planned.tokens_per_step:
        changes.append(f"steps shrank from {planned.tokens_per_step:,} tokens")
    if sized.epochs != planned.epochs:
        changes.append(f"epochs rose from {planned.epochs:g}")
    floor = (f"; fewer than {MIN_OPTIMIZER_STEPS} even at one {MIN_PACK_TOKENS:,}-token pack per step "
             f"for {MAX_EPOCHS:g} epochs" if steps < MIN_OPTIMIZER_STEPS else "")
    return (f"{head}: {planned.tokens_per_step:,} tokens per step for {planned.epochs:g} epochs would be only "
            f"{planned.steps(data_tokens)} steps, too few to learn the format, so {' and '.join(changes)} "
            f"(at least {MIN_OPTIMIZER_STEPS} steps wanted){floor}")


@dataclass(frozen=True)
class CPUTime:
    """What a CPU run costs: seconds per step, the cap a time budget puts on steps, and why."""

    seconds_per_step: float
    max_steps: int | None
    reason: str


def cpu_time(shape: ModelShape, sizing: StepSizing, data_tokens: int | None, budget_s: float | None,
             threads: int | None = None) -> CPUTime:
    """Seconds per step on this CPU and, when the full run overruns `budget_s`, a step cap.

    Raises NeedsGPU when fewer than `MIN_AFFORDABLE_STEPS` steps fit the budget.
    """
    threads = threads or cpu_threads()
    per_step = cpu_seconds_per_step(shape, sizing.tokens_per_step, sizing.max_length, threads)
    affordable = math.inf if budget_s is None else int(budget_s // per_step)
    if affordable < MIN_AFFORDABLE_STEPS:
        raise NeedsGPU(f"{shape.name} ({shape.n_params / 1e6:.0f}M parameters) takes ~{per_step:.0f} s per "
                       f"optimizer step on this CPU (estimated), so the {duration(budget_s)} budget buys "
                       f"{affordable} steps, too few to learn anything. Use {ALTERNATIVES}.")
    basis = (f"~{per_step:.2g} s per step, estimated: {sizing.tokens_per_step:,} tokens x (6N + attention) FLOP "
             f"at {CPU_TRAINING_FLOPS_PER_THREAD / 1e9:.0f} GFLOP/s per thread x {threads} thread{'s' if threads != 1 else ''} "
             f"(the rate measured training SmolLM2-135M)")
    steps = None if data_tokens is None else sizing.steps(data_tokens)
    if steps is None or steps <= affordable:
        return CPUTime(per_step, None, basis)
    return CPUTime(per_step, affordable,
                   f"{basis}; all {steps:,} steps would take ~{duration(steps * per_step)}, over the "
                   f"{duration(budget_s)} budget, so max_steps={affordable:,} stops the run early (the cosine "
                   f"schedule then ends at step {affordable:,}); alternatives: {ALTERNATIVES}")


def duration(seconds: float) -> str:
    """Seconds as a person reads them: '24 s', '7.5 min', '8.3 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
