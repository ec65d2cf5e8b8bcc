"""SFT data: conversations in, ChatML token ids with an assistant mask out.

Two sources, one shape. Offline the lesson trains on the bundled nano conversations
(`assets/data/conversations.jsonl`); online on `HuggingFaceTB/smoltalk`
(everyday-conversations). Both become rows `{"messages": [{"role", "content"}, ...]}`, the
"conversational" format TRL's `SFTTrainer` tokenizes with the chat template.

The training template (`assets/templates/smollm2_training.jinja`) is SmolLM2-Instruct's own
template with `{% generation %}` around each assistant reply and its `<|im_end|>`: TRL 1.16's
`assistant_only_loss=True` needs those markers (it refuses SmolLM2's template), and
`<|im_end|>` must be inside them or the model never learns to stop.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..assets import data_path, template_path

TRAINING_TEMPLATE_PATH = template_path("smollm2_training.jinja")
INFERENCE_TEMPLATE_PATH = template_path("smollm2_instruct.jinja")
BUNDLED_CONVERSATIONS = data_path("conversations.jsonl")
BUNDLED_HELDOUT = data_path("heldout_questions.jsonl")
SMOLTALK = ("HuggingFaceTB/smoltalk", "everyday-conversations")
IGNORE_INDEX = -100  # the label PyTorch's cross-entropy (and TRL) skips

# ShareGPT-style rows ({"conversations": [{"from": "human", "value": ...}]}) name roles differently.
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "tool": "tool"}


def training_template() -> str:
    """SmolLM2's chat template with `{% generation %}` markers, for assistant-only loss."""
    return TRAINING_TEMPLATE_PATH.read_text(encoding="utf-8")


def inference_template() -> str:
    """SmolLM2-Instruct's exact chat template: what a trained model is saved with."""
    return INFERENCE_TEMPLATE_PATH.read_text(encoding="utf-8")


def to_sft_format(row: Mapping) -> dict:
    """Map one dataset row to the SFT format: `{"messages": [{"role", "content"}, ...]}`.

    Accepts OpenAI-style rows (`messages`, as in smoltalk and the bundled data; other columns
    such as smoltalk's `full_topic` are dropped) and ShareGPT-style rows (`conversations` with
    `from`/`value`). Keys other than role and content are dropped, so every row has the same
    schema and `datasets` can store it.

    >>> to_sft_format({"full_topic": "x", "messages": [{"role": "user", "content": "Hi"}]})
    {'messages': [{'role': 'user', 'content': 'Hi'}]}
    >>> to_sft_format({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]})
    {'messages': [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}]}
    """
    if "messages" in row:
        turns = [(m["role"], m["content"]) for m in row["messages"]]
    elif "conversations" in row:
        unknown = {t["from"] for t in row["conversations"]} - set(SHAREGPT_ROLES)
        if unknown:
            raise ValueError(f"to_sft_format: unknown ShareGPT speaker(s) {sorted(unknown)}; "
                             f"known: {sorted(SHAREGPT_ROLES)}")
        turns = [(SHAREGPT_ROLES[t["from"]], t["value"]) for t in row["conversations"]]
    else:
        raise KeyError(f"to_sft_format: a row needs 'messages' or 'conversations', got keys {sorted(row)}")
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def use_bundled_data() -> tuple[bool, str]:
    """Whether to use the bundled data, and why: the kernel's one Hub decision, the same one
    `models.load_model` follows, so the nano model always meets the nano data and SmolLM2
    meets smoltalk."""
    from .. import hub

    decision = hub.decision()
    return not decision.online, decision.reason if not decision.online else f"from {decision.source}"


def load_sft_data(split: str = "train", limit: int | None = None, path: str | Path | None = None):
    """The lesson's SFT conversations as a `datasets.Dataset` of `{"messages": [...]}` rows.

    Offline: the bundled nano conversations (all of them are training data). Online:
    smoltalk everyday-conversations, `split` "train" or "test". With `path`, a JSONL file of
    rows in either format `to_sft_format` reads. Prints one line saying which.
    """
    from datasets import Dataset, load_dataset

    if path is not None:
        rows = [to_sft_format(r) for r in _read_jsonl(Path(path))][:limit]
        print(f"[data] Using {len(rows)} conversations from {path}.")
        return Dataset.from_list(rows)
    bundled, why = use_bundled_data()
    if bundled:
        rows = [to_sft_format(r) for r in _read_jsonl(BUNDLED_CONVERSATIONS)][:limit]
        print(f"[data] Offline ({why}): using the {len(rows)} bundled nano conversations "
              f"in place of {SMOLTALK[0]} ({SMOLTALK[1]}).")
        return Dataset.from_list(rows)
    dataset = load_dataset(*SMOLTALK, split=split)
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    dataset = dataset.map(to_sft_format, remove_columns=dataset.column_names)
    print(f"[data] Using {SMOLTALK[0]} ({SMOLTALK[1]}, {split}) {why}: {len(dataset)} conversations.")
    return dataset


@dataclass(frozen=True)
class EvalQuestion:
    """A held-out question, its known answer (None where there is none to score) and its kind."""

    question: str
    answer: str | None = None
    kind: str | None = None


def load_eval_questions(limit: int | None = None) -> list[EvalQuestion]:
    """Held-out questions with known answers, for stop rate and accuracy, online and offline.

    They are the nano world's held-out question forms (never in the nano training data), and
    every one is a real-world fact (capitals, colours of things, small sums), so they measure
    the real SmolLM2 trained on smoltalk as well as the nano model: a stop rate *and* an
    accuracy on either path. (smoltalk's test conversations have no reference answers to
    score, and their first turns are mostly greetings.)
    """
    rows = _read_jsonl(BUNDLED_HELDOUT)[:limit]
    kinds = sorted({r.get("kind") for r in rows if r.get("kind")})
    print(f"[eval] {len(rows)} held-out questions with known answers ({', '.join(kinds)}): "
          "real-world facts, never in the nano training data.")
    return [EvalQuestion(r["question"], r.get("answer"), r.get("kind")) for r in rows]


def tokenize_for_training(tokenizer, messages: Sequence[Mapping]) -> dict:
    """The ids and assistant mask TRL trains on for one conversation.

    Returns `{"input_ids": [...], "assistant_masks": [...]}`, rendered with the training
    template exactly as `SFTTrainer` does with `assistant_only_loss=True`. The mask needs a
    fast tokenizer (it maps template characters to tokens through offsets).
    """
    out = tokenizer.apply_chat_template(
        list(messages), chat_template=training_template(), tokenize=True, return_dict=True,
        return_assistant_tokens_mask=True,
    )
    return {"input_ids": list(out["input_ids"]), "assistant_masks": list(out["assistant_masks"])}


def make_labels(input_ids: Sequence[int], assistant_masks: Sequence[int]) -> list[int]:
    """Labels for causal-LM training: the token id where the mask is 1, -100 elsewhere.

    The model shifts labels by one itself, so labels line up with `input_ids`.

    >>> make_labels([1, 5, 6, 2], [0, 1, 1, 1])
    [-100, 5, 6, 2]
    """
    if len(input_ids) != len(assistant_masks):
        raise ValueError(f"make_labels: {len(input_ids)} ids but {len(assistant_masks)} mask values")
    return [int(t) if m else IGNORE_INDEX for t, m in zip(input_ids, assistant_masks)]
