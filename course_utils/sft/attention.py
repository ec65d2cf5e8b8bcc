"""Per-conversation attention for packed batches on CPU: each conversation attends to itself.

TRL flattens a packed, padding-free batch into one row and hands the model the boundaries of
its conversations (`cu_seq_lens_q`, cumulative lengths, from its collator). FlashAttention's
varlen kernel uses them on a GPU. On a CPU, transformers' `sdpa` ignores them: it builds a
block-diagonal mask over the whole row and computes attention for every pair of tokens, then
masks most of it away, so the cost grows with the *square* of the row (measured when the
course was designed: a 1,024-token BFD pack was 3x slower than no packing at all;
`benchmarks/bench_sft.py --sweep` times both attentions at several pack lengths).

`segment_sdpa_attention` does what the varlen kernel does, in a Python loop: one causal
`scaled_dot_product_attention` per conversation. The work is the sum of each conversation's
length squared instead of the row's, so a long pack costs what its conversations cost. With
no boundaries (generation, padded batches) it is exactly transformers' `sdpa`.

`enable()` registers it with transformers as `SEGMENT_SDPA`, for `model.set_attn_implementation`.
"""
from __future__ import annotations

SEGMENT_SDPA = "course_segment_sdpa"


def segment_sdpa_attention(module, query, key, value, attention_mask, dropout: float = 0.0,
                           scaling: float | None = None, cu_seq_lens_q=None, **kwargs):
    """transformers' attention-function contract: `query` (1, heads, tokens, head_dim), `key` and
    `value` (1, kv_heads, tokens, head_dim); returns (output (1, tokens, heads, head_dim), None)."""
    import torch
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    packed = cu_seq_lens_q is not None and query.shape[0] == 1 and query.shape[2] == key.shape[2]
    if not packed:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, cu_seq_lens_q=cu_seq_lens_q, **kwargs)
    bounds = cu_seq_lens_q.tolist()  # TRL's collator builds it on the CPU: no device sync
    grouped = query.shape[1] != key.shape[1]  # grouped-query attention: fewer key/value heads
    dropout = dropout if module.training else 0.0
    outputs = [F.scaled_dot_product_attention(query[:, :, start:end], key[:, :, start:end],
                                              value[:, :, start:end], dropout_p=dropout, is_causal=True,
                                              scale=scaling, enable_gqa=grouped)
               for start, end in zip(bounds[:-1], bounds[1:])]
    return torch.cat(outputs, dim=2).transpose(1, 2).contiguous(), None


def enable() -> str:
    """Register the attention function (and sdpa's mask builder for it); returns its name.

    The mask is still built, as for sdpa, so that a call without conversation boundaries stays
    correct; for a packed row it is built once per forward pass and not used.
    """
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(SEGMENT_SDPA, segment_sdpa_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(SEGMENT_SDPA, sdpa_mask)
    return SEGMENT_SDPA
