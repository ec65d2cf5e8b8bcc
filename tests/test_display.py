"""display.py: what a learner sees must be exactly what the model sees, and untrusted text stays text."""
from __future__ import annotations

import pytest

from course_utils.display import diff, first_difference, show, show_mask, show_tokens, visible
from support.pages import page_text
from support.tiny_tokenizer import SPECIALS

CHAT = "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"


def test_tiny_tokenizer_has_smollm2_special_ids(tiny_tokenizer):
    assert tiny_tokenizer.convert_tokens_to_ids(SPECIALS) == [0, 1, 2]


# --- visible / first_difference ------------------------------------------------------------

def test_visible_marks_spaces_tabs_newlines_and_invisible_characters():
    assert visible("a b\tc\nd") == "a·b→c↵\nd"
    assert visible("a b\n", keep_newlines=False) == "a·b↵"
    assert visible("x\u00a0y\u200bz") == "x⟨U+00A0⟩y⟨U+200B⟩z"


def test_first_difference_is_none_for_equal_texts():
    assert first_difference(CHAT, CHAT) is None


def test_first_difference_names_index_line_column_and_both_sides():
    got = CHAT.replace("Hello!<|im_end|>", "Hello! <|im_end|>")
    message = first_difference(CHAT, got)
    index = CHAT.index("<|im_end|>", CHAT.index("Hello!"))
    assert message == (
        f"first difference at character {index + 1} (line 4, column 7): "
        "expected '<|im_end|>↵' but got '·<|im_end|>↵'"
    )
    assert "\n" not in message


def test_difference_inside_a_special_token_shows_whole_tokens():
    message = first_difference("Hi<|im_end|>", "Hi<|im_start|>")
    # character 8 is where "e" and "s" differ, but both excerpts start at the token (character 3)
    assert message == "first difference at character 8 (line 1, column 8): expected '<|im_end|>' but got '<|im_start|>'"


def test_missing_trailing_newline_is_reported_as_end_of_text():
    message = first_difference("Hi<|im_end|>\n", "Hi<|im_end|>")
    assert message == "first difference at character 13 (line 1, column 13): expected '↵' but got ⟨end of text⟩"


def test_long_tail_is_cut_with_an_ellipsis_but_never_inside_a_token():
    expected = "x" + "a" * 20 + "<|im_end|>" + "b" * 50
    message = first_difference(expected, "y")
    assert "'x" + "a" * 20 + "<|im_end|>…'" in message


def test_diff_str_is_the_one_line_and_html_escapes_untrusted_text():
    result = diff("<script>alert(1)</script>", "<script>alert(2)</script>")
    assert str(result) == first_difference("<script>alert(1)</script>", "<script>alert(2)</script>")
    page = result._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'class="course-diff-at"' in page
    assert diff("a", "a").equal and "identical" in str(diff("a", "a"))


def test_lessons_still_import_the_difference_helpers_from_display():
    from course_utils import difference, display

    assert display.first_difference is difference.first_difference and display.visible is difference.visible
    assert display.SPECIAL_TOKEN_RE is difference.SPECIAL_TOKEN_RE
    assert isinstance(display.diff("a", "b"), display.Diff)


def test_diff_rejects_non_strings_with_the_side_named():
    with pytest.raises(TypeError, match="got is list"):
        diff("a", ["a"])


# --- show ------------------------------------------------------------------------------------

def test_show_plain_text_keeps_lines_and_marks_whitespace():
    assert str(show("<|im_start|>user\nHi you")) == "<|im_start|>user↵\nHi·you"


def test_show_html_keeps_real_spaces_with_a_painted_dot_and_marks_newlines():
    page = show("<|im_start|>user\nHi  there")._repr_html_()
    assert page_text(page) == "<|im_start|>user↵\nHi  there"
    assert page.count("course-space") == 1 and "radial-gradient" in page


def test_show_html_highlights_special_tokens_and_escapes_everything_else():
    page = show("<|im_start|>user\n<img src=x onerror=alert(1)><|im_end|>")._repr_html_()
    assert page.count('class="course-special"') == 2
    assert "<img" not in page and "&lt;img" in page


@pytest.mark.parametrize("token", ["<s>", "</s>", "[INST]", "[/INST]", "<<SYS>>", "<start_of_turn>", "<|eot_id|>"])
def test_show_highlights_other_formats_control_tokens(token):
    assert 'class="course-special"' in show(f"a{token}b")._repr_html_()


# --- tokens and masks ----------------------------------------------------------------------

def test_show_tokens_pills_carry_ids_and_special_tokens_stand_out(tiny_tokenizer):
    strip = show_tokens(tiny_tokenizer, CHAT)
    ids = tiny_tokenizer.encode(CHAT, add_special_tokens=False)
    assert strip.ids == ids
    assert "".join(strip.pieces) == CHAT  # the pills tile the text exactly
    page = strip._repr_html_()
    assert page.count("course-token-special") == ids.count(1) + ids.count(2) == 4
    assert str(strip).startswith("[<|im_start|>|1] [user|")


def test_show_tokens_accepts_ids_batches_and_tensors(tiny_tokenizer):
    import torch

    ids = tiny_tokenizer.encode(CHAT, add_special_tokens=False)
    assert show_tokens(tiny_tokenizer, [ids]).ids == ids
    assert show_tokens(tiny_tokenizer, torch.tensor([ids])).ids == ids
    assert show_tokens(tiny_tokenizer, {"input_ids": ids}).ids == ids
    with pytest.raises(TypeError, match="flat list"):
        show_tokens(tiny_tokenizer, [ids, ids])


def test_show_mask_marks_trained_tokens(tiny_tokenizer):
    ids = tiny_tokenizer.encode(CHAT, add_special_tokens=False)
    start = len(tiny_tokenizer.encode(CHAT[: CHAT.index("Hello!")], add_special_tokens=False))
    mask = [0] * start + [1] * (len(ids) - start - 1) + [0]
    strip = show_mask(tiny_tokenizer, ids, mask)
    text = str(strip)
    assert "⟦Hello!<|im_end|>⟧↵" in text
    assert f"({sum(mask)} of {len(ids)} tokens trained on" in text
    assert strip._repr_html_().count("course-token-trained") == sum(mask)


def test_show_mask_accepts_labels_with_minus_100(tiny_tokenizer):
    ids = tiny_tokenizer.encode("Hi there", add_special_tokens=False)
    labels = [-100] * (len(ids) - 1) + [ids[-1]]
    marked, caption = str(show_mask(tiny_tokenizer, ids, labels)).split("\n")
    assert marked.count("⟦") == 1 and marked.endswith("⟧")
    assert caption.startswith(f"(1 of {len(ids)} tokens trained on")


def test_show_mask_length_mismatch_names_both_lengths(tiny_tokenizer):
    with pytest.raises(ValueError, match="3 token ids but 2 mask values"):
        show_mask(tiny_tokenizer, [3, 4, 5], [1, 0])


def test_docstring_examples_run():
    import doctest

    from course_utils import difference, display

    results = [doctest.testmod(module) for module in (display, difference)]
    assert sum(r.attempted for r in results) >= 3 and sum(r.failed for r in results) == 0
