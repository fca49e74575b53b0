"""The published recipe's model zoo: six encoders and their learning-rate grids."""

from __future__ import annotations

from dataclasses import dataclass

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

    from hpsearch.errors import SpecError

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
