"""Growing a study's spec (``hpsearch extend``): more grid values, or a larger budget for a sampled space."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from hpsearch.errors import SpecError
from hpsearch.search._dimensions import DIMENSIONS
from hpsearch.search._space import GridSpace, SampledSpace
from hpsearch.search._spec import StudySpec


def extended_spec(
    spec: StudySpec,
    *,
    learning_rates: Sequence[float] = (),
    batch_sizes: Sequence[int] = (),
    epochs: Sequence[int] = (),
    context_sizes: Sequence[int] = (),
    n_trials: int | None = None,
) -> StudySpec:
    """``spec`` with the given grid values added to its grid, or ``n_trials`` more trials in its sampled space's budget.

    Values the grid has already are ignored; model, data, seeds and pruner stay as they are.

    Raises:
        SpecError: nothing to add, grid values for a sampled space, ``n_trials`` for a grid or below 1.
    """
    added = {
        "learning_rate": tuple(learning_rates),
        "batch_size": tuple(batch_sizes),
        "epochs": tuple(epochs),
        "context_size": tuple(context_sizes),
    }
    if isinstance(spec.space, SampledSpace):
        if any(added.values()):
            raise SpecError(
                "a sampled space draws its values from its ranges; extend it with --n-trials (more trials)."
            )
        if n_trials is None:
            raise SpecError("give --n-trials: how many trials to add to the sampled space's budget.")
        if n_trials < 1:
            raise SpecError(f"--n-trials must be at least 1, but got {n_trials}.")
        return replace(spec, n_trials=(spec.n_trials or 0) + n_trials)
    if n_trials is not None:
        raise SpecError("--n-trials extends a sampled space's budget; extend a grid with --lr, --batch-size, ....")
    if not any(added.values()):
        raise SpecError("nothing to add: give --lr, --batch-size, --epochs or --context-size.")
    space: GridSpace = spec.space
    grown = {
        DIMENSIONS[name].grid_key: space.values(name)
        + tuple(dict.fromkeys(v for v in values if v not in space.values(name)))
        for name, values in added.items()
    }
    return replace(spec, space=replace(space, **grown))
