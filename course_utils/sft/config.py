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
  `CPU_PACK_TOKENS` long (measured in `benchmarks/bench_sft.py --sweep`; COURSE.md section
  5 found a 1,024-token BFD pack under sdpa 3x *slower* than TRL's default there).
- gradient checkpointing only when the estimate says the micro-batch does not fit without
  it (TRL 1.16 turns it on by default; its docs say ~20% slower, and a forward+backward of
  the nano base measured 37% slower with it, time a 135M model on a T4 need not spend).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .data import TRAINING_TEMPLATE_PATH
from .estimates import FULL_FT, FULL_FT_CHECKPOINTED, SMOLLM2, ModelShape, fit_method

AUTO = "auto"
END_OF_TURN = "<|im_end|>"
CPU_PACK_TOKENS = 1024      # tokens per forward pass on CPU; see the module docstring
CPU_EPOCHS = 5.0            # the nano conversations are ~23k tokens: ~23 packs an epoch
GPU_PACK_TOKENS = 2048      # SmolLM2 conversations fit; longer ones are cut by BFD
GPU_TOKENS_PER_STEP = 16_384  # tokens per optimizer step on a GPU: 8 packs of 2,048
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

    @property
    def tokens_per_step(self) -> int:
        return self.max_length * self.per_device_train_batch_size * self.gradient_accumulation_steps

    def __str__(self) -> str:
        head = (f"{self.device}, {self.precision}, attention={self.attn_implementation}, pack={self.max_length} "
                f"tokens x {self.per_device_train_batch_size} per forward x {self.gradient_accumulation_steps} "
                f"accumulated, checkpointing={'on' if self.gradient_checkpointing else 'off'}, "
                f"lr={self.learning_rate:g}, epochs={self.num_train_epochs:g}")
        return "\n".join([head] + [f"  - {r}" for r in self.reasons])


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


def _cpu_plan(shape: ModelShape) -> TrainingPlan:
    from .attention import SEGMENT_SDPA

    return TrainingPlan(
        "cpu", "fp32", SEGMENT_SDPA, CPU_PACK_TOKENS, 1, 1, False, learning_rate_for(shape), CPU_EPOCHS,
        ("fp32: no CUDA GPU (CPU autocast to bf16 is slower than fp32 on most CPUs)",
         f"one {CPU_PACK_TOKENS}-token pack per step, attention computed per conversation "
         "(sft.attention): sdpa's mask over a whole pack costs quadratically on CPU (COURSE.md section 5)",
         "no gradient checkpointing: memory is not the limit on CPU, time is"))


def _gpu_batch(shape: ModelShape, memory_gb: float, varlen: bool) -> tuple[int, bool]:
    """Packs per forward pass and whether checkpointing is needed; raises NeedsLoRA."""
    candidates = [b for b in (8, 4, 2, 1) if b <= MAX_PACKS_PER_FORWARD] if varlen else [1]
    for packs in candidates:
        if fit_method(shape, memory_gb, packs * GPU_PACK_TOKENS) == FULL_FT:
            return packs, False
    if fit_method(shape, memory_gb, GPU_PACK_TOKENS) == FULL_FT_CHECKPOINTED:
        return 1, True
    raise NeedsLoRA(f"Full fine-tuning of {shape.name} ({shape.n_params / 1e6:.0f}M parameters, ~16 bytes each) "
                    f"does not fit in {memory_gb:.0f} GB even with gradient checkpointing: train LoRA "
                    "adapters instead (peft's LoraConfig passed to SFTTrainer as peft_config).")


def _gpu_plan(capability, shape: ModelShape, memory_gb: float, varlen: bool) -> TrainingPlan:
    from .. import runtime

    precision = runtime.training_precision(capability)
    packs, checkpointing = _gpu_batch(shape, memory_gb, varlen)
    accumulation = max(1, GPU_TOKENS_PER_STEP // (packs * GPU_PACK_TOKENS))
    attention = ("flash_attention_2: varlen kernels keep packed conversations apart at no extra cost"
                 if varlen else "sdpa: without FlashAttention 2 a padding-free batch gets a block-diagonal "
                 "mask over all its tokens, so one pack per forward pass and gradient accumulation")
    return TrainingPlan(
        "cuda", precision, "flash_attention_2" if varlen else "sdpa", GPU_PACK_TOKENS, packs, accumulation,
        checkpointing, learning_rate_for(shape), 2.0,
        (f"{precision}: compute capability {capability[0]}.{capability[1]}",
         attention,
         f"{packs * GPU_PACK_TOKENS:,} tokens per forward pass {'need' if checkpointing else 'fit in'} "
         f"{memory_gb:.0f} GB {'with' if checkpointing else 'without'} gradient checkpointing "
         f"(16 bytes/parameter + activations, estimated)"))


def plan_training(capability=AUTO, *, shape: ModelShape | None = None, gpu_memory_gb: float | None = None,
                  varlen_attention: bool | None = None) -> TrainingPlan:
    """Decide precision, packing, batch and checkpointing for a device of this capability.

    Args:
        capability: `(major, minor)` CUDA compute capability, None for CPU, or "auto" to
            detect this machine's.
        shape: the model's shape (default SmolLM2-135M; use `shape_of(model)`).
        gpu_memory_gb: the GPU's memory; default: this GPU's, or a typical one for the capability.
        varlen_attention: whether FlashAttention 2 is usable; default: detected.
    """
    import torch

    capability = detect_capability() if capability == AUTO else capability
    shape = shape or SMOLLM2["135M"]
    if capability is None:
        return _cpu_plan(shape)
    capability = tuple(capability)
    if gpu_memory_gb is None:
        here = torch.cuda.is_available() and torch.cuda.get_device_capability(0) == capability
        gpu_memory_gb = (torch.cuda.get_device_properties(0).total_memory / 1e9 if here
                         else ASSUMED_MEMORY_GB.get(capability, 15.0))
    varlen = has_varlen_attention(capability) if varlen_attention is None else varlen_attention
    return _gpu_plan(capability, shape, gpu_memory_gb, varlen)


def sft_config_for(capability=AUTO, *, model=None, plan: TrainingPlan | None = None,
                   output_dir: str = "sft-output", **overrides):
    """The course's TRL `SFTConfig` for this hardware (see the module docstring).

    Args:
        capability: CUDA compute capability, None for CPU, or "auto" (this machine).
        model: the model (or its config) to be trained, for memory planning and the learning
            rate (default: SmolLM2-135M's shape).
        plan: a `TrainingPlan` to use instead of planning from `capability` and `model`.
        output_dir: where checkpoints would go (the course saves once, at the end).
        **overrides: any `SFTConfig` field, e.g. `max_steps=50`.

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
    kwargs.update(overrides)
    return SFTConfig(**kwargs)
