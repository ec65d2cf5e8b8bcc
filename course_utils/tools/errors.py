"""The one base class of every error a tool call can raise, apart so both checkers can share it.

`parsing.py` raises `MalformedToolCall` (the reply cannot be read) and `validation.py` raises
`UnknownTool` and `InvalidArguments` (it was read, but does not fit a schema). `parsing` calls
`validation`, so the base cannot live in `parsing` without an import cycle.
"""
from __future__ import annotations

__all__ = ["ToolCallError"]


class ToolCallError(ValueError):
    """A tool call that cannot run. Its message is written for the model, which reads it as the
    call's `tool` message and can then try again."""
