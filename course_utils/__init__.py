"""course_utils: the machinery behind the course's notebooks.

What the notebooks import is the top level and the packages' ``__init__``; everything beneath
is machinery, free to change as long as those names keep working (tests/test_learner_api.py
imports every name every notebook imports). Each lesson, and the modules its notebooks import:

    00 start here                    runtime, models
    01 messages and special tokens   models, templates, display, chat_view, checks
    02 base vs instruct              models, templates, families, generation, sft, world, display, checks
    03 writing chat templates        models, templates, portability, widgets, conversations, display, checks
    04 generation prompts            models, templates, generation, sft, world, conversations, display, chat_view, checks
    05 SFT of SmolLM2                runtime, models, sft, display, checks
    06 tool use                      runtime, models, templates, tools, world, generation, sft, quiet, display, chat_view, checks
    07 chat templates today          models, templates, families, tools, generation, kestrel, conversations, display, checks

The layers, each importing only from those below it (tests/test_layers.py enforces it):

    grading       the instructor's side: grade a folder of notebooks (pytest plugin, course-grade)
    checks        ``check(id, answer)``: one module per lesson, shared expectations
    widgets       the template playground
    portability   does a template render the same outside Python's jinja2 (lint, minijinja)
    tools         tool schemas, parsing tool calls, the tool loop, example tools
    families      other families' templates on the course tokenizer; TRL's checks on a template
    kestrel       lesson 07's made-up format: its spec, reference renderings and tokenizer
    sft           SFT with TRL: data, config for this hardware, training, evaluation
    templates     the reference templates and ``render_template`` (transformers' sandbox)
    generation    greedy generation that says how it stopped
    models        SmolLM2 from the Hub, or the bundled nano stand-in
    runtime       device, precision, Colab, versions
    hub           is the Hub (or HF_ENDPOINT's mirror) reachable: decided once, announced
    assets        paths into assets/ (templates, nano models, data)
    status        the verdict words checks and grading share
    display       whitespace and special tokens made visible
    difference    where two texts first differ: the one line, and the view under a failed check
    chat_view     conversations shown message by message: roles, tool calls and their results
    conversations the conversations the template graders render
    world         the nano models' small world (facts, the weather tool)
    quiet         progress bars off where they would be saved into notebooks

Generated, never edited by hand: ``exercises/`` and ``grading/manifest.json`` (``make
exercises``), ``assets/nano-smollm2-*`` and ``assets/data/`` (``make nano``), the
README's course map and ``docs/lesson_times.json`` (``make timings``),
notebooks' stored outputs (``make outputs``). Everything else is edited by hand.
"""
