"""Lessons 02 and 04: each claim in the text is shown by the stored output beside it.

The stored outputs come from the offline nano pair. If new assets or a new library version
change an output, these tests fail until the text or the example is put right.
"""
from __future__ import annotations

import re
from pathlib import Path

from support.stored_outputs import cell_source, stored_text

ROOT = Path(__file__).resolve().parents[1]
L02 = ROOT / "notebooks" / "02_base_vs_instruct.ipynb"
L04 = ROOT / "notebooks" / "04_generation_prompts.ipynb"
S04 = ROOT / "solutions" / "04_generation_prompts.ipynb"


def _columns(side_by_side_text: str) -> dict[str, str]:
    """{label: the column's generated text and verdict} from a stored side_by_side output."""
    parts = re.split(r"^── (.+?) ──$", side_by_side_text, flags=re.M)
    return {label: body for label, body in zip(parts[1::2], parts[2::2]) if label != "prompt" and not label.endswith(": prompt")}


def _rates(text: str, name: str) -> tuple[float, float]:
    match = re.search(rf"{re.escape(name)}: ended its turn ([\d.]+), right answer ([\d.]+)", text)
    assert match, f"no rates for {name} in {text!r}"
    return float(match.group(1)), float(match.group(2))


# --- 02: a base model rambles on, an instruct model ends its turn -----------------------------

def test_02_raw_prompt_base_runs_on_until_cut_off_as_the_text_says():
    assert "rambles on" in cell_source(L02, "l02-04") and "cuts it off" in cell_source(L02, "l02-04")
    columns = _columns(stored_text(L02, "l02-05"))
    assert "did not stop: cut off at max_new_tokens" in columns["base"]
    assert "<|im_end|>" not in columns["base"] and "<|endoftext|>" not in columns["base"]
    assert columns["instruct"].lstrip().startswith("<|im_end|>"), "the text says the instruct model ends at once"


def test_02_base_ends_no_turn_on_held_out_chat_prompts_and_instruct_ends_nearly_all():
    text = stored_text(L02, "l02-31")
    base = re.search(r"base: ended its turn in (\d+) of (\d+)", text)
    instruct = re.search(r"instruct: ended its turn in (\d+) of (\d+)", text)
    assert base and instruct, text
    assert int(base.group(2)) >= 100 and "64" in cell_source(L02, "l02-31")
    assert int(base.group(1)) == 0, "the text says the base model never ends a turn"
    assert int(instruct.group(1)) >= 0.95 * int(instruct.group(2))
    assert "ended the turn in none" in cell_source(L02, "l02-24")


def test_02_intro_says_instruct_is_sft_then_preference_tuning():
    intro = cell_source(L02, "colab-badge")
    assert "one more step" not in intro
    assert "supervised fine-tuning" in intro and "DPO" in intro


def test_02_foreign_format_keeps_the_stop_but_loses_the_answers_as_the_text_says():
    chatml_stop, chatml_right = _rates(stored_text(L02, "l02-37"), "ChatML")
    llama_stop, llama_right = _rates(stored_text(L02, "l02-37"), "Llama-2")
    text = cell_source(L02, "l02-38")
    assert chatml_stop >= 0.95 and chatml_right >= 0.9, "'nearly every time' in its own format"
    assert llama_stop >= 0.9, "'still ends its turn almost every time'"
    assert llama_right < 1 / 3 and "under a third" in text
    assert llama_right < chatml_right - 0.5
    # The single example above the measurement: a turn that ended with a wrong answer, marked apart.
    columns = _columns(stored_text(L02, "l02-23"))
    llama = columns["Llama-2 (never seen)"]
    assert "⏹ ended its turn" in llama and llama.rstrip().endswith("[❌ wrong answer (expected Paris)]")
    assert "[✅ right answer (Paris)]" in columns["ChatML (trained on it)"] and "✅ ended" not in llama
    assert "only says that the turn ended" in cell_source(L02, "l02-22") and "❌" in cell_source(L02, "l02-22")


def test_02_double_bos_is_shown_then_fixed():
    first = re.findall(r"\[([^|\]]+)\|\d+\]", stored_text(L02, "l02-33"))
    assert first[:2] == ["<s>", "<s>"] and first[2] != "<s>"
    lines = stored_text(L02, "l02-35").strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("['<s>', '[INST]'"), line


# --- 04: what the model does without a generation prompt --------------------------------------

def test_04_without_generation_prompt_the_nano_model_skips_the_header_as_the_text_says():
    columns = _columns(stored_text(L04, "l04-05"))
    assert not columns["without add_generation_prompt"].lstrip().startswith("<|im_start|>")
    assert "The nano model skips it" in cell_source(L04, "l04-04")
    text = stored_text(L04, "l04-35")
    starts = re.search(r"the reply starts with: (\{.*\})", text).group(1)
    assert "<|im_start|>" not in starts and "'the answer, no header': 180" in starts
    right = re.search(r"right answers: (\d+) of (\d+) without the generation prompt, (\d+) with it", text)
    without, total, with_prompt = map(int, right.groups())
    assert without < with_prompt, "the text says skipping the header costs answers"
    assert "never writes a header" in cell_source(L04, "l04-36")


def test_04_llama2_prefill_example_starts_with_one_bos_and_a_space_after_inst():
    shown = stored_text(S04, "s04-18")
    assert shown.startswith("<s>[INST]") and "[/INST]·The·capital" in shown


def test_04_the_conversation_the_mask_covers_has_the_two_assistant_replies_the_text_points_at():
    assert "Look at the two `assistant` messages" in cell_source(L04, "l04-37")
    roles = re.findall(r"^\[\d+\] (\w+)$", stored_text(L04, "l04-38"), flags=re.MULTILINE)
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    # The mask below trains on exactly those two replies.
    strip = stored_text(L04, "l04-28").rpartition("\n(")[0]  # without the legend "(N of M tokens ..., inside ⟦ ⟧)"
    assert len(re.findall(r"⟦(.*?)⟧", strip)) == roles.count("assistant")
