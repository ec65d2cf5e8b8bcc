"""Lesson 05, issue 20: a data set formatted as the guides do, and control tokens a base lacks.

The stored outputs (the offline run) show what the text beside them says, and the library
behaviour the text describes without showing is checked here against the installed libraries:

- the guides' formatting: `Dataset.map` with `apply_chat_template(..., tokenize=False)` into a
  `text` column, the only column left, whose first row is the ChatML of the first conversation;
- TRL 1.16 refuses `assistant_only_loss=True` on that column at once; without it, it trains the
  text on every token; a row that keeps `messages` is rendered from them;
- a tokenizer without `<|im_start|>`/`<|im_end|>` splits them into pieces, and `eos_token`
  set to `<|im_end|>` silently gets the unknown token's id;
- `add_special_tokens` + `resize_token_embeddings`: one id each, embedding rows grew;
- `clone_chat_template`: template, eos, two real tokens then dummies up to a multiple of 64;
- `sft.without_control_tokens` changes nothing but the cut tokens.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import io
import re

import pytest

from support.paths import NOTEBOOKS
from support.stored_outputs import cell_source, stored_text

LESSON = NOTEBOOKS / "05_sft_smollm2.ipynb"
CHATML = ["<|im_start|>", "<|im_end|>"]
SHAPES = re.compile(r"^(before|after): +\((\d+), (\d+)\) \((\d+), (\d+)\)$", re.M)


@pytest.fixture(scope="module")
def base():
    """The course's base tokenizer (with the lesson's template) and model: the nano pair offline."""
    from course_utils import sft
    from course_utils.models import BASE_ID, load_model, load_tokenizer

    tokenizer = load_tokenizer(BASE_ID)
    tokenizer.chat_template = sft.inference_template()
    return tokenizer, load_model(BASE_ID)


@pytest.fixture
def plain(base):
    """Fresh copies of the base without ChatML's two control tokens."""
    from course_utils import sft

    return sft.without_control_tokens(*base, CHATML)


def quiet_config(tmp_path, **fields):
    """An SFTConfig for a trainer that is only built, never trained."""
    from trl import SFTConfig

    return SFTConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, bf16=False,
                     activation_checkpointing=False, **fields)


def conversations(rows: int = 2):
    from course_utils import sft

    return sft.load_sft_data().select(range(rows))


def printed_lists(text: str) -> list[list]:
    """Every Python list literal printed at the start of a line, in order."""
    return [ast.literal_eval(m) for m in re.findall(r"(\[[^\]\n]*\])", text)]


# --- 1. formatting as the guides do ----------------------------------------------------------

def test_the_cell_formats_with_map_and_apply_chat_template_into_a_text_column():
    source = cell_source(LESSON, "l05-51")
    assert ".map(to_text" in source and 'remove_columns=["messages"]' in source
    assert '{"text": tokenizer.apply_chat_template(example["messages"], tokenize=False)}' in source


def test_the_text_column_is_the_only_one_and_its_row_is_the_chatml_of_the_first_conversation(base):
    tokenizer, _ = base
    text = stored_text(LESSON, "l05-51")
    assert "features: ['text']" in text, text
    row = text.split("})\n", 1)[1]
    assert row.startswith("<|im_start|>system\n") and "<|im_start|>assistant\n" in row and row.endswith("<|im_end|>\n\n")
    first = conversations(1)[0]["messages"]
    assert row == tokenizer.apply_chat_template(first, tokenize=False) + "\n"


def test_the_bar_map_draws_is_as_the_text_says_and_the_cell_turns_it_off_first(base):
    import datasets

    from course_utils import sft

    tokenizer, _ = base
    source = cell_source(LESSON, "l05-51")
    assert source.index("disable_progress_bars()") < source.index(".map(")
    assert "progress bar, `Map`, counting the rows (400 of them offline)" in cell_source(LESSON, "l05-50")
    data = sft.load_sft_data()
    assert len(data) == 400
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.enable_progress_bars()
    drawn = io.StringIO()
    try:
        with contextlib.redirect_stderr(drawn):
            data.map(lambda example: {"text": tokenizer.apply_chat_template(example["messages"], tokenize=False)},
                     load_from_cache_file=False)
    finally:
        if not was_enabled:
            datasets.disable_progress_bars()
    assert "Map: 100%" in drawn.getvalue() and "400/400" in drawn.getvalue(), drawn.getvalue()[-300:]


def test_a_row_that_keeps_its_messages_is_rendered_from_them_and_its_text_never_read(base, tmp_path):
    from trl import SFTTrainer

    tokenizer, model = copy.deepcopy(base)  # SFTTrainer sets the pad token on both
    both = conversations().map(lambda example: {"text": "never read"})
    trainer = SFTTrainer(model=model, args=quiet_config(tmp_path, packing=False), processing_class=tokenizer,
                         train_dataset=both)
    first = trainer.train_dataset[0]["input_ids"]
    assert first == tokenizer.apply_chat_template(both[0]["messages"], tokenize=True, return_dict=True)["input_ids"]
    assert "never reads `text`" in cell_source(LESSON, "l05-50")


# --- 1b. what TRL does with the text column ---------------------------------------------------

def test_trl_refuses_assistant_only_loss_on_the_text_column_as_stored(base, tmp_path):
    from trl import SFTTrainer

    stored = stored_text(LESSON, "l05-62")
    assert stored.startswith("ValueError: You set `assistant_only_loss=True`, but the dataset is not conversational.")
    source = cell_source(LESSON, "l05-62")
    assert "args=config" in source and "train_dataset=texts" in source
    assert "assistant_only_loss=True" in cell_source(LESSON, "l05-19")
    assert 'the dataset "is not conversational"' in cell_source(LESSON, "l05-61")
    tokenizer, model = copy.deepcopy(base)
    texts = conversations().map(lambda example: {"text": tokenizer.apply_chat_template(example["messages"], tokenize=False)},
                                remove_columns=["messages"])
    with pytest.raises(ValueError) as raised:
        SFTTrainer(model=model, args=quiet_config(tmp_path, assistant_only_loss=True), processing_class=tokenizer,
                   train_dataset=texts)
    assert stored == f"ValueError: {raised.value}\n"


def test_without_assistant_only_loss_trl_trains_the_text_on_every_token(base, tmp_path):
    from trl import SFTTrainer

    tokenizer, model = copy.deepcopy(base)
    texts = conversations().map(lambda example: {"text": tokenizer.apply_chat_template(example["messages"], tokenize=False)},
                                remove_columns=["messages"])
    trainer = SFTTrainer(model=model, args=quiet_config(tmp_path, packing=False), processing_class=tokenizer,
                         train_dataset=texts)
    assert not {"assistant_masks", "completion_mask"} & set(trainer.train_dataset.column_names)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    assert (batch["labels"] == batch["input_ids"]).all()
    assert "computes the loss on every token" in cell_source(LESSON, "l05-61")


def test_sfttrainer_sets_eos_and_template_on_what_it_is_given_before_it_looks_at_the_data(tmp_path):
    # Why the lesson's cell passes copies.
    from trl import SFTTrainer

    from course_utils import sft
    from course_utils.models import BASE_ID, load_model, load_tokenizer

    tokenizer, model = load_tokenizer(BASE_ID), load_model(BASE_ID)
    tokenizer.chat_template = sft.inference_template()
    texts = conversations().map(lambda example: {"text": "anything"}, remove_columns=["messages"])
    config = quiet_config(tmp_path, assistant_only_loss=True, eos_token="<|im_end|>",
                          chat_template_path=str(sft.TRAINING_TEMPLATE_PATH))
    with pytest.raises(ValueError, match="not conversational"):
        SFTTrainer(model=model, args=config, processing_class=tokenizer, train_dataset=texts)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.chat_template == sft.training_template()
    assert model.config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert "copy.deepcopy(model)" in cell_source(LESSON, "l05-62") and "copy.deepcopy(tokenizer)" in cell_source(LESSON, "l05-62")


# --- 2. control tokens a base tokenizer lacks -------------------------------------------------

def test_the_base_has_both_tokens_at_ids_1_and_2_and_the_copy_splits_them(base):
    tokenizer, _ = base
    assert tokenizer.convert_tokens_to_ids(CHATML) == [1, 2] and "(ids 1 and 2)" in cell_source(LESSON, "l05-53")
    lines = stored_text(LESSON, "l05-54").splitlines()
    counts = [int(re.search(r"([\d,]+) tokens", line).group(1).replace(",", "")) for line in lines]
    (base_ids, base_pieces), (plain_ids, plain_pieces) = [printed_lists(line) for line in lines]
    assert lines[0].startswith("course base") and lines[1].startswith("without them")
    assert base_pieces == ["<|im_start|>", "user"] and base_ids[0] == 1
    assert counts[1] == counts[0] - 2
    assert len(plain_ids) > 2 and "".join(plain_pieces) == "<|im_start|>user", plain_pieces
    assert "several plain pieces" in cell_source(LESSON, "l05-53")


def test_a_plain_text_end_of_turn_is_several_tokens_and_eos_silently_gets_the_unknown_id(base):
    tokenizer, _ = base
    text = stored_text(LESSON, "l05-56")
    ids, pieces = printed_lists(text.splitlines()[0])
    assert len(ids) > 1 and "".join(pieces) == "<|im_end|>"
    m = re.search(r"eos_token '<\|im_end\|>' -> id (\d+), which is '(.+)'", text)
    assert m and int(m.group(1)) == tokenizer.unk_token_id and m.group(2) == tokenizer.unk_token == "<|endoftext|>"
    assert "the id of the unknown token, which in SmolLM2's tokenizer is `<|endoftext|>`" in cell_source(LESSON, "l05-55")


def test_trl_refuses_an_eos_token_the_vocabulary_lacks(plain, tmp_path):
    from trl import SFTTrainer

    tokenizer, model = plain
    with pytest.raises(ValueError, match="not found in the vocabulary"):
        SFTTrainer(model=model, args=quiet_config(tmp_path, eos_token="<|im_end|>"), processing_class=tokenizer,
                   train_dataset=conversations())
    assert '"not found in the vocabulary"' in cell_source(LESSON, "l05-55")


def test_added_special_tokens_are_single_ids_after_the_last_with_new_embedding_rows():
    source = cell_source(LESSON, "l05-58")
    assert "add_special_tokens(" in source and "resize_token_embeddings(len(plain_tokenizer))" in source
    text = stored_text(LESSON, "l05-58")
    added = int(re.search(r"^(\d+) tokens added$", text, re.M).group(1))
    shapes = {when: tuple(map(int, rest)) for when, *rest in SHAPES.findall(text)}
    before, after = shapes["before"], shapes["after"]
    assert added == 2 and after[0] == before[0] + added and after[2] == before[2] + added  # embeddings and head
    assert after[1] == before[1] and after[3] == before[3]
    [ids_line] = [line for line in text.splitlines() if line.startswith("[") and "'<|im_start|>'" in line]
    ids, pieces = printed_lists(ids_line)
    assert pieces == ["<|im_start|>", "user"] and ids[0] == before[0]  # the first new id: after the last one
    assert re.search(rf"eos_token '<\|im_end\|>' -> id {before[0] + 1}$", text, re.M), text


def test_special_tokens_are_kept_whole_and_dropped_by_skip_special_tokens(plain):
    tokenizer, _ = plain
    tokenizer.add_special_tokens({"extra_special_tokens": CHATML}, replace_extra_special_tokens=False)
    ids = tokenizer("<|im_start|>user hi<|im_end|>")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids)[0] == "<|im_start|>" and len(tokenizer("<|im_end|>")["input_ids"]) == 1
    assert tokenizer.decode(ids, skip_special_tokens=True) == "user hi"
    assert "dropped by `decode(..., skip_special_tokens=True)`" in cell_source(LESSON, "l05-57")


def test_the_older_spelling_works_and_replace_false_keeps_the_other_extra_special_tokens(base):
    from course_utils import sft

    text = cell_source(LESSON, "l05-57")
    assert "`extra_special_tokens`" in text and "`additional_special_tokens`, still works" in text
    old, _ = sft.without_control_tokens(*base, CHATML)
    assert old.add_special_tokens({"additional_special_tokens": CHATML}, replace_extra_special_tokens=False) == 2
    assert set(CHATML) <= set(old.extra_special_tokens) and "<|endoftext|>" in old.extra_special_tokens
    replaced, _ = sft.without_control_tokens(*base, CHATML)
    replaced.add_special_tokens({"extra_special_tokens": CHATML})
    assert "<|endoftext|>" not in replaced.extra_special_tokens  # the default replaces the list


def test_clone_chat_template_brings_template_eos_two_real_tokens_then_dummies_to_a_multiple_of_64():
    source = cell_source(LESSON, "l05-60")
    assert "clone_chat_template(plain_model, plain_tokenizer, folder)" in source
    text = stored_text(LESSON, "l05-60")
    before = re.search(r"before: eos '(.+?)', template None, ([\d,]+) tokens, ([\d,]+) embedding rows", text)
    after = re.search(r"after:  eos '(.+?)' \(model's eos_token_id (\d+)\), template SmolLM2-Instruct's: True, "
                      r"([\d,]+) tokens, ([\d,]+) embedding rows", text)
    added = re.search(r"^(\d+) ids added, the first three (\[.*?\]): (\[.*?\])$", text, re.M)
    assert before and after and added, text
    def number(printed: str) -> int:
        return int(printed.replace(",", ""))

    tokens_before, rows_before = number(before.group(2)), number(before.group(3))
    tokens_after, rows_after = number(after.group(3)), number(after.group(4))
    first_ids, first_tokens = ast.literal_eval(added.group(2)), ast.literal_eval(added.group(3))
    assert before.group(1) == "<|endoftext|>" and after.group(1) == "<|im_end|>"
    assert tokens_before == rows_before and tokens_after == rows_after and rows_after % 64 == 0
    assert first_tokens == ["<|im_start|>", "<|im_end|>", "<extra_id_0>"] and first_ids[0] == tokens_before
    assert int(after.group(2)) == first_ids[1]  # the model stops on the new <|im_end|>
    assert int(added.group(1)) == tokens_after - tokens_before
    last = ast.literal_eval(text.splitlines()[-1])  # "<|im_start|>user": the new id, then "user"
    assert len(last) == 2 and last[0] == first_ids[0]
    said = cell_source(LESSON, "l05-59")
    dummies = tokens_after - tokens_before - 2
    assert f"The nano copy's {tokens_before:,} tokens become {tokens_after:,}: two real ones and {dummies} dummies" in said
    assert "SmolLM2's 49,150 would become 49,152, a multiple of 64 already" in said
    assert -(-(49_150 + 2) // 64) * 64 == 49_152


def test_lesson_07s_clone_added_only_dummies():
    # l05-59 says so: the course's base already has both tokens.
    text = stored_text(NOTEBOOKS / "07_chat_templates_today.ipynb", "0e4967d9")
    m = re.search(r"before: <\|endoftext\|> (\d+) tokens.*after: +<\|im_end\|> (\d+) tokens.*?(\d+) tokens added", text, re.S)
    assert m and int(m.group(2)) - int(m.group(1)) == int(m.group(3))
    assert "only dummies were added" in cell_source(LESSON, "l05-59")


def test_sftconfig_chat_template_path_that_is_not_jinja_clones_the_template(plain, tmp_path):
    from trl import SFTTrainer

    from course_utils.models import INSTRUCT_ID, load_tokenizer

    tokenizer, model = plain
    load_tokenizer(INSTRUCT_ID).save_pretrained(tmp_path / "instruct")
    config = quiet_config(tmp_path / "out", chat_template_path=str(tmp_path / "instruct"), packing=False)
    SFTTrainer(model=model, args=config, processing_class=tokenizer, train_dataset=conversations())
    assert tokenizer.eos_token == "<|im_end|>" and len(tokenizer("<|im_start|>")["input_ids"]) == 1
    assert "calls it for you when the path is not a `.jinja` file" in cell_source(LESSON, "l05-59")


# --- the machinery: a cut that changes nothing else ------------------------------------------

def test_without_control_tokens_keeps_every_other_token_and_logit(base, plain):
    import torch

    tokenizer, model = base
    plain_tokenizer, plain_model = plain
    text = "Hello! What is the capital of France?\nParis, of course. 5 + 6 = 11<|endoftext|>"
    ids, plain_ids = tokenizer(text)["input_ids"], plain_tokenizer(text)["input_ids"]
    assert plain_ids == [i - 2 if i > 2 else i for i in ids]
    kept = [i for i in range(len(tokenizer)) if i not in (1, 2)]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0][:, kept]
        plain_logits = plain_model(torch.tensor([plain_ids])).logits[0]
    assert torch.equal(logits, plain_logits)
    assert len(tokenizer) == model.get_input_embeddings().weight.shape[0] == len(plain_tokenizer) + 2  # originals untouched
    assert plain_tokenizer.chat_template == tokenizer.chat_template and plain_tokenizer.eos_token == tokenizer.eos_token


def test_without_control_tokens_refuses_a_token_it_does_not_have(base):
    from course_utils import sft

    with pytest.raises(ValueError, match="not in the tokenizer's vocabulary"):
        sft.without_control_tokens(*base, ["<|eot_id|>"])


def test_what_you_saw_names_the_text_column_and_the_control_tokens():
    import nbformat

    last = nbformat.read(LESSON, as_version=4).cells[-1].source
    assert "`text` column" in last and "refuses `assistant_only_loss=True`" in last
    assert "`add_special_tokens` with `resize_token_embeddings`" in last and "`clone_chat_template`" in last
