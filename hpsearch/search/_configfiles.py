"""Reading study config files: the project's TOML format, the recipe's JSON, and ``[space]`` tables.

Every reader checks keys and types and raises one-line ``SpecError``\\ s that name the file.
A TOML grid takes each dimension's grid key (``hpsearch.search._dimensions``); a sampled
``[space]`` takes each dimension's name.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hpsearch.errors import SpecError
from hpsearch.search._datasets import DEFAULT_DATASET, DatasetRef
from hpsearch.search._dimensions import DIMENSIONS
from hpsearch.search._space import SAMPLER_SEED, GridSpace, SampledSpace, wide_space
from hpsearch.search._spec import RECIPE_SEEDS, StudySpec
from hpsearch.search._zoo import PRESETS, resolve_model

RECIPE_KEYS = {
    "seeds",
    "batch_sizes",
    "hf_model",
    "context_size",
    "epochs",
    "learning_rates",
    "hipe_datasets",
    "cuda",
    "layers",
    "use_crf",
}
RECIPE_REQUIRED = {"seeds", "batch_sizes", "hf_model", "epochs", "learning_rates", "hipe_datasets"}
TOML_KEYS = {"model", "label", "datasets", "seeds", "data_dir", "space", "n_trials", "pruner", "sampler_seed"}
SPACE_KINDS = ("grid", "sampled")
GRID_KEYS = {d.grid_key for d in DIMENSIONS.values()}


def load_config(path: Path) -> StudySpec:
    """Read a study config: the project's TOML format or the recipe's JSON format.

    Raises:
        SpecError: unreadable, malformed or incomplete files, unknown keys, wrong types.
    """
    if not path.is_file():
        raise SpecError(f"config file {path} does not exist.")
    text = read_config_text(path)
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}).") from None
        except RecursionError:
            raise SpecError(f"{path}: not valid JSON (nested too deeply).") from None
        if not isinstance(data, dict):
            raise SpecError(f"{path}: expected a JSON object with the recipe's keys.")
        return _from_recipe_json(data, path)
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SpecError(f"{path}: not valid TOML ({e}).") from None
        except RecursionError:
            raise SpecError(f"{path}: not valid TOML (nested too deeply).") from None
        return _from_toml(data, path)
    raise SpecError(f"{path}: unknown config format; use a .toml study file or the recipe's .json config.")


def read_config_text(path: Path) -> str:
    """A config file's text, read as UTF-8.

    Raises:
        SpecError: the file cannot be read, or is not UTF-8 (naming the file and line).
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SpecError(f"cannot read {path}: {e.strerror or e}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SpecError(f"{path}:{line}: not UTF-8 text ({e.reason}); config files are read as UTF-8.") from None


def _from_recipe_json(data: Mapping[str, Any], path: Path) -> StudySpec:
    _check_keys(data, RECIPE_KEYS, RECIPE_REQUIRED, path)
    model, label = resolve_model(_typed(data, "hf_model", str, path))
    context = data.get("context_size", 0)
    if isinstance(context, bool) or not isinstance(context, int):
        raise SpecError(f"{path}: 'context_size' must be an integer, but got {context!r}.")
    space = GridSpace(
        learning_rates=_floats(data, "learning_rates", path),
        batch_sizes=_ints(data, "batch_sizes", path),
        epochs=_ints(data, "epochs", path),
        context_sizes=(context,),
        layers=(_typed(data, "layers", str, path, "-1"),),
        use_crf=(_typed(data, "use_crf", bool, path, False),),
    )
    datasets = tuple(DatasetRef.parse(d) for d in _list_of(data, "hipe_datasets", str, path))
    return StudySpec(model=model, label=label, space=space, datasets=datasets, seeds=_ints(data, "seeds", path))


def _from_toml(data: Mapping[str, Any], path: Path) -> StudySpec:
    _check_keys(data, TOML_KEYS, {"model", "space"}, path)
    model, label = resolve_model(_typed(data, "model", str, path))
    label = _typed(data, "label", str, path, label)
    space = _space_from_toml(data["space"], path)
    datasets = tuple(DatasetRef.parse(d) for d in _list_of(data, "datasets", str, path, [DEFAULT_DATASET.key]))
    data_dir = data.get("data_dir")
    if data_dir is not None and not isinstance(data_dir, str):
        raise SpecError(f"{path}: 'data_dir' must be a string.")
    n_trials = data.get("n_trials")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int)):
        raise SpecError(f"{path}: 'n_trials' must be an integer, but got {n_trials!r}.")
    try:
        return StudySpec(
            model=model,
            label=label,
            space=space,
            datasets=datasets,
            seeds=_ints(data, "seeds", path, RECIPE_SEEDS),
            data_dir=data_dir,
            n_trials=n_trials,
            pruner=_typed(data, "pruner", str, path) if "pruner" in data else None,
            sampler_seed=_typed(data, "sampler_seed", int, path, SAMPLER_SEED),
        )
    except SpecError as e:
        raise SpecError(f"{path}: {e}") from None


def load_space(path: Path) -> GridSpace | SampledSpace:
    """A search space from a TOML file that holds one ``[space]`` table (``kind = "grid"`` or ``"sampled"``).

    Raises:
        SpecError: unreadable file, other tables, unknown dimensions, empty ranges or lists.
    """
    if not path.is_file():
        raise SpecError(f"space file {path} does not exist; --space takes paper, wide or a .toml file.")
    try:
        data = tomllib.loads(read_config_text(path))
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML ({e}).") from None
    _check_keys(data, {"space"}, {"space"}, path)
    return _space_from_toml(data["space"], path)


def _space_from_toml(space_data: Any, path: Path) -> GridSpace | SampledSpace:
    if not isinstance(space_data, dict):
        raise SpecError(f"{path}: [space] must be a table.")
    kind = space_data.get("kind", "grid")
    if kind not in SPACE_KINDS:
        raise SpecError(f"{path}: unknown space kind {kind!r}; use {' or '.join(map(repr, SPACE_KINDS))}.")
    space_data = {k: v for k, v in space_data.items() if k != "kind"}
    if kind == "sampled":
        return SampledSpace.from_dict(space_data, where=f"{path} space table")
    required = {d.grid_key for d in DIMENSIONS.values() if d.required}
    _check_keys(space_data, GRID_KEYS, required, path, where="[space]")
    grid: dict[str, tuple[Any, ...]] = {}
    for d in DIMENSIONS.values():
        values = _list_of(space_data, d.grid_key, d.type, path, None if d.required else [d.default])
        grid[d.grid_key] = tuple(float(v) for v in values) if d.type is float else tuple(values)
    return GridSpace(**grid)


def is_t5(model: str) -> bool:
    """Whether a model (preset, hub id or resolved source) is a T5 encoder, which wants larger learning rates."""
    if model in PRESETS:
        model = PRESETS[model].hf_id
    config = Path(model).expanduser() / "config.json"
    if config.is_file():
        try:
            return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "t5"
        except (OSError, ValueError):  # unreadable, not JSON, not UTF-8
            pass
    return "t5" in Path(model).name.lower()


def named_space(name: str, model: str, *, paper: GridSpace) -> GridSpace | SampledSpace:
    """``--space``: ``paper`` (the given grid), ``wide`` (sampled, T5-aware) or a TOML file's ``[space]``."""
    if name == "paper":
        return paper
    if name == "wide":
        return wide_space(t5=is_t5(model))
    if name.endswith(".toml") or Path(name).exists():
        return load_space(Path(name))
    raise SpecError(f"--space takes paper, wide or a .toml file, but got {name!r}.")


def _check_keys(data: Mapping[str, Any], allowed: set[str], required: set[str], path: Path, where: str = "") -> None:
    prefix = f"{path}{' ' + where if where else ''}"
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SpecError(f"{prefix}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.")
    missing = sorted(required - set(data))
    if missing:
        raise SpecError(f"{prefix}: missing key(s) {', '.join(missing)}.")


def _typed(data: Mapping[str, Any], key: str, kind: type, path: Path, default: Any = None) -> Any:
    value = data.get(key, default)
    if value is None or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SpecError(f"{path}: '{key}' must be a {kind.__name__}, but got {value!r}.")
    return value


def _list_of(data: Mapping[str, Any], key: str, kind: type, path: Path, default: Any = None) -> list[Any]:
    values = data.get(key, default)
    if not isinstance(values, list) or not values:
        raise SpecError(f"{path}: '{key}' must be a non-empty list, but got {values!r}.")
    for v in values:
        ok = isinstance(v, kind) and not (kind in (int, float) and isinstance(v, bool))
        if kind is float:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok:
            raise SpecError(f"{path}: '{key}' must list {kind.__name__} values, but holds {v!r}.")
    return values


def _ints(data: Mapping[str, Any], key: str, path: Path, default: Sequence[int] | None = None) -> tuple[int, ...]:
    return tuple(_list_of(data, key, int, path, None if default is None else list(default)))


def _floats(data: Mapping[str, Any], key: str, path: Path) -> tuple[float, ...]:
    return tuple(float(v) for v in _list_of(data, key, float, path))
