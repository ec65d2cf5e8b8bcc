"""The response template that lets transformers parse a SmolLM2 / nano-model reply.

A chat template turns messages into text; a *response template* goes the other way: it tells
transformers' response parser (`tokenizer.parse_response(reply, schema, prefix=...)`, or
`transformers.utils.chat_parsing.parse_response(reply, template, prefix=...)`) which parts of
a generated reply become which keys of an assistant message. Tokenizers of models trained on
tool calls ship one (as `tokenizer.response_template`); SmolLM2's and the nano model's do not,
so the course writes it here. Lesson 07 has learners write the same dict themselves.

The reply it reads is what `assets/templates/hermes_tool_use.jinja` renders for an assistant
turn and what the nano model generates: after `<|im_start|>assistant\\n`, either text or one
or more `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>` blocks, then
`<|im_end|>`. SmolLM2 does not think, so there is no `reasoning_content` field (compare TRL's
`trl.chat_template_utils.qwen3_template`, which has one and is otherwise the same).

What the parser does *not* check (a tag without its partner, the shape of a call, the tool's
schema) is `parsing.py`'s job.
"""
from __future__ import annotations

__all__ = ["HERMES_RESPONSE_TEMPLATE"]

HERMES_RESPONSE_TEMPLATE = {
    # Every parsed message starts from these keys.
    "defaults": {"role": "assistant"},
    # The generation prompt ends here: given a prompt as `prefix=`, the parser reads from the
    # last occurrence of this anchor on.
    "start_anchor": "<|im_start|>assistant\n",
    "fields": {
        # Each <tool_call> block is parsed as JSON, and `transform` wraps it the way chat
        # templates read calls: {"type": "function", "function": {"name": ..., "arguments": ...}}.
        # `repeats` makes the field a list, one entry per block. `\s*` swallows the newline
        # the template writes between two calls, so that it does not count as content.
        "tool_calls": {
            "open": "<tool_call>",
            "close_pattern": r"</tool_call>\s*",
            "repeats": True,
            "content": "json",
            "transform": {"type": "function", "function": "{content}"},
        },
        # No `open`: whatever is outside the tool calls is the message's text, up to the end
        # of the turn.
        "content": {"close_pattern": r"<\|im_end\|>\s*", "content": "text"},
    },
}
