"""The bundled nano SmolLM2 pair: what the rest of the course relies on.

Fast checks of the shipped assets (ids, templates, loading, one greedy reply) and of the
build's deterministic stages. Training itself is not rerun here; `python -m benchmarks.eval_nano`
measures the models.
"""
from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, LlamaForCausalLM
from transformers.utils import get_json_schema

from course_utils import world
from course_utils.assets import DATA_DIR, TEMPLATES_DIR, model_dir
from scripts.nano import corpus
from scripts.nano import tokenizer as nano_tokenizer
from scripts.nano import train

BASE, INSTRUCT = model_dir("nano-smollm2-base"), model_dir("nano-smollm2-instruct")

SPECIAL_IDS = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2}


@pytest.fixture(scope="module")
def base_tok():
    return AutoTokenizer.from_pretrained(BASE)


@pytest.fixture(scope="module")
def instruct_tok():
    return AutoTokenizer.from_pretrained(INSTRUCT)


@pytest.mark.parametrize("folder", [BASE, INSTRUCT], ids=["base", "instruct"])
def test_special_tokens_have_smollm2_ids_and_stay_single_tokens(folder):
    tok = AutoTokenizer.from_pretrained(folder)
    for token, expected in SPECIAL_IDS.items():
        assert tok.convert_tokens_to_ids(token) == expected
        assert tok(f"a{token}b", add_special_tokens=False).input_ids.count(expected) == 1


def test_base_tokenizer_roles_mirror_smollm2_base(base_tok):
    assert base_tok.bos_token == base_tok.eos_token == base_tok.unk_token == "<|endoftext|>"


def test_instruct_tokenizer_roles_mirror_smollm2_instruct(instruct_tok):
    assert (instruct_tok.bos_token, instruct_tok.eos_token, instruct_tok.pad_token) == (
        "<|im_start|>", "<|im_end|>", "<|im_end|>")
    assert GenerationConfig.from_pretrained(INSTRUCT).eos_token_id == 2


@pytest.mark.parametrize("folder", [BASE, INSTRUCT], ids=["base", "instruct"])
def test_chat_template_is_smollm2_instruct_byte_for_byte(folder):
    expected = (TEMPLATES_DIR / "smollm2_instruct.jinja").read_bytes()
    assert (folder / "chat_template.jinja").read_bytes() == expected


def test_instruct_carries_the_hermes_tool_use_template_by_name(instruct_tok):
    saved = INSTRUCT / "additional_chat_templates" / "tool_use.jinja"
    assert saved.read_bytes() == (TEMPLATES_DIR / "hermes_tool_use.jinja").read_bytes()
    assert set(instruct_tok.chat_template) == {"default", "tool_use"}


def test_tools_argument_picks_the_tool_use_template(instruct_tok, base_tok):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    plain = instruct_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    with_tools = instruct_tok.apply_chat_template(messages, tools=[world.get_weather], tokenize=False,
                                                  add_generation_prompt=True)
    assert plain == base_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert "<tools>" not in plain
    assert '<tools>\n{"name": "get_weather"' in with_tools


def test_weather_tool_has_a_json_schema():
    schema = get_json_schema(world.get_weather)
    assert schema["function"]["name"] == "get_weather"
    assert schema["function"]["parameters"]["required"] == ["city"]
    assert world.get_weather("Paris") == world.get_weather("Paris")  # stable across runs


@pytest.mark.parametrize("folder", [BASE, INSTRUCT], ids=["base", "instruct"])
def test_models_load_with_auto_classes_as_smollm2_family(folder):
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert isinstance(model, LlamaForCausalLM)
    cfg = model.config
    assert cfg.num_key_value_heads < cfg.num_attention_heads  # grouped-query attention, as SmolLM2
    # Untied, unlike SmolLM2, so the weather words stay copyable (scripts/nano/train.py says why).
    assert not cfg.tie_word_embeddings
    assert (folder / "model.safetensors").exists()
    assert cfg.vocab_size == len(AutoTokenizer.from_pretrained(folder))


def test_instruct_answers_a_training_style_question_and_stops(instruct_tok):
    model = AutoModelForCausalLM.from_pretrained(INSTRUCT)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = instruct_tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                              return_dict=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=48, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1]:].tolist()
    assert new[-1] == SPECIAL_IDS["<|im_end|>"], instruct_tok.decode(new)
    assert "Paris" in instruct_tok.decode(new)


def test_data_files_have_the_documented_rows():
    rows = {name: [json.loads(x) for x in (DATA_DIR / name).read_text().splitlines()]
            for name in ["conversations.jsonl", "heldout_questions.jsonl", "weather_heldout.jsonl"]}
    assert len(rows["conversations.jsonl"]) >= 200
    assert all(r["messages"][-1]["role"] == "assistant" for r in rows["conversations.jsonl"])
    assert all({"question", "answer"} <= set(r) for r in rows["heldout_questions.jsonl"])
    assert all(r["city"] in world.CITIES for r in rows["weather_heldout.jsonl"])


# --- The build's deterministic stages ----------------------------------------------------
def test_corpus_and_conversations_are_deterministic_for_a_seed():
    assert corpus.pretraining_documents(7, 300) == corpus.pretraining_documents(7, 300)
    assert corpus.sft_conversations(7, 100) == corpus.sft_conversations(7, 100)
    assert corpus.pretraining_documents(7, 50) != corpus.pretraining_documents(8, 50)


def test_bpe_training_is_deterministic_and_puts_special_tokens_first():
    texts = corpus.pretraining_documents(3, 300) + [corpus.render(c) for c in corpus.sft_conversations(3, 50)]
    first, second = (nano_tokenizer.train_bpe(texts, 600) for _ in range(2))
    assert first.to_str() == second.to_str()
    assert [first.token_to_id(t) for t in SPECIAL_IDS] == [0, 1, 2]


def _every_training_question(cores: set[str]) -> set[str]:
    return {(p + core + s).lower() for core in cores
            for p in set(world.QUESTION_PREFIXES) for s in set(world.QUESTION_SUFFIXES)}


def test_heldout_phrasings_never_occur_in_training_text():
    statements, questions = set(), set()  # every training template filled with every fact
    for fact in world.facts():
        statements |= {fact.fill(t).lower() for t in world.STATEMENTS[fact.kind]}
        questions |= {fact.fill(t) for t in world.QUESTIONS_TRAIN[fact.kind]}
    questions = _every_training_question(questions)
    weather = _every_training_question({t.format(city=c) for t in world.WEATHER_QUESTIONS_TRAIN
                                        for c in world.CITIES})
    for row in corpus.base_heldout_prompts(0, per_kind=1000):
        assert not any(row["prompt"].lower() in sentence for sentence in statements)
    for row in corpus.heldout_questions(0, per_kind=1000):
        assert row["question"].lower() not in questions
    for row in corpus.weather_heldout(0, n=len(world.CITIES) * len(world.WEATHER_QUESTIONS_HELDOUT)):
        assert row["question"].lower() not in weather


def test_sft_labels_cover_each_assistant_reply_and_its_im_end_only(instruct_tok):
    conversation = {"messages": [{"role": "user", "content": "What is 2 plus 3?"},
                                 {"role": "assistant", "content": "2 plus 3 is 5."}]}
    ids, labels = train.sft_example(instruct_tok, corpus.render(conversation))
    trained = [i for i, y in zip(ids, labels) if y != train.IGNORE]
    assert instruct_tok.decode(trained) == "2 plus 3 is 5.<|im_end|>"
