"""Building a spec from command-line options: ``--model`` with grid options, ``--config``, ``--space``, presets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hpsearch.errors import SpecError
from hpsearch.search._configfiles import load_config, named_space
from hpsearch.search._datasets import DEFAULT_DATASET, DatasetRef
from hpsearch.search._space import GridSpace, SampledSpace
from hpsearch.search._spec import MAX_SEEDS, RECIPE_SEEDS, StudySpec, check_seeds
from hpsearch.search._zoo import ENCODER_LRS, PRESETS, resolve_model

DEFAULT_N_TRIALS = 20
"""A sampled space's budget when ``--n-trials`` is not given."""


def build_spec(
    *,
    model: str | None,
    config: Path | None,
    datasets: Sequence[str] = (),
    learning_rates: Sequence[float] = (),
    batch_sizes: Sequence[int] = (),
    epochs: Sequence[int] = (),
    context_sizes: Sequence[int] = (),
    seeds: str | None = None,
    data_dir: Path | None = None,
    amp: bool = False,
    space: str | None = None,
    n_trials: int | None = None,
    pruner: str | None = None,
    sampler_seed: int | None = None,
) -> StudySpec:
    """The spec from a config file or from ``--model`` and grid options; ``amp`` switches on mixed precision.

    ``space`` (``--space``) is ``paper`` (the grid from the options), ``wide`` or a TOML file with a
    ``[space]`` table; ``n_trials`` is a sampled space's budget and ``pruner`` the early-stopping
    rule, ``sampler_seed`` seeds a sampled space's draws (each overrides a config file's).

    Raises:
        SpecError: both or neither of ``model`` and ``config``, options that do not go together, bad values.
    """
    if (model is None) == (config is None):
        raise SpecError("give either --model (a preset, hub id or folder) or --config FILE.")
    if config is not None:
        overrides = [datasets, learning_rates, batch_sizes, epochs, context_sizes]
        if any(overrides) or seeds is not None:
            raise SpecError("grid options (--lr, --batch-size, ...) go with --model; with --config, edit the file.")
        if space is not None:
            raise SpecError("--space goes with --model; with --config, the file's [space] table is the space.")
        spec = load_config(config)
        if data_dir is not None:
            spec = replace(spec, data_dir=str(data_dir.resolve()))
        if amp:
            spec = replace(spec, space=_with_amp(spec.space))
        return _with_search(spec, spec.space, n_trials, pruner, sampler_seed)
    assert model is not None
    paper = _paper_spec(model, datasets, learning_rates, batch_sizes, epochs, context_sizes, seeds, data_dir, amp)
    chosen = named_space(space or "paper", paper.model, paper=paper.space)
    if chosen is not paper.space:
        if any([learning_rates, batch_sizes, epochs, context_sizes]):
            raise SpecError(
                "grid options (--lr, --batch-size, --epochs, --context-size) go with --space paper; "
                "the values of another space are in its TOML file."
            )
        if amp:
            chosen = _with_amp(chosen)
    if isinstance(chosen, SampledSpace) and n_trials is None:
        n_trials = DEFAULT_N_TRIALS
    return _with_search(paper, chosen, n_trials, pruner, sampler_seed)


def _with_amp(space: GridSpace | SampledSpace) -> GridSpace | SampledSpace:
    if isinstance(space, SampledSpace):
        return SampledSpace({**space.dimensions, "amp": (True,)})
    return replace(space, amp=(True,))


def _with_search(
    spec: StudySpec,
    space: GridSpace | SampledSpace,
    n_trials: int | None,
    pruner: str | None,
    sampler_seed: int | None = None,
) -> StudySpec:
    """The spec with its space, and the budget, pruner and sampler seed from the command line where given."""
    if n_trials is None and isinstance(space, SampledSpace) and isinstance(spec.space, SampledSpace):
        n_trials = spec.n_trials
    return replace(
        spec,
        space=space,
        n_trials=n_trials,
        pruner=pruner if pruner is not None else (spec.pruner if space is spec.space else None),
        sampler_seed=sampler_seed if sampler_seed is not None else spec.sampler_seed,
    )


def _paper_spec(
    model: str,
    datasets: Sequence[str],
    learning_rates: Sequence[float],
    batch_sizes: Sequence[int],
    epochs: Sequence[int],
    context_sizes: Sequence[int],
    seeds: str | None,
    data_dir: Path | None,
    amp: bool,
) -> StudySpec:
    return spec_from_options(
        model,
        datasets=datasets,
        learning_rates=learning_rates,
        batch_sizes=batch_sizes,
        epochs=epochs,
        context_sizes=context_sizes,
        seeds=parse_seeds(seeds) if seeds is not None else (),
        data_dir=str(data_dir.resolve()) if data_dir else None,
        amp=amp,
    )


def spec_for_preset(name: str) -> StudySpec:
    """The paper's grid for one zoo model."""
    if name not in PRESETS:
        raise SpecError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}.")
    p = PRESETS[name]
    return StudySpec(
        model=p.hf_id,
        label=p.name,
        space=GridSpace(learning_rates=p.learning_rates, batch_sizes=p.batch_sizes, epochs=p.epochs),
        datasets=(DatasetRef.parse(p.dataset),),
        seeds=p.seeds,
    )


def spec_from_options(
    model: str,
    *,
    datasets: Sequence[str] = (),
    learning_rates: Sequence[float] = (),
    batch_sizes: Sequence[int] = (),
    epochs: Sequence[int] = (),
    context_sizes: Sequence[int] = (),
    seeds: Sequence[int] = (),
    data_dir: str | None = None,
    amp: bool = False,
) -> StudySpec:
    """A spec from ``--model`` and grid options; unset options keep the preset's (or the recipe's) values."""
    source, label = resolve_model(model)
    preset = PRESETS.get(model)
    default_lrs = preset.learning_rates if preset else ENCODER_LRS
    default_datasets = (DatasetRef.parse(preset.dataset),) if preset else (DEFAULT_DATASET,)
    space = GridSpace(
        learning_rates=tuple(learning_rates) or default_lrs,
        batch_sizes=tuple(batch_sizes) or (4, 8),
        epochs=tuple(epochs) or (10,),
        context_sizes=tuple(context_sizes) or (0,),
        amp=(amp,),
    )
    return StudySpec(
        model=source,
        label=label,
        space=space,
        datasets=tuple(DatasetRef.parse(d) for d in datasets) or default_datasets,
        seeds=tuple(seeds) or RECIPE_SEEDS,
        data_dir=data_dir,
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"1,2,3"`` or ``"1-5"`` to a tuple of seeds: 1 to ``MAX_SEEDS`` distinct non-negative integers.

    Raises:
        SpecError: no seeds (``""``, ``","``), a reversed range (``5-1``), a seed twice, a negative
            seed, too many seeds, or text that is not seeds.

    Example:
        >>> parse_seeds("1-3"), parse_seeds("7, 3")
        ((1, 2, 3), (7, 3))
    """
    form = f"seeds are written like '1,2,3,4,5' or '1-5', but got {text!r}."
    if match := _SEED_RANGE.fullmatch(text.strip()):
        low, high = int(match["low"]), int(match["high"])
        if low > high:
            raise SpecError(f"the seed range {text.strip()!r} is reversed; write the lower seed first, like '1-5'.")
        if high - low + 1 > MAX_SEEDS:
            raise SpecError(f"a study trains at most {MAX_SEEDS} seeds, but {text.strip()!r} gives {high - low + 1}.")
        return check_seeds(tuple(range(low, high + 1)))
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise SpecError(f"no seeds given; {form}")
    if not all(_SEED.fullmatch(part) for part in parts):
        raise SpecError(form)
    return check_seeds(tuple(int(part) for part in parts))


_SEED = re.compile(r"-?\d+")
_SEED_RANGE = re.compile(r"(?P<low>\d+)\s*-\s*(?P<high>\d+)")
