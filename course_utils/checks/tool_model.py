"""A stand-in tool-calling chat model for 06.loop, with `generate()`'s interface.

A real model would make the check slow and let a correct loop fail whenever the model errs;
the stand-in is exact. It decodes the prompt it is given and replies as a well-trained
tool-calling model would, and it honours the `generate()` options a loop can get wrong, as
transformers applies them to a real model:

- the length budget: `max_new_tokens`, else `max_length` minus the prompt, else transformers'
  default of 20 new tokens; a reply longer than the budget is cut;
- the end tokens (`eos_token_id`): a model not told to stop at <|im_end|> writes on past its
  turn;
- sampling: its generation config samples by default, as many chat models ship, so greedy
  decoding must be asked for.

It records every prompt, the messages each prompt was rendered from (`recording_renders`: the
template does not render call ids, so only the messages show a result that is not paired with
its call), and the options of each call, so the check can say which step went wrong.
"""
from __future__ import annotations

import contextlib
import copy
import json
import re
from dataclasses import dataclass

from .failure import CheckFailed

END_OF_TURN = "<|im_end|>"
GENERATION_PROMPT = "<|im_start|>assistant\n"
DEFAULT_NEW_TOKENS = 20  # transformers' model-agnostic default when no length is given
# What a model that is not stopped at the end of its turn writes next: the user's next turn.
WRITES_ON = "\n<|im_start|>user\nThank you!<|im_end|>\n<|im_start|>assistant\nYou are welcome!" * 8


def tool_call_text(name: str, arguments: dict) -> str:
    """One call as Hermes-style models write it."""
    return f'<tool_call>\n{json.dumps({"name": name, "arguments": arguments})}\n</tool_call>'


@dataclass
class Generation:
    """What one `generate()` call asked for and got."""

    do_sample: bool
    budget: int        # new tokens allowed
    needed: int        # new tokens of the whole reply, through <|im_end|>
    stops_at_end: bool  # whether <|im_end|> is among the end tokens


class ToolCallingModel:
    """Replies from the last turn of the prompt: a user question about the weather and/or a
    capital becomes a Hermes tool call for each (several calls in one reply, as trained models
    write them, when the question asks two things), the tool results that follow its last reply
    become "The tool says: <result>." (or "The tools say: <a>; <b>."), and anything else gets a
    greeting. With `always_call=True` it never stops calling tools, to test the step limit.
    """

    def __init__(self, tokenizer, always_call: bool = False):
        import torch
        from transformers import GenerationConfig

        self.tokenizer, self.always_call = tokenizer, always_call
        self.device = torch.device("cpu")
        self.end_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        self.generation_config = GenerationConfig(eos_token_id=self.end_id, do_sample=True)
        self.prompts: list[str] = []
        self.generations: list[Generation] = []
        # The messages of the last apply_chat_template call (set by recording_renders), and
        # those each generate() call's prompt came from.
        self.rendered: list | None = None
        self.histories: list[list | None] = []

    def generate(self, input_ids=None, attention_mask=None, inputs=None, **kwargs):
        import torch

        ids = input_ids if input_ids is not None else inputs
        if hasattr(ids, "keys"):  # model.generate(inputs) with a BatchEncoding
            ids = ids["input_ids"]
        prompt = self.tokenizer.decode(ids[0], skip_special_tokens=False)
        self.prompts.append(prompt)
        self.histories.append(self.rendered)
        reply = self.reply(prompt) + END_OF_TURN
        needed = len(self.tokenizer(reply, add_special_tokens=False)["input_ids"])
        generation = self._options(kwargs, ids.shape[1], needed)
        self.generations.append(generation)
        if not generation.stops_at_end:
            reply += WRITES_ON
        new_ids = self.tokenizer(reply, add_special_tokens=False, return_tensors="pt")["input_ids"]
        return torch.cat([ids, new_ids[:, : generation.budget].to(ids.device)], dim=1)

    def _options(self, kwargs: dict, prompt_length: int, needed: int) -> Generation:
        """The options in effect as transformers resolves them: a keyword argument, else the
        `generation_config` passed, else the model's own (a value left None falls through)."""
        passed = kwargs.get("generation_config")
        sources = (kwargs, vars(passed) if passed is not None else {}, vars(self.generation_config))

        def option(name):
            return next((source[name] for source in sources if source.get(name) is not None), None)

        budget = option("max_new_tokens")
        if budget is None:
            max_length = option("max_length")
            budget = DEFAULT_NEW_TOKENS if max_length is None else max_length - prompt_length
        stops = option("eos_token_id")
        stops = [stops] if isinstance(stops, int) else list(stops or [])
        return Generation(bool(option("do_sample")), max(budget, 0), needed, self.end_id in stops)

    def reply(self, prompt: str) -> str:
        turns = prompt.removesuffix(GENERATION_PROMPT).split("<|im_start|>")
        role, _, content = turns[-1].partition("\n")
        offered = re.findall(r'"name": "(\w+)"', prompt.split("</tools>")[0]) if "<tools>" in prompt else []
        if self.always_call:
            return tool_call_text("get_weather", {"city": "Oslo"})
        if role == "tool":
            since_reply = prompt.removesuffix(GENERATION_PROMPT).rpartition("<|im_start|>assistant\n")[2]
            results = re.findall(r"<tool_response>\n(.*?)\n</tool_response>", since_reply, re.DOTALL)
            if len(results) > 1:
                return f"The tools say: {'; '.join(results)}."
            return f"The tool says: {results[0] if results else content.strip()}."
        calls = []
        for name, pattern in (("get_weather", r"weather in (\w+)"), ("get_capital", r"capital of (\w+)")):
            asked = re.search(pattern, content)
            if asked and name in offered:
                key = "city" if name == "get_weather" else "country"
                calls.append(tool_call_text(name, {key: asked.group(1)}))
        if calls:
            return "\n".join(calls)
        return "I have no tool for that." if "weather" in content else "Hello! How can I help you today?"


@contextlib.contextmanager
def recording_renders(tokenizer, model: ToolCallingModel):
    """While the learner's loop runs, each `tokenizer.apply_chat_template` call leaves a copy of
    its messages on `model` (the loop may change its list after rendering)."""
    render = tokenizer.apply_chat_template

    def recording(*args, **kwargs):
        model.rendered = copy.deepcopy(args[0] if args else kwargs.get("conversation"))
        return render(*args, **kwargs)

    tokenizer.apply_chat_template = recording
    try:
        yield
    finally:
        del tokenizer.apply_chat_template


def expect_generation_options(model: ToolCallingModel, shown: str) -> None:
    """Fail at the first `generate()` call that sampled, cut the reply short, or did not stop."""
    for step, generation in enumerate(model.generations, 1):
        if generation.do_sample:
            raise CheckFailed(f"{shown} sampled at step {step}: this model's generation config has "
                              "do_sample=True; generate greedily with do_sample=False")
        if not generation.stops_at_end:
            raise CheckFailed(f"{shown}: at step {step}, model.generate was not told to stop at {END_OF_TURN}, "
                              "so the model wrote on past its turn; leave eos_token_id to the model's generation "
                              f"config or give it {END_OF_TURN}'s id")
        if generation.budget < generation.needed:
            raise CheckFailed(f"{shown}: at step {step}, the model's reply was cut after {generation.budget} new "
                              f"tokens (the whole reply takes {generation.needed}); give model.generate a "
                              "max_new_tokens that holds a reply with two tool calls, e.g. 96")
