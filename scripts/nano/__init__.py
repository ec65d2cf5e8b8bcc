"""The pieces of `scripts/build_nano.py`: corpus, tokenizer, model and training.

Read them in that order; each is one stage of making the nano SmolLM2 pair.
"""
