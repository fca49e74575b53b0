"""Counting the random numbers Flair draws from torch's generator, so that a run draws what the recipe's does.

Every DataLoader iterator draws one number from torch's generator (its base seed). The work
savings read data through DataLoaders that the recipe does not make (the reduced vocabulary,
evaluation in other batches), and a worker builds its label dictionary once where the recipe
builds it for every seed. Shuffling and dropout see the recipe's numbers only if these draws are
counted and made up for: ``TrainingData.build`` counts the label dictionary's, and the
``RecipeRandomStream`` plugin (``hpsearch.training._plugins``) puts the generator where the
recipe's evaluation would have left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from flair.data import Corpus


def _draw_like_a_dataloader() -> None:
    import torch

    torch.empty((), dtype=torch.int64).random_()  # a DataLoader iterator's base seed


def _draws_between(before: torch.Tensor, after: torch.Tensor, limit: int = 100_000) -> int | None:
    """How many DataLoader-style draws lead from one generator state to the other (None: not within ``limit``)."""
    import torch

    current = torch.get_rng_state()
    try:
        torch.set_rng_state(before)
        for count in range(limit + 1):
            if torch.equal(torch.get_rng_state(), after):
                return count
            _draw_like_a_dataloader()
        return None
    finally:
        torch.set_rng_state(current)


def evaluation_draws(lengths: list[int], batch_size: int) -> int:
    """How many numbers Flair's ``evaluate`` draws from torch's generator, for sentences of these lengths.

    One for its own DataLoader, and one for each batch that ``predict`` gets with a non-empty sentence.
    """
    return 1 + sum(1 for i in range(0, len(lengths), batch_size) if any(lengths[i : i + batch_size]))


def _dev_draws(corpus: Corpus, batch_size: int) -> int:
    """Random numbers that the trainer draws evaluating this corpus' dev split in batches of ``batch_size``.

    Flair's ``evaluate`` draws them, and then ``store_embeddings`` one more if the split is a
    ``Dataset`` rather than a list (it reads a Dataset through a DataLoader).
    """
    if not corpus.dev:
        return 0
    from torch.utils.data import Dataset

    stored = 1 if isinstance(corpus.dev, Dataset) else 0
    return evaluation_draws([len(corpus.dev[i]) for i in range(len(corpus.dev))], batch_size) + stored
