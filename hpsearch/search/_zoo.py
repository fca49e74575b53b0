"""The published recipe's model zoo (six encoders and their learning-rate grids), and what ``--model`` names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hpsearch.errors import SpecError

ORG = "bigscience-historical-texts"
ENCODER_LRS = (3e-5, 5e-5)
T5_LRS = (1.5e-4, 1.6e-4)


@dataclass(frozen=True)
class Preset:
    name: str
    hf_id: str
    learning_rates: tuple[float, ...]
    batch_sizes: tuple[int, ...] = (4, 8)
    epochs: tuple[int, ...] = (10,)
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    dataset: str = "ajmc/en"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("bert", f"{ORG}/bert-base-blbooks-cased", ENCODER_LRS),
        Preset("electra", f"{ORG}/electra-base-blbooks-cased-discriminator", ENCODER_LRS),
        Preset("convbert", f"{ORG}/convbert-base-blbooks-cased", ENCODER_LRS),
        Preset("t5-small", f"{ORG}/t5-efficient-blbooks-small-el32", T5_LRS),
        Preset("t5-base", f"{ORG}/t5-efficient-blbooks-base-nl36", T5_LRS),
        Preset("t5-large", f"{ORG}/t5-efficient-blbooks-large-nl36", T5_LRS),
    )
}


def check_hub_model(hf_id: str, *, timeout: float = 5.0) -> str | None:
    """Check that a hub model exists; returns a warning when the hub cannot be asked.

    Raises:
        SpecError: the hub answered that no such model exists.
    """
    import os

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return f"HF_HUB_OFFLINE is set: model {hf_id} was not checked on the hub; workers must find it in their cache."
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

        HfApi().model_info(hf_id, timeout=timeout)
    except GatedRepoError:
        return f"model {hf_id} is gated on the hub; workers need a token (HF_TOKEN) with access."
    except RepositoryNotFoundError:
        raise SpecError(f"the Hugging Face hub has no model {hf_id!r}; check the id or give a local folder.") from None
    except Exception as e:  # noqa: BLE001 - any network failure means "could not check"
        return f"could not reach the Hugging Face hub to check {hf_id} ({type(e).__name__}); going on."
    return None


_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def resolve_model(model: str) -> tuple[str, str]:
    """Map ``--model`` (preset, local folder or hub id) to ``(model, label)``.

    Raises:
        SpecError: an unknown preset, or a local path that does not exist or holds no model.
    """
    if model in PRESETS:
        return PRESETS[model].hf_id, model
    path = Path(model).expanduser()
    looks_local = model.startswith((".", "/", "~")) or path.exists()
    if looks_local:
        if not path.is_dir():
            raise SpecError(f"model folder {model} does not exist; give an existing folder with a config.json.")
        if not (path / "config.json").is_file():
            raise SpecError(f"model folder {model} has no config.json; point --model at a saved Hugging Face model.")
        return str(path.resolve()), model_label(path.name)
    if _HUB_ID.fullmatch(model):
        return model, model_label(model.split("/")[-1])
    presets = ", ".join(PRESETS)
    raise SpecError(
        f"unknown model preset {model!r}; choose one of {presets}, or give a hub id (org/name) or a local model folder."
    )


def model_label(name: str, *, default: str = "model") -> str:
    """A study label from a model's name: runs of other characters than letters, digits and ``._+-`` become ``-``."""
    label = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-")
    return label or default
