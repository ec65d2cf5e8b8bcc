"""Lesson 05: the stored outputs show what the text beside them says (issue 14).

Each test reads the offline run's stored output of one cell (by id) and the claim the markdown
around it makes, and fails when a re-run (new assets, new library versions) makes them disagree:

- TRL is written in plain sight: the lesson's cells build `SFTConfig(...)` and `SFTTrainer(...)`;
- the main run holds out a validation split and its validation loss stays level at the end;
- the before/after table marks how each reply ended apart from whether its answer is right;
- overfitting: on 40 conversations for 30 epochs the validation loss rises after its lowest
  point while the training loss keeps falling;
- the learning-rate table: the plan's rate has the lowest validation loss, a tenth of it has not
  learned to stop, ten times it has the lowest accuracy;
- the ablation: loss on every token keeps the stop rate and lowers accuracy;
- LoRA: its trainable share as printed by peft, the comparison with full fine-tuning, a small
  adapter, a merged model that answers as the adapter did;
- no frozen "Loading weights" bar in the pipeline cell; "What you saw" closes the lesson.
"""
from __future__ import annotations

import re

import nbformat
import pytest

from support.paths import NOTEBOOKS
from support.stored_outputs import cell_source, stored_text

LESSON = NOTEBOOKS / "05_sft_smollm2.ipynb"
# A summary line; the cell's plot (text/plain "<IPython...Image object>") may come right before it.
SUMMARY = re.compile(r"(?:^|>)(?P<label>[^\n:<>]+): stop rate (?P<stop>[\d.]+), accuracy (?P<accuracy>[\d.]+)", re.M)
TRAINING = re.compile(r"training loss:\s+(?P<first>[\d.]+) at step \d+ -> (?P<last>[\d.]+) at step \d+")
VALIDATION = re.compile(r"validation loss: lowest (?P<low>[\d.]+) at step (?P<low_step>\d+), "
                        r"(?P<end>[\d.]+) at step (?P<end_step>\d+) \((?P<rise>[+-][\d.]+) after its lowest\)")


def summaries(cell_id: str) -> dict[str, tuple[float, float]]:
    """{label: (stop rate, accuracy)} of every `Evaluation.summary()` line the cell printed."""
    return {m["label"].strip(): (float(m["stop"]), float(m["accuracy"]))
            for m in SUMMARY.finditer(stored_text(LESSON, cell_id))}


def losses(cell_id: str):
    text = stored_text(LESSON, cell_id)
    training, validation = TRAINING.search(text), VALIDATION.search(text)
    assert training and validation, f"{cell_id} no longer prints monitor.summary():\n{text}"
    return training, validation


def has_plot(cell_id: str) -> bool:
    cell = next(c for c in nbformat.read(LESSON, as_version=4).cells if c.get("id") == cell_id)
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


# --- TRL in plain sight -----------------------------------------------------------------------

def test_the_lesson_writes_the_sftconfig_and_the_sfttrainer_itself():
    config, trainer = cell_source(LESSON, "l05-19"), cell_source(LESSON, "l05-21")
    assert "SFTConfig(" in config and "sft_config_for" not in config
    for field in ("assistant_only_loss=True", "chat_template_path=", 'eos_token="<|im_end|>"', "packing=True",
                  "bf16=", "fp16=", "eval_strategy="):
        assert field in config, f"the config cell no longer writes {field}"
    assert "SFTTrainer(" in trainer and "build_trainer" not in trainer
    assert 'eval_dataset=split["test"]' in trainer and "callbacks=[monitor]" in trainer
    assert "train_test_split(test_size=0.1, seed=42)" in cell_source(LESSON, "l05-34")
    assert "maybe_convert_to_chatml" in cell_source(LESSON, "l05-04")
    assert "labels[assistant_masks == 0] = -100" in cell_source(LESSON, "l05-13")


def test_the_split_holds_out_a_tenth():
    text = stored_text(LESSON, "l05-34")
    rows = [int(n) for n in re.findall(r"num_rows: (\d+)", text)]
    assert len(rows) == 2 and rows[1] * 9 == rows[0], text


def test_main_run_plots_both_losses_and_its_validation_loss_stays_level():
    assert has_plot("l05-21")
    training, validation = losses("l05-21")
    assert float(training["last"]) < float(training["first"]) / 5
    # "The two lines stay close": no overfitting in the main run.
    assert float(validation["rise"]) < 0.05
    assert float(validation["end"]) < 2 * float(training["last"])


def test_after_sft_every_reply_ends_its_turn():
    scores = summaries("l05-23")
    assert scores["base"][0] == 0.0 and scores["after SFT"][0] == 1.0


def test_each_reply_shown_is_marked_for_its_ending_and_apart_for_its_answer():
    """Issue 18: a ✅ for ending the turn read as "correct"; the answer has a mark of its own."""
    from course_utils.world import answer_matches

    text = stored_text(LESSON, "l05-23")
    replies = re.findall(r"^  (?:base|after SFT): ['\"](.*)['\"] \[(.+?)\] "
                         r"\[([✅❌]) (right|wrong) answer \((?:expected )?(\w+)\)\]$", text, re.M)
    assert len(replies) == 8, text
    for generated, ending, mark, word, answer in replies:
        assert ending.startswith(("⏹", "✂")), f"an ending marked like an answer: {ending}"
        reply = generated.replace("<|im_end|>", "").replace("<|endoftext|>", "")
        assert (mark == "✅") == (word == "right") == answer_matches(reply, answer), (generated, answer)
    assert "not whether the answer is right" in text, "the legend is missing"
    source = cell_source(LESSON, "l05-22")
    assert "two marks" in source and "perfectly formed and still wrong" in source


# --- overfitting --------------------------------------------------------------------------------

def test_overfitting_validation_loss_rises_after_its_minimum_while_training_loss_falls():
    assert has_plot("l05-37")
    training, validation = losses("l05-37")
    assert int(validation["low_step"]) < int(validation["end_step"])
    assert float(validation["rise"]) >= 0.1, "the validation loss no longer turns up clearly"
    assert float(training["last"]) < float(validation["low"]) / 5, "the training loss did not keep falling"
    text = cell_source(LESSON, "l05-36")
    assert "40 training conversations for 30 epochs" in text and "turns up" in text
    source = cell_source(LESSON, "l05-37")
    assert "select(range(40))" in source and "num_train_epochs=30" in source


# --- the learning rate ------------------------------------------------------------------------

def lr_rows():
    rows = re.findall(r"^([\d.e-]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", stored_text(LESSON, "l05-39"), re.M)
    assert len(rows) == 3, stored_text(LESSON, "l05-39")
    return [tuple(map(float, row)) for row in rows]


def test_learning_rate_table_matches_its_text():
    (low_lr, low_val, low_stop, low_acc), (lr, val, stop, acc), (high_lr, high_val, high_stop, high_acc) = lr_rows()
    assert low_lr < lr < high_lr
    assert val < low_val and val < high_val, "the plan's rate no longer has the lowest validation loss"
    assert low_stop < 0.5, "a tenth of the rate learned to stop after all"
    assert high_stop == 1.0 and high_acc < min(low_acc, acc), "ten times the rate is no longer the least accurate"
    assert high_val > val and low_val > high_val, "a tenth of the rate no longer has the highest validation loss"
    text = cell_source(LESSON, "l05-38")
    assert "lowest validation loss" in text and "accuracy is the lowest" in text


# --- the ablation -------------------------------------------------------------------------------

def test_ablation_keeps_the_stop_rate_and_lowers_accuracy():
    scores = summaries("l05-41")
    assistant_only, every_token = scores["after SFT"], scores["loss on every token"]
    assert assistant_only[0] == every_token[0], "the stop rates differ now: the text says they do not"
    assert every_token[1] < assistant_only[1] - 0.05, "accuracy no longer shows the difference"
    assert "The stop rate does not tell the two apart" in cell_source(LESSON, "l05-40")
    assert "assistant_only_loss=False" in cell_source(LESSON, "l05-41")


# --- LoRA ---------------------------------------------------------------------------------------

def test_lora_trainable_share_is_as_printed_and_as_said():
    source = cell_source(LESSON, "l05-43")
    assert "LoraConfig(" in source and "peft_config=lora" in source and "print_trainable_parameters" in source
    m = re.search(r"trainable params: ([\d,]+) \|\| all params: ([\d,]+) \|\| trainable%: ([\d.]+)",
                  stored_text(LESSON, "l05-43"))
    assert m, stored_text(LESSON, "l05-43")
    trainable, total, percent = int(m[1].replace(",", "")), int(m[2].replace(",", "")), float(m[3])
    assert percent < 15 and abs(100 * trainable / total - percent) < 0.01
    assert f"about {round(percent)}%" in cell_source(LESSON, "l05-42")
    assert f"{round(percent)}% of the parameters" in cell_source(LESSON, "l05-44")
    assert has_plot("l05-43")


def test_lora_compared_with_full_fine_tuning():
    rows = dict((name.strip(), (int(params.replace(",", "")), float(stop), float(acc)))
                for name, params, _, stop, acc in re.findall(
                    r"^(full fine-tuning|LoRA r=16)\s+([\d,]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)$",
                    stored_text(LESSON, "l05-45"), re.M))
    full, lora = rows["full fine-tuning"], rows["LoRA r=16"]
    assert lora[0] < full[0] / 5
    # "learn most of what the full run learned but not all of it"
    assert lora[1] >= 0.9 and lora[2] >= 0.5
    assert lora[2] < full[2] or lora[1] < full[1]


def test_adapter_is_small_and_merged_model_answers_as_the_adapter():
    sizes = {name: int(size.replace(",", ""))
             for name, size in re.findall(r"^(\S+)\s+([\d,]+) KB$", stored_text(LESSON, "l05-47"), re.M)}
    adapter = sizes["sft-smollm2-lora/adapter_model.safetensors"]
    assert adapter < sizes["sft-smollm2/model.safetensors"] / 4
    merged = stored_text(LESSON, "l05-49")
    assert merged.startswith("LlamaForCausalLM, ")
    scores = summaries("l05-49")
    assert scores["LoRA"] == scores["LoRA merged"]


def test_when_lora_takes_over_points_at_the_run_above():
    text = cell_source(LESSON, "l05-32")
    assert "you passed to `SFTTrainer` as `peft_config` above" in text


# --- item 1 and 7 -----------------------------------------------------------------------------

def test_pipeline_cell_stores_no_frozen_loading_bar():
    cell = next(c for c in nbformat.read(LESSON, as_version=4).cells if c.get("id") == "l05-28")
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs)
    assert "Loading weights" not in stored_text(LESSON, "l05-28")
    assert stored_text(LESSON, "l05-28").startswith("{'role': 'assistant'")


@pytest.mark.parametrize("cell_id", ["l05-21", "l05-37", "l05-39", "l05-41", "l05-43", "l05-45", "l05-47", "l05-49"])
def test_training_cells_store_no_warnings_or_widgets(cell_id):
    cell = next(c for c in nbformat.read(LESSON, as_version=4).cells if c.get("id") == cell_id)
    for output in cell.outputs:
        assert not (output.output_type == "stream" and output.name == "stderr"), output.text
        assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {})


def test_what_you_saw_closes_the_lesson():
    last = nbformat.read(LESSON, as_version=4).cells[-1]
    assert last.cell_type == "markdown" and "## What you saw" in last.source
    assert "05.trainer" in last.source


def lora_parameters(shape, r: int = 16) -> int:
    """r x (in + out) for each linear layer of attention and MLP: LoraConfig(target_modules="all-linear")."""
    kv = shape.kv_heads * (shape.hidden // shape.heads)
    pairs = [(shape.hidden, shape.hidden), (shape.hidden, kv), (shape.hidden, kv), (shape.hidden, shape.hidden),
             (shape.hidden, shape.ffn), (shape.hidden, shape.ffn), (shape.ffn, shape.hidden)]
    return shape.layers * r * sum(a + b for a, b in pairs)


def test_lora_shares_quoted_for_the_real_sizes():
    from course_utils.sft.estimates import SMOLLM2

    text = cell_source(LESSON, "l05-42")
    small = lora_parameters(SMOLLM2["135M"])
    total = SMOLLM2["135M"].n_params + small
    assert f"about {small / 1e6:.1f}M of {total / 1e6:.0f}M parameters, {100 * small / total:.1f}%" in text
    big = lora_parameters(SMOLLM2["1.7B"])
    assert round(100 * big / (SMOLLM2["1.7B"].n_params + big)) == 1 and "SmolLM2-1.7B about 1%" in text
