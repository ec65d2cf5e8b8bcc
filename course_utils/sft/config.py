"""`sft_config_for`: one TRL `SFTConfig` per kind of hardware, and the reasons for each choice.

The decisions live in `plan_training`, a pure function of the CUDA compute capability, the
model's shape and the GPU's memory, so they are tested on a CPU machine with mocked
capabilities; `sft_config_for` turns a plan into an `SFTConfig`.

What it decides, and why:
- precision from the capability (`runtime.training_precision`): bf16 >= 8.0, fp16 on the T4
  (7.5), fp32 on CPU. Never `torch.cuda.is_bf16_supported()`: it says True on a T4, which
  only emulates bf16. TRL 1.16 defaults `bf16=True`, so precision is always set explicitly.
- assistant-only loss with the training template (`{% generation %}` markers), and
  `eos_token="<|im_end|>"`, so the trained model and its generation config stop at the end
  of a turn (a base SmolLM2's eos is `<|endoftext|>`).
- packing with best-fit decreasing (BFD) and padding-free batches: no compute on padding.
  TRL flattens a padding-free batch into one long row, and transformers' sdpa builds a
  block-diagonal mask over that whole row, so its attention cost grows with the square of
  the tokens per forward pass. FlashAttention's varlen kernel (`flash_attention_2`) and, on
  CPU, the course's per-conversation attention (`sft.attention`) cost only what each
  conversation costs. So: several packs per forward only with `flash_attention_2`; with
  sdpa on a GPU one pack per forward and gradient accumulation. On CPU one pack per step,
  `CPU_PACK_TOKENS` long (measured in `benchmarks/bench_sft.py --sweep`; when the course was
  designed, a 1,024-token BFD pack under sdpa measured 3x *slower* than TRL's default there).
- gradient checkpointing only when the estimate says the micro-batch does not fit without
  it (TRL 1.16 turns it on by default; its docs say ~20% slower, and a forward+backward of
  the nano base measured 37% slower with it, time a 135M model on a T4 need not spend).
- with `data_tokens` (`count_training_tokens(tokenizer, dataset)`), steps sized to the data:
  at least `sizing.MIN_OPTIMIZER_STEPS` optimizer steps, by smaller steps and then more
  epochs (`sizing` says the rule and why). The GPU recipe's 16,384 tokens per step would give
  the bundled nano data ~4 steps; sized, every device trains it like the CPU recipe.
- on CPU, seconds per step estimated from FLOPs, and with `cpu_budget_s` a `max_steps` cap
  when the full run would overrun it (`NeedsGPU` when not even a few steps fit).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .data import TRAINING_TEMPLATE_PATH
from .estimates import FULL_FT, FULL_FT_CHECKPOINTED, SMOLLM2, ModelShape, fit_method
from .sizing import MAX_EPOCHS, StepSizing, cpu_time, duration, size_to_data, steps_reason

AUTO = "auto"
END_OF_TURN = "<|im_end|>"
CPU_PACK_TOKENS = 1024      # tokens per forward pass on CPU; see the module docstring
CPU_EPOCHS = MAX_EPOCHS     # the nano conversations are 25,389 tokens: 25 packs an epoch, 125 steps
GPU_PACK_TOKENS = 2048      # SmolLM2 conversations fit; longer ones are cut by BFD
GPU_TOKENS_PER_STEP = 16_384  # tokens per optimizer step on a GPU (8 packs of 2,048) before sizing to data
GPU_EPOCHS = 2.0
MAX_PACKS_PER_FORWARD = 8
# A GPU's memory when only its capability is known (planning for a GPU that is not here).
ASSUMED_MEMORY_GB = {(7, 5): 15.0, (8, 0): 40.0, (8, 6): 24.0, (8, 9): 24.0, (9, 0): 80.0}


class NeedsLoRA(ValueError):
    """Full fine-tuning of this model cannot fit on this GPU, even with checkpointing."""


@dataclass(frozen=True)
class TrainingPlan:
    """What `sft_config_for` will ask TRL for, with one reason per decision."""

    device: str
    precision: str
    attn_implementation: str
    max_length: int
    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    gradient_checkpointing: bool
    learning_rate: float
    num_train_epochs: float
    reasons: tuple[str, ...] = field(default=())
    data_tokens: int | None = None          # training tokens per epoch it was sized for; None: unknown
    max_steps: int | None = None            # a cap on optimizer steps (CPU time budget); None: all
    seconds_per_step: float | None = None   # estimated (CPU only; None on a GPU)

    @property
    def tokens_per_step(self) -> int:
        return self.max_length * self.per_device_train_batch_size * self.gradient_accumulation_steps

    @property
    def sizing(self) -> StepSizing:
        return StepSizing(self.max_length, self.per_device_train_batch_size, self.gradient_accumulation_steps,
                          self.num_train_epochs)

    @property
    def full_run_steps(self) -> int | None:
        """Optimizer steps of all epochs over the data, ignoring `max_steps`; None without data_tokens."""
        return None if self.data_tokens is None else self.sizing.steps(self.data_tokens)

    @property
    def optimizer_steps(self) -> int | None:
        """Optimizer steps the run will take (`max_steps` when it caps the run); None without data_tokens."""
        if self.max_steps is not None:
            return min(self.max_steps, self.full_run_steps or self.max_steps)
        return self.full_run_steps

    @property
    def projected_seconds(self) -> float | None:
        """Estimated training time of the run as planned (capped), None when unknown."""
        if self.seconds_per_step is None or self.optimizer_steps is None:
            return None
        return self.seconds_per_step * self.optimizer_steps

    def _run_line(self) -> str | None:
        """Steps and time, as far as they are known."""
        parts = []
        if self.max_steps is not None:
            of_all = f" of {self.full_run_steps:,}" if self.full_run_steps else ""
            parts.append(f"{self.optimizer_steps:,}{of_all} optimizer steps (max_steps)")
        elif self.optimizer_steps is not None:
            parts.append(f"{self.optimizer_steps:,} optimizer steps")
        if self.seconds_per_step is not None:
            parts.append(f"~{self.seconds_per_step:.2g} s per step")
        if self.projected_seconds is not None:
            parts.append(f"~{duration(self.projected_seconds)} in all")
        return f"run: {', '.join(parts)} (estimated)" if parts else None

    def __str__(self) -> str:
        head = (f"{self.device}, {self.precision}, attention={self.attn_implementation}, pack={self.max_length} "
                f"tokens x {self.per_device_train_batch_size} per forward x {self.gradient_accumulation_steps} "
                f"accumulated, checkpointing={'on' if self.gradient_checkpointing else 'off'}, "
                f"lr={self.learning_rate:g}, epochs={self.num_train_epochs:g}")
        run = self._run_line()
        return "\n".join([head] + ([run] if run else []) + [f"  - {r}" for r in self.reasons])


def detect_capability() -> tuple[int, int] | None:
    """This machine's CUDA compute capability, or None without a CUDA GPU."""
    from .. import runtime

    return runtime.device_summary()["capability"]


def has_varlen_attention(capability: tuple[int, int] | None) -> bool:
    """Whether FlashAttention 2 (varlen kernels, Ampere and newer) is installed and usable."""
    from transformers.utils import is_flash_attn_2_available

    return capability is not None and tuple(capability) >= (8, 0) and is_flash_attn_2_available()


def shape_of(config) -> ModelShape:
    """The sizing shape of a transformers Llama-style config (or a model's `.config`)."""
    config = getattr(config, "config", config)
    return ModelShape(getattr(config, "name_or_path", "") or "model", config.hidden_size,
                      config.num_hidden_layers, config.intermediate_size, config.num_attention_heads,
                      config.num_key_value_heads or config.num_attention_heads, config.vocab_size,
                      bool(getattr(config, "tie_word_embeddings", True)))


def learning_rate_for(shape: ModelShape) -> float:
    """A nano model learns the format in a minute only with large steps; SmolLM2 sizes use 1e-4."""
    return 1e-3 if shape.n_params < 10e6 else 1e-4


def _sized(planned: StepSizing, data_tokens: int | None) -> tuple[StepSizing, str]:
    """The steps sized to the data (`sizing.size_to_data`), and the reason line that says so."""
    if data_tokens is None:
        return planned, ("optimizer steps: unknown until the data is counted; plan with "
                         "data_tokens=sft.count_training_tokens(tokenizer, dataset) to size them to it")
    sized = size_to_data(planned, data_tokens)
    return sized, steps_reason(planned, sized, data_tokens)


def _cpu_plan(shape: ModelShape, data_tokens: int | None, budget_s: float | None) -> TrainingPlan:
    from .attention import SEGMENT_SDPA

    # One pack per step is already the smallest step: sizing can only add epochs, up to these 5.
    sizing, steps = _sized(StepSizing(CPU_PACK_TOKENS, 1, 1, CPU_EPOCHS), data_tokens)
    cost = cpu_time(shape, sizing, data_tokens, budget_s)
    return TrainingPlan(
        "cpu", "fp32", SEGMENT_SDPA, sizing.max_length, 1, 1, False, learning_rate_for(shape), sizing.epochs,
        ("fp32: no CUDA GPU (CPU autocast to bf16 is slower than fp32 on most CPUs)",
         f"one {CPU_PACK_TOKENS}-token pack per step, attention computed per conversation "
         "(sft.attention): sdpa's mask over a whole pack costs quadratically on CPU",
         "no gradient checkpointing: memory is not the limit on CPU, time is",
         steps, cost.reason),
        data_tokens=data_tokens, max_steps=cost.max_steps, seconds_per_step=cost.seconds_per_step)


def _gpu_packs_per_forward(shape: ModelShape, memory_gb: float, varlen: bool) -> int:
    """The most packs per forward pass that fit, checkpointed if need be; raises NeedsLoRA."""
    candidates = [b for b in (8, 4, 2, 1) if b <= MAX_PACKS_PER_FORWARD] if varlen else [1]
    for packs in candidates:
        if fit_method(shape, memory_gb, packs * GPU_PACK_TOKENS) == FULL_FT:
            return packs
    if fit_method(shape, memory_gb, GPU_PACK_TOKENS) == FULL_FT_CHECKPOINTED:
        return 1
    raise NeedsLoRA(f"Full fine-tuning of {shape.name} ({shape.n_params / 1e6:.0f}M parameters, ~16 bytes each) "
                    f"does not fit in {memory_gb:.0f} GB even with gradient checkpointing: train LoRA "
                    "adapters instead (peft's LoraConfig passed to SFTTrainer as peft_config).")


def _gpu_plan(capability, shape: ModelShape, memory_gb: float, varlen: bool, data_tokens: int | None) -> TrainingPlan:
    from .. import runtime

    precision = runtime.training_precision(capability)
    packs = _gpu_packs_per_forward(shape, memory_gb, varlen)
    accumulation = max(1, GPU_TOKENS_PER_STEP // (packs * GPU_PACK_TOKENS))
    sizing, steps = _sized(StepSizing(GPU_PACK_TOKENS, packs, accumulation, GPU_EPOCHS), data_tokens)
    # Sized steps may have a smaller micro-batch than memory allowed: it may fit without checkpointing.
    micro_batch = sizing.packs_per_forward * sizing.max_length
    checkpointing = fit_method(shape, memory_gb, micro_batch) != FULL_FT
    attention = ("flash_attention_2: varlen kernels keep packed conversations apart at no extra cost"
                 if varlen else "sdpa: without FlashAttention 2 a padding-free batch gets a block-diagonal "
                 "mask over all its tokens, so one pack per forward pass and gradient accumulation")
    return TrainingPlan(
        "cuda", precision, "flash_attention_2" if varlen else "sdpa", sizing.max_length, sizing.packs_per_forward,
        sizing.accumulation, checkpointing, learning_rate_for(shape), sizing.epochs,
        (f"{precision}: compute capability {capability[0]}.{capability[1]}",
         attention,
         f"{micro_batch:,} tokens per forward pass {'need' if checkpointing else 'fit in'} "
         f"{memory_gb:.0f} GB {'with' if checkpointing else 'without'} gradient checkpointing "
         f"(16 bytes/parameter + activations, estimated)",
         steps),
        data_tokens=data_tokens)


def plan_training(capability=AUTO, *, shape: ModelShape | None = None, gpu_memory_gb: float | None = None,
                  varlen_attention: bool | None = None, data_tokens: int | None = None,
                  cpu_budget_s: float | None = None) -> TrainingPlan:
    """Decide precision, packing, batch, checkpointing and steps for a device of this capability.

    Args:
        capability: `(major, minor)` CUDA compute capability, None for CPU, or "auto" to
            detect this machine's.
        shape: the model's shape (default SmolLM2-135M; use `shape_of(model)`).
        gpu_memory_gb: the GPU's memory; default: this GPU's, or a typical one for the capability.
        varlen_attention: whether FlashAttention 2 is usable; default: detected.
        data_tokens: training tokens in one epoch (`count_training_tokens(tokenizer, dataset)`):
            steps are then sized to give at least `sizing.MIN_OPTIMIZER_STEPS` (module
            `sizing`). None: the recipe's sizes, whatever the data.
        cpu_budget_s: on CPU, seconds the run may take: a longer run gets `max_steps`, and one
            where not even a few steps fit raises `NeedsGPU`. None: no budget. Ignored on a GPU.
    """
    import torch

    capability = detect_capability() if capability == AUTO else capability
    shape = shape or SMOLLM2["135M"]
    if capability is None:
        return _cpu_plan(shape, data_tokens, cpu_budget_s)
    capability = tuple(capability)
    if gpu_memory_gb is None:
        here = torch.cuda.is_available() and torch.cuda.get_device_capability(0) == capability
        gpu_memory_gb = (torch.cuda.get_device_properties(0).total_memory / 1e9 if here
                         else ASSUMED_MEMORY_GB.get(capability, 15.0))
    varlen = has_varlen_attention(capability) if varlen_attention is None else varlen_attention
    return _gpu_plan(capability, shape, gpu_memory_gb, varlen, data_tokens)


def sft_config_for(capability=AUTO, *, model=None, plan: TrainingPlan | None = None,
                   output_dir: str = "sft-output", **overrides):
    """The course's TRL `SFTConfig` for this hardware (see the module docstring).

    Args:
        capability: CUDA compute capability, None for CPU, or "auto" (this machine).
        model: the model (or its config) to be trained, for memory planning and the learning
            rate (default: SmolLM2-135M's shape).
        plan: a `TrainingPlan` to use instead of planning from `capability` and `model`.
        output_dir: where checkpoints would go (the course saves once, at the end).
        **overrides: any `SFTConfig` field, e.g. `max_steps=50` (it wins over the plan's).

    Example:
        >>> config = sft_config_for(None)  # CPU
        >>> config.fp16, config.bf16, config.assistant_only_loss, config.packing
        (False, False, True, True)
    """
    from trl import SFTConfig

    plan = plan or plan_training(capability, shape=shape_of(model) if model is not None else None)
    kwargs = dict(
        output_dir=output_dir,
        bf16=plan.precision == "bf16", fp16=plan.precision == "fp16", use_cpu=plan.device == "cpu",
        assistant_only_loss=True, chat_template_path=str(TRAINING_TEMPLATE_PATH), eos_token=END_OF_TURN,
        packing=True, packing_strategy="bfd", max_length=plan.max_length,
        per_device_train_batch_size=plan.per_device_train_batch_size,
        gradient_accumulation_steps=plan.gradient_accumulation_steps,
        # transformers 5.23 renamed gradient_checkpointing (TRL 1.16 still defaults it to True and
        # warns through the old name); setting the new name wins and keeps the run quiet.
        activation_checkpointing=plan.gradient_checkpointing,
        learning_rate=plan.learning_rate, lr_scheduler_type="cosine", warmup_steps=0.05,
        num_train_epochs=plan.num_train_epochs,
        logging_steps=0.02,  # a fraction of all steps: ~50 points on the loss plot at any length
        save_strategy="no", report_to="none", seed=42,
        # Every Llama parameter gets a gradient; without this, Trainer asks DDP to search for
        # unused ones after every backward pass (and DDP warns that it found none).
        ddp_find_unused_parameters=False,
        # pin_memory only helps host-to-GPU copies; on CPU torch warns about it.
        dataloader_pin_memory=plan.device != "cpu",
    )
    if plan.max_steps is not None:  # the CPU time budget's cap; the cosine schedule ends there
        kwargs["max_steps"] = plan.max_steps
    kwargs.update(overrides)
    return SFTConfig(**kwargs)
