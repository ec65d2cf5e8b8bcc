"""Supervised fine-tuning of SmolLM2 (or the nano stand-in) with TRL: lesson 05's machinery.

- `data`: conversations in (bundled or smoltalk), the training template, masks and labels.
- `config`: `sft_config_for(capability)`, the `SFTConfig` for this hardware, and its plan.
- `train`: `build_trainer` (SFTTrainer + progress + live loss plot), `save_for_chat`.
- `evaluate`: stop rate, held-out accuracy, before/after tables.
- `sizing`: optimizer steps sized to the data (`count_training_tokens`), the CPU time budget.
- `estimates`: memory and time estimates (16 bytes/parameter, 6N FLOP/token), MFU.
- `monitor`: the tqdm bar and live loss plot callback (training and validation loss).
- `control_tokens`: `without_control_tokens`, the base model as it would be without ChatML's tokens.
"""
from .config import NeedsLoRA, TrainingPlan, plan_training, sft_config_for, shape_of
from .control_tokens import without_control_tokens
from .data import (TRAINING_TEMPLATE_PATH, EvalQuestion, load_eval_questions, load_sft_data, make_labels, to_sft_format,
                   tokenize_for_training, training_template, inference_template)
from .estimates import estimate_table
from .evaluate import before_after, evaluate, generate_replies, stop_rate
from .monitor import TrainingMonitor, remove_progress_callbacks
from .sizing import NeedsGPU, count_training_tokens
from .train import build_trainer, prepare_model, save_for_chat

__all__ = [
    "NeedsLoRA", "TrainingPlan", "plan_training", "sft_config_for", "shape_of",
    "TRAINING_TEMPLATE_PATH", "EvalQuestion", "load_eval_questions", "load_sft_data", "make_labels", "to_sft_format",
    "tokenize_for_training", "training_template", "inference_template",
    "estimate_table", "before_after", "evaluate", "generate_replies", "stop_rate",
    "TrainingMonitor", "remove_progress_callbacks", "build_trainer", "prepare_model", "save_for_chat", "NeedsGPU", "count_training_tokens",
    "without_control_tokens",
]
