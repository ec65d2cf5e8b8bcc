"""The course's SFT recipe against TRL 1.16's default SFTConfig, in real tokens per second.

Same model (a fresh copy of the nano base for every run), same data (the bundled lesson
conversations), same precision, one process. Only the recipe differs:
- default: `SFTConfig()` as TRL 1.16 ships it: no packing (each batch padded to its longest
  conversation), 8 conversations per batch, gradient checkpointing on. Precision is set to
  the course's (TRL's default bf16=True is refused on a CPU without use_cpu);
- course: `sft_config_for()`: BFD packing, padding-free, pack length and batch chosen for
  the device, checkpointing only where memory needs it.
Throughput is TRL's own `num_tokens` count (attention-mask tokens: padding excluded) over
wall time, from step WARMUP to the last step. Runs alternate (course, default, course, ...)
and the best run of each recipe counts, so a burst of load on a shared machine penalises
neither side more than the other.

On a CUDA GPU it also trains the SmolLM2-135M architecture (random weights from its config)
on 2,048-token sequences and reports tokens/s and MFU: (6N + 12*L*H*T) FLOP per token over
the GPU's dense bf16 peak. Without a GPU that part prints `gpu=no GPU`.

Prints key=value lines; the last is `ratio=` (course / default tokens per second).
    python -m benchmarks.bench_sft [--steps 24] [--rounds 2] [--sweep]
"""
from __future__ import annotations

import argparse
import time
import warnings

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from transformers.utils import logging as hf_logging

from course_utils import models, sft
from course_utils.sft import estimates

WARMUP = 3  # optimizer steps left out of the timing (allocator and kernel warm-up)
OUT = "/tmp/bench_sft"


class Clock(TrainerCallback):
    """(time, TRL's cumulative num_tokens) at every logged step."""

    def __init__(self):
        self.marks: list[tuple[float, float]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "num_tokens" in logs:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.marks.append((time.perf_counter(), float(logs["num_tokens"])))

    def tokens_per_second(self) -> float:
        (t0, n0), (t1, n1) = self.marks[WARMUP - 1], self.marks[-1]
        return (n1 - n0) / (t1 - t0)


def train_once(model, tokenizer, dataset, config, course: bool = True) -> float:
    """Train `max_steps` steps; real tokens per second after warm-up. `course=False` hands the
    model to SFTTrainer as loaded (TRL's default path); True prepares it as the course does."""
    from trl import SFTTrainer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    clock = Clock()
    model = sft.prepare_model(model, config) if course else model
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset,
                         processing_class=tokenizer, callbacks=[clock])
    for quiet in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(quiet)
    trainer.train()
    return clock.tokens_per_second()


def bookkeeping(steps: int) -> dict:
    return dict(max_steps=steps, logging_steps=1, save_strategy="no", report_to="none", disable_tqdm=True)


def default_config(course, steps: int):
    """TRL 1.16's SFTConfig with only precision and bookkeeping set (as the course's)."""
    from trl import SFTConfig

    return SFTConfig(output_dir=f"{OUT}/default", bf16=course.bf16, fp16=course.fp16, use_cpu=course.use_cpu,
                     **bookkeeping(steps))


def nano_comparison(steps: int, rounds: int) -> tuple[float, float]:
    """Best tokens/s of the course recipe and of TRL's default on the nano base."""
    path = models.nano_path("nano-smollm2-base")
    tokenizer = AutoTokenizer.from_pretrained(path)
    dataset = sft.load_sft_data(path=sft.data.BUNDLED_CONVERSATIONS)
    shape_model = AutoModelForCausalLM.from_pretrained(path)
    course = sft.sft_config_for(model=shape_model, output_dir=f"{OUT}/course", **bookkeeping(steps))
    print(f"plan: {sft.plan_training(shape=sft.shape_of(shape_model)).__str__().splitlines()[0]}")
    best = {"course": 0.0, "default": 0.0}
    for round_ in range(rounds):
        for name, config in (("course", course), ("default", default_config(course, steps))):
            speed = train_once(AutoModelForCausalLM.from_pretrained(path), tokenizer, dataset, config,
                               course=name == "course")
            print(f"round{round_}_{name}_tokens_per_s={speed:.0f}", flush=True)
            best[name] = max(best[name], speed)
    return best["course"], best["default"]


def pack_sweep(steps: int) -> None:
    """Course recipe at other pack lengths, with per-conversation attention (the course's, on
    CPU) and with sdpa's block-diagonal mask over the whole pack: why CPU_PACK_TOKENS is what
    it is. Only meaningful on CPU (on a GPU both arms would use the GPU plan's attention)."""
    path = models.nano_path("nano-smollm2-base")
    tokenizer = AutoTokenizer.from_pretrained(path)
    dataset = sft.load_sft_data(path=sft.data.BUNDLED_CONVERSATIONS)
    for pack in (256, 512, 1024, 2048):
        config = sft.sft_config_for(output_dir=f"{OUT}/sweep", max_length=pack, **bookkeeping(steps))
        for attention, course in (("segments", True), ("sdpa_mask", False)):
            speed = train_once(AutoModelForCausalLM.from_pretrained(path), tokenizer, dataset, config, course)
            print(f"pack{pack}_{attention}_tokens_per_s={speed:.0f}", flush=True)


def architecture_throughput(shape: estimates.ModelShape, seq_len: int, steps: int, plan) -> float:
    """Tokens/s of the course recipe on a randomly initialised model of this shape, trained on
    random token sequences of exactly `seq_len` tokens (one per pack)."""
    from datasets import Dataset
    from transformers import LlamaForCausalLM

    from scripts.real_size import real_size_config

    config = real_size_config(shape)
    model = LlamaForCausalLM(config)
    generator = torch.Generator().manual_seed(0)
    n_rows = steps * plan.tokens_per_step // seq_len + 64
    rows = torch.randint(3, shape.vocab, (n_rows, seq_len), generator=generator).tolist()
    dataset = Dataset.from_dict({"input_ids": rows})  # pre-tokenized: TRL trains on every token
    tokenizer = AutoTokenizer.from_pretrained(models.nano_path("nano-smollm2-base"))  # only its pad id is used
    course = sft.sft_config_for(plan=plan, output_dir=f"{OUT}/arch", assistant_only_loss=False,
                                chat_template_path=None, eos_token=None, **bookkeeping(steps))
    return train_once(model, tokenizer, dataset, course)


def smollm2_135m_on_gpu(steps: int) -> None:
    """SmolLM2-135M's architecture, random weights, T=2048: tokens/s and MFU."""
    if not torch.cuda.is_available():
        print("gpu=no GPU")
        return
    shape, seq_len = estimates.SMOLLM2["135M"], 2048
    plan = sft.plan_training(shape=shape)
    speed = architecture_throughput(shape, seq_len, steps, plan)
    name = torch.cuda.get_device_name(0)
    peak = estimates.peak_tflops(name)
    print(f"gpu={name}")
    print(f"gpu_plan={str(plan).splitlines()[0]}")
    print(f"smollm2_135m_T{seq_len}_tokens_per_s={speed:.0f}")
    print(f"smollm2_135m_T{seq_len}_mfu={estimates.mfu(speed, shape, seq_len, peak):.3f}" if peak
          else "smollm2_135m_mfu=unknown peak for this GPU")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24, help="optimizer steps per run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each recipe")
    parser.add_argument("--sweep", action="store_true", help="also time other pack lengths")
    args = parser.parse_args(argv)
    import datasets

    hf_logging.set_verbosity_error()
    datasets.disable_progress_bars()
    # TRL 1.16's default SFTConfig sets the deprecated `gradient_checkpointing` name; that is
    # the default we compare against, so its FutureWarning is expected here.
    warnings.filterwarnings("ignore", message="`gradient_checkpointing` is deprecated")
    print(f"device={sft.config.detect_capability() or 'cpu'} threads={torch.get_num_threads()}")
    if args.sweep:
        pack_sweep(args.steps)
    smollm2_135m_on_gpu(args.steps)
    course, default = nano_comparison(args.steps, args.rounds)
    print(f"course_tokens_per_s={course:.0f}")
    print(f"default_tokens_per_s={default:.0f}")
    print(f"ratio={course / default:.2f}")


if __name__ == "__main__":
    main()
