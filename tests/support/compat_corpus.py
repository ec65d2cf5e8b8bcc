"""Read the compatibility corpus (``../shared/compat-corpus``): real templates, expected renderings.

One loader for the corpus test and the portability benchmark, so both prepare each case's context
exactly as ``transformers_verdicts.json`` says its verdicts were computed (see that file's
``_note`` and the corpus README).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from .paths import ROOT

__all__ = ["CorpusCase", "default_root", "load_cases"]

HFJS_CLOCK = "2025-07-10T12:00:00"  # huggingface.js' e2e tests mock Date to this instant
LLAMACPP_CLOCK = "2024-07-26"  # llama.cpp's goldens were generated with this date
# The goldens' generator parsed JSON-string tool-call arguments into objects for the templates
# that iterate over them or serialise them (Llama-3.x, Qwen2.5 spell it `arguments | items` and
# `arguments | tojson`); transformers' verdicts were computed the same way. Hermes' templates test
# `arguments is string` first and print the string as is, so they get it unparsed.
_PARSES_ARGUMENTS = ("arguments | items", "arguments | tojson")


@dataclass(frozen=True)
class CorpusCase:
    """One template x context with its expected rendering.

    ``key`` is the case's key in ``transformers_verdicts.json``; ``verdict`` is what transformers
    5.23 does on it (``MATCH``, ``DIFF`` or ``RAISE ...``); ``jinja2_exact`` says whether raw jinja2
    reproduces ``expected`` (it may still differ under transformers' semantics).
    """

    key: str
    template: str
    context: dict = field(repr=False)
    expected: str = field(repr=False)
    clock: str
    verdict: str
    jinja2_exact: bool

    def messages_and_kwargs(self) -> tuple[list, dict]:
        """A fresh copy of the messages and of the other template variables."""
        context = copy.deepcopy(self.context)
        messages = context.pop("messages")
        if any(marker in self.template for marker in _PARSES_ARGUMENTS):
            _parse_string_arguments(messages)
        return messages, context


def _parse_string_arguments(messages: list) -> None:
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function", call)
            if isinstance(function.get("arguments"), str):
                function["arguments"] = json.loads(function["arguments"])


def default_root() -> Path:
    """``<repo>/../shared/compat-corpus``, the shared location next to the repository."""
    return ROOT.parent / "shared" / "compat-corpus"


def _hfjs_cases(root: Path, verdicts: dict) -> list[CorpusCase]:
    fixtures = json.loads((root / "hfjs_e2e_fixtures.json").read_text())
    exact = json.loads((root / "hfjs_e2e_fixtures.jinja2_verification.json").read_text())
    cases = []
    for group in ("default_templates", "custom_templates"):
        for name, case in fixtures[group].items():
            local = f"{group}/{name}"
            cases.append(CorpusCase(
                key=f"hfjs/{local}", template=case["chat_template"], context=case["data"],
                expected=case["target"], clock=HFJS_CLOCK, verdict=verdicts[f"hfjs/{local}"],
                jinja2_exact=exact[local] == "MATCH",
            ))
    return cases


def _llamacpp_cases(root: Path, verdicts: dict) -> list[CorpusCase]:
    base = root / "llamacpp_goldens_2024"
    exact = set(json.loads((base / "MANIFEST.json").read_text())["jinja2_exact"])
    contexts = {path.stem: json.loads(path.read_text()) for path in sorted((base / "contexts").glob("*.json"))}
    cases = []
    for template_path in sorted((base / "templates").glob("*.jinja")):
        for context_name, context in contexts.items():
            stem = f"{template_path.stem}-{context_name}"
            golden = base / "goldens" / f"{stem}.txt"
            if not golden.exists():
                continue
            cases.append(CorpusCase(
                key=f"llamacpp/{stem}", template=template_path.read_text(), context=context,
                expected=golden.read_text(), clock=LLAMACPP_CLOCK, verdict=verdicts[f"llamacpp/{stem}"],
                jinja2_exact=stem in exact,
            ))
    return cases


def load_cases(root: Path | None = None) -> list[CorpusCase]:
    """Every case of the corpus: 53 huggingface.js cases, then 114 llama.cpp goldens."""
    root = Path(root) if root is not None else default_root()
    verdicts = json.loads((root / "transformers_verdicts.json").read_text())["verdicts"]
    return _hfjs_cases(root, verdicts) + _llamacpp_cases(root, verdicts)
