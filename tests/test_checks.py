"""The check machinery (course_utils.checks): verdict line, one-line failures, captured output,
time limits, the registry. Lesson 01's exercises serve as real examples; every exercise's own
proofs are in tests/test_exercise_proofs.py."""
from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import sys
import threading
import time
import warnings

import pytest

from course_utils.checks import CheckFailed, call, check, expect_equal, expect_text, exercise, when_answered
from course_utils.checks import registry
from course_utils.checks.lesson01 import CONVERSATION


def add_turn(messages, role, content):
    return messages + [{"role": role, "content": content}]


def failure(exercise_id, *answer) -> str:
    with pytest.raises(CheckFailed) as info:
        check(exercise_id, *answer)
    return str(info.value)


@pytest.fixture
def short_time_limit(monkeypatch):
    """Give 01.history a 0.5 s limit per call, so endless loops end quickly here."""
    fast = dataclasses.replace(registry.get_exercise("01.history"), time_limit=0.5)
    monkeypatch.setitem(registry._REGISTRY, "01.history", fast)


# --- the verdict --------------------------------------------------------------------------

def test_a_right_answer_prints_exactly_the_verdict_line(capsys):
    check("01.messages", [dict(m) for m in CONVERSATION])
    assert capsys.readouterr() == ("✅ 01.messages passed\n", "")


def test_learner_prints_stderr_and_warnings_do_not_reach_the_output(capsys):
    def noisy_add_turn(messages, role, content):
        print("debugging", messages)
        print("oops", file=sys.stderr)
        warnings.warn("careful", UserWarning)
        return add_turn(messages, role, content)

    check("01.history", noisy_add_turn)
    assert capsys.readouterr() == ("✅ 01.history passed\n", "")


def test_a_failure_is_one_line_prefixed_with_the_exercise_id():
    message = failure("01.messages", CONVERSATION[:3])
    assert message.startswith("01.messages: ") and "\n" not in message
    assert "expected ['system', 'user', 'assistant', 'user']" in message


def test_a_very_long_failure_is_cut_to_a_readable_length():
    assert len(str(CheckFailed("x" * 10_000, "01.messages"))) <= 620


def test_ipython_shows_the_message_without_a_traceback():
    error = CheckFailed("messages[2]['role'] is 'bot', expected 'assistant'", "01.messages")
    assert error._render_traceback_() == [
        "❌ 01.messages: messages[2]['role'] is 'bot', expected 'assistant'"]


# --- calling learner code -----------------------------------------------------------------

def test_a_stub_is_reported_as_not_attempted_in_one_line_without_stopping_run_all(capsys):
    def add_turn(messages, role, content):
        raise NotImplementedError()

    check("01.history", add_turn)  # no exception: Run All goes on to the next cell
    assert capsys.readouterr().out == (
        "❌ 01.history: not attempted yet: add_turn still raises NotImplementedError\n")


def test_the_placeholder_is_reported_as_not_attempted_in_one_line(capsys):
    check("01.messages", ...)
    assert capsys.readouterr().out == (
        "❌ 01.messages: not attempted yet: the answer cell still holds the placeholder ...; "
        "replace it with your answer\n")


def test_when_answered_turns_a_stub_called_by_a_lesson_cell_into_one_line(capsys):
    def typed_control_tokens(tokenizer, messages):
        raise NotImplementedError()

    with when_answered():
        print(typed_control_tokens(None, []))
    assert capsys.readouterr().out == (
        "⏳ typed_control_tokens() is not written yet: this cell shows its output once it is.\n")
    with pytest.raises(ValueError), when_answered():
        raise ValueError("any other error goes through")


def test_an_endless_loop_is_stopped_by_the_time_limit(short_time_limit):
    def add_turn(messages, role, content):
        while True:
            pass

    started = time.monotonic()
    message = failure("01.history", add_turn)
    assert time.monotonic() - started < 3
    assert message.endswith("did not finish within 0.5 s")


def test_a_loop_that_catches_every_exception_is_still_stopped(short_time_limit):
    def add_turn(messages, role, content):
        while True:
            try:
                time.sleep(0.01)
            except Exception:
                pass

    assert failure("01.history", add_turn).endswith("did not finish within 0.5 s")


def test_the_alarm_is_put_back_after_a_call():
    before = signal.getsignal(signal.SIGALRM)
    call(add_turn, [], "user", "Hi")
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_outside_the_main_thread_the_time_limit_still_holds(short_time_limit):
    def add_turn(messages, role, content):
        time.sleep(5)

    messages = []
    worker = threading.Thread(target=lambda: messages.append(failure("01.history", add_turn)))
    worker.start()
    worker.join(10)
    assert messages and messages[0].endswith("did not finish within 0.5 s")


def test_an_exception_in_learner_code_names_the_call_and_the_line():
    def add_turn(messages, role, content):
        return messages[10]

    line = add_turn.__code__.co_firstlineno + 1
    message = failure("01.history", add_turn)
    assert "add_turn(<a 2-message history>, 'assistant', 'The capital of France is Paris.') raised " \
           f"IndexError: list index out of range (in add_turn, line {line})" in message


def test_something_that_is_not_a_function_is_named():
    assert failure("01.history", [1, 2]) == "01.history: expected a function, got [1, 2]"


# --- comparisons --------------------------------------------------------------------------

def test_expect_equal_points_at_the_first_differing_item():
    got = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello "}]
    expected = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    with pytest.raises(CheckFailed) as info:
        expect_equal(got, expected, "f(x)")
    assert str(info.value).startswith("f(x)[1]['content'] is 'Hello ', expected 'Hello'; first difference at character 6")


def test_expect_equal_tells_a_tuple_from_a_list():
    with pytest.raises(CheckFailed, match=r"is \(1,\), expected \[1\] \(a tuple, not a list\)"):
        expect_equal((1,), [1], "value")


def test_expect_text_shows_whitespace_and_special_tokens():
    with pytest.raises(CheckFailed) as info:
        expect_text("<|im_start|>user\nHi<|im_end|> \n", "<|im_start|>user\nHi<|im_end|>\n", "text")
    assert "expected '↵' but got '·↵'" in str(info.value)


# --- the registry -------------------------------------------------------------------------

def test_a_wrong_number_of_answers_says_what_check_takes():
    assert failure("01.history") == "01.history: check takes 1 answer(s) here: check('01.history', add_turn)"


def test_an_unknown_exercise_lists_the_lessons_exercises():
    registry.get_exercise("01.messages")  # registers lesson 01's exercises
    known = ", ".join(sorted(i for i in registry.registered_exercises() if i.startswith("01.")))
    with pytest.raises(LookupError, match=re.escape(f"no exercise '01.mesages'; lesson 01 has: {known}")):
        check("01.mesages", [])


def test_an_exercise_of_a_lesson_without_checks_is_a_lookup_error():
    with pytest.raises(LookupError, match="course_utils.checks.lesson98 does not exist"):
        check("98.anything", 1)


@pytest.mark.parametrize("bad_id", ["messages", "1.messages", "01.", "01messages"])
def test_malformed_ids_are_rejected(bad_id):
    with pytest.raises(LookupError, match="is not an exercise id"):
        check(bad_id, 1)


def test_an_exercise_must_live_in_its_lessons_module():
    with pytest.raises(ValueError, match="must be registered in course_utils.checks.lesson07"):
        exercise("07.misplaced")(lambda answer: None)


def test_lesson_modules_are_imported_only_when_one_of_their_exercises_is_checked():
    code = (
        "import sys\n"
        "from course_utils.checks import get_exercise\n"
        "assert 'course_utils.checks.lesson01' not in sys.modules\n"
        "get_exercise('01.messages')\n"
        "assert 'course_utils.checks.lesson01' in sys.modules\n"
        "assert 'torch' not in sys.modules, 'loading checks must stay light'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_checks_compare_against_the_models_the_lessons_load():
    from course_utils import models
    from course_utils.checks import course_models

    assert (course_models.BASE_ID, course_models.INSTRUCT_ID) == (models.BASE_ID, models.INSTRUCT_ID)


# --- 01.injection: an audit of typed control tokens, right in any style, wrong where it shows ---

def _audit_by_ids(tokenizer, messages):
    special = set(tokenizer.all_special_ids)
    return [(i, tokenizer.convert_ids_to_tokens(t)) for i, m in enumerate(messages)
            for t in tokenizer(m["content"], add_special_tokens=False)["input_ids"] if t in special]


def _audit_by_tokenize(tokenizer, messages):
    # tokenize() gives token strings: a control token is one piece, equal to a special token.
    return [[i, piece] for i, m in enumerate(messages) for piece in tokenizer.tokenize(m["content"])
            if piece in tokenizer.all_special_tokens]


def _audit_by_exact_text(tokenizer, messages):
    # Exact special-token strings, found in order: right, since the tokenizer matches them whole.
    import re
    pattern = "|".join(re.escape(t) for t in tokenizer.all_special_tokens)
    return [(i, found) for i, m in enumerate(messages) for found in re.findall(pattern, m["content"])]


@pytest.mark.parametrize("answer", [_audit_by_ids, _audit_by_tokenize, _audit_by_exact_text],
                         ids=["ids", "tokenize, pairs as lists", "exact strings"])
def test_injection_audits_written_differently_pass(answer, capsys):
    check("01.injection", answer)
    assert capsys.readouterr().out == "✅ 01.injection passed\n"


def test_injection_audit_returning_a_set_is_told_to_return_a_list():
    assert "returned a set: return a list" in failure(
        "01.injection", lambda tokenizer, messages: set(_audit_by_ids(tokenizer, messages)))


def test_injection_audit_of_the_last_message_only_misses_earlier_ones():
    def last_only(tokenizer, messages):
        return [(len(messages) - 1, t) for _, t in _audit_by_ids(tokenizer, messages[-1:])]
    message = failure("01.injection", last_only)
    assert "messages[3] (tool) has '<|im_end|>' typed once, your list has it 0 time(s)" in message
    assert "A tool result is text from outside" in message


def test_injection_audit_that_flags_a_spaced_look_alike_is_told_it_is_plain_text():
    def with_look_alikes(tokenizer, messages):
        import re
        return [(i, t) for i, m in enumerate(messages) for t in re.findall(r"<\|[^|]*\|>", m["content"])]
    message = failure("01.injection", with_look_alikes)
    assert "'<| im_end |>' is not a control token" in message and "plain text" in message


def test_injection_audit_with_the_wrong_order_fails():
    def reversed_order(tokenizer, messages):
        return list(reversed(_audit_by_ids(tokenizer, messages)))
    assert "typed_control_tokens(tokenizer, <conversation \"the lesson's attack\">)" in failure(
        "01.injection", reversed_order)


def test_injection_audit_must_return_pairs():
    assert "each item must be a pair" in failure(
        "01.injection", lambda tokenizer, messages: [t for _, t in _audit_by_ids(tokenizer, messages)])
