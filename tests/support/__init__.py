"""Test-only machinery (not shipped with the course), imported as `support.<module>` by the tests
(tests/ is on pytest's `pythonpath`) and as `tests.support.<module>` by benchmarks run from the
repository root. A test file never imports another test file: what two of them share lives here.

    paths             ROOT, NOTEBOOKS, SOLUTIONS, EXERCISES
    tiny_tokenizer    a BPE tokenizer with SmolLM2's special tokens, trained in-process
    pages             page_text: what a browser shows of the course's HTML
    jupyter_server    wait_for_server, stop_server: a JupyterLab the tests started
    hub_mirror        a real Hub (olah) serving the course's repos, offline
    execute_notebook  run a notebook beside the mirror and save its outputs
    compat_corpus     the compatibility corpus of real templates
"""
