"""Lesson 03 in practice: the stored outputs show what the text beside them says (issue 20).

- a tokenizer without a template makes `apply_chat_template` raise `ValueError`, with no class
  default to fall back on; `save_pretrained` writes the template to `chat_template.jinja`;
- ChatML written as a Python loop renders what its Jinja renders over every conversation the
  03.chatml check uses, and the section points to exercise 03.python_first;
- one template with `{% if tools %}` and a `{% macro %}`: with and without tools, the renderings
  differ by the tools block only; `get_chat_template` picks as the text says;
- an unknown keyword argument of `apply_chat_template` reaches the template, a misspelt one is
  silently ignored;
- a pull request that adds a template holds `chat_template.jinja` and the one changed line of
  `tokenizer_config.json`; `push_to_hub` is shown, not run, because the mirror takes no uploads;
- the copied ChatML one-liner ends every rendering with a stray `)`;
- every "section N" of the lesson's text points to a section that exists and speaks of it;
- exactly one cell of the course says which engine llama.cpp renders templates with.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from support.paths import EXERCISES, NOTEBOOKS, ROOT, SOLUTIONS
from support.stored_outputs import cell_source, stored_text

LESSON = NOTEBOOKS / "03_writing_chat_templates.ipynb"


def displayed(cell_id: str) -> list[str]:
    """The text/plain of each output the cell displayed, one string per output."""
    [cell] = [c for c in nbformat.read(LESSON, as_version=4).cells if c.get("id") == cell_id]
    return [output.get("data", {}).get("text/plain", "") for output in cell.outputs
            if output.output_type in ("display_data", "execute_result")]


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def nano_tokenizer():
    from transformers import AutoTokenizer

    from course_utils.models import INSTRUCT_ID, nano_path
    return AutoTokenizer.from_pretrained(nano_path(INSTRUCT_ID))


# --- no template at all ---------------------------------------------------------------------------

def test_a_tokenizer_without_a_template_raises_valueerror_and_has_no_class_default():
    source = cell_source(LESSON, "l03-64")
    assert "chat_template = None" in source and "apply_chat_template(question" in source
    shown = stored_text(LESSON, "l03-64")
    assert "ValueError: Cannot use chat template functions because tokenizer.chat_template is not set" in shown
    assert "a class default to fall back on: False" in shown
    assert "`ValueError`" in cell_source(LESSON, "l03-63") and "4.43" in cell_source(LESSON, "l03-63")


def test_transformers_5_has_no_class_default_template():
    # "Those class defaults were removed": no tokenizer class of transformers defines one.
    import transformers
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    assert transformers.__version__.startswith("5.")
    assert not hasattr(PreTrainedTokenizerBase, "default_chat_template")
    package = Path(transformers.__file__).parent
    tokenizers = [p.name for p in package.rglob("tokenization_*.py") if "default_chat_template" in p.read_text()]
    assert tokenizers == [], f"a tokenizer class defines default_chat_template again: {tokenizers}"


def test_save_pretrained_writes_the_template_to_chat_template_jinja():
    shown = stored_text(LESSON, "l03-66").splitlines()
    files = eval(shown[0])  # noqa: S307 - the lesson's own printed list of file names
    assert "chat_template.jinja" in files and {"tokenizer.json", "tokenizer_config.json"} <= set(files)
    assert shown[1] == "chat_template.jinja is the template: True"


# --- a template written in Python first ---------------------------------------------------------

def test_python_and_jinja_chatml_agree_over_every_conversation_the_check_uses():
    from course_utils.checks.lesson03 import CHATML_GROUPS
    from course_utils.conversations import GENERATION_PROMPT_OPTIONS, conversations

    assert stored_text(LESSON, "l03-56").strip() == "no difference: both texts are identical"
    match = re.fullmatch(r"(\d+) of (\d+) renderings agree: (\d+) conversations, each without and with the "
                         r"generation prompt\n", stored_text(LESSON, "l03-58"))
    assert match, stored_text(LESSON, "l03-58")
    agreed, total, count = map(int, match.groups())
    assert agreed == total and count > 1
    assert count == len(list(conversations(*CHATML_GROUPS))) and total == count * len(GENERATION_PROMPT_OPTIONS)
    assert "conversations()" in cell_source(LESSON, "l03-58")  # the default groups are 03.chatml's
    assert "for message in messages:" in cell_source(LESSON, "l03-56")  # a Python loop, not a template


def test_the_python_first_section_ends_by_pointing_to_its_exercise():
    assert "Exercise **03.python_first** asks for SmolLM2's own template in Python" in cell_source(LESSON, "l03-59")
    practise = cell_source(LESSON, "l03-48")
    assert ("| `03.python_first` | 🐕 | SmolLM2's template as a Python function, built with a loop, that renders "
            "what the Jinja template renders |") in practise
    course_map = json.loads((ROOT / "docs" / "course_map.json").read_text(encoding="utf-8"))
    lesson = next(entry for entry in course_map["lessons"] if entry["stem"] == LESSON.stem)
    assert {"id": "03.python_first", "tier": "🐕"} in lesson["exercises"]


# --- one template with branches, or named templates ---------------------------------------------

def test_with_and_without_tools_the_renderings_differ_by_the_tools_block_only():
    source = cell_source(LESSON, "l03-74")
    assert "{%- if tools %}" in source and "{%- macro turn(" in source
    call = cell_source(LESSON, "l03-76")
    assert "tokenizer.apply_chat_template(" in call and "chat_template=one_template" in call
    with_tools, without_tools = displayed("l03-76")
    assert with_tools.endswith(without_tools) and with_tools != without_tools
    block = with_tools[:-len(without_tools)]
    assert block.startswith("<|im_start|>tools↵\n") and block.endswith("<|im_end|>↵\n")
    assert block.count("<|im_start|>") == 1 and '"name":·"get_weather"' in block


def test_get_chat_template_picks_as_the_text_says():
    lines = stored_text(LESSON, "l03-78").splitlines()
    assert lines == ["tools = None -> default", "tools = [] -> tool_use", "tools = ['get_weather'] -> tool_use",
                     "chat_template='default', tools = ['get_weather'] -> default"]
    text = cell_source(LESSON, "l03-77")
    assert "`tools is not None`" in text and "even an empty list picks `tool_use`" in text
    assert "ggml-org/llama.cpp#11016" in text and "`tokenizer.chat_template.tool_use`" in text


def test_the_rest_of_get_chat_templates_rule_holds(nano_tokenizer):
    # "a string that is not one of the names is used as the template itself" and "a dict without
    # `default` raises ValueError": claims of l03-77 no output shows.
    tokenizer = nano_tokenizer
    saved = tokenizer.chat_template
    try:
        tokenizer.chat_template = {"default": "{{ 'D' }}", "tool_use": "{{ 'T' }}"}
        assert tokenizer.get_chat_template("{{ 'own' }}", tools=[{}]) == "{{ 'own' }}"
        tokenizer.chat_template = {"tool_use": "{{ 'T' }}"}
        with pytest.raises(ValueError, match="no default specified"):
            tokenizer.get_chat_template()
    finally:
        tokenizer.chat_template = saved


# --- keyword arguments reach the template ------------------------------------------------------

def test_an_extra_keyword_reaches_the_template_and_a_misspelt_one_is_silently_ignored():
    assert "load_tokenizer(INSTRUCT_ID)" in cell_source(LESSON, "l03-52")
    source = cell_source(LESSON, "l03-54")
    assert source.count("tokenizer.apply_chat_template(question, chat_template=persona_template") == 2
    assert 'persona="a pirate"' in source and 'persnoa="a pirate"' in source and "{{ persona }}" in source
    right, misspelt = displayed("l03-54")
    assert right.startswith("You·speak·as·a·pirate.↵")
    assert misspelt.startswith("You·speak·as·.↵") and "pirate" not in misspelt


def test_section_1_lists_keyword_arguments_and_points_raise_exception_to_section_6():
    text = cell_source(LESSON, "l03-06")
    assert "`raise_exception` (section 6)" in text and "any other keyword argument" in text


# --- sharing a template: the pull request ------------------------------------------------------

def test_push_to_hub_is_shown_and_not_run():
    text = cell_source(LESSON, "l03-67")
    assert '```python\ntokenizer.push_to_hub("you/your-model", create_pr=True)\n```' in text
    assert "not run here" in text and "olah" in text
    calls = [c.id for path in (LESSON,) for c in code_cells(path) if "push_to_hub(" in c.source]
    assert calls == []


def test_the_pull_request_holds_the_new_template_file_and_one_config_line():
    changed = stored_text(LESSON, "l03-68")
    assert changed == "files that differ: ['chat_template.jinja', 'tokenizer_config.json']\n"
    diff = stored_text(LESSON, "l03-70").splitlines()
    assert diff[:2] == ["--- before", "+++ after"]
    edits = [line for line in diff[2:] if line[:1] in "+-"]
    assert edits == ['-  "chat_template": null,'], edits
    operations = [line.split()[0] for line in stored_text(LESSON, "l03-72").splitlines()]
    assert operations == ["chat_template.jinja", "tokenizer_config.json"]


def test_a_template_saved_inside_tokenizer_config_moves_to_its_own_file(tmp_path, nano_tokenizer):
    # "one saved by an older transformers, with its template inside tokenizer_config.json, loses that key"
    from transformers import AutoTokenizer

    from course_utils.models import INSTRUCT_ID, nano_path
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(nano_path(INSTRUCT_ID) / "tokenizer.json", old)
    config = json.loads((nano_path(INSTRUCT_ID) / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["chat_template"] = "{{ 'legacy' }}"
    (old / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    new = tmp_path / "new"
    AutoTokenizer.from_pretrained(old).save_pretrained(new)
    assert (new / "chat_template.jinja").read_text(encoding="utf-8") == "{{ 'legacy' }}"
    assert "chat_template" not in json.loads((new / "tokenizer_config.json").read_text(encoding="utf-8"))


def test_push_to_hub_uploads_every_saved_file_and_the_hub_client_drops_unchanged_ones():
    # "push_to_hub saves every file save_pretrained writes ... and uploads them all, and
    # huggingface_hub leaves out of the commit each file whose content the repository already has"
    import inspect

    from huggingface_hub import hf_api
    from transformers.utils.hub import PushToHubMixin

    push = inspect.getsource(PushToHubMixin.push_to_hub)
    assert "self.save_pretrained(tmp_dir" in push and "files_timestamps={}" in push
    assert "File already exists on the Hub and has not changed: we can skip it." in inspect.getsource(hf_api)


def test_the_test_mirror_has_no_upload_routes():
    # "a Hub mirror (olah) that only serves files and has no route to create a repository, a commit
    # or a pull request": every route olah registers reads (GET, HEAD, or POST paths-info).
    olah = next((ROOT / ".venv-mirror" / "lib").glob("python*/site-packages/olah"), None) \
        if (ROOT / ".venv-mirror" / "lib").exists() else None
    if olah is None:
        pytest.skip("olah (.venv-mirror, `make mirror-tools`) is not installed")
    routes = re.findall(r"@router\.(\w+)\(\"([^\"]+)\"", "".join(p.read_text() for p in olah.glob("*.py")))
    assert len(routes) > 20
    writes = [(method, path) for method, path in routes
              if method not in ("get", "head") and not path.split("/")[-2:-1] == ["paths-info"]]
    assert writes == []
    everything = "".join(p.read_text() for p in olah.rglob("*.py"))
    assert not re.search(r"preupload|/commit/|repos/create|create_pr", everything)


# --- the stray `)` --------------------------------------------------------------------------------

def test_the_copied_one_liner_ends_every_rendering_with_a_stray_parenthesis():
    from course_utils.conversations import GENERATION_PROMPT_OPTIONS, conversations
    from course_utils.templates import TEMPLATES, render_template

    assert stored_text(LESSON, "l03-61") == ("first difference at character 248 (line 10, column 1): "
                                             "expected ⟨end of text⟩ but got ')'")
    namespace: dict = {}
    exec(cell_source(LESSON, "l03-61").splitlines()[0], namespace)  # noqa: S102 - the lesson's `copied = r"..."`
    copied = namespace["copied"]
    assert copied.endswith("{% endif %})")
    # "Delete it, and the template is chatml": the `)` is its only difference, in every rendering.
    fixed = copied[:-1]
    for _, messages in conversations():
        for flag in GENERATION_PROMPT_OPTIONS:
            chatml = render_template(TEMPLATES["chatml"].template, messages, add_generation_prompt=flag)
            assert render_template(copied, messages, add_generation_prompt=flag) == chatml + ")"
            assert render_template(fixed, messages, add_generation_prompt=flag) == chatml


# --- section references ---------------------------------------------------------------------------

HEADING = re.compile(r"^## (\d+)\. ", re.M)
REFERENCE = re.compile(r"(?<!lesson \d\d, )\bsection (\d+)\b")
SENTENCE_END = re.compile(r"[.!?]\s|\n")


def sections(path) -> tuple[str, dict[int, str]]:
    """The lesson's markdown as one text, and {N: the markdown from `## N.` to the next `## `}."""
    text = "\n\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    parts = re.split(r"^(?=## )", text, flags=re.M)
    numbered = {int(m.group(1)): part for part in parts if (m := HEADING.match(part))}
    return text, numbered


def referenced_term(text: str, at: int) -> str | None:
    """The last `code` span of the sentence before position `at`: what a reference points at."""
    start = max((m.end() for m in SENTENCE_END.finditer(text, 0, at)), default=0)
    spans = re.findall(r"`([^`]+)`", text[start:at])
    return spans[-1] if spans else None


def test_every_section_reference_points_to_a_section_that_speaks_of_it():
    text, numbered = sections(LESSON)
    references = list(REFERENCE.finditer(text))
    assert len(references) >= 2
    problems = []
    for reference in references:
        number, term = int(reference.group(1)), referenced_term(text, reference.start())
        where = text[max(0, reference.start() - 60):reference.end()].replace("\n", " ")
        if number not in numbered:
            problems.append(f"...{where}: there is no heading '## {number}.'")
        elif term is None:
            problems.append(f"...{where}: name what it points at in `code` earlier in the sentence")
        elif term not in numbered[number]:
            problems.append(f"...{where}: section {number} never mentions {term!r}")
    assert problems == [], "\n".join(problems)


def test_the_section_reference_check_catches_the_old_raise_exception_mistake():
    _, numbered = sections(LESSON)
    wrong = "the function `raise_exception` (section 5)."
    assert referenced_term(wrong, wrong.index("section 5")) == "raise_exception"
    assert "raise_exception" not in numbered[5] and "raise_exception" in numbered[6]


def test_the_lessons_plan_is_numbered_as_its_sections():
    _, numbered = sections(LESSON)
    plan = re.findall(r"^(\d+)\. ", cell_source(LESSON, "colab-badge"), flags=re.M)
    assert [int(n) for n in plan] == sorted(numbered) == list(range(1, len(numbered) + 1))


# --- llama.cpp's engine, said once ------------------------------------------------------------------

ENGINE_WORDS = re.compile(r"\bminja\b|\bengines?\b|Jinja implementation|\binterpreter\b", re.I)


def engine_statements():
    """(notebook, cell id) of every cell with a sentence that names llama.cpp and its engine."""
    found = []
    for folder in (NOTEBOOKS, SOLUTIONS, EXERCISES):
        for path in sorted(folder.glob("*.ipynb")):
            for cell in nbformat.read(path, as_version=4).cells:
                sentences = re.split(r"(?<=[.!?])\s+|\n+", cell.source)
                if any("llama.cpp" in s and ENGINE_WORDS.search(s) for s in sentences):
                    found.append((path.relative_to(ROOT).as_posix(), cell.get("id")))
    return found


def test_exactly_one_cell_says_which_engine_llama_cpp_uses():
    assert engine_statements() == [("notebooks/03_writing_chat_templates.ipynb", "l03-34")], (
        "only lesson 03's section 7 says which engine llama.cpp renders templates with; elsewhere, name llama.cpp only")
    text = cell_source(LESSON, "l03-34")
    assert "llama.cpp's own C++ engine (minja, and in newer releases its own Jinja implementation)" in text
