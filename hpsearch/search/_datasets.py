"""The HIPE-2022 dataset catalogue: which datasets and languages exist, and their splits."""

from __future__ import annotations

from dataclasses import dataclass

from hpsearch.errors import SpecError

HIPE_VERSION = "v2.1"

# Flair's NER_HIPE_2022 datasets and languages (v2.1), with their splits.
HIPE_DATASETS: dict[str, dict[str, tuple[str, ...]]] = {
    "ajmc": dict.fromkeys(("de", "en", "fr"), ("train", "dev", "test")),
    "hipe2020": {"de": ("train", "dev", "test"), "en": ("dev", "test"), "fr": ("train", "dev", "test")},
    "letemps": {"fr": ("train", "dev", "test")},
    "newseye": dict.fromkeys(("de", "fi", "fr", "sv"), ("train", "dev", "dev2", "test")),
    "sonar": {"de": ("dev", "test")},
    "topres19th": {"en": ("train", "dev", "test")},
}


@dataclass(frozen=True)
class DatasetRef:
    """One HIPE-2022 dataset in one language, e.g. ``ajmc/en``."""

    name: str
    language: str

    def __post_init__(self) -> None:
        if self.name not in HIPE_DATASETS:
            raise SpecError(
                f"unknown HIPE-2022 dataset {self.name!r}; choose one of {', '.join(sorted(HIPE_DATASETS))}."
            )
        if self.language not in HIPE_DATASETS[self.name]:
            langs = ", ".join(sorted(HIPE_DATASETS[self.name]))
            raise SpecError(f"dataset {self.name!r} has no language {self.language!r}; choose one of {langs}.")

    @classmethod
    def parse(cls, text: str) -> DatasetRef:
        name, sep, language = text.partition("/")
        if not sep or not name or not language or "/" in language:
            raise SpecError(f"a dataset is written DATASET/LANG, e.g. 'ajmc/en', but got {text!r}.")
        return cls(name, language)

    @property
    def key(self) -> str:
        return f"{self.name}/{self.language}"

    @property
    def splits(self) -> tuple[str, ...]:
        return HIPE_DATASETS[self.name][self.language]


DEFAULT_DATASET = DatasetRef("ajmc", "en")
"""The recipe's dataset, where a spec names none."""
