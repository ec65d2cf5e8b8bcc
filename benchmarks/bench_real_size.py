"""Lesson 05 at SmolLM2-135M's real size, online through the Hub mirror, for a few steps.

No machine here reaches the Hub, so the real weights are out of reach; what costs time and
memory is the architecture, so `scripts/real_size.py` writes a random-init SmolLM2-135M
(134,515,008 parameters, the nano tokenizer) and the test Hub mirror (olah, in its own network
namespace: tests/support/hub_mirror.py) serves it as `HuggingFaceTB/SmolLM2-135M`, beside the
smoltalk-shaped dataset. Then lesson 05's own calls run against it, as a learner's kernel
would make them: load the base model and tokenizer from the Hub, give the tokenizer the chat
template, load smoltalk, plan (with the data's token count and the lesson's CPU budget),
build the trainer, train `--steps` optimizer steps, and generate a few held-out replies.

Prints the plan, the measured seconds per optimizer step (steps after the first) beside the
plan's estimate, the peak resident memory beside the lesson's memory estimate (16 bytes per
parameter + activations, here in fp32 on CPU), and the lesson's estimate table's 135M rows.
The last line is `real_size_s_per_step=`.

    python -m benchmarks.bench_real_size [--steps 4]     # needs `make mirror-tools`
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts import ROOT

CPU_BUDGET_S = 10 * 60  # lesson 05's budget for training on a CPU
EVAL_QUESTIONS = 4


def lesson_05(steps: int, out: Path) -> dict:
    """Lesson 05's calls against the Hub, `steps` optimizer steps; figures as a dict."""
    from transformers import TrainerCallback

    from course_utils import sft
    from course_utils.models import BASE_ID, load_model, load_tokenizer

    tokenizer, model = load_tokenizer(BASE_ID), load_model(BASE_ID)
    tokenizer.chat_template = sft.inference_template()
    data = sft.load_sft_data()
    plan = sft.plan_training(shape=sft.shape_of(model), data_tokens=sft.count_training_tokens(tokenizer, data),
                             cpu_budget_s=CPU_BUDGET_S)
    print(f"[plan] {plan}")
    config = sft.sft_config_for(plan=plan, output_dir=str(out), max_steps=steps)

    class StepTimes(TrainerCallback):
        times: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())

    timer = StepTimes()
    trainer = sft.build_trainer(model, tokenizer, data, config, live_plot=False, callbacks=[timer])
    start = time.perf_counter()
    trainer.train()
    stamps = [start, *timer.times]
    per_step = [b - a for a, b in zip(stamps, stamps[1:])]
    after = sft.evaluate(trainer.model, tokenizer, sft.load_eval_questions(EVAL_QUESTIONS), label="after")
    return {
        "parameters": model.num_parameters(), "steps": len(per_step),
        "first_step_s": per_step[0], "s_per_step": sum(per_step[1:]) / max(1, len(per_step) - 1),
        "estimated_s_per_step": plan.seconds_per_step, "tokens_per_step": plan.tokens_per_step,
        "full_run_steps": plan.full_run_steps, "max_steps": plan.max_steps,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        "stop_rate": after.stop_rate,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps to time (the first is left out)")
    parser.add_argument("--inner", type=Path, help=argparse.SUPPRESS)  # the run beside the mirror
    args = parser.parse_args(argv)
    if args.inner:
        figures = lesson_05(args.steps, args.inner.parent / "sft-output")
        args.inner.write_text(json.dumps(figures))
        return 0

    from scripts import real_size
    from tests.support.hub_mirror import HubMirror, build_repos

    from course_utils.sft import estimate_table, estimates

    with tempfile.TemporaryDirectory(prefix="real-size-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        model_dir = real_size.build(tmp / "SmolLM2-135M")
        build_repos(tmp / "hub", extra_models={"HuggingFaceTB/SmolLM2-135M": model_dir})
        print(f"built the real-size repo and the mirror's repos in {time.perf_counter() - start:.0f} s")
        with HubMirror(tmp / "hub") as mirror:
            env = {**mirror.env(), "OMP_NUM_THREADS": str(os.cpu_count()), "CUDA_VISIBLE_DEVICES": ""}
            result = tmp / "figures.json"
            inner = [sys.executable, "-m", "benchmarks.bench_real_size", "--steps", str(args.steps), "--inner", result]
            subprocess.run(mirror.command(inner), env=env, check=True, cwd=ROOT)
        figures = json.loads(result.read_text())
    # The lesson's rule on this CPU run: 16 bytes/parameter + fp32 activations of one pack.
    estimate_gb = estimates.full_ft_training_gb(estimates.SMOLLM2["135M"], figures["tokens_per_step"], bytes_per_value=4)
    print("\nThe lesson's estimate table (GPUs), 135M rows:")
    print("\n".join(line for line in str(estimate_table()).splitlines() if "135M" in line or "model" in line))
    print(f"\nparameters={figures['parameters']:,} threads={os.cpu_count()} tokens_per_step={figures['tokens_per_step']}")
    print(f"plan: full run {figures['full_run_steps']:,} steps, capped at max_steps={figures['max_steps']} "
          f"by the {CPU_BUDGET_S // 60}-minute CPU budget")
    print(f"first_step_s={figures['first_step_s']:.1f}")
    print(f"peak_rss_gb={figures['peak_rss_gb']:.2f} estimated_gb={estimate_gb:.2f}")
    print(f"stop_rate_after_{figures['steps']}_steps={figures['stop_rate']:.2f} (random weights: only that generation runs)")
    print(f"estimated_s_per_step={figures['estimated_s_per_step']:.1f}")
    print(f"real_size_s_per_step={figures['s_per_step']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
