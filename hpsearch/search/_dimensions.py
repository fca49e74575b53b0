"""The search dimensions: one row per hyperparameter, declared once, and everything else derived from the table.

``Config`` (its fields, defaults, checks and name), reading configuration names back (also the recipe's
run folders), ``GridSpace`` (its fields and loop), ``SampledSpace`` (ranges, choices, suggestions), the
TOML ``[space]`` readers and the Optuna distributions stored with each trial all read ``DIMENSIONS``.

Adding a dimension is one row here plus the line of training code that uses it; a new row keeps
``stored_at_default`` empty, so specs stored before it existed stay equal (docs/architecture.md).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from hpsearch.errors import SpecError

if TYPE_CHECKING:
    import optuna

Value = float | int | str | bool
"""One dimension's value in a configuration."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()
"""The default of a dimension the recipe grids over: it has no single value, so every space must give it."""


@dataclass(frozen=True)
class Range:
    """A numeric interval to sample from: floats for float dimensions, whole numbers for int ones."""

    low: float
    high: float
    log: bool = False

    def to_dict(self) -> dict[str, float | bool]:
        return {"low": self.low, "high": self.high, "log": self.log}


Domain = Range | tuple[Value, ...]
"""What a space searches for one dimension: a range, or the values to choose from (one value is fixed)."""

MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 4096
MAX_CONTEXT_SIZE = 4096
"""Upper bounds of the numeric dimensions: far above any sane study, low enough to catch a typo."""

_NUMBER = r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_KINDS = {float: "a number", int: "a whole number", bool: "true or false", str: "a string"}
_ALWAYS = ("grid", "sampled")


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter: how a configuration holds it, names it, checks it, and how spaces search it.

    Attributes:
        name: The ``Config`` field, the Optuna param and the key in a sampled ``[space]`` table.
        type: ``float``, ``int``, ``str`` or ``bool``; float and int dimensions can be searched as a
            ``Range``, the others only as choices.
        default: The recipe's value, which a configuration gets where a space does not search the
            dimension; ``REQUIRED`` for those the recipe grids over.
        grid_key: Its key in a grid: the ``GridSpace`` field, the TOML grid key and the stored grid spec key.
        tag: Its part of a configuration name, ``{tag}{text(value)}``: ``bs8``, ``crfTrue``.
        doc: What it is, in one line.
        rule: The values it takes, as errors say it after its label (``must be > 0``); ``valid`` checks it.
        valid: Whether a configuration can take a value.
        choices: The only values it takes, for a dimension of named options (instead of ``rule``).
        text: A value as names write it.
        pattern: A regex for what ``text`` writes (by default: by type, or the choices).
        read: The inverse of ``text`` (by default the type itself; ``True``/``False`` for bools).
        stored_at_default: The space kinds whose stored spec writes the dimension also at the recipe's
            value. Specs stored before a dimension existed lack its key, so a new row leaves this
            empty: specs that do not search it keep their stored form, and resuming still finds them equal.
    """

    name: str
    type: type
    default: Any
    grid_key: str
    tag: str
    doc: str
    rule: str = ""
    valid: Callable[[Any], bool] = lambda _value: True
    choices: tuple[Value, ...] | None = None
    text: Callable[[Any], str] = str
    pattern: str | None = None
    read: Callable[[str], Value] | None = None
    stored_at_default: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def rangeable(self) -> bool:
        """Whether a sampled space can search it as a ``Range`` (else only as choices)."""
        return self.type in (float, int)

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    # --- configurations --------------------------------------------------------------------------

    def check(self, value: Any) -> None:
        """Raises ``SpecError`` if a configuration cannot take ``value``."""
        if self.choices is not None:
            ok, rule = value in self.choices, f"must be one of {', '.join(map(str, self.choices))}"
        else:
            ok, rule = self.valid(value), self.rule
        if not ok:
            shown = repr(value) if self.type is str else value
            raise SpecError(f"{self.label} {rule}, but got {shown}.")

    def typed(self, value: object) -> Value:
        """``value`` as this dimension's type (a whole number becomes a float for float dimensions).

        Raises:
            SpecError: a value of another type.
        """
        if self.type is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, self.type)
        if not ok:
            raise SpecError(f"dimension '{self.name}' takes {_KINDS[self.type]}, but got {value!r}.")
        return float(value) if self.type is float else value

    # --- names -----------------------------------------------------------------------------------

    def name_part(self, value: Value) -> str:
        """The value as a part of a configuration name: ``bs8``."""
        return f"{self.tag}{self.text(value)}"

    @functools.cached_property
    def part_pattern(self) -> str:
        """A regex (without groups) for one name part of this dimension: ``bs\\d+``."""
        return f"{re.escape(self.tag)}(?:{self._value_pattern})"

    def read_part(self, name: str, pos: int) -> tuple[Value, int] | None:
        """The value of this dimension's part at ``name[pos:]`` (up to the next ``-`` or the end), and its end."""
        match = self._part_regex.match(name, pos)
        if match is None:
            return None
        text = match.group(1)
        if self.read is not None:
            return self.read(text), match.end()
        if self.type is bool:
            return text == "True", match.end()
        return self.type(text), match.end()

    @functools.cached_property
    def _value_pattern(self) -> str:
        if self.pattern is not None:
            return self.pattern
        if self.choices is not None:
            return "|".join(re.escape(str(c)) for c in sorted(self.choices, key=lambda c: -len(str(c))))
        return {float: _NUMBER, int: r"\d+", bool: "True|False"}[self.type]

    @functools.cached_property
    def _part_regex(self) -> re.Pattern[str]:
        return re.compile(f"{re.escape(self.tag)}({self._value_pattern})(?=-|$)")

    # --- spaces ----------------------------------------------------------------------------------

    def domain(self, domain: Domain) -> Domain:
        """A space's range or choices for this dimension, checked, with values and bounds of its type.

        Raises:
            SpecError: a range of a choices-only dimension, an empty range, no choices, a choice twice.
        """
        if isinstance(domain, Range):
            if not self.rangeable:
                raise SpecError(f"dimension '{self.name}' takes a list of choices, not a range.")
            low, high = domain.low, domain.high
            if not low < high:
                raise SpecError(f"range '{self.name}' is empty: low must be < high, but got low={low}, high={high}.")
            if domain.log and low <= 0:
                raise SpecError(f"range '{self.name}' is log-scaled, so low must be > 0, but got {low}.")
            if self.type is float:
                return Range(float(low), float(high), domain.log)
            if not (float(low).is_integer() and float(high).is_integer()):
                raise SpecError(f"range '{self.name}' takes whole numbers, but got low={low}, high={high}.")
            return Range(int(low), int(high), domain.log)
        choices = tuple(domain)
        if not choices:
            raise SpecError(f"dimension '{self.name}' lists no values; give at least one.")
        if len(set(choices)) != len(choices):
            raise SpecError(f"dimension '{self.name}' lists a value twice: {list(choices)}.")
        return tuple(self.typed(v) for v in choices)

    def suggest(self, trial: optuna.Trial, domain: Domain) -> Value:
        """The trial's value: drawn by its sampler, or its param if already set (a grid trial's).

        Sampled floats are rounded to 3 significant digits for the configuration (and its name).
        """
        if isinstance(domain, Range) and self.type is float:
            return float(f"{trial.suggest_float(self.name, domain.low, domain.high, log=domain.log):.3g}")
        if isinstance(domain, Range):
            return trial.suggest_int(self.name, int(domain.low), int(domain.high), log=domain.log)
        return trial.suggest_categorical(self.name, domain)

    def distribution(self, domain: Domain) -> optuna.distributions.BaseDistribution:
        """The Optuna distribution ``suggest`` draws from (stored with each trial's param)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if isinstance(domain, Range) and self.type is float:
            return FloatDistribution(domain.low, domain.high, log=domain.log)
        if isinstance(domain, Range):
            return IntDistribution(int(domain.low), int(domain.high), log=domain.log)
        return CategoricalDistribution(domain)


def _layer_list(value: object) -> bool:
    """Whether ``value`` is layer indices joined by commas: ``-1`` or ``-1,-2,-3,-4``."""
    if not isinstance(value, str):
        return False
    try:
        [int(layer) for layer in value.split(",")]
    except ValueError:
        return False
    return True


DIMENSIONS: Mapping[str, Dimension] = MappingProxyType(
    {
        d.name: d
        for d in (
            Dimension(
                "learning_rate", float, REQUIRED, grid_key="learning_rates", tag="lr",
                doc="The optimizer's peak learning rate.",
                rule="must be > 0 and finite", valid=lambda v: math.isfinite(v) and v > 0,
                stored_at_default=_ALWAYS,
            ),
            Dimension(
                "batch_size", int, REQUIRED, grid_key="batch_sizes", tag="bs",
                doc="Sentences per mini-batch.",
                rule=f"must be >= 1 and <= {MAX_BATCH_SIZE}", valid=lambda v: 1 <= v <= MAX_BATCH_SIZE,
                stored_at_default=_ALWAYS,
            ),
            Dimension(
                "epochs", int, 10, grid_key="epochs", tag="e",
                doc="Training epochs.",
                rule=f"must be >= 1 and <= {MAX_EPOCHS}", valid=lambda v: 1 <= v <= MAX_EPOCHS,
                stored_at_default=_ALWAYS,
            ),
            Dimension(
                "context_size", int, 0, grid_key="context_sizes", tag="ws",
                doc="FLERT document context around each sentence; 0 for none (named wsFalse).",
                rule=f"must be >= 0 and <= {MAX_CONTEXT_SIZE}", valid=lambda v: 0 <= v <= MAX_CONTEXT_SIZE,
                text=lambda v: str(v) if v else "False", pattern=r"False|\d+",
                read=lambda t: 0 if t == "False" else int(t),
                stored_at_default=_ALWAYS,
            ),
            Dimension(
                "layers", str, "-1", grid_key="layers", tag="layers",
                doc="The transformer layers whose embeddings the tagger reads: '-1' or '-1,-2,-3,-4'.",
                rule="must be like '-1' or '-1,-2,-3,-4'", valid=_layer_list, pattern=r"-?\d+(?:,-?\d+)*",
                stored_at_default=_ALWAYS,
            ),
            Dimension(
                "subtoken_pooling", str, "first", grid_key="subtoken_poolings", tag="pooling",
                doc="How a word's subtoken embeddings become the word's.",
                choices=("first", "last", "first_last", "mean"),
                stored_at_default=_ALWAYS,
            ),
            Dimension(
                "use_crf", bool, False, grid_key="use_crf", tag="crf",
                doc="A CRF on top of the linear tagger.",
                stored_at_default=_ALWAYS,
            ),
            Dimension(
                "warmup_fraction", float, 0.1, grid_key="warmup_fractions", tag="wu",
                doc="The share of training steps over which the learning rate warms up.",
                rule="must be in [0, 1)", valid=lambda v: 0 <= v < 1,
                text=lambda v: f"{v:g}",
                stored_at_default=("sampled",),
            ),
            Dimension(
                "amp", bool, False, grid_key="amp", tag="amp",
                doc="Mixed precision on the GPU (bf16, else fp16); it can change results, so it is named '-amp'.",
                text=lambda _v: "", pattern="", read=lambda _t: True,
                stored_at_default=("sampled",),
            ),
        )
    }
)  # fmt: skip
"""Every search dimension, by name, in ``Config``'s field order (also the order of params and suggestions)."""

RECIPE_NAME = ("context_size", "batch_size", "epochs", "learning_rate")
"""The parts every configuration name starts with, in this order: the recipe's ``wsFalse-bs8-e10-lr5e-05``.

Each other dimension adds ``-{tag}{value}``, in table order, where it differs from the recipe's value.
"""
RECIPE_LOOP = ("batch_size", "epochs", "learning_rate")
"""The recipe's grid loop order; the other dimensions vary fastest, in table order."""
