"""A configuration (one point of a search space), its name, and reading names back.

``Config`` has one field per row of ``hpsearch.search._dimensions.DIMENSIONS``: its type, the
recipe's value as default, its checks and its name suffix all come from the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hpsearch.errors import SpecError
from hpsearch.search._dimensions import DIMENSIONS, RECIPE_NAME, Value

_T = TypeVar("_T")


def _dimension_fields(cls: type[_T]) -> type[_T]:
    """Give ``cls`` one field per dimension (its type; the recipe's value as default) as a frozen dataclass."""
    cls.__annotations__ = {d.name: d.type.__name__ for d in DIMENSIONS.values()}
    for d in DIMENSIONS.values():
        if not d.required:
            setattr(cls, d.name, d.default)
    return dataclass(frozen=True)(cls)


@_dimension_fields
class Config:
    """One training configuration: a value per search dimension; the recipe's values are the defaults.

    Its ``name`` follows the recipe (``wsFalse-bs8-e10-lr5e-05``) and grows a suffix for each
    dimension that differs from the recipe (``-layers-1,-2,-3,-4``, ``-poolingmean``, ``-crfTrue``,
    ``-wu0.05``, ``-amp``), so recipe names stay unchanged.

    Example:
        >>> config = Config(learning_rate=5e-5, batch_size=8, use_crf=True)
        >>> config.name
        'wsFalse-bs8-e10-lr5e-05-crfTrue'
        >>> Config.from_name(config.name) == config
        True
    """

    def __post_init__(self) -> None:
        for d in DIMENSIONS.values():
            d.check(getattr(self, d.name))

    @property
    def use_context(self) -> bool | int:
        """Flair's ``use_context``: False for no context, else the context size."""
        return self.context_size if self.context_size > 0 else False

    @property
    def name(self) -> str:
        parts = [DIMENSIONS[n].name_part(getattr(self, n)) for n in RECIPE_NAME]
        for d in DIMENSIONS.values():
            if d.name not in RECIPE_NAME and getattr(self, d.name) != d.default:
                parts.append(d.name_part(getattr(self, d.name)))
        return "-".join(parts)

    def to_params(self) -> dict[str, Value]:
        """The Optuna params: one per dimension, in table order."""
        return {name: getattr(self, name) for name in DIMENSIONS}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Config:
        """The configuration of a trial's params; a dimension it lacks (one added later) keeps the recipe's value.

        Raises:
            SpecError: a dimension the recipe grids over is missing, or a value is out of bounds.
        """
        missing = [d.name for d in DIMENSIONS.values() if d.required and d.name not in params]
        if missing:
            raise SpecError(f"the params give no {' and '.join(missing)}: {dict(params)}.")
        return cls(**{k: v for k, v in params.items() if k in DIMENSIONS})

    @classmethod
    def from_name(cls, name: str) -> Config:
        """The configuration named ``name``, which must be written exactly as ``Config.name`` writes it.

        Raises:
            SpecError: ``name`` is not a configuration name, or not in its canonical form.
        """
        config = parse_config_name(name)
        if config.name != name:
            raise SpecError(f"{name!r} is not written as a configuration name; it reads as {config.name!r}.")
        return config


def parse_config_name(name: str) -> Config:
    """Read a configuration from a name made of ``{tag}{value}`` parts joined by ``-``, in any order.

    Reads ``Config.name`` and also the recipe's folder spelling (``bs8-wsFalse-e10-lr5e-05-layers-1-crfFalse``):
    the parts may come in another order and may spell out the recipe's values.

    Raises:
        SpecError: an unknown part, a part given twice, or a missing ``ws``, ``bs``, ``e`` or ``lr`` part.
    """
    values: dict[str, Value] = {}
    pos = 0
    while pos < len(name) or not values:
        if values:
            pos += 1  # the "-" before each part but the first
        for d in DIMENSIONS.values():
            if (read := d.read_part(name, pos)) is not None:
                break
        else:
            raise SpecError(f"cannot read a configuration name from {name!r}: unknown part at {name[pos:]!r}.")
        if d.name in values:
            raise SpecError(f"cannot read a configuration name from {name!r}: {d.label} is given twice.")
        values[d.name], pos = read
    missing = [DIMENSIONS[n].tag for n in RECIPE_NAME if n not in values]
    if missing:
        raise SpecError(f"cannot read a configuration name from {name!r}: it has no {', '.join(missing)} part.")
    return Config(**values)
