"""Stage 2: a byte-level BPE tokenizer trained on the small world, in SmolLM2's image.

SmolLM2's tokenizer is byte-level BPE (GPT-2 style) with digits split one by one and three
special tokens at the front of the vocabulary. Ours has the same pre-tokenizer and the same
special tokens at the same ids, only a vocabulary of ~1.5k instead of 49,152, learned from the
small world's text. So every template-level id the course shows (0, 1, 2) is the real one.
"""
from __future__ import annotations

import re

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END]  # ids 0, 1, 2, as in SmolLM2
_SPECIAL = re.compile("|".join(re.escape(t) for t in SPECIAL_TOKENS))


def train_bpe(texts: list[str], vocab_size: int) -> Tokenizer:
    """Learn BPE merges from `texts`; the special tokens take ids 0, 1, 2."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),  # as SmolLM2: "21" is "2" "1"
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # any byte stays encodable
        min_frequency=2,
        show_progress=False,
    )
    # The trainer would count "<|im_start|>" as ordinary characters; learn merges from the
    # text between special tokens only.
    pieces = (piece for text in texts for piece in _SPECIAL.split(text) if piece)
    tok.train_from_iterator(pieces, trainer)
    return tok


def as_transformers(tok: Tokenizer, instruct: bool, templates: dict[str, str]) -> PreTrainedTokenizerFast:
    """Wrap for `save_pretrained`, with SmolLM2's special-token roles.

    SmolLM2-135M (base): bos = eos = unk = <|endoftext|>.
    SmolLM2-135M-Instruct: bos = <|im_start|>, eos = pad = <|im_end|>, so generation stops at
    the end of the assistant's turn.
    Both carry SmolLM2-Instruct's template; the instruct one also a named "tool_use" template,
    which `apply_chat_template(..., tools=[...])` picks.
    """
    roles = (dict(bos_token=IM_START, eos_token=IM_END, pad_token=IM_END, unk_token=ENDOFTEXT)
             if instruct else dict(bos_token=ENDOFTEXT, eos_token=ENDOFTEXT, unk_token=ENDOFTEXT))
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=8192, **roles,
                                      additional_special_tokens=SPECIAL_TOKENS)
    wrapped.chat_template = dict(templates) if instruct else templates["default"]
    return wrapped
