"""Lesson 06's stored outputs show what the text beside them says (issue 14, item 1).

Each test reads the stored output of a cell (by id) and the text that describes it, and fails
when a re-run changes the output so that the text is no longer true.
"""
from __future__ import annotations

import re

from support.paths import ROOT
from support.stored_outputs import cell_source, stored_text

LESSON = ROOT / "notebooks" / "06_tool_use.ipynb"
SOLUTIONS = ROOT / "solutions" / "06_tool_use.ipynb"


_HEADING = re.compile(r"^ *(↳ )?\[(\d+)\] (\w+)(?: · (.*))?$")
_CALL = re.compile(r"^ +tool call · id (\S+)$")


def _messages(cell_id: str) -> list[dict]:
    """The messages a cell showed with `show_conversation`, read back from its plain text:
    role, what the heading says after it (`answers call_1_1`), the text (whitespace collapsed,
    so that wrapping does not matter), the ids of its tool calls, and whether it was shown
    nested under a call."""
    shown, current, top = {}, None, None
    for line in stored_text(LESSON, cell_id).splitlines():
        if heading := _HEADING.match(line):
            nested, index, role, about = heading.groups()
            current = shown[int(index)] = {"role": role, "about": about or "", "text": "", "call_ids": [],
                                           "nested": bool(nested)}
            top = top if nested else current
        elif call := _CALL.match(line):
            top["call_ids"].append(call.group(1))
            current = None  # the call's JSON belongs to the call, not to a message's text
        elif current is not None and not line.startswith("made visible:"):
            current["text"] = " ".join((current["text"] + " " + line).split())
    assert sorted(shown) == list(range(len(shown))), f"{cell_id} does not show every message once: {sorted(shown)}"
    return [shown[index] for index in sorted(shown)]


def test_the_hand_built_messages_show_the_result_under_its_call_as_the_text_says():
    assert "show_conversation(messages)" in cell_source(LESSON, "l06-30")
    _question, assistant, result = _messages("l06-30")
    assert assistant["call_ids"] == ["call_1"]
    assert result["nested"] and result["about"] == "get_weather · answers call_1"
    assert "under the call whose `id` its `tool_call_id` names" in cell_source(LESSON, "l06-29")


def _rates(line: str) -> dict[str, float]:
    return {name: float(value) for name, value in re.findall(r"(tool-call|answer|recovery) rate (\d\.\d\d)", line)}


def test_after_a_misspelt_tool_the_nano_instruct_gives_up_as_the_text_says():
    messages = _messages("l06-40")
    assert messages[2]["role"] == "tool" and "Did you mean 'get_weather'?" in messages[2]["text"]
    last = messages[-1]
    # What the text says: the error names the fix, the model apologises instead of calling again.
    assert len(messages) == 4 and last["role"] == "assistant" and not last["call_ids"], messages
    assert "<tool_call>" not in last["text"]
    said = cell_source(LESSON, "l06-39")
    assert "does **not** call again" in said and "Teach a model to call tools" in said
    assert "so the model can try again" not in cell_source(LESSON, "l06-37")


def test_the_two_call_reply_is_one_assistant_message_and_the_text_says_what_the_model_did_next():
    messages = _messages("l06-49")
    first, *results = messages[1:4]
    assert first["role"] == "assistant" and first["call_ids"] == ["call_1_1", "call_1_2"]
    assert [m["about"].split(" · ")[-1] for m in results] == ["answers call_1_1", "answers call_1_2"]
    assert all(m["nested"] for m in results)  # "each with its result under it"
    said = cell_source(LESSON, "l06-60")
    assert "Look at message [1]: one assistant message with two `tool_calls`, each with its result under it" in said
    later = messages[4:]
    final = later[-1]["text"]
    # The text says the model does not answer the question: neither result is in its answer.
    assert "Lima" not in final and "69.8" not in final
    # ... that its next reply is a broken call, which the loop answered with an error ...
    assert "<tool_call>" in later[0]["text"] and "never closed" in said
    assert later[1]["role"] == "tool" and "is not closed" in later[1]["text"]
    # ... and names the city its final answer is about.
    city = re.search(r"weather in (\w+)", final).group(1)
    assert city in said and city not in cell_source(LESSON, "l06-49")


def test_the_exercise_answer_prints_on_one_line_without_a_stray_space():
    text = stored_text(SOLUTIONS, "try")
    lines = text.splitlines()
    assert len(lines) == 2, text
    tool_says, answer = lines
    assert re.fullmatch(r"answer: {4}\S.*", answer), repr(answer)
    # The text says the nano model repeats the tool's result.
    assert tool_says.removeprefix("tool says: ") in answer


def _rate_lines() -> tuple[dict, dict]:
    before, after = (line for line in stored_text(LESSON, "l06-74").splitlines() if "tool-call rate" in line)
    return _summary(before), _summary(after)


def _summary(line: str) -> dict[str, float]:
    """`base: tool-call rate 0.00 (any city 0.00), answer rate ..., recovery rate ... (calls again at all ...)`."""
    numbers = [float(x) for x in re.findall(r"\d\.\d\d", line)]
    return dict(zip(("tool_call", "any_city", "answer", "recovery", "retry"), numbers))


def test_the_training_data_shows_a_failing_call_its_error_and_the_corrected_retry_under_the_mask():
    text = stored_text(LESSON, "l06-66")
    assert text.startswith("same text as the tool-use template: True")
    strip = text.rpartition("\n(")[0]  # without the legend line "(N of M tokens trained on, inside ⟦ ⟧)"
    trained = re.findall(r"⟦(.*?)⟧", strip, flags=re.DOTALL)
    # Both calls (the failing one and the retry) and the answer are trained on, nothing else.
    assert len(trained) == 3 and all(t.startswith("<tool_call>") for t in trained[:2]), trained
    assert "did·you·mean" in strip.split("⟦")[1] and "did·you·mean" not in "".join(trained)


def test_the_rates_before_and_after_training_are_the_ones_the_text_quotes():
    before, after = _rate_lines()
    said = cell_source(LESSON, "l06-77")
    # Before: no call at all, hardly an answer.
    assert before["any_city"] == 0.0 and before["answer"] <= 0.1
    assert f"answer rate {before['answer']:.2f}" in said
    # After: the behaviours are learnt (call, answer from the result, call again after an error) ...
    assert min(after["any_city"], after["answer"], after["retry"]) >= 0.9, after
    assert f"any city {after['any_city']:.2f}" in said and f"repeats it ({after['answer']:.2f})" in said
    assert f"calls again ({after['retry']:.2f})" in said
    # ... the city is not, as the text explains.
    assert max(after["tool_call"], after["recovery"]) <= 0.1, after
    assert f"right in {after['tool_call']:.2f} of the calls and {after['recovery']:.2f} of the retries" in said


def test_the_loop_shows_the_trained_model_calling_again_after_the_error():
    text = stored_text(LESSON, "l06-76")
    again, total, right = map(int, re.search(r"(\d+) of (\d+) called again after the error; (\d+) of", text).groups())
    assert total == 12 and again >= 10, text
    # The text says the city is mostly wrong: few loops end with the right city's report.
    assert right <= 3, text
    # "whatever the question, it calls the same city": one first call for (nearly) every question.
    firsts = re.findall(r"calls \['([^']*)'", text)
    assert len(firsts) == 12 and max(firsts.count(city) for city in firsts) >= 10, firsts
    assert "calls the same city" in cell_source(LESSON, "l06-77")


def test_the_training_cells_store_no_warnings():
    # A deprecation warning stored under the trainer's config is the first thing a learner reads there.
    for cell_id in ("l06-70", "l06-72", "l06-74"):
        assert "Warning" not in stored_text(LESSON, cell_id), cell_id
