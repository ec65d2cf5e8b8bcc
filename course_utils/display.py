"""See exactly what the model sees: special tokens, whitespace, tokens, masks and differences.

Every function returns a small object that a notebook shows as HTML (``_repr_html_``) and that
prints as plain text (``__str__``/``__repr__``), so the same call works in JupyterLab, in a
terminal and in an exercise check's error message.

Templates and messages are untrusted text: everything that goes into HTML is escaped with
``html.escape`` first, and only the spans written here carry markup.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

# The notation of differences and visible whitespace lives in `difference` (what failed checks
# need); it is re-exported here, where lessons import it from.
from .difference import (
    _END_MARK,
    SPECIAL_TOKEN_RE,
    _difference_start,
    _first_index,
    _token_span_at,
    _visible_char,
    first_difference,
    visible,
)

__all__ = [
    "SPECIAL_TOKEN_RE",
    "visible",
    "first_difference",
    "diff",
    "show",
    "show_tokens",
    "show_mask",
    "Rendered",
    "Diff",
]

_STYLE_PRE = (
    "font-family:monospace;white-space:pre-wrap;word-break:break-all;line-height:1.7;"
    "padding:6px;border:1px solid #ccc;border-radius:4px;background:#fafafa;color:#111"
)
_STYLE_SPECIAL = "background:#ffd54f;color:#000;border-radius:3px;padding:0 2px;font-weight:bold"
_STYLE_WS = "color:#aaa"
_STYLE_SPACE = (
    "background-image:radial-gradient(circle,#9e9e9e 0 1.5px,transparent 2px);"
    "background-size:1ch 100%;background-repeat:repeat-x"
)
_SPACE_RUNS = re.compile(r"( +)")
_STYLE_PILL = (
    "display:inline-block;margin:2px;padding:1px 4px;border-radius:4px;font-family:monospace;"
    "white-space:pre;text-align:center;vertical-align:top;border:1px solid #bbb;background:#eef"
)
_STYLE_PILL_SPECIAL = _STYLE_PILL + ";background:#ffd54f;border-color:#c79a00;font-weight:bold"
_STYLE_TRAINED = ";outline:2px solid #2e7d32;background:#c8e6c9"
_STYLE_UNTRAINED = ";opacity:0.45"


def _html_visible(text: str) -> str:
    """Escaped HTML of ``text``: special tokens highlighted, whitespace marks greyed."""
    parts = []
    position = 0
    for match in SPECIAL_TOKEN_RE.finditer(text):
        parts.append(_html_plain(text[position : match.start()]))
        parts.append(f'<span class="course-special" style="{_STYLE_SPECIAL}">{html.escape(match.group())}</span>')
        position = match.end()
    parts.append(_html_plain(text[position:]))
    return "".join(parts)


def _html_plain(text: str) -> str:
    out = []
    for run in _SPACE_RUNS.split(text):
        if run.startswith(" "):
            # Spaces stay real spaces in the page (copying, searching and innerText give the real
            # text); the dot that makes each one visible is painted behind it, one per character.
            out.append(f'<span class="course-ws course-space" style="{_STYLE_SPACE}">{run}</span>')
            continue
        for char in run:
            shown = _visible_char(char, keep_newlines=True)
            if shown == char:
                out.append(html.escape(char))
            else:
                out.append(f'<span class="course-ws" style="{_STYLE_WS}">{html.escape(shown)}</span>')
    return "".join(out)


class Rendered:
    """Text shown with visible whitespace and highlighted special tokens (``show``'s result)."""

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return visible(self.text)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f'<pre class="course-show" style="{_STYLE_PRE}">{_html_visible(self.text)}</pre>'


def show(text: str) -> Rendered:
    """Show a rendered chat so that special tokens stand out and whitespace is visible.

    Example:
        >>> print(show("<|im_start|>user\\nHi<|im_end|>"))
        <|im_start|>user↵
        Hi<|im_end|>
    """
    if not isinstance(text, str):
        raise TypeError(f"show() takes the rendered text (a str), got {type(text).__name__}; "
                        "for token ids use show_tokens(tokenizer, ids)")
    return Rendered(text)


class Diff:
    """``diff``'s result: ``str()`` is the one-line first difference, HTML shows both sides."""

    def __init__(self, expected: str, got: str):
        self.expected = expected
        self.got = got
        self.message = first_difference(expected, got)

    @property
    def equal(self) -> bool:
        return self.message is None

    def __str__(self) -> str:
        return self.message or "no difference: both texts are identical"

    __repr__ = __str__

    def _side_html(self, text: str, start: int) -> str:
        # What differs is boxed in red (whole special token when the difference is inside one);
        # past the end of a text, the end marker is boxed.
        end = start + 1
        span = _token_span_at(text, start)
        if span is not None:
            end = span[1]
        marked = _html_visible(text[start:end]) if start < len(text) else html.escape(_END_MARK)
        box = f'<span class="course-diff-at" style="background:#ef9a9a;outline:2px solid #c62828">{marked}</span>'
        return f'<pre style="{_STYLE_PRE}">{_html_visible(text[:start])}{box}{_html_visible(text[end:])}</pre>'

    def _repr_html_(self) -> str:
        summary = html.escape(str(self))
        if self.equal:
            return f'<div class="course-diff"><b>✅ {summary}</b></div>'
        index = _first_index(self.expected, self.got)
        start = _difference_start(self.expected, self.got, index)
        return (
            f'<div class="course-diff"><b>{summary}</b>'
            f"<div>expected:</div>{self._side_html(self.expected, start)}"
            f"<div>got:</div>{self._side_html(self.got, start)}</div>"
        )


def diff(expected: str, got: str) -> Diff:
    """Locate the first difference between two rendered texts (see ``first_difference``)."""
    for name, value in (("expected", expected), ("got", got)):
        if not isinstance(value, str):
            raise TypeError(f"diff() compares two strings, but {name} is {type(value).__name__}")
    return Diff(expected, got)


# --- tokens -------------------------------------------------------------------------------

def _as_id_list(tokenizer, text_or_ids) -> list[int]:
    """Accept text, a list of ids, a 1-row batch, a tensor or a BatchEncoding."""
    if isinstance(text_or_ids, str):
        # The chat template already wrote the special tokens; adding a BOS here would show a
        # token the model never sees (apply_chat_template encodes the same way).
        return list(tokenizer.encode(text_or_ids, add_special_tokens=False))
    if hasattr(text_or_ids, "keys") and "input_ids" in text_or_ids:
        text_or_ids = text_or_ids["input_ids"]
    if hasattr(text_or_ids, "tolist"):
        text_or_ids = text_or_ids.tolist()
    ids = list(text_or_ids)
    if len(ids) == 1 and isinstance(ids[0], (list, tuple)):
        ids = list(ids[0])
    if not all(isinstance(i, int) for i in ids):
        raise TypeError("show_tokens() takes text or a flat list of token ids (one sequence, not a batch)")
    return ids


def _special_ids(tokenizer) -> set[int]:
    ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    ids.update(i for i, token in decoder.items() if getattr(token, "special", False))
    return ids


class TokenStrip:
    """A row of token pills (text above, id below); trained/untrained marking when a mask is given."""

    def __init__(self, pieces: Sequence[str], ids: Sequence[int], special: set[int], mask: Sequence[bool] | None = None):
        self.pieces, self.ids, self.special, self.mask = list(pieces), list(ids), special, mask

    def __len__(self) -> int:
        return len(self.ids)

    def __str__(self) -> str:
        if self.mask is None:
            return " ".join(f"[{visible(p, keep_newlines=False)}|{i}]" for p, i in zip(self.pieces, self.ids))
        return self._masked_text()

    __repr__ = __str__

    def _masked_text(self) -> str:
        # Trained runs are wrapped in ⟦ ⟧ so the plain text reads like the HTML's green spans.
        out, inside = [], False
        for piece, trained in zip(self.pieces, self.mask):
            if trained != inside:
                out.append("⟦" if trained else "⟧")
                inside = trained
            out.append(visible(piece, keep_newlines=False))
        if inside:
            out.append("⟧")
        trained_count = sum(self.mask)
        return "".join(out) + f"\n({trained_count} of {len(self.mask)} tokens trained on, inside ⟦ ⟧)"

    def _pill(self, index: int) -> str:
        token_id = self.ids[index]
        style = _STYLE_PILL_SPECIAL if token_id in self.special else _STYLE_PILL
        classes = "course-token" + (" course-token-special" if token_id in self.special else "")
        if self.mask is not None:
            trained = self.mask[index]
            style += _STYLE_TRAINED if trained else _STYLE_UNTRAINED
            classes += " course-token-trained" if trained else " course-token-ignored"
        text = html.escape(visible(self.pieces[index], keep_newlines=False))
        return (f'<span class="{classes}" style="{style}">{text}'
                f'<br><small style="color:#555">{token_id}</small></span>')

    def _repr_html_(self) -> str:
        pills = "".join(self._pill(i) for i in range(len(self.ids)))
        caption = f"{len(self.ids)} tokens"
        if self.mask is not None:
            caption = f"{sum(self.mask)} of {len(self.ids)} tokens trained on (green)"
        return f'<div class="course-tokens"><div style="line-height:2.2">{pills}</div><small>{caption}</small></div>'


def _pieces(tokenizer, ids: Iterable[int]) -> list[str]:
    # decode() of one id gives readable text ("Ġthe" in byte-level BPE becomes " the"); a piece
    # that is half of a multi-byte character decodes to "�", which is honest about the split.
    return [tokenizer.decode([i], skip_special_tokens=False) for i in ids]


def show_tokens(tokenizer, text_or_ids) -> TokenStrip:
    """Show how ``tokenizer`` splits text (or a list of ids): one pill per token with its id."""
    ids = _as_id_list(tokenizer, text_or_ids)
    return TokenStrip(_pieces(tokenizer, ids), ids, _special_ids(tokenizer))


def _as_mask(mask, length: int) -> list[bool]:
    if hasattr(mask, "tolist"):
        mask = mask.tolist()
    values = list(mask)
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = list(values[0])
    if len(values) != length:
        raise ValueError(f"show_mask: {length} token ids but {len(values)} mask values; "
                         "pass the mask of the same sequence (e.g. out['assistant_masks'])")
    # Labels (-100 = ignored) are accepted too, so lesson 05 can show its labels directly.
    if any(v == -100 for v in values):
        return [v != -100 for v in values]
    return [bool(v) for v in values]


def show_mask(tokenizer, ids, mask) -> TokenStrip:
    """Show which tokens are trained on: ``mask`` is 0/1 per token, or labels with -100."""
    token_ids = _as_id_list(tokenizer, ids)
    flags = _as_mask(mask, len(token_ids))
    return TokenStrip(_pieces(tokenizer, token_ids), token_ids, _special_ids(tokenizer), flags)
