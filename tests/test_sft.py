"""course_utils.sft: the SFT machinery of lesson 05, proven on CPU in seconds.

Hardware decisions are tested with mocked capabilities (no GPU here); training, saving and
evaluation run on the bundled nano SmolLM2 pair.
"""
from __future__ import annotations

import json
from unittest import mock

import pytest
import torch

from course_utils import sft
from course_utils.conversations import PLAIN_GROUPS, conversations
from course_utils.sft import config as sft_config
from course_utils.sft import data as sft_data
from course_utils.sft import estimates
from course_utils.templates import render_template

IM_END = "<|im_end|>"


@pytest.fixture(scope="module")
def nano_base_path():
    from course_utils.models import nano_path

    return nano_path("nano-smollm2-base")


@pytest.fixture
def nano_tokenizer(nano_base_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(nano_base_path)


def gpu_bf16_available():
    """TrainingArguments refuses bf16=True without an Ampere GPU; pretend one is here."""
    return mock.patch("transformers.training_args.is_torch_bf16_gpu_available", return_value=True)


# --- the training template ------------------------------------------------------------------

@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_training_template_renders_byte_identical_to_smollm2(add_generation_prompt):
    inference, training = sft.inference_template(), sft.training_template()
    assert "{% generation %}" in training and "{% generation %}" not in inference
    # Every plain-text conversation SmolLM2's template renders (content blocks and tool calls it cannot).
    for name, messages in conversations(*PLAIN_GROUPS, "non-alternating"):
        expected = render_template(inference, messages, add_generation_prompt=add_generation_prompt)
        got = render_template(training, messages, add_generation_prompt=add_generation_prompt)
        assert got == expected, name


def test_assistant_mask_covers_each_reply_and_its_im_end_exactly(nano_tokenizer):
    messages = [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "What is the capital of Peru?"},
                {"role": "assistant", "content": "The capital of Peru is Lima."},
                {"role": "user", "content": "And 2 + 3?"},
                {"role": "assistant", "content": "2 + 3 = 5."}]
    out = sft.tokenize_for_training(nano_tokenizer, messages)
    spans, current = [], []
    for token_id, trained in zip(out["input_ids"], out["assistant_masks"]):
        if trained:
            current.append(token_id)
        elif current:
            spans.append(nano_tokenizer.decode(current)); current = []
    assert spans == ["The capital of Peru is Lima.<|im_end|>", "2 + 3 = 5.<|im_end|>"]


def test_trl_refuses_smollm2_template_but_accepts_the_training_one(nano_tokenizer):
    from trl.chat_template_utils import get_training_chat_template, is_chat_template_stop_token_trained

    tokenizer = nano_tokenizer
    tokenizer.chat_template = sft.inference_template()
    with pytest.raises(ValueError, match="generation"):
        get_training_chat_template(tokenizer)  # why smollm2_training.jinja exists
    assert is_chat_template_stop_token_trained(tokenizer, chat_template=sft.training_template())


# --- data -----------------------------------------------------------------------------------

def test_smoltalk_row_keeps_only_roles_and_contents():
    row = {"full_topic": "Travel/Packing", "messages": [
        {"role": "user", "content": "Hi", "extra": 1}, {"role": "assistant", "content": "Hello!"}]}
    assert sft.to_sft_format(row) == {"messages": [{"role": "user", "content": "Hi"},
                                                   {"role": "assistant", "content": "Hello!"}]}


def test_sharegpt_row_maps_speakers_to_roles():
    row = {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"},
                             {"from": "gpt", "value": "Hello!"}]}
    assert [m["role"] for m in sft.to_sft_format(row)["messages"]] == ["system", "user", "assistant"]


@pytest.mark.parametrize("row, error", [({"conversations": [{"from": "bot", "value": "x"}]}, "bot"),
                                        ({"text": "plain"}, "messages")])
def test_unusable_rows_are_refused_with_the_reason(row, error):
    with pytest.raises((KeyError, ValueError), match=error):
        sft.to_sft_format(row)


def test_labels_are_ids_inside_the_mask_and_minus_100_outside():
    assert sft.make_labels([1, 9, 8, 2, 7], [0, 1, 1, 1, 0]) == [-100, 9, 8, 2, -100]
    with pytest.raises(ValueError, match="3 ids but 2"):
        sft.make_labels([1, 2, 3], [1, 1])


def test_offline_data_is_the_bundled_conversations_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    dataset = sft.load_sft_data(limit=5)
    assert len(dataset) == 5 and dataset.column_names == ["messages"]
    first = json.loads(sft_data.BUNDLED_CONVERSATIONS.read_text().splitlines()[0])
    assert dataset[0] == sft.to_sft_format(first)
    assert "bundled nano conversations" in capsys.readouterr().out
    questions = sft.load_eval_questions(limit=3)
    assert len(questions) == 3 and all(q.answer for q in questions)


# --- hardware decisions ---------------------------------------------------------------------

def test_precision_follows_capability_never_is_bf16_supported():
    with mock.patch("torch.cuda.is_bf16_supported", return_value=True), gpu_bf16_available():
        t4 = sft.sft_config_for((7, 5), output_dir="/tmp/unused")
        a100 = sft.sft_config_for((8, 0), output_dir="/tmp/unused")
        h100 = sft.sft_config_for((9, 0), output_dir="/tmp/unused")
    cpu = sft.sft_config_for(None, output_dir="/tmp/unused")
    assert (t4.fp16, t4.bf16) == (True, False)
    assert (a100.fp16, a100.bf16) == (False, True) and (h100.fp16, h100.bf16) == (False, True)
    assert (cpu.fp16, cpu.bf16, cpu.use_cpu) == (False, False, True)


@pytest.mark.parametrize("capability", [None, (7, 5), (8, 0), (9, 0)])
def test_every_config_trains_assistant_only_on_bfd_packs_and_stops_at_im_end(capability):
    with gpu_bf16_available():
        config = sft.sft_config_for(capability, output_dir="/tmp/unused")
    assert config.assistant_only_loss and config.packing and config.packing_strategy == "bfd"
    assert config.eos_token == IM_END
    assert "{% generation %}" in open(config.chat_template_path).read()


def test_t4_trains_135m_without_checkpointing_one_pack_per_forward():
    plan = sft.plan_training((7, 5), varlen_attention=False)
    assert plan.precision == "fp16" and plan.attn_implementation == "sdpa"
    assert plan.per_device_train_batch_size == 1 and not plan.gradient_checkpointing
    assert plan.tokens_per_step == sft_config.GPU_TOKENS_PER_STEP
    assert estimates.fit_method(estimates.SMOLLM2["135M"], 15.0, plan.max_length) == estimates.FULL_FT


def test_flash_attention_packs_several_conversations_per_forward():
    plan = sft.plan_training((9, 0), gpu_memory_gb=80, varlen_attention=True)
    assert plan.attn_implementation == "flash_attention_2"
    assert plan.per_device_train_batch_size == sft_config.MAX_PACKS_PER_FORWARD
    assert plan.gradient_accumulation_steps == 1


def test_checkpointing_only_where_memory_requires_it_and_lora_beyond():
    big = estimates.SMOLLM2["1.7B"]
    assert not sft.plan_training((9, 0), shape=big, gpu_memory_gb=80, varlen_attention=True).gradient_checkpointing
    assert sft.plan_training((8, 0), shape=big, gpu_memory_gb=40, varlen_attention=True).gradient_checkpointing
    with pytest.raises(sft.NeedsLoRA, match="LoRA"):
        sft.plan_training((7, 5), shape=big, gpu_memory_gb=15)


def test_cpu_plan_packs_one_row_per_step_attended_per_conversation():
    from course_utils.sft.attention import SEGMENT_SDPA

    plan = sft.plan_training(None)
    assert plan.device == "cpu" and plan.precision == "fp32"
    assert plan.per_device_train_batch_size == 1 and plan.attn_implementation == SEGMENT_SDPA
    assert not plan.gradient_checkpointing


def test_config_sets_checkpointing_through_its_new_name_without_a_warning(recwarn):
    config = sft.sft_config_for(None, output_dir="/tmp/unused")
    assert config.activation_checkpointing is False and config.gradient_checkpointing is False
    assert not [w for w in recwarn if "gradient_checkpointing" in str(w.message)]


# --- estimates ------------------------------------------------------------------------------

def test_smollm2_135m_shape_gives_its_published_parameter_count():
    assert estimates.SMOLLM2["135M"].n_params == 134_515_008


def test_full_fine_tuning_memory_is_16_bytes_per_parameter():
    assert estimates.full_ft_memory_gb(1_000_000_000) == pytest.approx(16.0)


def test_estimate_table_marks_lora_where_full_fine_tuning_cannot_fit():
    rows = {(r["model"], r["gpu"]): r for r in estimates.estimate_rows()}
    assert rows[("SmolLM2-1.7B", "T4 (Colab)")]["method"] == estimates.NEEDS_LORA
    assert rows[("SmolLM2-135M", "T4 (Colab)")]["method"] == estimates.FULL_FT
    assert "Estimates" in str(sft.estimate_table())


def test_mfu_is_model_flops_over_peak():
    shape = estimates.SMOLLM2["135M"]
    per_token = 6 * shape.n_params + 12 * shape.layers * shape.hidden * 2048
    assert estimates.mfu(1e5, shape, 2048, 989.0) == pytest.approx(1e5 * per_token / 989e12)
    assert estimates.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert estimates.peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert estimates.peak_tflops("Some CPU") is None


# --- evaluation -----------------------------------------------------------------------------

class BatchScript:
    """Stands in for a causal LM in batched greedy generation: row i continues with script[i]
    up to its first stop id; finished rows are padded with `pad_token_id`, as transformers does."""

    device = torch.device("cpu")
    training = False

    def __init__(self, script, eos_token_id=2):
        self.script = script
        self.generation_config = mock.Mock(eos_token_id=eos_token_id)

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def generate(self, input_ids, attention_mask, max_new_tokens, pad_token_id, do_sample):
        assert do_sample is False and attention_mask.shape == input_ids.shape
        eos = self.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos])
        rows = []
        for row in self.script[: len(input_ids)]:
            row = row[:max_new_tokens]
            end = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
            rows.append(row[:end])
        width = max(len(r) for r in rows)
        new = torch.tensor([r + [pad_token_id] * (width - len(r)) for r in rows])
        return torch.cat([input_ids, new], dim=1)


def test_only_a_first_stop_on_im_end_counts_even_when_padding_is_im_end(nano_tokenizer):
    im_end, eot = nano_tokenizer.convert_tokens_to_ids([IM_END, "<|endoftext|>"])
    word = nano_tokenizer.encode(" Lima.", add_special_tokens=False)
    nano_tokenizer.pad_token = IM_END  # what SFTTrainer leaves behind: pad = eos = <|im_end|>
    model = BatchScript([word + [im_end], word + [eot], word * 20], eos_token_id=[im_end, eot])
    replies = sft.generate_replies(model, nano_tokenizer, ["a", "b", "c"], max_new_tokens=8)
    assert [g.stopped_by for g in replies] == [IM_END, "<|endoftext|>", None]
    assert replies[0].reply == "Lima." and replies[1].new_ids == word + [eot]
    assert sft.stop_rate(model, nano_tokenizer, ["a", "b", "c"], max_new_tokens=8) == pytest.approx(1 / 3)


def test_a_base_model_that_writes_im_end_but_does_not_stop_has_not_ended_its_turn(nano_tokenizer):
    im_end, eot = nano_tokenizer.convert_tokens_to_ids([IM_END, "<|endoftext|>"])
    word = nano_tokenizer.encode(" Lima.", add_special_tokens=False)
    model = BatchScript([word + [im_end] + word * 10], eos_token_id=eot)  # a base model's config
    reply = sft.generate_replies(model, nano_tokenizer, ["a"], max_new_tokens=12)[0]
    assert reply.stopped_by is None and not reply.ended_turn and len(reply.new_ids) == 12


def test_prompts_are_rendered_with_the_generation_prompt(nano_tokenizer):
    seen = []

    class Recorder(BatchScript):
        def generate(self, input_ids, **kwargs):
            masks = kwargs["attention_mask"].bool()
            seen.extend(nano_tokenizer.decode(row[mask]) for row, mask in zip(input_ids, masks))
            return super().generate(input_ids, **kwargs)

    sft.generate_replies(Recorder([[2]]), nano_tokenizer, ["What is 2 plus 2?"])
    assert seen[0].endswith("<|im_start|>user\nWhat is 2 plus 2?<|im_end|>\n<|im_start|>assistant\n")


# --- before/after: a reply's ending and its answer are marked apart (issue 18) ---------------

def _reply(text: str, stopped_by: str | None):
    from course_utils.generation import Generation

    return Generation(prompt="p", new_ids=[7] * 5, text=text + (stopped_by or ""), reply=text,
                      stopped_by=stopped_by, max_new_tokens=64)


def test_before_after_marks_a_well_ended_wrong_answer_as_ended_and_wrong():
    from course_utils.generation import MARKS_LEGEND
    from course_utils.sft.evaluate import Evaluation

    questions = [sft_data.EvalQuestion("Could you tell me what Canada's capital is?", "Ottawa", "capital"),
                 sft_data.EvalQuestion("Tell me a joke.")]  # no known answer: no answer mark
    before = Evaluation("base", questions, [_reply("1°C and rainy", "<|endoftext|>"), _reply("Ha", None)])
    after = Evaluation("after SFT", questions, [_reply("The capital of Switzerland is Bern.", IM_END),
                                                _reply("Why did the chicken cross the road?", IM_END)])
    table = sft.before_after(before, after)
    lines = str(table).splitlines()
    assert f"marks: {MARKS_LEGEND}" in lines
    assert "  after SFT: 'The capital of Switzerland is Bern.<|im_end|>' " \
           "[⏹ ended its turn with <|im_end|> after 5 tokens] [❌ wrong answer (expected Ottawa)]" in lines
    assert lines[-1] == "  after SFT: 'Why did the chicken cross the road?<|im_end|>' " \
                        "[⏹ ended its turn with <|im_end|> after 5 tokens]"
    assert "✅" not in "\n".join(lines[3:]), "nothing here is right, and ending a turn is never a ✅"
    html = table._repr_html_()
    assert "❌ wrong answer (expected Ottawa)" in html and "not whether the answer is right" in html


# --- a real, short SFT of the nano base -------------------------------------------------------

SFT_STEPS = 60


@pytest.fixture(scope="module")
def trained(tmp_path_factory, nano_base_path):
    """One short SFT of the nano base, shared by the tests that look at its result."""
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(nano_base_path)
    model = AutoModelForCausalLM.from_pretrained(nano_base_path)
    with mock.patch.dict("os.environ", {"COURSE_OFFLINE": "1"}):
        questions = sft.load_eval_questions(limit=24)
        dataset = sft.load_sft_data()
    before = sft.evaluate(model, tokenizer, questions, "base")
    out = tmp_path_factory.mktemp("sft")
    config = sft.sft_config_for(None, model=model, output_dir=str(out / "run"), max_steps=SFT_STEPS)
    trainer = sft.build_trainer(model, tokenizer, dataset, config, live_plot=False)
    trainer.train()
    after = sft.evaluate(trainer.model, tokenizer, questions, "sft")
    saved = sft.save_for_chat(trainer, out / "chat")
    return SimpleNamespace(trainer=trainer, tokenizer=tokenizer, questions=questions,
                           before=before, after=after, saved=saved)


@pytest.mark.slow
def test_sft_teaches_the_base_to_end_its_turn(trained):
    assert trained.before.stop_rate <= 0.1, trained.before.summary()
    assert trained.after.stop_rate >= 0.9, trained.after.summary()


@pytest.mark.slow
def test_loss_falls_and_the_monitor_records_it_without_a_plot_outside_notebooks(trained):
    history = trained.trainer.monitor.history
    assert len(history) >= 5 and history[-1][0] == SFT_STEPS
    assert history[-1][1] < 0.5 * history[0][1]
    assert trained.trainer.monitor.plot is None


@pytest.mark.slow
def test_saved_model_has_smollm2_template_and_stops_at_im_end(trained):
    from transformers import AutoTokenizer, GenerationConfig

    assert (trained.saved / "chat_template.jinja").read_text() == sft.inference_template()
    tokenizer = AutoTokenizer.from_pretrained(trained.saved)
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    assert tokenizer.eos_token == IM_END
    assert im_end in GenerationConfig.from_pretrained(trained.saved).eos_token_id


@pytest.mark.slow
def test_reloaded_model_chats_through_the_pipeline(trained):
    from transformers import pipeline

    chat = pipeline("text-generation", model=str(trained.saved), device="cpu")
    out = chat([{"role": "user", "content": trained.questions[0].question}], max_new_tokens=32, do_sample=False)
    reply = out[0]["generated_text"][-1]
    assert reply["role"] == "assistant" and reply["content"].strip()
    assert reply["content"].strip() == trained.after.generations[0].reply


@pytest.mark.slow
def test_batched_replies_equal_one_at_a_time_replies(trained):
    from course_utils.generation import generate_text

    model, tokenizer = trained.trainer.model, trained.tokenizer
    batched = trained.after.generations[:6]
    for question, generation in zip(trained.questions[:6], batched):
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": question.question}],
                                               add_generation_prompt=True, tokenize=False)
        alone = generate_text(model, tokenizer, prompt, max_new_tokens=generation.max_new_tokens)
        assert alone.new_ids[: len(generation.new_ids)] == generation.new_ids


# --- the monitor in a notebook --------------------------------------------------------------

def test_monitor_in_a_notebook_redraws_one_plot_per_log():
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from course_utils.sft import monitor as monitor_module

    handle = mock.Mock()
    with mock.patch.object(monitor_module, "in_notebook", return_value=True), \
         mock.patch("IPython.display.display", return_value=handle) as display:
        monitor = sft.TrainingMonitor()
        state, control = TrainerState(max_steps=3), TrainerControl()
        args = TrainingArguments(output_dir="/tmp/unused", report_to="none", use_cpu=True)
        monitor.on_train_begin(args, state, control)
        for step, loss in [(1, 3.0), (2, 2.0), (3, 1.0)]:
            state.global_step = step
            monitor.on_step_end(args, state, control)
            monitor.on_log(args, state, control, logs={"loss": loss})
        monitor.on_train_end(args, state, control)
    assert display.call_count == 1 and handle.update.call_count == 4  # 3 logs, then the end
    shown = handle.update.call_args.args[0]  # a PNG, not a Figure that needs pyplot's formatter
    assert shown.format == "png" and shown.data.startswith(b"\x89PNG")
    assert monitor.history == [(1, 3.0), (2, 2.0), (3, 1.0)]
    assert list(monitor.plot.axes.lines[0].get_ydata()) == [3.0, 2.0, 1.0]
    assert monitor.plot.axes.get_title().endswith("step 3/3 · done")
    assert monitor.bar is None  # no widget bar: a saved notebook would show it stuck at 0%


# --- preparing a loaded model for training ----------------------------------------------------

def test_prepare_model_gives_mixed_precision_fp32_master_weights(nano_base_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(nano_base_path, dtype=torch.float16).eval()
    prepared = sft.prepare_model(model, sft.sft_config_for(None, output_dir="/tmp/unused"))
    assert {p.dtype for p in prepared.parameters()} == {torch.float32} and prepared.training


def test_prepare_model_switches_to_flash_attention_only_where_it_is_usable():
    from course_utils.sft import train as sft_train

    model = mock.Mock()
    model.parameters.return_value = [torch.zeros(1)]
    model.config._attn_implementation = "sdpa"
    model.float.return_value = model
    gpu_config = mock.Mock(use_cpu=False)
    with mock.patch.object(sft_config, "detect_capability", return_value=(9, 0)), \
         mock.patch.object(sft_config, "has_varlen_attention", return_value=True):
        sft_train.prepare_model(model, gpu_config)
    model.set_attn_implementation.assert_called_once_with("flash_attention_2")
    model.reset_mock()
    with mock.patch.object(sft_config, "detect_capability", return_value=(7, 5)), \
         mock.patch.object(sft_config, "has_varlen_attention", return_value=False):
        sft_train.prepare_model(model, gpu_config)
    model.set_attn_implementation.assert_not_called()


# --- per-conversation attention on CPU --------------------------------------------------------

def packed_row(lengths):
    """One padding-free row of conversations of these lengths, as TRL's collator builds it."""
    ids = torch.randint(3, 1000, (1, sum(lengths)), generator=torch.Generator().manual_seed(0))
    positions = torch.cat([torch.arange(n) for n in lengths])[None]
    bounds = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)
    return ids, dict(position_ids=positions, cu_seq_lens_q=bounds, cu_seq_lens_k=bounds,
                     max_length_q=max(lengths), max_length_k=max(lengths), use_cache=False)


def test_segment_attention_equals_each_conversation_run_alone(nano_base_path):
    from transformers import AutoModelForCausalLM

    from course_utils.sft import attention

    model = AutoModelForCausalLM.from_pretrained(nano_base_path)
    model.set_attn_implementation(attention.enable())
    lengths = [5, 17, 9]
    ids, packing = packed_row(lengths)
    packed = model(input_ids=ids, **packing).logits
    starts = [0, 5, 22, 31]
    alone = torch.cat([model(input_ids=ids[:, s:e], use_cache=False).logits for s, e in zip(starts, starts[1:])], 1)
    assert torch.allclose(packed, alone, atol=1e-5)


def test_segment_attention_without_boundaries_is_sdpa(nano_base_path):
    from transformers import AutoModelForCausalLM

    from course_utils.sft import attention

    model = AutoModelForCausalLM.from_pretrained(nano_base_path)
    ids = torch.randint(3, 1000, (2, 12), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[0, :4] = 0  # left padding, as in batched generation
    reference = model(input_ids=ids, attention_mask=mask).logits
    model.set_attn_implementation(attention.enable())
    assert torch.equal(model(input_ids=ids, attention_mask=mask).logits, reference)


def test_cpu_training_attends_per_conversation(nano_base_path):
    from transformers import AutoModelForCausalLM

    from course_utils.sft import attention

    model = AutoModelForCausalLM.from_pretrained(nano_base_path)
    prepared = sft.prepare_model(model, sft.sft_config_for(None, output_dir="/tmp/unused"))
    assert prepared.config._attn_implementation == attention.SEGMENT_SDPA
