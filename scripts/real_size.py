"""A SmolLM2-135M-sized stand-in: the real architecture, random weights, the nano tokenizer.

No machine of this project reaches the Hub, so the real weights cannot be fetched; what costs
time and memory is the architecture, not the values of the weights. This writes a folder laid
out as the real `HuggingFaceTB/SmolLM2-135M` repo is (config.json, model.safetensors in bf16,
tokenizer files, no chat template) that the benchmarks serve through the test Hub mirror
(`benchmarks/bench_real_size.py`) and `scripts/gpu_check.py` trains on a GPU.

The tokenizer is the nano one (1,420 tokens) while the model keeps SmolLM2's 49,152-row
embedding: the rows past the tokenizer's vocabulary are zeroed, so their logits are 0 and
greedy decoding (whose best in-vocabulary logit is positive for random weights) never picks
an id the tokenizer cannot decode.

Usage: python -m scripts.real_size OUT_DIR
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from course_utils.assets import model_dir

NANO_BASE = model_dir("nano-smollm2-base")
SEED = 0
# The files of the nano base folder that the real base repo has too (it has no chat template).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "generation_config.json")


def real_size_config(shape=None):
    """SmolLM2's config.json for `shape` (default 135M), from the course's one record of it."""
    from transformers import LlamaConfig

    from course_utils.sft.estimates import SMOLLM2

    shape = shape or SMOLLM2["135M"]
    return LlamaConfig(
        vocab_size=shape.vocab, hidden_size=shape.hidden, intermediate_size=shape.ffn,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
        max_position_embeddings=8192, rms_norm_eps=1e-5, tie_word_embeddings=shape.tied,
        rope_parameters={"rope_type": "default", "rope_theta": 100000.0},
        bos_token_id=0, eos_token_id=0, architectures=["LlamaForCausalLM"])


def build(out: Path) -> Path:
    """Write the stand-in to `out` (replacing what is there); returns `out`."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    torch.manual_seed(SEED)
    model = LlamaForCausalLM(real_size_config())
    vocabulary = len(AutoTokenizer.from_pretrained(NANO_BASE))
    with torch.no_grad():
        model.get_input_embeddings().weight[vocabulary:] = 0  # tied: the output rows too
    if out.exists():
        shutil.rmtree(out)
    model.to(torch.bfloat16).save_pretrained(out)  # the Hub's SmolLM2 weights are bf16 too
    for name in TOKENIZER_FILES:
        shutil.copy(NANO_BASE / name, out / name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    out = build(parser.parse_args(argv).out)
    print(f"wrote {out} ({sum(f.stat().st_size for f in out.iterdir()) / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
