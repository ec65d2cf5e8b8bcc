"""A base model as it would be without some control tokens, to show what adding them changes.

SmolLM2's base tokenizer already has ChatML's `<|im_start|>` and `<|im_end|>` (its makers
reserved them, ids 1 and 2, before pretraining), so the course's base cannot show what a base
model without them looks like, as many are (GPT-2's only special token is `<|endoftext|>`).
`without_control_tokens` makes one from it: copies of the tokenizer and the model with the tokens
cut out of the vocabulary and their rows out of the embedding matrices, every later id moved down
to close the gap. Nothing else changes: any text without those tokens gets the same tokens, and
the model gives it the same logits (tests/test_claims_05_data_and_tokens.py checks both).

Example:
    >>> plain_tokenizer, plain_model = without_control_tokens(tokenizer, model, ["<|im_start|>", "<|im_end|>"])
    >>> plain_tokenizer("<|im_start|>user")["input_ids"]   # several plain pieces  # doctest: +SKIP
"""
from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["without_control_tokens"]


def without_control_tokens(tokenizer, model, tokens: Iterable[str]):
    """(tokenizer, model): copies of both without `tokens`; the originals are untouched.

    The tokenizer goes through its own files (`save_pretrained`, the tokens taken out of
    tokenizer.json and tokenizer_config.json, `AutoTokenizer.from_pretrained`), so it loads as
    the same class with the same pre-tokenizer, template and other special tokens. The model's
    embedding rows (and its output head's, when they are not tied) are reordered so that the cut
    rows come last, and `resize_token_embeddings` drops them.
    """
    import torch
    from transformers import AutoTokenizer

    tokens = list(tokens)
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) != rows:
        raise ValueError(f"the tokenizer has {len(tokenizer)} tokens and the model {rows} embedding rows: "
                         "cutting tokens needs one row per token")
    vocabulary = tokenizer.get_vocab()
    missing = [token for token in tokens if token not in vocabulary]
    if missing:
        raise ValueError(f"{missing} not in the tokenizer's vocabulary: nothing to cut")
    removed = sorted(vocabulary[token] for token in tokens)
    kept = [i for i in range(rows) if i not in set(removed)]
    new_id = {old: new for new, old in enumerate(kept)}

    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        _cut_from_tokenizer_files(Path(folder), set(tokens), new_id)
        plain_tokenizer = AutoTokenizer.from_pretrained(folder)

    plain_model = copy.deepcopy(model)
    order = torch.tensor(kept + removed)
    embeddings, head = plain_model.get_input_embeddings(), plain_model.get_output_embeddings()
    with torch.no_grad():
        tied = head is not None and head.weight is embeddings.weight  # one matrix: reorder it once
        embeddings.weight.data = embeddings.weight.data[order]
        if head is not None and not tied:
            head.weight.data = head.weight.data[order]
    plain_model.resize_token_embeddings(len(kept))  # drops the last rows: the cut tokens'
    for config in (plain_model.config.get_text_config(), getattr(plain_model, "generation_config", None)):
        for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
            if config is not None and getattr(config, name, None) is not None:
                setattr(config, name, _moved(getattr(config, name), new_id, name))
    return plain_tokenizer, plain_model


def _moved(ids, new_id: dict[int, int], name: str):
    """`ids` (one id or a list) in the new numbering; a cut id there is an error, not a silent None."""
    if isinstance(ids, int):
        if ids not in new_id:
            raise ValueError(f"the model's {name} is {ids}, one of the tokens being cut")
        return new_id[ids]
    return [_moved(one, new_id, name) for one in ids]


def _cut_from_tokenizer_files(folder: Path, tokens: set[str], new_id: dict[int, int]) -> None:
    """Take `tokens` out of a saved fast tokenizer and renumber the rest with `new_id`."""
    path = folder / "tokenizer.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    model = spec["model"]
    model["vocab"] = {token: new_id[i] for token, i in model["vocab"].items() if token not in tokens}
    if "merges" in model:
        # A merge is ["a", "b"] (or "a b" in older files); none may make or use a cut token.
        pairs = [merge if isinstance(merge, list) else merge.split(" ") for merge in model["merges"]]
        model["merges"] = [merge for merge, pair in zip(model["merges"], pairs)
                           if "".join(pair) not in tokens and not set(pair) & tokens]
    spec["added_tokens"] = [dict(added, id=new_id[added["id"]]) for added in spec["added_tokens"]
                            if added["content"] not in tokens]
    for special in ((spec.get("post_processor") or {}).get("special_tokens") or {}).values():
        if set(special.get("tokens", [])) & tokens:
            raise ValueError(f"the post-processor adds {special['tokens']}: cutting them would change every encoding")
        special["ids"] = [new_id[i] for i in special.get("ids", [])]
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")

    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in ("extra_special_tokens", "additional_special_tokens"):
        value = config.get(key)
        if isinstance(value, list):
            config[key] = [token for token in value if (token if isinstance(token, str) else token.get("content"))
                           not in tokens]
        elif isinstance(value, dict):
            config[key] = {name: token for name, token in value.items() if token not in tokens}
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        if config.get(name) in tokens:
            raise ValueError(f"the tokenizer's {name} is {config[name]}, one of the tokens being cut")
    if "added_tokens_decoder" in config:  # older files list the added tokens here too, by id
        config["added_tokens_decoder"] = {str(new_id[int(i)]): entry for i, entry in config["added_tokens_decoder"].items()
                                          if entry.get("content") not in tokens}
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
