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


def test_describe_reports_device_precision_colab_hub_and_versions(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(runtime.hub, "_decision", None)  # decide anew under this environment
    runtime.describe()
    report = capsys.readouterr().out
    for field in ("device", "precision", "colab", "hub", "transformers"):
        assert field in report
    assert "COURSE_OFFLINE=1" in report
