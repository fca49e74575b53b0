"""The corpus a worker trains on, built once and shared by every run: its labels, its dev and test splits by length."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpsearch.training._options import TrainingOptions
from hpsearch.training._rng import _draws_between

if TYPE_CHECKING:
    from flair.data import Corpus, Dictionary

log = logging.getLogger("hpsearch.training")


@dataclass
class TrainingData:
    """The corpus and its label dictionary, built once per worker and shared by every run."""

    corpus: Corpus
    labels: Dictionary
    recipe_seed_draws: int = 0
    """Random numbers the recipe draws between seeding and building the model: it builds its label
    dictionary after ``flair.set_seed``, for every seed, and Flair reads the corpus for it through
    DataLoaders, each of which draws one. A run draws as many right after seeding, so that it
    starts from the recipe's random state (``TrainingData.build`` counts them)."""
    _by_length: Corpus | None = field(default=None, init=False, repr=False)

    @classmethod
    def build(cls, corpus: Corpus) -> TrainingData:
        """The label dictionary of ``corpus``, and how many random numbers building it draws."""
        import torch

        from hpsearch.training._data import label_dictionary

        before = torch.get_rng_state()
        labels = label_dictionary(corpus)
        draws = _draws_between(before, torch.get_rng_state())
        torch.set_rng_state(before)
        if draws is None:
            log.warning(
                "building the label dictionary drew random numbers of an unknown kind; "
                "runs may start from another random state than the recipe's"
            )
        return cls(corpus=corpus, labels=labels, recipe_seed_draws=draws or 0)

    def corpus_for(self, options: TrainingOptions) -> Corpus:
        """The corpus to train on: with ``sort_eval``, its dev and test splits in order of length."""
        if not options.sort_eval:
            return self.corpus
        if self._by_length is None:
            from flair.data import Corpus

            self._by_length = Corpus(
                train=self.corpus.train,
                dev=_by_length(self.corpus.dev),
                test=_by_length(self.corpus.test),
                name=self.corpus.name,
                sample_missing_splits=False,
            )
        return self._by_length


def _by_length(split: Any) -> Any:
    from flair.datasets import FlairDatapointDataset

    if split is None:
        return None
    sentences = [split[i] for i in range(len(split))]  # indexing: no DataLoader, no random draw
    return FlairDatapointDataset(sorted(sentences, key=len, reverse=True))
