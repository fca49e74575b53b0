"""Configurations (one point of a search space) and the spaces that produce them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from hpsearch.errors import SpecError

if TYPE_CHECKING:
    import optuna

SUBTOKEN_POOLINGS = ("first", "last", "first_last", "mean")


@dataclass(frozen=True)
class Config:
    """One training configuration; the recipe's values are the defaults.

    Its ``name`` follows the recipe (``wsFalse-bs8-e10-lr5e-05``) and grows a suffix for
    each dimension that differs from the recipe, so recipe names stay unchanged.
    """

    learning_rate: float
    batch_size: int
    epochs: int = 10
    context_size: int = 0
    layers: str = "-1"
    subtoken_pooling: str = "first"
    use_crf: bool = False
    warmup_fraction: float = 0.1
    amp: bool = False
    """Mixed precision on the GPU (bf16, else fp16); it can change results, so it is part of the name."""

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise SpecError(f"learning rate must be > 0, but got {self.learning_rate}.")
        if self.batch_size < 1:
            raise SpecError(f"batch size must be >= 1, but got {self.batch_size}.")
        if self.epochs < 1:
            raise SpecError(f"epochs must be >= 1, but got {self.epochs}.")
        if self.context_size < 0:
            raise SpecError(f"context size must be >= 0, but got {self.context_size}.")
        if self.subtoken_pooling not in SUBTOKEN_POOLINGS:
            raise SpecError(
                f"subtoken pooling must be one of {', '.join(SUBTOKEN_POOLINGS)}, but got {self.subtoken_pooling!r}."
            )
        if not 0 <= self.warmup_fraction < 1:
            raise SpecError(f"warmup fraction must be in [0, 1), but got {self.warmup_fraction}.")
        try:
            [int(layer) for layer in self.layers.split(",")]
        except ValueError:
            raise SpecError(f"layers must be like '-1' or '-1,-2,-3,-4', but got {self.layers!r}.") from None

    @property
    def use_context(self) -> bool | int:
        """Flair's ``use_context``: False for no context, else the context size."""
        return self.context_size if self.context_size > 0 else False

    @property
    def name(self) -> str:
        name = f"ws{self.use_context}-bs{self.batch_size}-e{self.epochs}-lr{self.learning_rate}"
        if self.layers != "-1":
            name += f"-layers{self.layers}"
        if self.subtoken_pooling != "first":
            name += f"-pooling{self.subtoken_pooling}"
        if self.use_crf:
            name += "-crfTrue"
        if self.warmup_fraction != 0.1:
            name += f"-wu{self.warmup_fraction:g}"
        if self.amp:
            name += "-amp"
        return name

    def to_params(self) -> dict[str, float | int | str | bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class GridSpace:
    """The cartesian product of the listed values; the paper's grids are of this kind."""

    learning_rates: tuple[float, ...]
    batch_sizes: tuple[int, ...]
    epochs: tuple[int, ...] = (10,)
    context_sizes: tuple[int, ...] = (0,)
    layers: tuple[str, ...] = ("-1",)
    subtoken_poolings: tuple[str, ...] = ("first",)
    use_crf: tuple[bool, ...] = (False,)
    amp: tuple[bool, ...] = (False,)

    kind = "grid"

    def __post_init__(self) -> None:
        for f in fields(self):
            values = getattr(self, f.name)
            if not values:
                raise SpecError(f"grid dimension '{f.name}' is empty; give at least one value.")
            if len(set(values)) != len(values):
                raise SpecError(f"grid dimension '{f.name}' lists a value twice: {list(values)}.")
        list(self.configs())  # validates every value

    def configs(self) -> Iterator[Config]:
        """Every grid point, in the recipe's loop order (batch size, epochs, learning rate)."""
        for bs, ep, lr, ctx, layers, pooling, crf, amp in itertools.product(
            self.batch_sizes,
            self.epochs,
            self.learning_rates,
            self.context_sizes,
            self.layers,
            self.subtoken_poolings,
            self.use_crf,
            self.amp,
        ):
            yield Config(
                learning_rate=lr,
                batch_size=bs,
                epochs=ep,
                context_size=ctx,
                layers=layers,
                subtoken_pooling=pooling,
                use_crf=crf,
                amp=amp,
            )

    def suggest(self, trial: optuna.Trial) -> Config:
        """The trial's configuration (grid trials are created with their params set)."""
        return Config(
            learning_rate=trial.suggest_categorical("learning_rate", self.learning_rates),
            batch_size=trial.suggest_categorical("batch_size", self.batch_sizes),
            epochs=trial.suggest_categorical("epochs", self.epochs),
            context_size=trial.suggest_categorical("context_size", self.context_sizes),
            layers=trial.suggest_categorical("layers", self.layers),
            subtoken_pooling=trial.suggest_categorical("subtoken_pooling", self.subtoken_poolings),
            use_crf=trial.suggest_categorical("use_crf", self.use_crf),
            warmup_fraction=trial.suggest_categorical("warmup_fraction", (0.1,)),
            amp=trial.suggest_categorical("amp", self.amp),
        )

    def __len__(self) -> int:
        n = 1
        for f in fields(self):
            n *= len(getattr(self, f.name))
        return n


DIMENSIONS = (
    "learning_rate",
    "batch_size",
    "epochs",
    "context_size",
    "layers",
    "subtoken_pooling",
    "use_crf",
    "warmup_fraction",
    "amp",
)
"""A sampled space's dimensions: the fields of ``Config``."""
SAMPLER_SEED = 0
"""A sampled study's trial ``n`` is drawn by a TPE sampler seeded with ``SAMPLER_SEED + n``."""
FLOAT_DIMENSIONS = ("learning_rate", "warmup_fraction")
INT_DIMENSIONS = ("batch_size", "epochs", "context_size")


@dataclass(frozen=True)
class Range:
    """A numeric interval to sample from: floats for learning rate and warmup, integers for the others."""

    low: float
    high: float
    log: bool = False

    def to_dict(self) -> dict[str, float | bool]:
        return {"low": self.low, "high": self.high, "log": self.log}


Dimension = Range | tuple[float | int | str | bool, ...]
"""A range, or the values to choose from; one value is a fixed value."""


@dataclass(frozen=True)
class SampledSpace:
    """A space that a sampler (Optuna's TPE) draws from, one trial at a time; the study's budget bounds it.

    ``dimensions`` maps each ``Config`` field to a ``Range`` or a tuple of choices; a field
    not given keeps the recipe's value (a one-value tuple). Learning rate and batch size
    must be given, as the recipe has a grid of them, not one value.

    Example:
        >>> space = SampledSpace({"learning_rate": Range(1e-5, 1e-4, log=True), "batch_size": (4, 8, 16)})
        >>> space.dimensions["epochs"]
        (10,)
    """

    dimensions: dict[str, Dimension]

    kind = "sampled"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.dimensions) - set(DIMENSIONS))
        if unknown:
            raise SpecError(
                f"unknown search dimension(s) {', '.join(unknown)}; the dimensions are {', '.join(DIMENSIONS)}."
            )
        missing = [name for name in ("learning_rate", "batch_size") if name not in self.dimensions]
        if missing:
            raise SpecError(f"a sampled space must give {' and '.join(missing)} (a range, a list, or one value).")
        recipe = {f.name: f.default for f in fields(Config) if f.name not in ("learning_rate", "batch_size")}
        full: dict[str, Dimension] = {}
        for name in DIMENSIONS:
            dim = self.dimensions.get(name, (recipe.get(name),))
            full[name] = _checked_dimension(name, dim)
        object.__setattr__(self, "dimensions", full)
        for name, dim in full.items():  # every bound and choice must make a valid Config
            values = (dim.low, dim.high) if isinstance(dim, Range) else dim
            for value in values:
                Config(**{**self._first_point(), name: _typed(name, value)})

    def _first_point(self) -> dict[str, float | int | str | bool]:
        return {
            name: _typed(name, dim.low if isinstance(dim, Range) else dim[0]) for name, dim in self.dimensions.items()
        }

    @property
    def searched(self) -> tuple[str, ...]:
        """The dimensions that vary (the others are fixed)."""
        return tuple(n for n, d in self.dimensions.items() if isinstance(d, Range) or len(d) > 1)

    def suggest(self, trial: optuna.Trial) -> Config:
        """The trial's configuration, drawn by the study's sampler (or the trial's params if already set).

        Fixed dimensions are suggested too (one choice), so that ``trial.params`` holds the whole configuration.
        Sampled floats are rounded to 3 significant digits for the configuration (and its name).
        """
        values: dict[str, float | int | str | bool] = {}
        for name, dim in self.dimensions.items():
            if isinstance(dim, Range) and name in FLOAT_DIMENSIONS:
                values[name] = _rounded(trial.suggest_float(name, dim.low, dim.high, log=dim.log))
            elif isinstance(dim, Range):
                values[name] = trial.suggest_int(name, int(dim.low), int(dim.high), log=dim.log)
            else:
                values[name] = trial.suggest_categorical(name, dim)
        return Config(**values)

    def sampler(self, trial_number: int) -> optuna.samplers.BaseSampler:
        """The sampler that draws trial ``trial_number``'s configuration: TPE, seeded with ``SAMPLER_SEED`` plus it.

        A fresh seeded sampler per trial keeps concurrent workers from drawing the same stream;
        ``constant_liar`` makes TPE count trials still running as bad, so they are not drawn again.
        """
        from optuna.samplers import TPESampler

        return TPESampler(seed=SAMPLER_SEED + trial_number, constant_liar=True)

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """The Optuna distribution of each dimension, as ``suggest`` uses them."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out: dict[str, optuna.distributions.BaseDistribution] = {}
        for name, dim in self.dimensions.items():
            if isinstance(dim, Range) and name in FLOAT_DIMENSIONS:
                out[name] = FloatDistribution(dim.low, dim.high, log=dim.log)
            elif isinstance(dim, Range):
                out[name] = IntDistribution(int(dim.low), int(dim.high), log=dim.log)
            else:
                out[name] = CategoricalDistribution(dim)
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-able: a range is ``{low, high, log}``, choices a list, a fixed value itself."""
        out: dict[str, object] = {}
        for name, dim in self.dimensions.items():
            if isinstance(dim, Range):
                out[name] = dim.to_dict()
            else:
                out[name] = dim[0] if len(dim) == 1 else list(dim)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object], *, where: str = "") -> SampledSpace:
        """The inverse of ``to_dict``; also reads a TOML ``[space]`` table (without its ``kind``).

        Raises:
            SpecError: an unknown dimension, an empty or malformed range, an empty list.
        """
        prefix = f"{where}: " if where else ""
        dims: dict[str, Dimension] = {}
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


def _rounded(value: float) -> float:
    return float(f"{value:.3g}")


def _checked_dimension(name: str, dim: Dimension) -> Dimension:
    if isinstance(dim, Range):
        if name not in FLOAT_DIMENSIONS + INT_DIMENSIONS:
            raise SpecError(f"dimension '{name}' takes a list of choices, not a range.")
        if not dim.low < dim.high:
            raise SpecError(f"range '{name}' is empty: low must be < high, but got low={dim.low}, high={dim.high}.")
        if dim.log and dim.low <= 0:
            raise SpecError(f"range '{name}' is log-scaled, so low must be > 0, but got {dim.low}.")
        if name in INT_DIMENSIONS and not (float(dim.low).is_integer() and float(dim.high).is_integer()):
            raise SpecError(f"range '{name}' takes whole numbers, but got low={dim.low}, high={dim.high}.")
        if name in FLOAT_DIMENSIONS:
            return Range(float(dim.low), float(dim.high), dim.log)
        return Range(int(dim.low), int(dim.high), dim.log)
    choices = tuple(dim)
    if not choices:
        raise SpecError(f"dimension '{name}' lists no values; give at least one.")
    if len(set(choices)) != len(choices):
        raise SpecError(f"dimension '{name}' lists a value twice: {list(choices)}.")
    return tuple(_typed(name, v) for v in choices)


def _typed(name: str, value: object) -> float | int | str | bool:
    """A choice as its Config field's type; SpecError if it has another."""
    if name in FLOAT_DIMENSIONS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        kind = "a number"
    elif name in INT_DIMENSIONS:
        ok = isinstance(value, int) and not isinstance(value, bool)
        kind = "a whole number"
    elif name in ("use_crf", "amp"):
        ok, kind = isinstance(value, bool), "true or false"
    else:
        ok, kind = isinstance(value, str), "a string"
    if not ok:
        raise SpecError(f"dimension '{name}' takes {kind}, but got {value!r}.")
    return float(value) if name in FLOAT_DIMENSIONS else value  # type: ignore[return-value]


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
