"""Training plans sized to the data actually loaded, and the CPU's time budget (sft.sizing).

The rules are checked on plans for simulated devices (no GPU here); one slow test trains the
nano base with each GPU plan's step sizing on CPU and measures the held-out stop rate.
"""
from __future__ import annotations

import dataclasses
import math
from unittest import mock

import pytest

from course_utils import sft
from course_utils.sft import config as sft_config
from course_utils.sft import estimates, sizing

NANO_DATA_TOKENS = 25_389       # the 400 bundled conversations, training template, nano tokenizer
SMOLTALK_TOKENS = 600_000       # smoltalk everyday-conversations: ~3,000 CPU-recipe steps over 5 epochs
SMOLLM2_135M = estimates.SMOLLM2["135M"]
# (capability, GPU memory, FlashAttention 2 usable): the Colab T4, an A100 40GB, an H100 80GB.
GPUS = {"T4": ((7, 5), 15.0, False), "A100": ((8, 0), 40.0, True), "H100": ((9, 0), 80.0, True)}
DEVICES = {"CPU": (None, None, None), **GPUS}


@pytest.fixture(scope="module")
def nano_base_path():
    from course_utils.models import nano_path

    return nano_path("nano-smollm2-base")


@pytest.fixture(scope="module")
def nano_shape(nano_base_path):
    from transformers import AutoConfig

    return sft.shape_of(AutoConfig.from_pretrained(nano_base_path))


@pytest.fixture(scope="module")
def bundled(nano_base_path):
    """The nano tokenizer and the bundled conversations, as a learner offline gets them."""
    from transformers import AutoTokenizer

    with mock.patch.dict("os.environ", {"COURSE_OFFLINE": "1"}):
        return AutoTokenizer.from_pretrained(nano_base_path), sft.load_sft_data()


@pytest.fixture(autouse=True)
def two_threads():
    """CPU time estimates scale with torch's threads: pin them, so plans do not depend on the machine."""
    with mock.patch("torch.get_num_threads", return_value=2):
        yield


def plan_for(device: str, shape, data_tokens=None, **kwargs):
    capability, memory_gb, varlen = DEVICES[device]
    if capability is None:
        return sft.plan_training(None, shape=shape, data_tokens=data_tokens, **kwargs)
    return sft.plan_training(capability, shape=shape, data_tokens=data_tokens, gpu_memory_gb=memory_gb,
                             varlen_attention=varlen, **kwargs)


# --- counting the data ----------------------------------------------------------------------

def test_training_tokens_are_what_sft_trainer_tokenizes(bundled, nano_base_path, tmp_path):
    from transformers import AutoModelForCausalLM
    from trl import SFTTrainer

    tokenizer, dataset = bundled
    config = sft.sft_config_for(None, output_dir=str(tmp_path), packing=False)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(nano_base_path), args=config,
                         train_dataset=dataset, processing_class=tokenizer)
    trl_tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    assert sft.count_training_tokens(tokenizer, dataset) == trl_tokens == NANO_DATA_TOKENS


def test_plan_counts_steps_as_trainer_does_for_bfd_packs():
    one_pack_steps = sizing.StepSizing(1024, 1, 1, 5.0)
    assert one_pack_steps.steps_per_epoch(NANO_DATA_TOKENS) == 25  # TRL's BFD made 25 packs of these tokens
    assert one_pack_steps.steps(NANO_DATA_TOKENS) == 125  # the lesson's "125 optimizer steps"
    assert sizing.StepSizing(2048, 1, 8, 2.0).steps(NANO_DATA_TOKENS) == 4  # 13 packs, ceil(13 / 8) per epoch


# --- steps sized to the data ----------------------------------------------------------------

def test_steps_shrink_accumulation_then_packs_then_pack_length_to_the_floor():
    step = sizing.StepSizing(2048, 4, 2, 2.0)
    shrunk = []
    while step := step.smaller():
        shrunk.append((step.max_length, step.packs_per_forward, step.accumulation))
    assert shrunk == [(2048, 4, 1), (2048, 2, 1), (2048, 1, 1), (1024, 1, 1)]


@pytest.mark.parametrize("gpu", GPUS)
def test_gpu_plans_on_the_bundled_data_train_like_the_cpu_recipe_not_in_4_steps(gpu, nano_shape):
    unsized, sized = plan_for(gpu, nano_shape), plan_for(gpu, nano_shape, NANO_DATA_TOKENS)
    assert unsized.tokens_per_step == sft_config.GPU_TOKENS_PER_STEP  # the old sizing, without data
    assert unsized.sizing.steps(NANO_DATA_TOKENS) == 4
    cpu = plan_for("CPU", nano_shape, NANO_DATA_TOKENS)
    assert sized.sizing == cpu.sizing and sized.learning_rate == cpu.learning_rate
    assert sized.optimizer_steps == 125 >= sizing.MIN_OPTIMIZER_STEPS
    assert any(r.startswith("125 optimizer steps") and "only 4 steps" in r for r in sized.reasons)


# Expected (pack tokens, packs per forward, accumulation, epochs) per device, model and data.
SIZED = {
    ("CPU", "nano", NANO_DATA_TOKENS): (1024, 1, 1, 5.0),
    ("CPU", "135M", NANO_DATA_TOKENS): (1024, 1, 1, 5.0),
    ("CPU", "135M", SMOLTALK_TOKENS): (1024, 1, 1, 5.0),
    ("T4", "135M", NANO_DATA_TOKENS): (1024, 1, 1, 5.0),
    ("T4", "135M", SMOLTALK_TOKENS): (2048, 1, 4, 2.0),    # accumulation halved: 148 steps
    ("A100", "135M", SMOLTALK_TOKENS): (2048, 4, 1, 2.0),  # packs per forward halved: 148 steps
    ("H100", "135M", SMOLTALK_TOKENS): (2048, 4, 1, 2.0),
    ("H100", "nano", 10 * SMOLTALK_TOKENS): (2048, 8, 1, 2.0),  # enough data: the recipe as it was
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model", ["nano", "135M"])
@pytest.mark.parametrize("data_tokens", [NANO_DATA_TOKENS, SMOLTALK_TOKENS, 10 * SMOLTALK_TOKENS])
def test_sized_plans_have_enough_steps_and_never_bigger_ones(device, model, data_tokens, nano_shape):
    shape = nano_shape if model == "nano" else SMOLLM2_135M
    unsized, plan = plan_for(device, shape), plan_for(device, shape, data_tokens)
    at_floor = plan.tokens_per_step == sizing.MIN_PACK_TOKENS and plan.num_train_epochs == sizing.MAX_EPOCHS
    assert plan.optimizer_steps >= sizing.MIN_OPTIMIZER_STEPS or at_floor
    assert plan.tokens_per_step <= unsized.tokens_per_step
    if unsized.sizing.steps(data_tokens) >= sizing.MIN_OPTIMIZER_STEPS:
        assert plan.sizing == unsized.sizing  # steps are sized down only when the data needs it
    assert any(r.startswith(f"{plan.optimizer_steps:,} optimizer steps") for r in plan.reasons)
    expected = SIZED.get((device, model, data_tokens))
    if expected:
        got = (plan.max_length, plan.per_device_train_batch_size, plan.gradient_accumulation_steps,
               plan.num_train_epochs)
        assert got == expected


def test_a_short_run_raises_epochs_only_as_far_as_the_cpu_recipe():
    tiny = sizing.size_to_data(sizing.StepSizing(2048, 1, 8, 2.0), data_tokens=3_000)
    assert (tiny.tokens_per_step, tiny.epochs) == (1024, sizing.MAX_EPOCHS)
    assert tiny.steps(3_000) == 15  # fewer than wanted, and the plan says so
    assert "fewer than 120" in sizing.steps_reason(sizing.StepSizing(2048, 1, 8, 2.0), tiny, 3_000)


def test_smaller_steps_drop_checkpointing_that_only_the_bigger_micro_batch_needed():
    big = estimates.SMOLLM2["1.7B"]
    assert sft.plan_training((8, 0), shape=big, gpu_memory_gb=40, varlen_attention=True).gradient_checkpointing
    sized = sft.plan_training((8, 0), shape=big, gpu_memory_gb=40, varlen_attention=True,
                              data_tokens=NANO_DATA_TOKENS)
    assert sized.max_length == 1024 and not sized.gradient_checkpointing
    assert estimates.fit_method(big, 40, 1024) == estimates.FULL_FT


def test_without_data_tokens_plans_keep_the_recipe_and_say_how_to_size_steps(nano_shape):
    for device in DEVICES:
        plan = plan_for(device, nano_shape)
        assert plan.optimizer_steps is None and plan.max_steps is None
        assert any("count_training_tokens" in r for r in plan.reasons)


# --- the lesson's own plan stays as it was ----------------------------------------------------

def test_nano_on_bundled_data_keeps_the_lessons_cpu_plan_and_config(nano_shape, tmp_path):
    lesson = dict(max_length=1024, per_device_train_batch_size=1, gradient_accumulation_steps=1,
                  learning_rate=1e-3, num_train_epochs=5.0)
    sized = plan_for("CPU", nano_shape, NANO_DATA_TOKENS, cpu_budget_s=600)
    for plan in (plan_for("CPU", nano_shape), sized):
        assert plan.max_steps is None
        config = sft.sft_config_for(plan=plan, output_dir=str(tmp_path))
        assert {name: getattr(config, name) for name in lesson} == lesson and config.max_steps == -1
    assert sized.optimizer_steps == 125 and sized.projected_seconds < 60
    assert "125 optimizer steps" in str(sized) and "s per step" in str(sized)


# --- the CPU time budget --------------------------------------------------------------------

def test_cpu_step_time_is_calibrated_on_smollm2_135m_and_scales_with_threads():
    two = estimates.cpu_seconds_per_step(SMOLLM2_135M, 1024, 1024, threads=2)
    assert 5.7 <= two <= 7.5  # benchmarks/bench_real_size.py measured 5.7-6.1 s per step on 2 quiet cores
    assert estimates.cpu_seconds_per_step(SMOLLM2_135M, 1024, 1024, threads=4) == pytest.approx(two / 2)


def test_a_cpu_run_over_budget_is_capped_and_the_plan_says_what_else_to_do(tmp_path):
    plan = plan_for("CPU", SMOLLM2_135M, SMOLTALK_TOKENS, cpu_budget_s=600)
    per_step = estimates.cpu_seconds_per_step(SMOLLM2_135M, 1024, 1024, threads=2)
    assert plan.full_run_steps == 2_930 and plan.max_steps == math.floor(600 / per_step)
    assert plan.optimizer_steps == plan.max_steps and plan.projected_seconds <= 600
    reason = plan.reasons[-1]
    full_run = sizing.duration(2_930 * per_step)
    assert full_run == "5.3 h" and f"~{full_run}" in reason
    for alternative in (f"max_steps={plan.max_steps}", "Colab T4", "COURSE_OFFLINE=1"):
        assert alternative in reason
    assert f"{plan.max_steps} of 2,930 optimizer steps" in str(plan)
    assert sft.sft_config_for(plan=plan, output_dir=str(tmp_path)).max_steps == plan.max_steps
    assert sft.sft_config_for(plan=plan, output_dir=str(tmp_path), max_steps=3).max_steps == 3


def test_a_cpu_run_within_budget_is_not_capped():
    plan = plan_for("CPU", SMOLLM2_135M, NANO_DATA_TOKENS, cpu_budget_s=2 * 3600)  # 125 steps, ~23 min
    assert plan.max_steps is None and plan.optimizer_steps == 125


def test_a_budget_too_small_for_a_few_steps_is_refused_with_the_nano_path():
    with pytest.raises(sft.NeedsGPU, match="COURSE_OFFLINE=1") as refused:
        plan_for("CPU", SMOLLM2_135M, SMOLTALK_TOKENS, cpu_budget_s=30)
    assert isinstance(refused.value, ValueError)
    with pytest.raises(sft.NeedsGPU):  # without the data's size too: not even 5 steps fit
        plan_for("CPU", SMOLLM2_135M, cpu_budget_s=30)


def test_the_cpu_budget_does_not_apply_on_a_gpu():
    plan = plan_for("T4", SMOLLM2_135M, SMOLTALK_TOKENS, cpu_budget_s=1)
    assert plan.max_steps is None and plan.seconds_per_step is None


# --- proof: each GPU plan's sizing teaches the nano base to stop ---------------------------------

def cpu_simulation(plan):
    """The plan's step sizing (pack length, packs per forward, accumulation, epochs, learning
    rate, step cap) with the CPU's precision and attention: fp32, per-conversation sdpa."""
    from course_utils.sft.attention import SEGMENT_SDPA

    return dataclasses.replace(plan, device="cpu", precision="fp32", attn_implementation=SEGMENT_SDPA,
                               gradient_checkpointing=False)


@pytest.fixture(scope="module")
def train_nano_with(bundled, nano_base_path, tmp_path_factory):
    """Trains the nano base on the bundled data under a plan; returns (optimizer steps, held-out
    stop rate). The same step sizing trains once: the runs are seeded, so a repeat would only
    reproduce the same model."""
    from transformers import AutoModelForCausalLM

    tokenizer, dataset = bundled
    with mock.patch.dict("os.environ", {"COURSE_OFFLINE": "1"}):
        questions = sft.load_eval_questions()[::3]  # 60: capitals, colours and sums alike
    results = {}

    def train(plan):
        key = (plan.sizing, plan.learning_rate, plan.max_steps)
        if key not in results:
            config = sft.sft_config_for(plan=plan, output_dir=str(tmp_path_factory.mktemp("sft-plan")))
            trainer = sft.build_trainer(AutoModelForCausalLM.from_pretrained(nano_base_path), tokenizer,
                                        dataset, config, live_plot=False)
            trainer.train()
            results[key] = (trainer.state.global_step, sft.evaluate(trainer.model, tokenizer, questions).stop_rate)
        return results[key]

    return train


@pytest.mark.slow
@pytest.mark.parametrize("gpu", GPUS)
def test_each_gpu_plan_on_the_bundled_data_teaches_the_nano_base_to_stop(gpu, bundled, nano_shape, train_nano_with):
    """Simulated on CPU: the GPU plan's step sizing, trained in fp32 with the CPU's attention.

    A CPU cannot run the plan's fp16/bf16 mixed-precision training (TrainingArguments refuses
    fp16 without a GPU, and CPU bf16 autocast is another numeric path), nor FlashAttention, so
    only what decides how much the model learns, the step sizing and learning rate, is the GPU
    plan's. The bundled data is what a GPU learner gets offline or during a Hub outage.
    """
    tokenizer, dataset = bundled
    plan = plan_for(gpu, nano_shape, sft.count_training_tokens(tokenizer, dataset))
    steps, stop_rate = train_nano_with(cpu_simulation(plan))
    assert steps == plan.optimizer_steps >= sizing.MIN_OPTIMIZER_STEPS
    assert stop_rate >= 0.95, f"{gpu} plan: stop rate {stop_rate:.2f} after {steps} steps\n{plan}"
