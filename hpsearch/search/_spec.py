"""The study spec: everything a worker needs to train a study's trials.

One ``StudySpec`` flows from a config file (or CLI options) into the study's user attributes,
and from there to every worker and trainer. It is validated on construction.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hpsearch.errors import SpecError
from hpsearch.search._pruning import DEFAULT_PRUNER, PRUNERS
from hpsearch.search._space import GridSpace, SampledSpace, wide_space
from hpsearch.search._zoo import PRESETS

SPEC_VERSION = 1
HIPE_VERSION = "v2.1"

# Flair's NER_HIPE_2022 datasets and languages (v2.1), with their splits.
HIPE_DATASETS: dict[str, dict[str, tuple[str, ...]]] = {
    "ajmc": dict.fromkeys(("de", "en", "fr"), ("train", "dev", "test")),
    "hipe2020": {"de": ("train", "dev", "test"), "en": ("dev", "test"), "fr": ("train", "dev", "test")},
    "letemps": {"fr": ("train", "dev", "test")},
    "newseye": dict.fromkeys(("de", "fi", "fr", "sv"), ("train", "dev", "dev2", "test")),
    "sonar": {"de": ("dev", "test")},
    "topres19th": {"en": ("train", "dev", "test")},
}


@dataclass(frozen=True)
class DatasetRef:
    """One HIPE-2022 dataset in one language, e.g. ``ajmc/en``."""

    name: str
    language: str

    def __post_init__(self) -> None:
        if self.name not in HIPE_DATASETS:
            raise SpecError(
                f"unknown HIPE-2022 dataset {self.name!r}; choose one of {', '.join(sorted(HIPE_DATASETS))}."
            )
        if self.language not in HIPE_DATASETS[self.name]:
            langs = ", ".join(sorted(HIPE_DATASETS[self.name]))
            raise SpecError(f"dataset {self.name!r} has no language {self.language!r}; choose one of {langs}.")

    @classmethod
    def parse(cls, text: str) -> DatasetRef:
        name, sep, language = text.partition("/")
        if not sep or not name or not language or "/" in language:
            raise SpecError(f"a dataset is written DATASET/LANG, e.g. 'ajmc/en', but got {text!r}.")
        return cls(name, language)

    @property
    def key(self) -> str:
        return f"{self.name}/{self.language}"

    @property
    def splits(self) -> tuple[str, ...]:
        return HIPE_DATASETS[self.name][self.language]


@dataclass(frozen=True)
class StudySpec:
    """What to train and how to search: model, data, seeds, search space, budget and pruner.

    A grid queues its points; a sampled space queues ``n_trials`` trials whose configurations
    the workers draw (``n_trials`` is its budget). ``pruner`` names the early-stopping rule
    (``hpsearch.search._pruning``); None picks the space kind's default.
    """

    model: str
    label: str
    space: GridSpace | SampledSpace
    datasets: tuple[DatasetRef, ...] = (DatasetRef("ajmc", "en"),)
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    data_dir: str | None = None
    n_trials: int | None = None
    pruner: str | None = None

    def __post_init__(self) -> None:
        if self.pruner is None:
            object.__setattr__(self, "pruner", DEFAULT_PRUNER[self.space.kind])
        if self.pruner not in PRUNERS:
            raise SpecError(f"unknown pruner {self.pruner!r}; choose one of {', '.join(PRUNERS)}.")
        if isinstance(self.space, SampledSpace):
            if self.n_trials is None or self.n_trials < 1:
                raise SpecError(f"a sampled space needs a trial budget --n-trials >= 1, but got {self.n_trials}.")
        elif self.n_trials is not None:
            raise SpecError("--n-trials sets the budget of a sampled space; a grid queues each of its points once.")
        if not self.model:
            raise SpecError("the model is empty; give a preset name, a hub id or a local model folder.")
        if not self.datasets:
            raise SpecError("no dataset given; name at least one, e.g. 'ajmc/en'.")
        if not self.seeds:
            raise SpecError("no seeds given; the recipe uses seeds [1, 2, 3, 4, 5].")
        if len(set(self.seeds)) != len(self.seeds):
            raise SpecError(f"seeds must be distinct, but got {list(self.seeds)}.")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", self.label):
            raise SpecError(f"model label {self.label!r} may hold only letters, digits and . _ + -.")

    @property
    def default_study_name(self) -> str:
        data = "+".join(f"{d.name}-{d.language}" for d in self.datasets)
        return f"{data}-{self.label}"

    @property
    def n_configs(self) -> int:
        """Trials the study queues: the grid's points, or a sampled space's budget."""
        return self.n_trials if isinstance(self.space, SampledSpace) else len(self.space)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if isinstance(self.space, SampledSpace):
            space = self.space.to_dict()
            extra["n_trials"] = self.n_trials
        else:
            space = {f.name: list(getattr(self.space, f.name)) for f in fields(self.space)}
            if self.space.amp == (False,):
                del space["amp"]  # specs stored before --amp existed stay equal
        if self.pruner != "none":
            extra["pruner"] = self.pruner  # specs stored before pruners existed stay equal
        return {
            "spec_version": SPEC_VERSION,
            "model": self.model,
            "label": self.label,
            "datasets": [d.key for d in self.datasets],
            "seeds": list(self.seeds),
            "data_dir": self.data_dir,
            "space": {"kind": self.space.kind, **space},
            **extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySpec:
        space_data = dict(data["space"])
        kind = space_data.pop("kind", "grid")
        space: GridSpace | SampledSpace
        if kind == "grid":
            space = GridSpace(**{k: tuple(v) for k, v in space_data.items()})
        elif kind == "sampled":
            space = SampledSpace.from_dict(space_data, where="stored spec")
        else:
            raise SpecError(f"unknown space kind {kind!r} in stored spec.")
        return cls(
            model=data["model"],
            label=data["label"],
            space=space,
            datasets=tuple(DatasetRef.parse(d) for d in data["datasets"]),
            seeds=tuple(data["seeds"]),
            data_dir=data.get("data_dir"),
            n_trials=data.get("n_trials"),
            pruner=data.get("pruner", "none"),
        )


# --- model references --------------------------------------------------------------------------------

_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def resolve_model(model: str) -> tuple[str, str]:
    """Map ``--model`` (preset, local folder or hub id) to ``(model, label)``.

    Raises:
        SpecError: an unknown preset, or a local path that does not exist or holds no model.
    """
    if model in PRESETS:
        return PRESETS[model].hf_id, model
    path = Path(model).expanduser()
    looks_local = model.startswith((".", "/", "~")) or path.exists()
    if looks_local:
        if not path.is_dir():
            raise SpecError(f"model folder {model} does not exist; give an existing folder with a config.json.")
        if not (path / "config.json").is_file():
            raise SpecError(f"model folder {model} has no config.json; point --model at a saved Hugging Face model.")
        return str(path.resolve()), _label_from(path.name)
    if _HUB_ID.fullmatch(model):
        return model, _label_from(model.split("/")[-1])
    presets = ", ".join(PRESETS)
    raise SpecError(
        f"unknown model preset {model!r}; choose one of {presets}, or give a hub id (org/name) or a local model folder."
    )


def _label_from(name: str) -> str:
    label = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-")
    return label or "model"


# --- config files --------------------------------------------------------------------------------

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
TOML_KEYS = {"model", "label", "datasets", "seeds", "data_dir", "space", "n_trials", "pruner"}
SPACE_KINDS = ("grid", "sampled")
GRID_KEYS = {f.name for f in fields(GridSpace)}


def load_config(path: Path) -> StudySpec:
    """Read a study config: the project's TOML format or the recipe's JSON format.

    Raises:
        SpecError: unreadable, malformed or incomplete files, unknown keys, wrong types.
    """
    if not path.is_file():
        raise SpecError(f"config file {path} does not exist.")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}).") from None
        if not isinstance(data, dict):
            raise SpecError(f"{path}: expected a JSON object with the recipe's keys.")
        return _from_recipe_json(data, path)
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise SpecError(f"{path}: not valid TOML ({e}).") from None
        return _from_toml(data, path)
    raise SpecError(f"{path}: unknown config format; use a .toml study file or the recipe's .json config.")


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
    datasets = tuple(DatasetRef.parse(d) for d in _list_of(data, "datasets", str, path, ["ajmc/en"]))
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
            seeds=_ints(data, "seeds", path, (1, 2, 3, 4, 5)),
            data_dir=data_dir,
            n_trials=n_trials,
            pruner=_typed(data, "pruner", str, path) if "pruner" in data else None,
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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
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
    _check_keys(space_data, GRID_KEYS, {"learning_rates", "batch_sizes"}, path, where="[space]")
    return GridSpace(
        learning_rates=_floats(space_data, "learning_rates", path),
        batch_sizes=_ints(space_data, "batch_sizes", path),
        epochs=_ints(space_data, "epochs", path, (10,)),
        context_sizes=_ints(space_data, "context_sizes", path, (0,)),
        layers=tuple(_list_of(space_data, "layers", str, path, ["-1"])),
        subtoken_poolings=tuple(_list_of(space_data, "subtoken_poolings", str, path, ["first"])),
        use_crf=tuple(_list_of(space_data, "use_crf", bool, path, [False])),
        amp=tuple(_list_of(space_data, "amp", bool, path, [False])),
    )


def is_t5(model: str) -> bool:
    """Whether a model (preset, hub id or resolved source) is a T5 encoder, which wants larger learning rates."""
    if model in PRESETS:
        model = PRESETS[model].hf_id
    config = Path(model).expanduser() / "config.json"
    if config.is_file():
        try:
            return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "t5"
        except (OSError, json.JSONDecodeError):
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
    default_lrs = preset.learning_rates if preset else (3e-5, 5e-5)
    default_datasets = (DatasetRef.parse(preset.dataset),) if preset else (DatasetRef("ajmc", "en"),)
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
        seeds=tuple(seeds) or (1, 2, 3, 4, 5),
        data_dir=data_dir,
    )


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"1,2,3"`` or ``"1-5"`` to a tuple of seeds."""
    try:
        if "-" in text.strip().lstrip("-") and "," not in text:
            low, high = text.split("-", 1)
            return tuple(range(int(low), int(high) + 1))
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SpecError(f"seeds are written like '1,2,3,4,5' or '1-5', but got {text!r}.") from None
