"""What differs between two study specs, field by field (``create --if-exists resume``, ``extend``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hpsearch.search._spec import StudySpec

_ABSENT = object()


def spec_diff(a: StudySpec, b: StudySpec) -> list[str]:
    """One line per stored field that differs from ``a`` to ``b``: ``space.epochs: [10] -> [10, 20]``.

    Fields are the keys of the stored form (``StudySpec.to_dict``), nested ones joined by dots; a
    field only one side has shows ``(none)`` on the other. Empty when the specs are the same.

    Example:
        >>> from hpsearch.search import spec_from_options
        >>> spec_diff(spec_from_options("bert", seeds=(1, 2)), spec_from_options("bert", seeds=(1, 2, 3)))
        ['seeds: [1, 2] -> [1, 2, 3]']
    """
    return _diff(a.to_dict(), b.to_dict(), "")


def _diff(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str) -> list[str]:
    lines = []
    for key in [*a, *(k for k in b if k not in a)]:
        left, right = a.get(key, _ABSENT), b.get(key, _ABSENT)
        if isinstance(left, Mapping) and isinstance(right, Mapping):
            lines += _diff(left, right, f"{prefix}{key}.")
        elif left != right:
            lines.append(f"{prefix}{key}: {_show(left)} -> {_show(right)}")
    return lines


def _show(value: object) -> str:
    return "(none)" if value is _ABSENT else repr(value) if isinstance(value, str) else str(value)
