"""Progress bars and chatter off for one step, and back on after it.

Why this exists: in a notebook, transformers' and datasets' bars are widgets (display data,
not stderr text). A saved notebook keeps only a frozen "0%", stream redirection misses them,
and a check cell that should show only its verdict would show a stray widget to the grader.
Both libraries expose a global on/off switch but no context manager, so this is the one.
"""
from __future__ import annotations

import contextlib
import io


@contextlib.contextmanager
def bars_off(logging_module):
    """`logging_module` is `transformers.utils.logging` or `datasets.utils.logging`."""
    was_enabled = logging_module.is_progress_bar_enabled()
    logging_module.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            logging_module.enable_progress_bar()


def transformers_bars_off():
    """No 'Loading weights' or 'Writing model shards' bar (huggingface_hub's download bars stay)."""
    from transformers.utils import logging as hf_logging

    return bars_off(hf_logging)


def datasets_bars_off():
    """No `datasets.map` bars (SFTTrainer's tokenizing and packing passes)."""
    from datasets.utils import logging as datasets_logging

    return bars_off(datasets_logging)


@contextlib.contextmanager
def silenced():
    """No output at all: stdout, stderr and transformers' bars (used by exercise checks)."""
    with transformers_bars_off(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        yield
