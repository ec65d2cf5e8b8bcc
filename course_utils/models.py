"""Load the course's models: the real SmolLM2 from the Hub, or the bundled nano stand-ins.

Both paths are the same `AutoTokenizer` / `AutoModelForCausalLM` calls; only the place the
files come from differs, and every load prints one line that says which it is and why.
Nothing substitutes silently.
"""
from __future__ import annotations

from pathlib import Path

from . import hub, runtime
from .assets import model_dir
from .quiet import transformers_bars_off

BASE_ID = "HuggingFaceTB/SmolLM2-135M"
INSTRUCT_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"

# Hub id -> the bundled folder that stands in for it offline.
NANO_STAND_INS = {
    BASE_ID: "nano-smollm2-base",
    INSTRUCT_ID: "nano-smollm2-instruct",
}


class ModelUnavailable(LookupError):
    """The model asked for cannot be loaded here (offline and not bundled)."""


def nano_path(name: str) -> Path:
    """The bundled folder for a SmolLM2 Hub id or a nano folder name."""
    folder = NANO_STAND_INS.get(name, name)
    path = model_dir(folder)
    if folder not in NANO_STAND_INS.values() or not (path / "config.json").exists():
        raise ModelUnavailable(
            f"No bundled model for {name!r}. Bundled: "
            + ", ".join(f"{hub} (as {nano})" for hub, nano in NANO_STAND_INS.items())
        )
    return path


def resolve(name: str) -> tuple[str, str]:
    """Where to load `name` from, and the one line that tells the learner why.

    Returns:
        (a Hub id or a local folder, the announcement).
    """
    if Path(name).is_dir():
        return name, f"Using the local folder {name}."
    if name in NANO_STAND_INS.values():
        return str(nano_path(name)), f"Using the bundled {name}."
    decision = hub.decision()
    if decision.online:
        return name, f"Using {name} from {decision.source}."
    why = decision.reason
    if name not in NANO_STAND_INS:
        raise ModelUnavailable(
            f"Cannot load {name!r}: offline ({why}), and it has no bundled stand-in. "
            f"Available offline: {', '.join(NANO_STAND_INS)} (or their folders "
            f"{', '.join(NANO_STAND_INS.values())}), or a local folder path."
        )
    nano = NANO_STAND_INS[name]
    return str(nano_path(name)), f"Offline ({why}): using the bundled {nano} in place of {name}."


def load_tokenizer(name: str = INSTRUCT_ID):
    """`AutoTokenizer.from_pretrained` on the Hub copy of `name` or its bundled stand-in."""
    from transformers import AutoTokenizer

    source, announcement = resolve(name)
    print(f"[tokenizer] {announcement}")
    return AutoTokenizer.from_pretrained(source)


def load_model(name: str = INSTRUCT_ID, device: str | None = None):
    """`AutoModelForCausalLM.from_pretrained` on the Hub copy of `name` or its stand-in.

    The model is put on the course's device (see `runtime.device_summary`) in eval mode; on a
    GPU its weights are in the precision the course trains in there, fp32 elsewhere.
    """
    import torch
    from transformers import AutoModelForCausalLM

    source, announcement = resolve(name)
    print(f"[model] {announcement}")
    summary = runtime.device_summary()
    device = device or summary["device"]
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(summary["precision"], torch.float32)
    if device != "cuda":
        dtype = torch.float32
    # The 'Loading weights' bar would be saved into notebooks as a frozen widget; a model this
    # size loads in a second. Download bars (huggingface_hub's) stay on.
    with transformers_bars_off():
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    return model.to(device).eval()

