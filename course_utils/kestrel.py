"""Kestrel: a chat format the course made up, so that lesson 07's capstone is a format no model
and no lesson shows. Learners get its spec and these reference renderings, and write its
template, its training twin and its response template (exercises 07.kestrel*).

Every message is ``<|msg|>{role}\\n{body}<|eom|>``, with nothing between messages; an assistant's
body is its reasoning, its content, then its tool calls::

    <|msg|>user
    Weather in Oslo?<|eom|><|msg|>assistant
    <|think|>Ask the tool.<|/think|><|call|>{"name": "get_weather", "arguments": {"city": "Oslo"}}<|/call|><|eom|>

- ``KESTREL_TOKENS``: its six control tokens; ``GENERATION_PROMPT``: ``<|msg|>assistant\\n``.
- ``KESTREL_TEMPLATE``, ``KESTREL_TRAINING_TEMPLATE``: the reference templates
  (``assets/templates/kestrel*.jinja``). The inference template drops the reasoning of turns
  before the last user message, as Qwen3's does; the training twin keeps every turn's reasoning
  (so it is prefix-preserving) and wraps what the assistant writes in ``{% generation %}``.
- ``kestrel_conversations()``: the conversations the 07.kestrel* checks use, by name.
- ``render_kestrel(messages, training=False, **options)``: a reference rendering.
- ``kestrel_tokenizer(tokenizer, template)``: a copy that knows the six tokens and renders with
  ``template`` (TRL's checks need the end-of-turn token in the tokenizer's added vocabulary).
"""
from __future__ import annotations

from .assets import read_template
from .conversations import conversations
from .families import with_chat_template
from .templates import render_template

__all__ = [
    "KESTREL_TOKENS", "GENERATION_PROMPT", "KESTREL_TEMPLATE", "KESTREL_TRAINING_TEMPLATE", "KESTREL_GROUPS",
    "kestrel_conversations", "render_kestrel", "kestrel_tokenizer",
]

KESTREL_TOKENS = ("<|msg|>", "<|eom|>", "<|think|>", "<|/think|>", "<|call|>", "<|/call|>")
"""Message start, end of message (the stop token), reasoning open/close, tool call open/close."""

GENERATION_PROMPT = "<|msg|>assistant\n"

KESTREL_TEMPLATE = read_template("kestrel.jinja")
KESTREL_TRAINING_TEMPLATE = read_template("kestrel_training.jinja")

KESTREL_GROUPS = ("reasoning and tools", "alternating", "empty system", "surrounding whitespace", "other roles")
"""Groups of `course_utils.conversations` that Kestrel renders: tool use with reasoning first, then
plain chats. (Content blocks are not part of the format.)"""


def kestrel_conversations() -> dict[str, list[dict]]:
    """Every conversation the Kestrel checks render, by name (fresh copies on each call).

    Example:
        >>> "parallel calls, dict and string arguments" in kestrel_conversations()
        True
    """
    return dict(conversations(*KESTREL_GROUPS))


def render_kestrel(messages, *, training: bool = False, **options) -> str:
    """The reference rendering of ``messages`` in Kestrel (``training=True``: the training twin's).

    ``options`` are ``render_template``'s, e.g. ``add_generation_prompt=True``.

    Example:
        >>> render_kestrel([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
        '<|msg|>user\\nHi<|eom|><|msg|>assistant\\n'
    """
    template = KESTREL_TRAINING_TEMPLATE if training else KESTREL_TEMPLATE
    return render_template(template, messages, **options)


def kestrel_tokenizer(tokenizer, template: str = KESTREL_TEMPLATE):
    """A deep copy of ``tokenizer`` with Kestrel's tokens added (one id each) and ``template`` set.

    The original is untouched. Each control token must be one token: the assistant mask is
    token-granular, and TRL's ``is_chat_template_stop_token_trained`` looks for the end-of-turn
    token among the tokenizer's added tokens.
    """
    return with_chat_template(tokenizer, template, KESTREL_TOKENS)
