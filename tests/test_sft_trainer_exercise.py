"""05.trainer and what lesson 05's plain-sight trainer relies on: the monitor's validation
line and summary, `remove_progress_callbacks`, and a LoRA run through the CPU attention.

The grader is proven by the mistakes it catches (the known-wrong answers in the solution,
tests/test_exercise_proofs.py) and by right answers written differently, which must pass (here).
"""
from __future__ import annotations

import pytest
from trl import SFTConfig, SFTTrainer

from course_utils import runtime, sft
from course_utils.checks import check
from course_utils.checks.failure import CheckFailed
from course_utils.sft import TRAINING_TEMPLATE_PATH


def _precision_flags():
    precision = runtime.device_summary()["precision"]
    return dict(use_cpu=precision == "fp32", bf16=precision == "bf16", fp16=precision == "fp16")


def no_packing_epoch_eval(model, tokenizer, dataset):
    """Right, written differently: no packing, a 20% split with another seed, eval per epoch."""
    split = dataset.train_test_split(test_size=0.2, seed=7)
    config = SFTConfig(output_dir="sft-output", report_to="none", assistant_only_loss=True,
                       chat_template_path=str(TRAINING_TEMPLATE_PATH), eos_token="<|im_end|>",
                       eval_strategy="epoch", activation_checkpointing=False, **_precision_flags())
    return SFTTrainer(model=model, args=config, train_dataset=split["train"], eval_dataset=split["test"],
                      processing_class=tokenizer)


def split_by_hand(model, tokenizer, dataset):
    """Right, written differently: the split made with select, the config through the course's planner."""
    n = len(dataset) // 10
    config = sft.sft_config_for(plan=sft.plan_training(shape=sft.shape_of(model)), output_dir="sft-output",
                                eval_strategy="steps", eval_steps=5)
    return SFTTrainer(model=model, args=config, train_dataset=dataset.select(range(n, len(dataset))),
                      eval_dataset=dataset.select(range(n)), processing_class=tokenizer)


def precision_from_torch(model, tokenizer, dataset):
    """Right, written differently: the device read from torch, not from runtime.device_summary(),
    so the check's pretended GPUs do not reach it; it is checked on this machine only."""
    import torch

    capability = torch.cuda.get_device_capability(0) if torch.cuda.is_available() else None
    precision = runtime.training_precision(capability)
    split = dataset.train_test_split(test_size=0.1, seed=42)
    config = SFTConfig(output_dir="sft-output", report_to="none", assistant_only_loss=True,
                       chat_template_path=str(TRAINING_TEMPLATE_PATH), eos_token="<|im_end|>",
                       eval_strategy="steps", eval_steps=5, activation_checkpointing=False,
                       use_cpu=capability is None, bf16=precision == "bf16", fp16=precision == "fp16")
    return SFTTrainer(model=model, args=config, train_dataset=split["train"], eval_dataset=split["test"],
                      processing_class=tokenizer)


@pytest.mark.parametrize("answer", [no_packing_epoch_eval, split_by_hand, precision_from_torch])
def test_right_answers_written_differently_pass(answer):
    check("05.trainer", answer)


def eval_never_run(model, tokenizer, dataset):
    split = dataset.train_test_split(test_size=0.1, seed=42)
    config = SFTConfig(output_dir="sft-output", report_to="none", assistant_only_loss=True,
                       chat_template_path=str(TRAINING_TEMPLATE_PATH), eos_token="<|im_end|>",
                       activation_checkpointing=False, **_precision_flags())
    return SFTTrainer(model=model, args=config, train_dataset=split["train"], eval_dataset=split["test"],
                      processing_class=tokenizer)


def test_an_eval_dataset_that_is_never_evaluated_fails():
    with pytest.raises(CheckFailed, match="eval_strategy='no'"):
        check("05.trainer", eval_never_run)


def test_the_check_leaves_the_course_tokenizer_alone():
    from course_utils.checks.lesson05 import pairs

    tokenizer, _ = pairs()["base"]
    before = (tokenizer.eos_token, tokenizer.chat_template)
    check("05.trainer", no_packing_epoch_eval)
    assert (tokenizer.eos_token, tokenizer.chat_template) == before


class _State:
    is_world_process_zero = True
    global_step = 0
    max_steps = 10


def test_monitor_keeps_validation_losses_and_summarises_the_curves():
    monitor = sft.TrainingMonitor(live_plot=False)
    state = _State()
    for step, loss, eval_loss in [(2, 3.0, 2.5), (4, 1.0, 1.5), (6, 0.5, 1.7), (8, 0.2, 1.9)]:
        state.global_step = step
        monitor.on_log(None, state, None, logs={"loss": loss})
        monitor.on_log(None, state, None, logs={"eval_loss": eval_loss})
    monitor.on_log(None, state, None, logs={"eval_loss": 1.9})  # Trainer's final evaluation, same step
    assert monitor.history == [(2, 3.0), (4, 1.0), (6, 0.5), (8, 0.2)]
    assert monitor.eval_history == [(2, 2.5), (4, 1.5), (6, 1.7), (8, 1.9)]
    assert monitor.summary() == ("training loss:   3.000 at step 2 -> 0.200 at step 8\n"
                                 "validation loss: lowest 1.500 at step 4, 1.900 at step 8 (+0.400 after its lowest)")


def test_monitor_summary_without_validation_has_one_line():
    monitor = sft.TrainingMonitor(live_plot=False)
    monitor.on_log(None, _State(), None, logs={"loss": 2.0})
    assert monitor.summary().count("\n") == 0


@pytest.mark.slow
def test_lora_trains_through_the_cpu_attention_and_merges(tmp_path):
    """A few LoRA steps on the nano base with the per-conversation attention: the adapter
    changes the model, peft's wrapper keeps the attention, and merging gives a plain model."""
    from peft import LoraConfig

    from course_utils.models import BASE_ID, load_model, load_tokenizer
    from course_utils.sft.attention import SEGMENT_SDPA

    tokenizer, model = load_tokenizer(BASE_ID), load_model(BASE_ID)
    data = sft.load_sft_data(limit=40)
    config = sft.sft_config_for(None, model=model, output_dir=str(tmp_path), max_steps=3,
                                learning_rate=1e-2, logging_steps=1)
    trainer = sft.build_trainer(model, tokenizer, data, config, live_plot=False,
                                peft_config=LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                       task_type="CAUSAL_LM"))
    assert trainer.model.config._attn_implementation == SEGMENT_SDPA
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    assert 0 < trainable < model.num_parameters() / 10
    trainer.train()
    assert len(trainer.monitor.history) == 3
    trainer.save_model(str(tmp_path / "adapter"))
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()
    merged = trainer.model.merge_and_unload()
    assert type(merged).__name__ == "LlamaForCausalLM"
