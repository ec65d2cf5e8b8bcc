"""The tokenizers and models the checks compare against, loaded once per kernel, silently.

Online they are SmolLM2-135M(-Instruct); offline the nano stand-ins (see `models.resolve`).
Loading prints which copy is used; a check prints only its verdict, so that line is dropped.
"""
from __future__ import annotations

import functools

from ..models import BASE_ID, INSTRUCT_ID, load_model, load_tokenizer
from ..quiet import silenced


@functools.lru_cache(maxsize=2)
def tokenizer_for(hub_id: str = INSTRUCT_ID):
    with silenced():
        return load_tokenizer(hub_id)


@functools.lru_cache(maxsize=2)
def model_for(hub_id: str = INSTRUCT_ID):
    with silenced():
        return load_model(hub_id)


def course_tokenizer():
    """The instruct tokenizer, the one every lesson formats conversations with."""
    return tokenizer_for(INSTRUCT_ID)


def instruct_pair():
    """(tokenizer, model) of the instruct model."""
    return tokenizer_for(INSTRUCT_ID), model_for(INSTRUCT_ID)


def base_pair():
    """(tokenizer, model) of the base model."""
    return tokenizer_for(BASE_ID), model_for(BASE_ID)
