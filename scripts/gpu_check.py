"""The course's GPU check: lesson 05 end to end on a CUDA GPU, in at most ~8 minutes.

    python -m scripts.gpu_check [--model ID_OR_FOLDER] [--train-minutes 3]

Two runs, each with lesson 05's own calls (`sft.plan_training` for this GPU with the data's
token count, `sft.sft_config_for`, `sft.build_trainer`, `sft.evaluate`):
1. **nano**: the bundled nano base on the bundled conversations with this GPU's plan, in its
   precision (fp16 on a T4, bf16 from Ampere on), then the held-out stop rate: the lesson's
   central result, on the plan a GPU learner gets offline or during a Hub outage.
2. **real size**: SmolLM2-135M: the real model through the Hub (or the mirror HF_ENDPOINT
   names) when `hub.decision()` is online, else `--model` (a local folder), else a random-init
   stand-in of the real architecture (`scripts/real_size.py`), on the data `sft.load_sft_data`
   gives; training stops after `--train-minutes`. Prints precision, attention, tokens/s
   (TRL's count of real tokens), MFU against the GPU's dense 16-bit peak, peak GPU memory
   beside the lesson's estimate, and the stop rate (meaningless on random weights after a few
   minutes: it is printed, not judged).
Never part of `make test`: CI has no GPU. Prints key=value lines.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from course_utils import hub, models, sft
from course_utils.sft import estimates

EVAL_QUESTIONS = 60


class Budget(TrainerCallback):
    """Stops training after `seconds`; records (time, TRL's cumulative num_tokens) per log."""

    def __init__(self, seconds: float):
        self.seconds, self.start, self.marks = seconds, None, []

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "num_tokens" in logs:
            torch.cuda.synchronize()
            self.marks.append((time.perf_counter(), float(logs["num_tokens"])))

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self.start > self.seconds:
            control.should_training_stop = True

    def tokens_per_second(self) -> float | None:
        """After the first log (allocator and kernel warm-up left out)."""
        if len(self.marks) < 2:
            return None
        (t0, n0), (t1, n1) = self.marks[0], self.marks[-1]
        return (n1 - n0) / (t1 - t0)


def train_and_evaluate(label: str, tokenizer, model, data, budget_s: float) -> dict:
    """Lesson 05's plan, config, trainer and evaluation; figures as a dict."""
    tokenizer.chat_template = sft.inference_template()
    plan = sft.plan_training(shape=sft.shape_of(model), data_tokens=sft.count_training_tokens(tokenizer, data))
    print(f"[{label} plan] {plan}", flush=True)
    config = sft.sft_config_for(plan=plan, output_dir=tempfile.mkdtemp(prefix=f"gpu-check-{label}-"),
                                logging_steps=1)
    budget = Budget(budget_s)
    torch.cuda.reset_peak_memory_stats()
    trainer = sft.build_trainer(model, tokenizer, data, config, live_plot=False, callbacks=[budget])
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    after = sft.evaluate(trainer.model, tokenizer, sft.load_eval_questions(EVAL_QUESTIONS), label=label)
    return {"plan": plan, "steps": trainer.state.global_step, "seconds": seconds,
            "tokens_per_s": budget.tokens_per_second(), "peak_gb": torch.cuda.max_memory_allocated() / 1e9,
            "stop_rate": after.stop_rate, "accuracy": after.accuracy}


def real_size_source(model: str | None, workdir: Path) -> str:
    """What the real-size run loads: the Hub id when the Hub is reachable, else a folder."""
    if model:
        return model
    if hub.decision().online:
        return models.BASE_ID
    from scripts import real_size

    print(f"[model] {hub.decision().reason}: building a random-init SmolLM2-135M stand-in", flush=True)
    return str(real_size.build(workdir / "SmolLM2-135M"))


def report(label: str, figures: dict, shape: estimates.ModelShape) -> None:
    plan = figures["plan"]
    print(f"{label}_precision={plan.precision}")
    print(f"{label}_attention={plan.attn_implementation}")
    print(f"{label}_steps={figures['steps']} {label}_train_s={figures['seconds']:.1f}")
    speed = figures["tokens_per_s"]
    peak = estimates.peak_tflops(torch.cuda.get_device_name(0))
    if speed:
        print(f"{label}_tokens_per_s={speed:.0f}")
        mfu = estimates.mfu(speed, shape, plan.max_length, peak) if peak else None
        print(f"{label}_mfu={mfu:.3f}" if mfu is not None else f"{label}_mfu=unknown peak for this GPU")
    estimate = estimates.full_ft_training_gb(shape, plan.max_length * plan.per_device_train_batch_size)
    print(f"{label}_peak_memory_gb={figures['peak_gb']:.2f} (estimate {estimate:.2f})")
    accuracy = "" if figures["accuracy"] is None else f" {label}_accuracy={figures['accuracy']:.2f}"
    print(f"{label}_stop_rate={figures['stop_rate']:.2f}{accuracy}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="the real-size model: a Hub id or a folder (default: see above)")
    parser.add_argument("--train-minutes", type=float, default=3.0, help="training time of the real-size run")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu=none: this check needs a CUDA GPU (it is never run in CI)")
        return 1
    capability = torch.cuda.get_device_capability(0)
    print(f"gpu={torch.cuda.get_device_name(0)} capability={capability[0]}.{capability[1]} "
          f"memory_gb={torch.cuda.get_device_properties(0).total_memory / 1e9:.0f} torch={torch.__version__}")
    start = time.perf_counter()

    nano = models.nano_path("nano-smollm2-base")
    nano_data = sft.load_sft_data(path=sft.data.BUNDLED_CONVERSATIONS)
    nano_model = AutoModelForCausalLM.from_pretrained(nano).cuda()
    figures = train_and_evaluate("nano", AutoTokenizer.from_pretrained(nano), nano_model, nano_data, budget_s=120)
    report("nano", figures, sft.shape_of(nano_model))

    with tempfile.TemporaryDirectory() as workdir:
        source = real_size_source(args.model, Path(workdir))
        tokenizer, model = models.load_tokenizer(source), models.load_model(source)
        figures = train_and_evaluate("real", tokenizer, model, sft.load_sft_data(), args.train_minutes * 60)
        report("real", figures, sft.shape_of(model))
    print(f"total_s={time.perf_counter() - start:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
