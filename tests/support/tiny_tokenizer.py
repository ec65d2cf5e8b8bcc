"""A tokenizer trained in the test process, so that tests of display, widgets, generation and
rendering never depend on the bundled nano model (another part of the course)."""
from __future__ import annotations

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # at ids 0, 1, 2, as in SmolLM2
CORPUS = ["user assistant system Hi there Hello! What is the capital of France? Paris."] * 20
# SmolLM2-Instruct's roles: a turn starts with <|im_start|> and ends with <|im_end|>.
CHAT_ROLES = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>",
              "pad_token": "<|endoftext|>"}


def build_tiny_tokenizer(corpus: list[str] = CORPUS, vocab_size: int = 400, **roles):
    """A byte-level BPE tokenizer with SmolLM2's special tokens at ids 0, 1, 2, trained on
    `corpus`; `roles` (bos_token=..., additional_special_tokens=...) default to CHAT_ROLES."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **(roles or CHAT_ROLES))
