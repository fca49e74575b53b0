"""The ``Trainer`` a worker calls for each seed, and ``FlairTrainer``, the real one."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from hpsearch.search import Config, SeedResult, StudySpec
from hpsearch.training._corpus import TrainingData
from hpsearch.training._data import load_corpus
from hpsearch.training._hooks import RunHooks
from hpsearch.training._options import TrainingOptions
from hpsearch.training._pretrained import PretrainedCache
from hpsearch.training._quiet import flair_quiet
from hpsearch.training._train import train_seed


class Trainer(Protocol):
    """Trains one seed of one configuration. ``FlairTrainer`` is the real one, ``testing.FakeTrainer`` a fake."""

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult: ...


class FlairTrainer:
    """Trains with Flair. Built once per worker process, it shares between runs what does not change:
    each corpus and its label dictionary, and the pretrained tokenizer, config and weights
    (read once, copied for every seed; see ``TrainingOptions.reuse_weights``).
    """

    def __init__(self, data_dir: Path | None = None, options: TrainingOptions | None = None) -> None:
        self.data_dir = data_dir
        self.options = options or TrainingOptions()
        self._data: dict[tuple[str, ...], TrainingData] = {}
        self._pretrained = PretrainedCache()

    def data_for(self, spec: StudySpec) -> TrainingData:
        """The spec's corpus and label dictionary, loaded on first use and kept for the worker's life."""
        key = tuple(d.key for d in spec.datasets)
        if key not in self._data:
            data_dir = self.data_dir or (Path(spec.data_dir) if spec.data_dir else None)
            with flair_quiet():  # Flair's bars while it builds the label dictionary
                corpus = load_corpus(spec.datasets, data_dir)
                self._data[key] = TrainingData.build(corpus)
        return self._data[key]

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        return train_seed(
            self.data_for(spec),
            spec.model,
            config,
            seed,
            out_dir,
            hooks=hooks,
            options=self.options,
            pretrained=self._pretrained,
        )
