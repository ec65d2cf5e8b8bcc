"""Set up TRL's `SFTTrainer` the course's way, and save a model that chats.

`build_trainer` is a thin layer over `SFTTrainer(model, args=config, ...)`: it puts the model
in a trainable state for the plan (fp32 master weights, the attention kernel the plan chose)
and swaps the Trainer's progress output for `TrainingMonitor` (one tqdm bar, a live plot).
`save_for_chat` saves with SmolLM2's exact chat template, not the training one.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from ..quiet import datasets_bars_off, transformers_bars_off
from .data import inference_template
from .monitor import TrainingMonitor, remove_progress_callbacks


def _attention_for(config) -> str | None:
    """Attention that keeps packed conversations apart without computing across them:
    FlashAttention's varlen kernel where usable, per-conversation sdpa on CPU, else the model's."""
    from . import attention
    from .config import detect_capability, has_varlen_attention

    if config.use_cpu:
        return attention.enable()
    return "flash_attention_2" if has_varlen_attention(detect_capability()) else None


def prepare_model(model, config):
    """Make a loaded model trainable under `config`; returns it.

    `models.load_model` gives 16-bit weights on a GPU, which suits inference. Mixed-precision
    training wants fp32 master weights: with fp16 weights the GradScaler stops with
    "Attempting to unscale FP16 gradients", and pure bf16 AdamW updates lose small steps.
    Autocast (from `fp16=`/`bf16=` in the config) still does the matrix math in 16 bits.
    """
    import torch

    # peft 0.21 reads `model.is_gradient_checkpointing` when it wraps a model (SFTTrainer's
    # peft_config), a property transformers 5.23 deprecated for `is_activation_checkpointing`
    # and warns about on every read: nothing the learner wrote, nothing they could change.
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    if any(p.dtype != torch.float32 for p in model.parameters()):
        model = model.float()
    attention = _attention_for(config)
    if attention and model.config._attn_implementation != attention:
        model.set_attn_implementation(attention)
    return model.train()


def build_trainer(model, tokenizer, train_dataset, config, *, live_plot: bool = True, callbacks=(),
                  eval_dataset=None, peft_config=None):
    """`SFTTrainer` for conversational rows `{"messages": [...]}` under `config`
    (from `sft_config_for`), with a tqdm bar and, in a notebook, a live loss plot.

    Lesson 05 writes these same few lines out in its cells; scripts and tests use this.
    The monitor is at `trainer.monitor`; its `history` holds the logged losses (and
    `eval_history` the validation losses when `eval_dataset` is given and the config evaluates).
    """
    from trl import SFTTrainer

    monitor = TrainingMonitor(live_plot=live_plot)
    # SFTTrainer tokenizes, labels and packs with `datasets.map`, one bar each; for a few
    # hundred conversations they flash by and bury the training bar.
    with datasets_bars_off():
        trainer = SFTTrainer(model=prepare_model(model, config), args=config, train_dataset=train_dataset,
                             eval_dataset=eval_dataset, processing_class=tokenizer, callbacks=[monitor, *callbacks],
                             peft_config=peft_config)
    # Trainer adds its own progress output (which one depends on notebook and disable_tqdm);
    # the monitor already shows progress and the loss.
    remove_progress_callbacks(trainer)
    trainer.monitor = monitor
    return trainer


def save_for_chat(trainer, path) -> Path:
    """Save the trained model and tokenizer so that `pipeline("text-generation", path)` chats.

    The tokenizer was given the training template (it has `{% generation %}` markers, which
    inference ignores but minijinja-based runtimes reject as a syntax error), so SmolLM2's
    exact template goes back before saving: it lands in `chat_template.jinja`. The eos token
    and the generation config already say `<|im_end|>` (set through `SFTConfig.eos_token`).
    """
    path = Path(path)
    trainer.processing_class.chat_template = inference_template()
    # A saved notebook keeps only the "Writing model shards" bar's first text ("0%"); the
    # folder listing says more.
    with transformers_bars_off():
        trainer.save_model(str(path))
    return path
