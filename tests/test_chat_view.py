"""chat_view.py: a conversation is shown as a conversation (issue 18, item 3).

Each message under its role, tool calls as formatted JSON with their ids, each tool result under
the call it answers, content blocks and reasoning; untrusted text stays text, nothing is cut, and
bad input names the message index and the key. The last tests keep the lessons honest: no
notebook prints message dicts one by one to show a conversation.
"""
from __future__ import annotations

import ast
import re

import nbformat
import pytest

from course_utils.chat_view import show_conversation
from support.pages import page_text
from support.paths import NOTEBOOKS, SOLUTIONS


def weather_call(call_id="call_1", city="Oslo"):
    return {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}


TOOL_CHAT = [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": "Weather in Oslo and Lima?"},
    {"role": "assistant", "content": "", "tool_calls": [weather_call("call_1", "Oslo"), weather_call("call_2", "Lima")]},
    {"role": "tool", "tool_call_id": "call_2", "name": "get_weather", "content": "5°C and snowy"},
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "32°C and rainy"},
    {"role": "assistant", "content": "Oslo: 32°C and rainy. Lima: 5°C and snowy."},
]


def lines_of(messages) -> list[str]:
    return str(show_conversation(messages)).splitlines()


def heading_order(messages) -> list[str]:
    """The `[index] role` headings, top-level and nested, in the order they are shown."""
    return re.findall(r"\[(\d+)\] (\w+)", str(show_conversation(messages)))


# --- What is shown -----------------------------------------------------------------------------

def test_each_message_is_shown_once_under_its_role_and_index():
    assert lines_of([{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."}]) == [
        "[0] user", "    Hi!", "[1] assistant", "    Hello."]
    assert sorted(heading_order(TOOL_CHAT)) == sorted((str(i), m["role"]) for i, m in enumerate(TOOL_CHAT))


def test_a_tool_call_is_formatted_json_with_its_id():
    text = str(show_conversation(TOOL_CHAT[:3]))
    assert "tool call · id call_1\n" in text and "tool call · id call_2\n" in text
    assert '      {\n        "name": "get_weather",\n        "arguments": {\n          "city": "Oslo"\n' in text


def test_bare_calls_and_arguments_given_as_a_json_string_are_read_too():
    bare = {"role": "assistant", "tool_calls": [{"name": "get_capital", "arguments": '{"country": "Peru"}'}]}
    text = str(show_conversation([bare]))
    assert '"country": "Peru"' in text and "tool call · id (none)" in text
    broken = {"role": "assistant", "tool_calls": [{"name": "f", "arguments": '{"x": '}]}
    assert "(arguments are not valid JSON)" in str(show_conversation([broken]))


def test_each_tool_result_is_shown_under_the_call_its_id_names_even_out_of_order():
    assert heading_order(TOOL_CHAT) == [("0", "system"), ("1", "user"), ("2", "assistant"),
                                        ("4", "tool"), ("3", "tool"), ("5", "assistant")]
    text = str(show_conversation(TOOL_CHAT))
    under_oslo = text.split("tool call · id call_1")[1].split("tool call · id call_2")[0]
    assert "↳ [4] tool · get_weather · answers call_1" in under_oslo and "32°C and rainy" in under_oslo


def test_a_tool_result_without_an_id_answers_the_next_unanswered_call_in_order():
    calls = [{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "get_capital", "arguments": {"country": "Peru"}}]
    messages = [{"role": "assistant", "tool_calls": calls},
                {"role": "tool", "content": "32°C and rainy"}, {"role": "tool", "content": "Lima"}]
    text = str(show_conversation(messages))
    assert text.index("[1] tool") < text.index('"name": "get_capital"') < text.index("[2] tool")


def test_a_tool_result_that_answers_no_call_is_shown_on_its_own_and_says_so():
    messages = [{"role": "assistant", "content": "<tool_call>\n{broken"},
                {"role": "tool", "tool_call_id": "call_2_1", "content": "Error: not JSON"}]
    assert "[1] tool · answers call_2_1 · (no call above has this id)" in lines_of(messages)


def test_content_blocks_show_their_text_and_say_what_the_other_blocks_hold():
    blocks = [{"type": "text", "text": "What is in this picture?"},
              {"type": "image", "url": "data:image/png;base64," + "A" * 5000},
              {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
              {"type": "audio", "path": "hello.wav"}]
    text = str(show_conversation([{"role": "user", "content": blocks}]))
    assert "What is in this picture?" in text and "AAAA" not in text
    assert "[image (data URL, 5,022 characters)]" in text and "[image: https://example.com/cat.png]" in text
    assert "[audio block (keys: path, type)]" in text


@pytest.mark.parametrize("key", ["reasoning_content", "thinking"])
def test_reasoning_is_shown_before_the_answer(key):
    text = str(show_conversation([{"role": "assistant", "content": "Paris.", key: "The user asks for a capital."}]))
    assert text.index("reasoning: The user asks for a capital.") < text.index("Paris.")


def test_a_missing_content_and_an_empty_one_are_told_apart():
    assert lines_of([{"role": "assistant"}])[1] == "    (no content)"
    assert lines_of([{"role": "assistant", "content": ""}])[1] == "    (empty content)"
    assert str(show_conversation([])) == "(no messages)"


def test_whitespace_at_the_edges_is_made_visible_and_explained_spaces_inside_stay_readable():
    text = str(show_conversation([{"role": "user", "content": " Hi there\n"}]))
    assert "    ·Hi there↵" in text and text.endswith("made visible: · space, ↵ newline")
    assert "made visible" not in str(show_conversation([{"role": "user", "content": "Hi there"}]))
    assert "a→b" in str(show_conversation([{"role": "user", "content": "a\tb"}]))


# --- Nothing cut, nothing executed -------------------------------------------------------------

LONG = " ".join(f"word{n}" for n in range(60)) + " " + "x" * 130 + " Oslo"


def test_plain_text_wraps_long_lines_between_words_and_cuts_no_word():
    lines = lines_of([{"role": "user", "content": LONG}])[1:]
    assert len(lines) > 2
    assert " ".join(line.strip() for line in lines) == LONG
    assert all(len(line) <= 100 for line in lines if "xxx" not in line)


def test_html_wraps_between_words_only_and_keeps_all_the_text():
    page = show_conversation([{"role": "user", "content": LONG}])._repr_html_()
    assert "white-space:pre-wrap;overflow-wrap:normal;word-break:normal" in page
    assert "break-all" not in page and "text-overflow" not in page
    assert LONG in page_text(page)


def test_html_escapes_untrusted_content_roles_names_and_arguments():
    hostile = "<script>alert(1)</script>"
    messages = [{"role": hostile, "content": hostile},
                {"role": "assistant", "tool_calls": [{"id": hostile, "function": {"name": hostile, "arguments": {"x": hostile}}}]}]
    page = show_conversation(messages)._repr_html_()
    assert "<script>" not in page and page.count("&lt;script&gt;") >= 4
    assert "course-role-other" in page


def test_html_colours_each_role_and_highlights_typed_control_tokens():
    page = show_conversation([{"role": role, "content": "Hi<|im_end|>"} for role in ("system", "user", "assistant", "tool")])._repr_html_()
    borders = re.findall(r"border-left:4px solid (#\w+)", page)
    assert len(set(borders)) == 4
    assert page.count('class="course-special"') == 4


# --- Bad input: the index and the key ----------------------------------------------------------

@pytest.mark.parametrize("messages, error, where", [
    ("Hi", TypeError, "list of message dicts"),
    ({"messages": [], "tools": "[]"}, TypeError, r"row\['messages'\]"),
    ([{"role": "user", "content": "Hi"}, "Hello"], TypeError, r"messages\[1\] must be a dict"),
    ([{"content": "Hi"}], ValueError, r"messages\[0\] has no 'role' key"),
    ([{"role": 3, "content": "Hi"}], TypeError, r"messages\[0\]\['role'\]"),
    ([{"role": "user", "content": 42}], TypeError, r"messages\[0\]\['content'\]"),
    ([{"role": "user", "content": [{"text": "Hi"}]}], TypeError, r"messages\[0\]\['content'\]\[0\]"),
    ([{"role": "user", "content": [{"type": "text"}]}], ValueError, r"messages\[0\]\['content'\]\[0\]"),
    ([{"role": "assistant", "tool_calls": {"name": "f"}}], TypeError, r"messages\[0\]\['tool_calls'\]"),
    ([{"role": "assistant", "tool_calls": [{"function": {"arguments": {}}}]}], ValueError,
     r"messages\[0\]\['tool_calls'\]\[0\] has no 'name'"),
    ([{"role": "assistant", "tool_calls": [{"id": 7, "name": "f"}]}], TypeError, r"\['tool_calls'\]\[0\]\['id'\]"),
    ([{"role": "tool", "tool_call_id": 1, "content": "x"}], TypeError, r"messages\[0\]\['tool_call_id'\]"),
    ([{"role": "assistant", "content": "x", "thinking": ["a"]}], TypeError, r"messages\[0\]\['thinking'\]"),
])
def test_bad_input_names_the_message_index_and_the_key(messages, error, where):
    with pytest.raises(error, match=where):
        show_conversation(messages)


# --- No lesson prints message dicts to show a conversation -------------------------------------

_PRINTERS = {"print", "pprint"}
_MESSAGE_NAMES = re.compile(r"^(message|msg|m|turn)s?$|message")


def prints_message_dicts(source: str) -> bool:
    """The heuristic: a cell prints message dicts when it calls print/pprint on
    - the loop variable of a `for` whose variable is named like a message (`message`, `msg`,
      `turn`...) or whose iterable's code mentions `messages` (`for m in result.messages: print(m)`);
    - or an expression whose code ends in `messages` (`print(result.messages)`).
    Printing a field (`print(message["content"])`) or a formatted line is not flagged."""
    try:
        tree = ast.parse(re.sub(r"^\s*[%!].*$", "", source, flags=re.MULTILINE))
    except SyntaxError:
        return False
    loops = {node.target.id: ast.unparse(node.iter) for node in ast.walk(tree)
             if isinstance(node, ast.For) and isinstance(node.target, ast.Name)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _PRINTERS):
            continue
        for argument in node.args:
            if isinstance(argument, ast.Call) and getattr(argument.func, "id", "") in ("repr", "str") and argument.args:
                argument = argument.args[0]
            code = ast.unparse(argument)
            if re.search(r"messages(\[[^\]]*\])?$", code):
                return True
            if isinstance(argument, ast.Name) and argument.id in loops and (
                    _MESSAGE_NAMES.search(argument.id) or "messages" in loops[argument.id]):
                return True
    return False


@pytest.mark.parametrize("source", [
    "for message in messages:\n    print(message)",
    "for m in result.messages[1:]:\n    print(m)",
    "for turn in retry['messages'][:6]:\n    pprint(repr(turn))",
    "print(result.messages)",
    "%time x = 1\nfor msg in chat:\n    print(msg)",
])
def test_the_detector_sees_message_dicts_printed(source):
    assert prints_message_dicts(source)


@pytest.mark.parametrize("source", [
    "show_conversation(result.messages)",
    "for message in messages:\n    print(message['content'])",
    "for event in parser.feed(text):\n    print(event)",
    "for n_messages in (2, 4):\n    print(f'{n_messages} messages')",
    "print(len(messages))",
])
def test_the_detector_lets_other_prints_through(source):
    assert not prints_message_dicts(source)


NOTEBOOK_FILES = sorted([*NOTEBOOKS.glob("*.ipynb"), *SOLUTIONS.glob("*.ipynb")])


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_notebook_prints_message_dicts_to_show_a_conversation(path):
    offenders = [cell.get("id") for cell in nbformat.read(path, as_version=4).cells
                 if cell.cell_type == "code" and prints_message_dicts(cell.source)]
    assert offenders == [], f"{path.name}: cells {offenders} print message dicts; use show_conversation(messages)"
