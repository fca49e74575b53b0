"""The spaces that produce configurations: grids, whose points are queued, and sampled spaces, drawn per trial.

Both have one entry per row of ``hpsearch.search._dimensions.DIMENSIONS``: a grid a tuple of values
under the row's ``grid_key``, a sampled space a ``Range`` or choices under the row's name.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from hpsearch.errors import SpecError
from hpsearch.search._config import Config
from hpsearch.search._dimensions import DIMENSIONS, RECIPE_LOOP, Domain, Range, Value

if TYPE_CHECKING:
    import optuna

_T = TypeVar("_T")

MAX_GRID_POINTS = 100_000
"""The most points a grid may have (each becomes a queued trial)."""

SAMPLER_SEED = 0
"""A sampled study's trial ``n`` is drawn by a TPE sampler seeded with ``SAMPLER_SEED + n`` (``--sampler-seed``)."""


def _grid_fields(cls: type[_T]) -> type[_T]:
    """Give ``cls`` one tuple field per dimension, named by its grid key (default: the recipe's value alone)."""
    cls.__annotations__ = {d.grid_key: f"tuple[{d.type.__name__}, ...]" for d in DIMENSIONS.values()}
    for d in DIMENSIONS.values():
        if not d.required:
            setattr(cls, d.grid_key, (d.default,))
    return dataclass(frozen=True)(cls)


@_grid_fields
class GridSpace:
    """The cartesian product of the listed values; the paper's grids are of this kind.

    Its fields are the dimensions' grid keys, in table order: ``learning_rates``, ``batch_sizes``,
    ``epochs``, ``context_sizes``, ``layers``, ``subtoken_poolings``, ``use_crf``,
    ``warmup_fractions``, ``amp``; those not given keep the recipe's value.

    Example:
        >>> grid = GridSpace(learning_rates=(3e-5, 5e-5), batch_sizes=(4, 8))
        >>> len(grid), next(grid.configs()).name
        (4, 'wsFalse-bs4-e10-lr3e-05')
    """

    kind = "grid"

    def __post_init__(self) -> None:
        for f in fields(self):
            values = getattr(self, f.name)
            if not values:
                raise SpecError(f"grid dimension '{f.name}' is empty; give at least one value.")
            if len(set(values)) != len(values):
                raise SpecError(f"grid dimension '{f.name}' lists a value twice: {list(values)}.")
        if len(self) > MAX_GRID_POINTS:
            raise SpecError(f"a grid has at most {MAX_GRID_POINTS:,} points, but this one has {len(self):,}.")
        list(self.configs())  # validates every value

    def values(self, name: str) -> tuple[Value, ...]:
        """The values of dimension ``name`` (``learning_rate``, not its grid key)."""
        return getattr(self, DIMENSIONS[name].grid_key)

    def configs(self) -> Iterator[Config]:
        """Every grid point, in the recipe's loop order (batch size, epochs, learning rate), the others fastest."""
        order = [*RECIPE_LOOP, *(n for n in DIMENSIONS if n not in RECIPE_LOOP)]
        for point in itertools.product(*(self.values(n) for n in order)):
            yield Config(**dict(zip(order, point, strict=True)))

    @property
    def searched(self) -> tuple[str, ...]:
        """The dimensions with more than one value: the Optuna params of a study created since 0.2."""
        return tuple(n for n in DIMENSIONS if len(self.values(n)) > 1)

    @property
    def constants(self) -> dict[str, Value]:
        """The dimensions with one value, and that value: kept in the spec, not in the trials' params."""
        return {n: self.values(n)[0] for n in DIMENSIONS if len(self.values(n)) == 1}

    def params(self, config: Config) -> dict[str, Value]:
        """The Optuna params of ``config``: its searched dimensions only."""
        return {n: getattr(config, n) for n in self.searched}

    def suggest(self, trial: optuna.Trial) -> Config:
        """The trial's configuration: its params (grid trials are created with them set) and the constants."""
        return Config(**self.constants, **{n: DIMENSIONS[n].suggest(trial, self.values(n)) for n in self.searched})

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """The searched dimensions' Optuna distributions (categorical), stored with each queued trial's params.

        Studies created before 0.2 also stored the constants; their trials keep loading alike.
        """
        return {n: DIMENSIONS[n].distribution(self.values(n)) for n in self.searched}

    def __len__(self) -> int:
        return math.prod(len(self.values(n)) for n in DIMENSIONS)

    def to_dict(self) -> dict[str, list[Value]]:
        """JSON-able, by grid key; a dimension at the recipe's value is left out unless stored specs always had it."""
        return {
            d.grid_key: list(self.values(n))
            for n, d in DIMENSIONS.items()
            if "grid" in d.stored_at_default or self.values(n) != (d.default,)
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GridSpace:
        """The inverse of ``to_dict``.

        Raises:
            SpecError: an unknown grid key.
        """
        keys = [d.grid_key for d in DIMENSIONS.values()]
        unknown = sorted(set(data) - set(keys))
        if unknown:
            raise SpecError(f"unknown grid dimension(s) {', '.join(unknown)}; the grid keys are {', '.join(keys)}.")
        return cls(**{k: tuple(v) for k, v in data.items()})


@dataclass(frozen=True)
class SampledSpace:
    """A space that a sampler (Optuna's TPE) draws from, one trial at a time; the study's budget bounds it.

    ``dimensions`` maps each dimension's name to a ``Range`` or a tuple of choices; a dimension
    not given keeps the recipe's value (a one-value tuple). Learning rate and batch size
    must be given, as the recipe has a grid of them, not one value.

    Example:
        >>> space = SampledSpace({"learning_rate": Range(1e-5, 1e-4, log=True), "batch_size": (4, 8, 16)})
        >>> space.dimensions["epochs"]
        (10,)
    """

    dimensions: dict[str, Domain]

    kind = "sampled"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.dimensions) - set(DIMENSIONS))
        if unknown:
            raise SpecError(
                f"unknown search dimension(s) {', '.join(unknown)}; the dimensions are {', '.join(DIMENSIONS)}."
            )
        missing = [n for n, d in DIMENSIONS.items() if d.required and n not in self.dimensions]
        if missing:
            raise SpecError(f"a sampled space must give {' and '.join(missing)} (a range, a list, or one value).")
        full = {n: d.domain(self.dimensions.get(n, (d.default,))) for n, d in DIMENSIONS.items()}
        object.__setattr__(self, "dimensions", full)
        first = {n: dim.low if isinstance(dim, Range) else dim[0] for n, dim in full.items()}
        for name, dim in full.items():  # every bound and choice must make a valid Config
            for value in (dim.low, dim.high) if isinstance(dim, Range) else dim:
                Config(**{**first, name: DIMENSIONS[name].typed(value)})

    @property
    def searched(self) -> tuple[str, ...]:
        """The dimensions that vary (the others are fixed)."""
        return tuple(n for n, d in self.dimensions.items() if isinstance(d, Range) or len(d) > 1)

    @property
    def constants(self) -> dict[str, Value]:
        """The fixed dimensions (one choice), and their value: kept in the spec, not in the trials' params."""
        return {n: d[0] for n, d in self.dimensions.items() if not isinstance(d, Range) and len(d) == 1}

    def params(self, config: Config) -> dict[str, Value]:
        """The Optuna params of ``config``: its searched dimensions only."""
        return {n: getattr(config, n) for n in self.searched}

    def suggest(self, trial: optuna.Trial) -> Config:
        """The trial's configuration, drawn by the study's sampler (or the trial's params if already set).

        Only the searched dimensions are suggested; the fixed ones come from the space (studies created
        before 0.2 also stored them as params, with the same values).
        Sampled floats are rounded to 3 significant digits for the configuration (and its name).
        """
        drawn = {n: DIMENSIONS[n].suggest(trial, self.dimensions[n]) for n in self.searched}
        return Config(**self.constants, **drawn)

    def sampler(self, trial_number: int, *, seed: int = SAMPLER_SEED) -> optuna.samplers.BaseSampler:
        """The sampler that draws trial ``trial_number``'s configuration: TPE, seeded with ``seed`` plus it.

        A fresh seeded sampler per trial keeps concurrent workers from drawing the same stream;
        ``constant_liar`` makes TPE count trials still running as bad, so they are not drawn again.
        """
        from optuna.samplers import TPESampler

        return TPESampler(seed=seed + trial_number, constant_liar=True)

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """The Optuna distribution of each searched dimension, as ``suggest`` uses them."""
        return {n: DIMENSIONS[n].distribution(self.dimensions[n]) for n in self.searched}

    def to_dict(self) -> dict[str, object]:
        """JSON-able: a range is ``{low, high, log}``, choices a list, a fixed value itself.

        A dimension fixed at the recipe's value is left out unless stored specs always had it.
        """
        out: dict[str, object] = {}
        for name, dim in self.dimensions.items():
            d = DIMENSIONS[name]
            if isinstance(dim, Range):
                out[name] = dim.to_dict()
            elif "sampled" in d.stored_at_default or dim != (d.default,):
                out[name] = dim[0] if len(dim) == 1 else list(dim)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, where: str = "") -> SampledSpace:
        """The inverse of ``to_dict``; also reads a TOML ``[space]`` table (without its ``kind``).

        Raises:
            SpecError: an unknown dimension, an empty or malformed range, an empty list.
        """
        prefix = f"{where}: " if where else ""
        dims: dict[str, Domain] = {}
        for name, value in data.items():
            if isinstance(value, dict):
                extra = sorted(set(value) - {"low", "high", "log"})
                if extra or not {"low", "high"} <= set(value):
                    raise SpecError(f"{prefix}range '{name}' is written {{low=..., high=..., log=true|false}}.")
                low, high, log = value["low"], value["high"], value.get("log", False)
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
                    raise SpecError(
                        f"{prefix}range '{name}' needs numbers for low and high, but got {low!r}, {high!r}."
                    )
                if not isinstance(log, bool):
                    raise SpecError(f"{prefix}range '{name}': log must be true or false, but got {log!r}.")
                dims[name] = Range(low, high, log)
            elif isinstance(value, list):
                dims[name] = tuple(value)
            else:
                dims[name] = (value,)
        try:
            return cls(dims)
        except SpecError as e:
            raise SpecError(f"{prefix}{e}") from None


def wide_space(*, t5: bool, epochs: int = 10) -> SampledSpace:
    """The ``wide`` space: every dimension the recipe fixes, opened up; T5 models get their own learning rates."""
    return SampledSpace(
        {
            "learning_rate": Range(5e-5, 5e-4, log=True) if t5 else Range(1e-5, 1e-4, log=True),
            "batch_size": (4, 8, 16),
            "epochs": (epochs,),
            "context_size": (0, 64, 128),
            "layers": ("-1", "-1,-2,-3,-4"),
            "subtoken_pooling": ("first", "mean", "first_last"),
            "use_crf": (False, True),
            "warmup_fraction": Range(0.0, 0.2),
        }
    )
