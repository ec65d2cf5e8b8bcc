"""models: the Hub when reachable, the bundled nano pair otherwise, always announced."""
import pytest

from course_utils import hub, models

@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(hub, "_decision", None)  # decide anew under this environment


@pytest.mark.parametrize("hub_id", [models.BASE_ID, models.INSTRUCT_ID])
def test_forced_offline_loads_the_nano_stand_in_and_says_so(offline, capsys, hub_id):
    tokenizer = models.load_tokenizer(hub_id)
    model = models.load_model(hub_id)
    said = capsys.readouterr().out
    assert f"COURSE_OFFLINE=1 is set): using the bundled {models.NANO_STAND_INS[hub_id]} in place of {hub_id}" in said
    assert said.count("\n") == 2  # one line for the tokenizer, one for the model
    assert model.config.architectures == ["LlamaForCausalLM"]
    assert tokenizer.convert_ids_to_tokens([0, 1, 2]) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _decided(monkeypatch, decision):
    monkeypatch.setattr(hub, "_decision", decision)


def test_unreachable_hub_falls_back_with_its_own_reason(monkeypatch, capsys):
    _decided(monkeypatch, hub.HubDecision(False, hub.DEFAULT_ENDPOINT, "https://huggingface.co is unreachable: x"))
    source, line = models.resolve(models.INSTRUCT_ID)
    assert source.endswith("nano-smollm2-instruct")
    assert line.startswith("Offline (https://huggingface.co is unreachable: x): using the bundled")


def test_reachable_hub_uses_the_real_model(monkeypatch):
    _decided(monkeypatch, hub.HubDecision(True, hub.DEFAULT_ENDPOINT, "answered"))
    assert models.resolve(models.INSTRUCT_ID) == (
        models.INSTRUCT_ID, f"Using {models.INSTRUCT_ID} from the Hugging Face Hub.")


def test_unknown_name_offline_lists_what_is_available(offline):
    with pytest.raises(models.ModelUnavailable) as error:
        models.load_model("meta-llama/Llama-2-7b-chat-hf")
    message = str(error.value)
    assert "meta-llama/Llama-2-7b-chat-hf" in message and "COURSE_OFFLINE=1" in message
    assert models.BASE_ID in message and models.INSTRUCT_ID in message


def test_a_local_folder_is_loaded_as_it_is(tmp_path):
    assert models.resolve(str(tmp_path)) == (str(tmp_path), f"Using the local folder {tmp_path}.")
