"""runtime: the one place that decides device, precision, Colab and Hub reachability."""
import pytest
import torch

from course_utils import runtime


@pytest.mark.parametrize(
    "capability, expected",
    [((7, 5), "fp16"), ((7, 0), "fp16"), ((8, 0), "bf16"), ((8, 6), "bf16"), ((9, 0), "bf16"),
     ((6, 1), "fp32"), (None, "fp32")],
)
def test_training_precision_follows_compute_capability(capability, expected):
    assert runtime.training_precision(capability) == expected


def _fake_cuda(monkeypatch, capability, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: name)
    # A T4 claims bf16 support through emulation; the course must not believe it.
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


def test_t4_trains_in_fp16_even_though_torch_claims_bf16(monkeypatch):
    _fake_cuda(monkeypatch, (7, 5), "Tesla T4")
    summary = runtime.device_summary()
    assert summary["device"] == "cuda" and summary["precision"] == "fp16"


def test_a100_trains_in_bf16(monkeypatch):
    _fake_cuda(monkeypatch, (8, 0), "NVIDIA A100-SXM4-40GB")
    assert runtime.device_summary()["precision"] == "bf16"


def test_cpu_trains_in_fp32(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    summary = runtime.device_summary()
    assert summary["device"] == "cpu" and summary["precision"] == "fp32"


def test_colab_is_detected_from_its_module(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert runtime.in_colab() is False
    monkeypatch.setitem(__import__("sys").modules, "google.colab", object())
    assert runtime.in_colab() is True


def test_pinned_versions_cover_the_course_libraries_and_match_what_is_installed():
    versions = runtime.pinned_versions()
    for name in ("transformers", "trl", "datasets", "jinja2", "nbval", "torch"):
        assert name in {key.lower() for key in versions}
    spec, installed = versions["transformers"]
    assert spec == "==5.23.0" and installed == "5.23.0"


def _described(monkeypatch, capsys, **kwargs) -> list[str]:
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(runtime.hub, "_decision", None)  # decide anew under this environment
    runtime.describe(**kwargs)
    return capsys.readouterr().out.splitlines()


def test_describe_is_five_short_lines_device_precision_colab_hub_libraries(monkeypatch, capsys):
    lines = _described(monkeypatch, capsys)
    assert [line.split(":")[0].strip() for line in lines] == ["device", "precision", "colab", "hub", "libraries"]
    assert "COURSE_OFFLINE=1" in lines[3]
    assert lines[4] == f"libraries  : all {len(runtime.pinned_versions())} match the course pins " \
                       "(describe(libraries=True) lists them)"


def test_describe_lists_every_pinned_library_on_request(monkeypatch, capsys):
    lines = _described(monkeypatch, capsys, libraries=True)
    listed = [line.split()[0] for line in lines[5:]]
    assert listed == sorted(runtime.pinned_versions()) and "transformers" in listed


def test_a_library_that_differs_from_its_pin_is_named_in_the_short_report(monkeypatch, capsys):
    pins = {"transformers": ("==5.23.0", "4.57.1"), "trl": ("==1.16.0", None), "jinja2": ("==3.1.6", "3.1.6")}
    monkeypatch.setattr(runtime, "pinned_versions", lambda: pins)
    lines = _described(monkeypatch, capsys, libraries=True)
    assert lines[4] == "libraries  : 2 of 3 differ from the course pins: transformers, trl " \
                       "(describe(libraries=True) lists them)"
    flagged = [line.split()[0] for line in lines[5:] if line.endswith("<-- differs from the course pin")]
    assert flagged == ["transformers", "trl"]


def test_lesson_00_names_each_line_describe_prints_and_counts_them():
    """The text above lesson 00's describe() cell says how many lines to look at and names each."""
    import re

    from support.paths import NOTEBOOKS
    from support.stored_outputs import cell_source, stored_text

    lesson = NOTEBOOKS / "00_start_here.ipynb"
    printed = stored_text(lesson, "948b7765").strip().splitlines()
    fields = [line.split(":")[0].strip() for line in printed]
    assert fields == ["device", "precision", "colab", "hub", "libraries"]
    text = cell_source(lesson, "22e773e3")
    assert "Look at the five lines below" in text and len(printed) == 5
    for field in fields:
        assert re.search(rf"\*\*{field}\*\*", text), f"the text does not explain the {field} line"
    assert "describe(libraries=True)" in text
