"""SFT of a SmolLM2 base model from the command line: lesson 05 as a program.

The same functions as the notebook (`course_utils.sft`), launchable on one device or many:

    python -m scripts.sft                                   # one GPU, or the CPU
    accelerate launch --config_file docs/accelerate/ddp.yaml -m scripts.sft      # DDP, N GPUs
    accelerate launch --config_file docs/accelerate/fsdp.yaml -m scripts.sft     # FSDP2, N GPUs
    accelerate launch --multi_gpu --num_processes 2 -m scripts.sft --max-steps 4  # DDP on CPU (gloo)

from the repository root (`-m` imports scripts/ as a package from the working directory).

On a machine without CUDA, `--multi_gpu` still starts the processes (through torchrun) and
each trains on the CPU, syncing over gloo. `--cpu --num_processes 2` does not: Accelerate
1.15 sends --cpu to its simple launcher, which starts one process whatever the count.

Offline (COURSE_OFFLINE=1, or no Hub) it trains the bundled nano base on the bundled
conversations, exactly as the notebook does. It saves the model with SmolLM2's chat template
into --output-dir, then the main process reloads that folder and prints held-out stop rate
(and accuracy, for the nano world) as key=value lines, last.
"""
from __future__ import annotations

import argparse
import time

from course_utils import models, sft


def parse_capability(text: str):
    """'auto', 'cpu', or a compute capability such as '8.0'."""
    if text in ("auto", "cpu"):
        return sft.config.AUTO if text == "auto" else None
    major, minor = text.split(".")
    return int(major), int(minor)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=models.BASE_ID, help="Hub id, bundled nano name or folder")
    parser.add_argument("--output-dir", default="sft-smollm2", help="where the trained model is saved")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps")
    parser.add_argument("--epochs", type=float, default=None, help="epochs (default: the plan's)")
    parser.add_argument("--data", default=None, help="a JSONL file of conversations (default: bundled or smoltalk)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N conversations")
    parser.add_argument("--capability", default="auto", help="'auto', 'cpu' or a CUDA capability like 7.5")
    parser.add_argument("--cpu-budget-minutes", type=float, default=10,
                        help="on a CPU, stop after about this many minutes of training (0: no budget)")
    parser.add_argument("--eval-limit", type=int, default=None, help="held-out questions to evaluate (0: none)")
    return parser.parse_args(argv)


def load(name: str, state):
    """Tokenizer and fp32 model on CPU: the Trainer moves each rank's copy to its own device
    (and FSDP shards it), so nothing is put on GPU 0 first."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, announcement = models.resolve(name)
    if state.is_main_process:
        print(f"[model] {announcement}")
    return AutoTokenizer.from_pretrained(source), AutoModelForCausalLM.from_pretrained(source)


def train(args, state) -> float:
    """Train and save; returns the training time in seconds."""
    tokenizer, model = load(args.model, state)
    with state.main_process_first():  # rank 0 downloads and caches the data, the others reuse it
        dataset = sft.load_sft_data(limit=args.limit, path=args.data)
    plan = sft.plan_training(parse_capability(args.capability), shape=sft.shape_of(model),
                             data_tokens=sft.count_training_tokens(tokenizer, dataset),
                             cpu_budget_s=args.cpu_budget_minutes * 60 or None)
    overrides = {"max_steps": args.max_steps} if args.max_steps > 0 else {}
    if args.epochs is not None:
        overrides["num_train_epochs"] = args.epochs
    config = sft.sft_config_for(plan=plan, output_dir=args.output_dir, **overrides)
    if state.is_main_process:
        print(f"[plan] {plan}")
    trainer = sft.build_trainer(model, tokenizer, dataset, config, live_plot=False)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    sft.save_for_chat(trainer, args.output_dir)  # every rank: FSDP gathers the shards collectively
    return seconds


def report(args, seconds: float, num_processes: int) -> None:
    """Reload the saved folder (a sharded FSDP model cannot generate on one rank) and evaluate."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"processes={num_processes}")
    print(f"train_seconds={seconds:.1f}")
    if args.eval_limit == 0:
        return
    tokenizer = AutoTokenizer.from_pretrained(args.output_dir)
    model = AutoModelForCausalLM.from_pretrained(args.output_dir)
    result = sft.evaluate(model, tokenizer, sft.load_eval_questions(args.eval_limit), label="trained")
    if result.accuracy is not None:
        print(f"heldout_accuracy={result.accuracy:.3f}")
    print(f"stop_rate={result.stop_rate:.3f}")


def main(argv=None) -> None:
    from accelerate import PartialState

    args = parse_args(argv)
    state = PartialState()
    seconds = train(args, state)
    state.wait_for_everyone()
    if state.is_main_process:
        report(args, seconds, state.num_processes)
    # Every rank waits for the report, then leaves the process group before exiting: a rank that
    # exited with the group still up sometimes aborted in gloo's threads ("terminate called
    # without an active exception", SIGABRT), which failed the whole launch after training.
    state.wait_for_everyone()
    state.destroy_process_group()


if __name__ == "__main__":
    main()
