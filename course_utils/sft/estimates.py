"""Back-of-the-envelope sizing for full fine-tuning: memory, time, MFU.

Every number here is an *estimate* from two rules of thumb, and the lesson says so:
- memory: 16 bytes per parameter for weights, gradients and AdamW's two moments in mixed
  precision (2 + 2 + 4 master + 4 + 4, or 4 + 4 + 4 + 4 with fp32 weights under autocast),
  plus activations, which grow with the tokens in a micro-batch;
- compute: 6 N FLOP per trained token (forward 2N, backward 4N) plus attention, run at an
  assumed fraction (MFU) of the GPU's dense 16-bit peak, or on a CPU at a FLOP rate per thread
  measured on SmolLM2-135M (`CPU_TRAINING_FLOPS_PER_THREAD`).
"""
from __future__ import annotations

from dataclasses import dataclass

BYTES_PER_PARAM_FULL_FT = 16
GB = 1e9


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a Llama-style decoder that sizing needs."""

    name: str
    hidden: int
    layers: int
    ffn: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool = True

    @property
    def n_params(self) -> int:
        """Parameter count: embeddings, attention (grouped KV), SwiGLU MLP, RMSNorm weights."""
        head_dim = self.hidden // self.heads
        attention = 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_heads * head_dim
        per_layer = attention + 3 * self.hidden * self.ffn + 2 * self.hidden
        embeddings = self.vocab * self.hidden * (1 if self.tied else 2)
        return embeddings + self.layers * per_layer + self.hidden

    def activation_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """Activations kept for the backward pass, per token, without checkpointing.

        Per layer about 10 hidden-sized tensors (norm inputs and outputs, q/k/v, attention
        output, residuals) and 4 FFN-sized ones (gate, up, activation, product), with fused
        attention that keeps no seq x seq matrix. TRL 1.16's fused LM head never holds the
        full vocabulary logits, so they are left out.
        """
        return self.layers * bytes_per_value * (10 * self.hidden + 4 * self.ffn)

    def checkpointed_activation_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """With gradient checkpointing: each layer's input, plus one layer recomputed at a time."""
        return self.layers * bytes_per_value * self.hidden + self.activation_bytes_per_token(bytes_per_value) // self.layers

    def attention_flop_per_token(self, seq_len: int) -> int:
        """Training FLOP per token spent in attention scores and values (PaLM's 12*L*H*T)."""
        return 12 * self.layers * self.hidden * seq_len


# Configs of the three SmolLM2 sizes (config.json on the Hub); 135M is 134,515,008 parameters.
SMOLLM2 = {
    "135M": ModelShape("SmolLM2-135M", 576, 30, 1536, 9, 3, 49152),
    "360M": ModelShape("SmolLM2-360M", 960, 32, 2560, 15, 5, 49152),
    "1.7B": ModelShape("SmolLM2-1.7B", 2048, 24, 8192, 32, 32, 49152),
}


@dataclass(frozen=True)
class GPU:
    """A GPU as sizing sees it: usable memory and dense 16-bit tensor-core peak."""

    name: str
    memory_gb: float
    peak_tflops: float  # dense (no sparsity) fp16/bf16 with fp32 accumulation
    capability: tuple[int, int]


GPUS = {
    "T4": GPU("T4 (Colab)", 15.0, 65.0, (7, 5)),
    "A100": GPU("A100 40GB", 40.0, 312.0, (8, 0)),
    "H100": GPU("H100 SXM 80GB", 80.0, 989.0, (9, 0)),
}
# Dense 16-bit peaks by device-name fragment, for MFU; checked in order (PCIe before SXM).
PEAK_TFLOPS_BY_NAME = [("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0),
                       ("L4", 121.0), ("A10G", 125.0), ("L40S", 362.0), ("V100", 125.0), ("T4", 65.0)]


def peak_tflops(device_name: str) -> float | None:
    """Dense 16-bit peak of a CUDA device from `torch.cuda.get_device_name()`, None if unknown."""
    for fragment, tflops in PEAK_TFLOPS_BY_NAME:
        if fragment.lower() in device_name.lower():
            return tflops
    return None


def full_ft_memory_gb(n_params: int) -> float:
    """Weights + gradients + AdamW states, without activations."""
    return BYTES_PER_PARAM_FULL_FT * n_params / GB


def full_ft_training_gb(shape: ModelShape, micro_batch_tokens: int, bytes_per_value: int = 2) -> float:
    """Full fine-tuning's memory: 16 bytes/parameter + the activations of one micro-batch
    (16-bit values on a GPU; 4 for fp32 on a CPU)."""
    activations = shape.activation_bytes_per_token(bytes_per_value) * micro_batch_tokens / GB
    return full_ft_memory_gb(shape.n_params) + activations


def lora_memory_gb(n_params: int, bytes_per_frozen: float = 2.0, trainable_fraction: float = 0.01) -> float:
    """Frozen 16-bit weights plus ~1% trainable adapter parameters at 16 bytes each."""
    return (bytes_per_frozen + BYTES_PER_PARAM_FULL_FT * trainable_fraction) * n_params / GB


def training_seconds(shape: ModelShape, tokens: float, gpu: GPU, mfu: float, seq_len: int = 2048) -> float:
    """Time to train on `tokens` tokens: (6N + attention) FLOP per token at `mfu` of peak."""
    return tokens * training_flop_per_token(shape, seq_len) / (gpu.peak_tflops * 1e12 * mfu)


def training_flop_per_token(shape: ModelShape, seq_len: int) -> float:
    """6N (forward 2N, backward 4N) plus attention at context `seq_len`."""
    return 6 * shape.n_params + shape.attention_flop_per_token(seq_len)


# Training FLOP/s a CPU sustains per thread torch uses, for the CPU time budget. Source:
# benchmarks/bench_real_size.py, lesson 05's CPU plan (one 1,024-token pack per optimizer step,
# fp32, per-conversation attention) on SmolLM2-135M's architecture (134,515,008 parameters):
# 5.7-6.1 s per step after the first (the first, 10 s) on 2 quiet cores; 9.5-13 s were seen on
# a loaded machine. A step is 1,024 x (6N + attention at 1,024) = 1.04e12 FLOP; 80e9 per thread
# puts it at ~6.5 s on 2, a little over the quiet figure: a budget is better kept than overrun.
CPU_TRAINING_FLOPS_PER_THREAD = 80e9


def cpu_threads() -> int:
    """Threads torch computes with (OMP_NUM_THREADS, else the cores)."""
    import torch

    return torch.get_num_threads()


def cpu_seconds_per_step(shape: ModelShape, tokens_per_step: int, seq_len: int, threads: int | None = None) -> float:
    """Estimated seconds per optimizer step on a CPU, scaled by threads (default: torch's).

    `seq_len` is the pack length: attention is computed per conversation, so this is an
    upper bound on its cost (attention is ~20% of a 135M step at 1,024 tokens).
    """
    flop = tokens_per_step * training_flop_per_token(shape, seq_len)
    return flop / (CPU_TRAINING_FLOPS_PER_THREAD * (threads or cpu_threads()))


def mfu(tokens_per_second: float, shape: ModelShape, seq_len: int, peak: float) -> float:
    """Model FLOP utilisation: achieved (6N + attention) FLOP/s over the dense peak."""
    return tokens_per_second * training_flop_per_token(shape, seq_len) / (peak * 1e12)


FULL_FT, FULL_FT_CHECKPOINTED, NEEDS_LORA = "full fine-tuning", "full FT + checkpointing", "LoRA / QLoRA"
HEADROOM = 0.8  # leave 20% of GPU memory for the CUDA context, workspaces and fragmentation


def fit_method(shape: ModelShape, memory_gb: float, micro_batch_tokens: int) -> str:
    """How full fine-tuning fits in `memory_gb`: as is, with gradient checkpointing, or not at all."""
    states = full_ft_memory_gb(shape.n_params)
    usable = HEADROOM * memory_gb
    if full_ft_training_gb(shape, micro_batch_tokens) <= usable:
        return FULL_FT
    if states + shape.checkpointed_activation_bytes_per_token() * micro_batch_tokens / GB <= usable:
        return FULL_FT_CHECKPOINTED
    return NEEDS_LORA


def estimate_rows(tokens: float = 10e6, mfu_assumed: float = 0.3, seq_len: int = 2048,
                  micro_batch_tokens: int = 2048) -> list[dict]:
    """One row per (model, GPU): memory, whether full fine-tuning fits, time for `tokens`."""
    rows = []
    for size, shape in SMOLLM2.items():
        states = full_ft_memory_gb(shape.n_params)
        activations = shape.activation_bytes_per_token() * micro_batch_tokens / GB
        for gpu in GPUS.values():
            rows.append({
                "model": shape.name, "params_M": shape.n_params / 1e6, "gpu": gpu.name,
                "full_ft_gb": states + activations, "lora_gb": lora_memory_gb(shape.n_params) + activations,
                "method": fit_method(shape, gpu.memory_gb, micro_batch_tokens),
                "minutes": training_seconds(shape, tokens, gpu, mfu_assumed, seq_len) / 60,
            })
    return rows


class EstimateTable:
    """The rows as a table: HTML in a notebook, aligned text elsewhere."""

    HEADER = ("model", "params", "GPU", "full FT memory", "LoRA memory", "fits with", "time")

    def __init__(self, rows: list[dict], tokens: float, mfu_assumed: float):
        self.rows, self.tokens, self.mfu_assumed = rows, tokens, mfu_assumed

    def _cells(self, row: dict) -> tuple[str, ...]:
        return (row["model"], f"{row['params_M']:.0f}M", row["gpu"], f"{row['full_ft_gb']:.1f} GB",
                f"{row['lora_gb']:.1f} GB", row["method"], f"{row['minutes']:.1f} min")

    @property
    def caption(self) -> str:
        return (f"Estimates, not measurements: memory = 16 bytes/parameter + activations of one "
                f"2,048-token micro-batch; time = (6N + attention) FLOP per token for "
                f"{self.tokens / 1e6:.0f}M tokens at an assumed {self.mfu_assumed:.0%} MFU; "
                f"'fits' leaves 20% of the GPU's memory free.")

    def __str__(self) -> str:
        table = [self.HEADER] + [self._cells(r) for r in self.rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(self.HEADER))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in table]
        return "\n".join(lines + [self.caption])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in self.HEADER)
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in self._cells(r)) + "</tr>" for r in self.rows)
        return f"<table><tr>{head}</tr>{body}</table><small>{self.caption}</small>"


def estimate_table(tokens: float = 10e6, mfu_assumed: float = 0.3) -> EstimateTable:
    """Memory and time estimates for SmolLM2 135M / 360M / 1.7B on T4, A100 and H100."""
    return EstimateTable(estimate_rows(tokens, mfu_assumed), tokens, mfu_assumed)
