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
        for bs, ep, lr, ctx, layers, pooling, crf in itertools.product(
            self.batch_sizes,
            self.epochs,
            self.learning_rates,
            self.context_sizes,
            self.layers,
            self.subtoken_poolings,
            self.use_crf,
        ):
            yield Config(
                learning_rate=lr,
                batch_size=bs,
                epochs=ep,
                context_size=ctx,
                layers=layers,
                subtoken_pooling=pooling,
                use_crf=crf,
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
        )

    def __len__(self) -> int:
        n = 1
        for f in fields(self):
            n *= len(getattr(self, f.name))
        return n
