"""widgets.playground: driven by setting widget values, as a learner's typing does, no browser needed."""
from __future__ import annotations

import json
import random
import re
import sys
import types
import warnings

import pytest
from IPython.core.formatters import DisplayFormatter

import course_utils.widgets.colab as colab_module
from course_utils.templates import get_template, render_template
from course_utils.widgets import CUSTOM, DEFAULT_MESSAGES, Playground, playground
from support.pages import page_text

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
GENERATION_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n"
    "{% if m.role == 'assistant' %}{% generation %}{{ m.content }}<|im_end|>{% endgeneration %}"
    "{% else %}{{ m.content }}<|im_end|>{% endif %}\n{% endfor %}"
)


def test_starts_with_smollm2_rendering_highlighted():
    pg = playground()
    assert pg.state.error is None
    assert pg.state.rendered == render_template(get_template("smollm2"), DEFAULT_MESSAGES, add_generation_prompt=True)
    assert pg.output.value.count('class="course-special"') == pg.state.rendered.count("<|im_")
    assert "nothing other engines would break on" in pg.lint_view.value


def test_every_part_has_its_stable_css_class():
    pg = playground()
    classes = {
        "course-playground": pg.widget, "course-playground-template": pg.template_box,
        "course-playground-messages": pg.messages_box, "course-playground-variables": pg.variables_box,
        "course-playground-catalog": pg.catalog_box, "course-playground-output": pg.output,
        "course-playground-add-generation-prompt": pg.generation_prompt_box,
        "course-playground-continue-final-message": pg.continue_box,
        "course-playground-tokens": pg.tokens, "course-playground-lint": pg.lint_view,
        "course-playground-error": pg.error_view,
    }
    for css_class, widget in classes.items():
        assert css_class in widget._dom_classes, css_class
    assert pg.template_box.placeholder and pg.messages_box.placeholder


def test_typing_a_template_and_messages_re_renders():
    pg = playground()
    pg.template_box.value = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    pg.messages_box.value = json.dumps([{"role": "user", "content": "typed in a test"}])
    assert pg.state.rendered == "<|im_start|>user\ntyped in a test<|im_end|>\n"
    assert "typed in a test" in page_text(pg.output.value) and pg.error_view.value == ""


def test_toggles_change_the_rendering():
    pg = playground(template=get_template("chatml"), messages=[{"role": "user", "content": "Hi"},
                                                               {"role": "assistant", "content": "The answer is"}])
    assert pg.state.rendered.endswith("<|im_start|>assistant\n")
    pg.generation_prompt_box.value = False
    assert pg.state.rendered.endswith("The answer is<|im_end|>\n")
    pg.continue_box.value = True
    assert pg.state.rendered.endswith("<|im_start|>assistant\nThe answer is")


def test_catalog_loads_a_reference_template_and_variables_feed_it():
    pg = playground(messages=[{"role": "user", "content": "Hi"}])
    pg.variables_box.value = ""
    pg.catalog_box.value = "llama2"
    assert pg.template_box.value == get_template("llama2")
    assert "'bos_token' is undefined" in pg.state.error
    pg.variables_box.value = json.dumps({"bos_token": "<s>", "eos_token": "</s>"})
    assert pg.state.rendered == "<s>[INST] Hi [/INST]" and pg.state.error is None


@pytest.mark.parametrize("field, value, error", [
    ("messages_box", '[{"role": "user", "content": "Hi"}', "messages JSON, line 1 column 35"),
    ("messages_box", '{"role": "user"}', "messages JSON must be a list, got dict"),
    ("messages_box", "[]", "messages: is empty"),
    ("messages_box", '[{"role": "user", "content": 3}]', "message 0, key 'content': content has type int"),
    ("variables_box", "[1]", "variables JSON must be a object"),
    ("variables_box", '{"messages": []}', "variables: ['messages'] are set by the editors"),
    ("template_box", "{% for m in messages %}\n{{ m.content }", "template line 2, column 14: syntax error"),
    ("template_box", "{{ raise_exception('only system turns') }}", "only system turns (raise_exception at template line 1)"),
    ("template_box", "{{ messages.__class__ }}", "refused: the template reads the private attribute '__class__'"),
])
def test_bad_input_is_shown_in_the_widget_not_raised(field, value, error):
    pg = playground()
    setattr(getattr(pg, field), "value", value)
    assert pg.state.rendered is None and error in pg.state.error
    assert "⚠" in pg.error_view.value and pg.output.value == ""


def test_errors_and_findings_are_html_escaped():
    pg = playground()
    pg.template_box.value = "{{ messages[0].content.strip() }}{{ raise_exception('<img src=x onerror=alert(1)>') }}"
    assert "<img" not in pg.error_view.value and "&lt;img" in pg.error_view.value
    assert "[python-method]" in pg.lint_view.value and "`.strip()`" in pg.lint_view.value


def test_no_input_crashes_it():
    rng = random.Random(0)
    pieces = ["{%", "%}", "{{", "}}", "for m in messages", "endfor", "if", "endif", "m.content", "'", '"', "[", "]",
              "{", "}", ":", ",", "null", "role", "content", "__class__", "|", "tojson", "\n", " ", "raise_exception(", ")"]
    pg = playground()
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        target = rng.choice([pg.template_box, pg.messages_box, pg.variables_box])
        target.value = text
        assert (pg.state.rendered is None) != (pg.state.error is None)
    pg.continue_box.value = True
    pg.generation_prompt_box.value = True
    assert pg.state.error is not None


def test_with_a_tokenizer_the_token_strip_is_shown(tiny_tokenizer):
    pg = playground(tiny_tokenizer, template=get_template("chatml"), messages=[{"role": "user", "content": "Hi there"}])
    assert pg.state.token_ids == tiny_tokenizer.encode(pg.state.rendered, add_special_tokens=False)
    assert pg.tokens.value.count("course-token-special") == 3  # im_start, im_end, im_start of the prompt
    assert "no {% generation %} block" in pg.tokens.value and pg.state.mask is None
    assert json.loads(pg.variables_box.value)["eos_token"] == "<|im_end|>"


def test_with_a_generation_template_the_mask_row_marks_the_assistant_reply(tiny_tokenizer):
    messages = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}]
    pg = playground(tiny_tokenizer, template=GENERATION_TEMPLATE, messages=messages)
    pg.generation_prompt_box.value = False
    expected = tiny_tokenizer.apply_chat_template(messages, chat_template=GENERATION_TEMPLATE, tokenize=True,
                                                  return_dict=True, return_assistant_tokens_mask=True)
    assert pg.state.mask == expected["assistant_masks"] and sum(pg.state.mask) > 0
    assert pg.tokens.value.count("course-token-trained") == sum(pg.state.mask)
    assert any(f.rule == "generation-block" for f in pg.state.findings)


def test_it_displays_as_a_widget():
    bundle = playground()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert isinstance(playground(), Playground)


# --- syntax errors: the line quoted, the column marked ----------------------------------------

def error_quote(pg) -> list[str]:
    """The quoted line and the mark beneath it, as the error view shows them."""
    quote = re.search(r'<pre class="course-playground-error-quote"[^>]*>(.*?)</pre>', pg.error_view.value, re.S)
    return page_text(quote.group(1)).split("\n")


def test_an_unfinished_tag_at_the_end_of_a_one_line_template_is_marked_where_it_ends():
    template = "{% for m in messages %}{{ m.content }}{% endfor %}{% if messages"
    pg = playground(template=template)
    spot = pg.state.syntax_error
    assert (spot.line, spot.column) == (1, len(template) + 1)
    assert pg.state.error.startswith(f"template line 1, column {len(template) + 1}: syntax error: unexpected end")
    line, mark = error_quote(pg)
    assert line == template, "the whole line is quoted, not its start cut off"
    assert mark == " " * len(template) + "^"


@pytest.mark.parametrize("template, line, column, marked", [
    ("Hi\n{{ m.content }", 2, 14, "}"),
    ("{{ messages[0] b }}", 1, 16, "b"),
    ("{% for m in messages %}{% endif %}", 1, 27, "endif"),
    ("x\n  {# a comment never closed", 2, 3, "{#"),
    ("{{ 'unclosed }}", 1, 4, "'"),
])
def test_a_syntax_error_marks_the_column_where_jinja_stopped(template, line, column, marked):
    pg = playground(template=template)
    spot = pg.state.syntax_error
    assert (spot.line, spot.column) == (line, column)
    quoted, mark = error_quote(pg)
    assert quoted == template.split("\n")[line - 1]
    assert quoted[mark.index("^"):mark.index("^") + len(marked)] == marked and len(mark.strip()) == len(marked)


def test_a_long_line_is_quoted_around_the_column_and_cut_between_words():
    words = " ".join(f"word{i}" for i in range(40))
    pg = playground(template=f"{words} {{{{ a ) }}}} {words}")
    quoted, mark = error_quote(pg)
    assert quoted.startswith("…") and quoted.endswith("…") and len(quoted) < 100
    assert quoted[mark.index("^")] == ")"
    assert all(re.fullmatch(r"word\d+|\{\{|a|\)|\}\}", piece) for piece in quoted.strip("…").split())


def test_every_syntax_error_of_random_templates_is_placed_on_jinjas_line():
    rng = random.Random(1)
    pieces = ["{%", "%}", "{{", "}}", "{#", "#}", "for m in messages", "endfor", "if", "endif", "m.content", "'",
              "(", ")", "[", "]", "|", "trim", "\n", " ", "x", "-"]
    pg, placed = playground(), 0
    for _ in range(300):
        pg.template_box.value = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        if pg.state.error and "syntax error" in pg.state.error:
            spot = pg.state.syntax_error
            assert spot is not None and spot.line_text == pg.template_box.value.split("\n")[spot.line - 1]
            assert spot.column is None or 1 <= spot.column <= len(spot.line_text) + 1
            placed += spot.column is not None
    assert placed > 100


def test_the_error_quote_is_html_escaped():
    pg = playground(template="<script>alert(1)</script>{{ a ) }}")
    assert "<script>" not in pg.error_view.value and "&lt;script&gt;" in pg.error_view.value


# --- the template dropdown names what the editor holds ----------------------------------------

def test_the_dropdown_names_the_preset_shown_and_says_custom_once_it_is_edited():
    pg = playground()
    assert pg.catalog_box.value == "smollm2"  # the default template is SmolLM2's
    pg.catalog_box.value = "chatml"
    assert pg.template_box.value == get_template("chatml")
    pg.template_box.value = get_template("chatml").replace("'\\n'", "'\\n\\n'")
    assert pg.catalog_box.value == CUSTOM and pg.template_box.value != get_template("chatml")
    pg.template_box.value = get_template("chatml")
    assert pg.catalog_box.value == "chatml"


def test_a_playground_started_from_a_template_of_ones_own_says_custom():
    assert playground(template="{{ messages[0].content }}").catalog_box.value == CUSTOM
    assert playground(template=get_template("llama2")).catalog_box.value == "llama2"


# --- what readers without a widget manager see -----------------------------------------------

def test_the_output_carries_an_html_snapshot_beside_the_widget_view():
    pg = playground(template=get_template("chatml"), messages=[{"role": "user", "content": "Bonjour <b>!"}])
    bundle = pg._repr_mimebundle_()
    snapshot = bundle["text/html"]
    assert WIDGET_VIEW in bundle
    assert pg.output.value in snapshot and snapshot.count('class="course-special"') == 3  # the rendering, highlighted
    assert "{% for message in messages %}" in page_text(snapshot)  # the template
    assert "Bonjour &lt;b&gt;!" in snapshot and "<b>!" not in snapshot  # the conversation, escaped
    assert "load: chatml" in page_text(snapshot) and "run the cell" in page_text(snapshot)


def test_the_snapshot_has_the_token_strip_when_there_is_a_tokenizer(tiny_tokenizer):
    pg = playground(tiny_tokenizer, template=get_template("chatml"), messages=[{"role": "user", "content": "Hi"}])
    assert pg.tokens.value and pg.tokens.value in pg._repr_mimebundle_()["text/html"]


def test_the_text_version_is_the_rendering_not_a_widget_repr():
    pg = playground(template=get_template("chatml"), messages=[{"role": "user", "content": "Hi"}])
    text = pg._repr_mimebundle_()["text/plain"]
    assert "VBox(" not in text and "children=" not in text
    assert "template: chatml" in text and "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" in text


def test_the_snapshot_shows_the_playground_as_it_is_when_displayed():
    pg = playground()
    pg.template_box.value = "{{ messages[0].content }"
    bundle = pg._repr_mimebundle_()
    assert "syntax error" in page_text(bundle["text/html"]) and "load: custom" in page_text(bundle["text/html"])
    assert bundle["text/plain"].splitlines()[2:4] == ["error:", pg.state.error.splitlines()[0]]


# --- Colab ----------------------------------------------------------------------------------


def recording_colab_output(calls: list) -> types.ModuleType:
    """A stand-in for google.colab.output whose enable_custom_widget_manager records its calls."""
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda *args, **kwargs: calls.append((args, kwargs))
    return output


@pytest.fixture
def fake_colab(monkeypatch):
    """A Colab kernel, as far as the course can tell: google.colab is imported."""
    calls: list = []
    colab = types.ModuleType("google.colab")
    colab.output = recording_colab_output(calls)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", colab.output)
    monkeypatch.setattr(colab_module, "_colab_widget_manager_enabled", False)  # a new kernel
    return calls


@pytest.fixture
def recorded_displays(monkeypatch):
    import IPython.display

    shown: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kwargs: shown.extend(objs))
    return shown


def test_on_colab_the_playground_enables_colabs_widget_manager_once(fake_colab, recorded_displays):
    first = playground()
    DisplayFormatter().format(first)
    second = playground(template=get_template("chatml"))
    DisplayFormatter().format(second)
    assert fake_colab == [((), {})], "enable_custom_widget_manager() must run once per kernel on Colab"


def test_on_colab_the_playground_shows_itself_through_display(fake_colab, recorded_displays):
    # Colab attaches its widget manager to outputs in a display() hook; a cell's result bypasses it.
    pg = playground()
    assert DisplayFormatter().format(pg) == ({}, {})  # IPython handed the display to the playground
    [shown] = recorded_displays
    assert shown[WIDGET_VIEW]["model_id"] == pg.widget.model_id
    assert "text/html" in shown, "before Colab's widget manager loads, the snapshot shows"


def test_off_colab_nothing_touches_colabs_widget_manager(monkeypatch, recorded_displays):
    calls: list = []
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setitem(sys.modules, "google.colab.output", recording_colab_output(calls))
    monkeypatch.setattr(colab_module, "_colab_widget_manager_enabled", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # nor tries google.colab and warns it failed
        pg = playground()
        data, _ = DisplayFormatter().format(pg)
    assert calls == [] and recorded_displays == []
    assert WIDGET_VIEW in data and not hasattr(pg, "_ipython_display_")


def test_it_displays_with_ipywidgets_7_which_colab_ships():
    # ipywidgets 7 widgets have no _repr_mimebundle_ (they display through _ipython_display_);
    # the install cell keeps Colab's 7.7.1, so the playground must make the bundle itself.
    class Widget7:
        model_id = "model-7"

        def __init__(self):
            self.displayed = 0

        def _handle_displayed(self, **kwargs):
            self.displayed += 1

    pg = playground()
    pg.widget = Widget7()
    bundle = pg._repr_mimebundle_()
    assert bundle[WIDGET_VIEW] == {"version_major": 2, "version_minor": 0, "model_id": "model-7"}
    assert {"text/plain", "text/html"} <= set(bundle) and pg.widget.displayed == 1
