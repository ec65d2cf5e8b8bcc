"""widgets.playground: driven by setting widget values, as a learner's typing does, no browser needed."""
from __future__ import annotations

import json
import random
import sys
import types
import warnings

import pytest
from IPython.core.formatters import DisplayFormatter

import course_utils.widgets as widgets_module
from course_utils.templates import get_template, render_template
from course_utils.widgets import DEFAULT_MESSAGES, Playground, playground
from support.pages import page_text

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
    ("template_box", "{% for m in messages %}\n{{ m.content }", "template line 2: syntax error"),
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


# --- Colab ----------------------------------------------------------------------------------

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


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
    monkeypatch.setattr(widgets_module, "_colab_widget_manager_enabled", False, raising=False)  # a new kernel
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
    assert recorded_displays == [pg.widget]


def test_off_colab_nothing_touches_colabs_widget_manager(monkeypatch, recorded_displays):
    calls: list = []
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setitem(sys.modules, "google.colab.output", recording_colab_output(calls))
    monkeypatch.setattr(widgets_module, "_colab_widget_manager_enabled", False, raising=False)
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
    assert "text/plain" in bundle and pg.widget.displayed == 1
