"""Feedback that teaches: under a failed check's one line, the line of each text around the first
difference, expected above got, the difference marked; HTML in a notebook, text in a terminal.

The one line itself is unchanged (the grader reads it); these tests pin what comes with it.
"""
from __future__ import annotations

import subprocess
import sys

import nbclient
import nbformat
import pytest

from course_utils import difference
from course_utils.checks import CheckFailed, check
from course_utils.checks.lesson01 import CONVERSATION
from course_utils.difference import LEGEND, DifferenceView, first_difference, quoted_difference, recording_differences
from scripts.offline import offline_env
from support.paths import ROOT

CHATML_LINE = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
# A template that writes one newline too many after each <|im_end|>.
TWO_NEWLINES = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n\\n' }}"
                "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


@pytest.fixture
def new_session(monkeypatch):
    """As in a fresh kernel: no view has shown the legend yet."""
    monkeypatch.setattr(difference, "_legend_shown", False)


@pytest.fixture
def legend_already_shown(monkeypatch):
    monkeypatch.setattr(difference, "_legend_shown", True)


def messages_with_a_trailing_space() -> list[dict]:
    messages = [dict(m) for m in CONVERSATION]
    messages[3]["content"] += " "
    return messages


def failure(exercise_id, *answer) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        check(exercise_id, *answer)
    return info.value


# --- positions ------------------------------------------------------------------------------

def test_positions_count_from_one_like_line_and_column():
    assert first_difference("abc", "abd") == "first difference at character 3 (line 1, column 3): expected 'c' but got 'd'"
    assert first_difference("a\nbc", "a\nbd").startswith("first difference at character 4 (line 2, column 2)")


# --- the view -------------------------------------------------------------------------------

def test_the_view_shows_the_whole_line_expected_above_got_with_a_caret_under_the_difference(legend_already_shown):
    got = CHATML_LINE.replace("capital", "capital ")
    assert str(DifferenceView(CHATML_LINE, got)).split("\n") == [
        "expected: What·is·the·capital·of·France?<|im_end|>↵",
        "     got: What·is·the·capital··of·France?<|im_end|>↵",
        " " * len("expected: What·is·the·capital·") + "^",
    ]


def test_a_difference_inside_a_special_token_marks_the_whole_token(legend_already_shown):
    assert str(DifferenceView("Hi<|im_end|>", "Hi<|im_start|>")).split("\n") == [
        "expected: Hi<|im_end|>",
        "     got: Hi<|im_start|>",
        " " * len("expected: Hi") + "^" * len("<|im_start|>"),
    ]


def test_a_line_of_more_than_80_characters_shows_40_each_side_never_cutting_a_token(legend_already_shown):
    expected = "<|im_start|>" + "a" * 100 + "X" + "b" * 35 + "<|im_end|>" + "c" * 50
    got = expected.replace("X", "Y")
    expected_row, got_row, carets = str(DifferenceView(expected, got)).split("\n")
    assert expected_row == "expected: …" + "a" * 40 + "X" + "b" * 35 + "<|im_end|>…"
    assert got_row == "     got: …" + "a" * 40 + "Y" + "b" * 35 + "<|im_end|>…"
    assert carets == " " * len("expected: …" + "a" * 40) + "^"


def test_a_difference_that_opens_a_line_is_shown_after_the_line_before(legend_already_shown):
    got = CHATML_LINE + "\n"
    assert str(DifferenceView(CHATML_LINE, got)).split("\n") == [
        "expected: What·is·the·capital·of·France?<|im_end|>↵⟨end of text⟩",
        "     got: What·is·the·capital·of·France?<|im_end|>↵↵",
        " " * len("expected: What·is·the·capital·of·France?<|im_end|>↵") + "^" * len("⟨end of text⟩"),
    ]


def test_wide_characters_keep_the_caret_under_the_difference(legend_already_shown):
    carets = str(DifferenceView("日本語abc", "日本語abd")).split("\n")[2]
    assert carets == " " * (len("expected: ") + 6 + 2) + "^"


def test_the_legend_comes_with_the_first_view_of_a_session_that_shows_a_mark(new_session):
    no_mark = DifferenceView("abc", "abd")
    assert LEGEND not in str(no_mark) and LEGEND not in no_mark._repr_html_()
    first = DifferenceView("a b", "a  b")
    assert str(first).endswith("\n" + LEGEND) and LEGEND in first._repr_html_()
    assert LEGEND == "· is a space, ↵ a newline, → a tab"
    later = DifferenceView("a\tb", "a\t\tb")
    assert LEGEND not in str(later) and LEGEND not in later._repr_html_()


def test_the_html_view_never_wraps_boxes_the_difference_and_colours_each_side(legend_already_shown):
    page = DifferenceView("<script>x</script> ok", "<script>x</script>  ok")._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "white-space:pre;" in page and "overflow-x:auto" in page
    assert page.count('class="course-difference-at"') == 2
    expected_colour = page.split('class="course-difference-expected" style="color:')[1][:7]
    got_colour = page.split('class="course-difference-got" style="color:')[1][:7]
    assert expected_colour != got_colour


def test_identical_texts_have_no_view():
    with pytest.raises(ValueError, match="identical"):
        DifferenceView("same", "same")


# --- which difference a failure shows --------------------------------------------------------

def test_a_failed_check_carries_the_view_of_the_difference_its_line_quotes(legend_already_shown):
    error = failure("01.messages", messages_with_a_trailing_space())
    assert "first difference at character 26" in str(error)
    assert str(error.difference).split("\n")[:2] == [
        "expected: And·the·capital·of·Italy?⟨end of text⟩",
        "     got: And·the·capital·of·Italy?·",
    ]


def test_a_failed_template_check_shows_the_rendered_lines(legend_already_shown):
    error = failure("03.chatml", TWO_NEWLINES)
    assert "add_generation_prompt=False): first difference at character 59 (line 3, column 1)" in str(error)
    assert str(error.difference).split("\n")[:2] == [
        "expected: What·is·the·capital·of·France?<|im_end|>↵⟨end of text⟩",
        "     got: What·is·the·capital·of·France?<|im_end|>↵↵",
    ]


def test_a_failure_without_a_text_difference_has_no_view():
    assert failure("01.messages", CONVERSATION[:3]).difference is None


def test_the_view_is_of_the_first_difference_the_line_quotes():
    with recording_differences() as described:
        strict = first_difference("abc", "abX")
        pycompat = first_difference("abc", "aYc")
        unquoted = first_difference("xyz", "xyZ")
    message = f"strict: {strict}; pycompat: {pycompat}"
    assert unquoted not in message
    view = quoted_difference(message, described)
    assert (view.expected, view.got) == ("abc", "abX")
    assert quoted_difference("no difference quoted", described) is None


def test_a_line_cut_at_600_characters_still_finds_its_difference():
    with recording_differences() as described:
        where = first_difference("a" * 30 + "b", "a" * 30 + "c")
    line = str(CheckFailed("x" * 540 + where))
    assert len(line) <= 600 and where not in line
    assert quoted_difference(line, described).got == "a" * 30 + "c"


def test_a_check_raising_with_an_explicit_difference_keeps_it():
    error = CheckFailed("the greeting differs", "01.messages", difference=("Hello", "Hallo"))
    assert (error.difference.expected, error.difference.got) == ("Hello", "Hallo")
    assert str(error) == "01.messages: the greeting differs"


def test_differences_are_recorded_only_inside_a_check():
    with recording_differences() as described:
        pass
    first_difference("a", "b")
    assert described == []


# --- where it is shown ------------------------------------------------------------------------

def test_in_plain_python_the_view_is_printed_under_the_one_line():
    code = ("from course_utils.checks.lesson01 import CONVERSATION\nfrom course_utils.checks import check\n"
            "messages = [dict(m) for m in CONVERSATION]\nmessages[3]['content'] += ' '\n"
            "check('01.messages', messages)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=offline_env(), capture_output=True, text=True,
                            check=False)
    lines = result.stderr.splitlines()
    assert lines[-5].startswith("course_utils.checks.failure.CheckFailed: 01.messages: messages[3]['content']: "
                                "first difference at character 26")
    assert lines[-4:] == ["expected: And·the·capital·of·Italy?⟨end of text⟩",
                          "     got: And·the·capital·of·Italy?·",
                          " " * len("expected: And·the·capital·of·Italy?") + "^" * len("⟨end of text⟩"),
                          LEGEND]


def test_in_terminal_ipython_the_view_is_printed_as_text_under_the_cross_line():
    code = ("from course_utils.checks.lesson01 import CONVERSATION\nfrom course_utils.checks import check\n"
            "messages = [dict(m) for m in CONVERSATION]\nmessages[3]['content'] += ' '\n"
            "check('01.messages', messages)")
    ipython = [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=nocolor", "-c", code]
    result = subprocess.run(ipython, cwd=ROOT, env=offline_env(), capture_output=True, text=True, check=False)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("❌ 01.messages: messages[3]['content']: first difference at character 26")
    assert lines[1:] == ["expected: And·the·capital·of·Italy?⟨end of text⟩",
                         "     got: And·the·capital·of·Italy?·",
                         " " * len("expected: And·the·capital·of·Italy?") + "^" * len("⟨end of text⟩"),
                         LEGEND]


def _notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


def _run_in_a_kernel(nb: nbformat.NotebookNode, allow_errors: bool) -> nbformat.NotebookNode:
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                                     record_timing=False, resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


SETUP = "from course_utils.checks import check\nfrom course_utils.checks.lesson01 import CONVERSATION"
WRONG = "messages = [dict(m) for m in CONVERSATION]\nmessages[3]['content'] += ' '\ncheck('01.messages', messages)"


def test_in_a_notebook_the_error_comes_first_then_the_html_view_once_with_its_legend():
    nb = _run_in_a_kernel(_notebook(SETUP, WRONG, "check('01.messages', messages)",
                                    "check('01.messages', CONVERSATION[:3])"), allow_errors=True)
    line = ("01.messages: messages[3]['content']: first difference at character 26 (line 1, column 26): "
            "expected ⟨end of text⟩ but got '·'")
    first, again, no_text_difference = (cell.outputs for cell in nb.cells[1:])
    assert [output.output_type for output in first] == ["error", "display_data"]
    assert (first[0].ename, first[0].evalue, first[0].traceback) == ("CheckFailed", line, [f"❌ {line}"])
    view = first[1].data
    assert set(view) == {"text/plain", "text/html"}
    assert view["text/plain"].split("\n")[:2] == ["expected: And·the·capital·of·Italy?⟨end of text⟩",
                                                  "     got: And·the·capital·of·Italy?·"]
    assert view["text/plain"].endswith(LEGEND) and 'class="course-difference-at"' in view["text/html"]
    # The second time in the same kernel, the legend is not repeated.
    assert [output.output_type for output in again] == ["error", "display_data"]
    assert LEGEND not in again[1].data["text/plain"] and LEGEND not in again[1].data["text/html"]
    # A failure that quotes no text difference is the one line, as before.
    assert [output.output_type for output in no_text_difference] == ["error"]


def test_run_all_still_stops_at_a_failed_check():
    nb = _notebook(SETUP, WRONG, "print('after')")
    with pytest.raises(nbclient.exceptions.CellExecutionError) as info:
        _run_in_a_kernel(nb, allow_errors=False)
    assert info.value.ename == "CheckFailed"
    assert nb.cells[2].execution_count is None and nb.cells[2].outputs == []
