"""The table of search dimensions: every row round-trips through names, Optuna params and TOML spaces."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpsearch.errors import SpecError
from hpsearch.search import (
    DIMENSIONS,
    PRUNERS,
    RECIPE_NAME,
    Config,
    Dimension,
    GridSpace,
    Range,
    SampledSpace,
    StudySpec,
    load_space,
    make_pruner,
    parse_config_name,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

ROWS = list(DIMENSIONS.values())
RECIPE = {"learning_rate": 5e-5, "batch_size": 8}
"""Values for the dimensions the recipe grids over, where a test varies another one."""
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def values(d: Dimension) -> st.SearchStrategy[Any]:
    """Valid values of a dimension that a name holds exactly (floats with 3 significant digits, as sampled)."""
    if d.choices is not None:
        return st.sampled_from(d.choices)
    if d.type is bool:
        return st.booleans()
    if d.type is float:
        return st.floats(0, 0.99).map(lambda v: float(f"{v:.3g}")).filter(d.valid)
    if d.type is int:
        return st.integers(0, 512).filter(d.valid)
    return st.from_regex(d.pattern or ".+", fullmatch=True, alphabet=st.characters(codec="ascii")).filter(d.valid)


def configs() -> st.SearchStrategy[Config]:
    return st.fixed_dictionaries({d.name: values(d) for d in ROWS}).map(lambda v: Config(**v))


def one_row_configs(d: Dimension) -> st.SearchStrategy[Config]:
    """Configurations at the recipe's values but for dimension ``d``."""
    return values(d).map(lambda v: Config(**{**RECIPE, d.name: v}))


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def test_the_table_is_consistent() -> None:
    from dataclasses import fields

    assert [f.name for f in fields(Config)] == list(DIMENSIONS)
    assert [f.name for f in fields(GridSpace)] == [d.grid_key for d in ROWS]
    assert len({d.tag for d in ROWS}) == len(ROWS)
    assert set(RECIPE_NAME) <= set(DIMENSIONS) and set(RECIPE) == {d.name for d in ROWS if d.required}
    for d in ROWS:
        assert d.doc and d.type in (float, int, str, bool)
        assert d.rangeable == (d.type in (float, int))
        if not d.required:
            d.check(d.default)  # the recipe's value is valid
            assert isinstance(d.default, d.type)
        assert set(d.stored_at_default) <= {"grid", "sampled"}


@SETTINGS
@given(configs())
def test_each_name_part_reads_as_its_own_dimension_only(config: Config) -> None:
    for d in ROWS:
        part = d.name_part(getattr(config, d.name))
        assert [e.name for e in ROWS if e.read_part(part, 0) is not None] == [d.name], part


def test_configuration_names_keep_todays_form() -> None:
    assert Config(**RECIPE).name == "wsFalse-bs8-e10-lr5e-05"
    full = Config(
        **RECIPE,
        epochs=3,
        context_size=64,
        layers="-1,-2,-3,-4",
        subtoken_pooling="mean",
        use_crf=True,
        warmup_fraction=0.05,
        amp=True,
    )
    assert full.name == "ws64-bs8-e3-lr5e-05-layers-1,-2,-3,-4-poolingmean-crfTrue-wu0.05-amp"
    assert Config.from_name(full.name) == full


@pytest.mark.parametrize("row", ROWS, ids=lambda d: d.name)
def test_every_row_round_trips_through_the_name(row: Dimension) -> None:
    @SETTINGS
    @given(one_row_configs(row))
    def check(config: Config) -> None:
        assert Config.from_name(config.name) == config
        assert parse_config_name(config.name) == config

    check()


@pytest.mark.parametrize("row", ROWS, ids=lambda d: d.name)
def test_every_row_round_trips_through_optuna_params(row: Dimension) -> None:
    """Config -> params with the grid's and a sampled space's distributions -> a stored trial -> Config."""

    @SETTINGS
    @given(one_row_configs(row))
    def check(config: Config) -> None:
        value = getattr(config, row.name)
        grid = GridSpace(**{d.grid_key: (getattr(config, d.name),) for d in ROWS})
        domain: Any = Range(value, value + 1) if row.rangeable else (value,)
        if row.rangeable and row.name == "warmup_fraction":
            domain = Range(0.0, 0.999)
        sampled = SampledSpace({**{k: (v,) for k, v in RECIPE.items()}, row.name: domain})
        for space in (grid, sampled):
            study = optuna.create_study()
            params = space.params(config)  # the searched dimensions; the constants stay in the space
            study.add_trial(optuna.trial.create_trial(params=params, distributions=space.distributions(), value=0.0))
            assert Config.from_params({**space.constants, **study.trials[0].params}) == config
            study.enqueue_trial(params)
            assert space.suggest(study.ask()) == config  # a trial whose params are set keeps them

    check()


@SETTINGS
@given(configs())
def test_whole_configurations_round_trip(config: Config) -> None:
    assert Config.from_name(config.name) == config
    assert Config.from_params(json.loads(json.dumps(config.to_params()))) == config


@pytest.mark.parametrize("row", ROWS, ids=lambda d: d.name)
def test_every_row_round_trips_through_a_toml_grid(row: Dimension, tmp_path: Path) -> None:
    @SETTINGS
    @given(st.lists(values(row), min_size=1, max_size=3, unique=True))
    def check(chosen: list[Any]) -> None:
        table = {d.grid_key: [RECIPE[d.name]] for d in ROWS if d.required}
        table[row.grid_key] = chosen
        path = tmp_path / "space.toml"
        lines = [f"{key} = [{', '.join(toml_value(v) for v in vals)}]" for key, vals in table.items()]
        path.write_text("[space]\nkind = 'grid'\n" + "\n".join(lines) + "\n")
        space = load_space(path)
        assert isinstance(space, GridSpace)
        assert [getattr(c, row.name) for c in space.configs()] == chosen
        assert {c.name for c in space.configs()} == {Config(**{**RECIPE, row.name: v}).name for v in chosen}
        assert GridSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space

    check()


@pytest.mark.parametrize("row", ROWS, ids=lambda d: d.name)
def test_every_row_round_trips_through_a_toml_sampled_space(row: Dimension, tmp_path: Path) -> None:
    @SETTINGS
    @given(values(row))
    def check(value: Any) -> None:
        fixed = {k: v for k, v in RECIPE.items() if k != row.name}
        lines = [f"{k} = {toml_value(v)}" for k, v in {**fixed, row.name: value}.items()]
        path = tmp_path / "space.toml"
        path.write_text("[space]\nkind = 'sampled'\n" + "\n".join(lines) + "\n")
        space = load_space(path)
        assert isinstance(space, SampledSpace) and space.dimensions[row.name] == (value,)
        assert SampledSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
        study = optuna.create_study()
        study.sampler = space.sampler(0)
        assert space.suggest(study.ask()) == Config(**{**RECIPE, row.name: value})

    check()


@pytest.mark.parametrize("row", [d for d in ROWS if d.rangeable], ids=lambda d: d.name)
def test_rangeable_rows_sample_inside_their_toml_range(row: Dimension, tmp_path: Path) -> None:
    low, high = (0.01, 0.5) if row.type is float else (1, 64)
    fixed = {k: v for k, v in RECIPE.items() if k != row.name}
    lines = [f"{k} = {toml_value(v)}" for k, v in fixed.items()]
    path = tmp_path / "space.toml"
    path.write_text(
        "[space]\nkind = 'sampled'\n" + "\n".join(lines) + f"\n{row.name} = {{low = {low}, high = {high}}}\n"
    )
    space = load_space(path)
    assert space.dimensions[row.name] == Range(low, high) and isinstance(space.dimensions[row.name].low, row.type)
    study = optuna.create_study()
    for number in range(5):
        study.sampler = space.sampler(number)
        config = space.suggest(study.ask())
        assert low <= getattr(config, row.name) <= high
        assert Config.from_name(config.name) == config


@pytest.mark.parametrize("row", [d for d in ROWS if not d.rangeable], ids=lambda d: d.name)
def test_choice_rows_refuse_a_range(row: Dimension) -> None:
    with pytest.raises(SpecError, match="takes a list of choices, not a range"):
        SampledSpace({**{k: (v,) for k, v in RECIPE.items()}, row.name: Range(1, 2)})


@pytest.mark.parametrize(
    ("name", "config_name"),
    [
        ("bs8-wsFalse-e10-lr5e-05-layers-1-crfFalse", "wsFalse-bs8-e10-lr5e-05"),
        (
            "bs4-ws64-e5-lr0.00016-poolingmean-layers-1,-2-crfTrue",
            "ws64-bs4-e5-lr0.00016-layers-1,-2-poolingmean-crfTrue",
        ),
    ],
)
def test_the_recipes_folder_spelling_is_read(name: str, config_name: str) -> None:
    assert parse_config_name(name).name == config_name


@SETTINGS
@given(configs())
def test_legacy_recipe_folder_names_round_trip(config: Config) -> None:
    from hpsearch.results import parse_run_name

    legacy = Config(**{**{d.name: d.default for d in ROWS if not d.required}, **_legacy_values(config)})
    parts = ["batch_size", "context_size", "epochs", "learning_rate", "subtoken_pooling", "layers", "use_crf"]
    folder = "bert-base-blbooks-cased-" + "-".join(DIMENSIONS[n].name_part(getattr(legacy, n)) for n in parts) + "-3"
    assert parse_run_name(folder) == (legacy, 3, "bert-base-blbooks-cased")


def _legacy_values(config: Config) -> dict[str, Any]:
    names = ("learning_rate", "batch_size", "epochs", "context_size", "layers", "subtoken_pooling", "use_crf")
    return {n: getattr(config, n) for n in names}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("wsFalse-bs8-e10", "no lr part"),
        ("wsFalse-bs8-e10-lr5e-05-dropout0.1", "unknown part at 'dropout0.1'"),
        ("wsFalse-bs8-e10-lr5e-05-crfTrue-crfTrue", "use crf is given twice"),
        ("wsFalse-bs0-e10-lr5e-05", "batch size must be >= 1"),
        ("", "unknown part"),
    ],
)
def test_bad_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_config_name(name)


def test_from_name_wants_the_canonical_form() -> None:
    with pytest.raises(SpecError, match="reads as 'wsFalse-bs8-e10-lr5e-05'"):
        Config.from_name("bs8-wsFalse-e10-lr5e-05-crfFalse")


def test_warmup_is_a_grid_key_that_old_specs_lack(tmp_path: Path) -> None:
    path = tmp_path / "space.toml"
    path.write_text("[space]\nlearning_rates = [5e-5]\nbatch_sizes = [8]\nwarmup_fractions = [0.05, 0.1]\n")
    space = load_space(path)
    assert isinstance(space, GridSpace)
    assert [c.name for c in space.configs()] == ["wsFalse-bs8-e10-lr5e-05-wu0.05", "wsFalse-bs8-e10-lr5e-05"]
    assert space.to_dict()["warmup_fractions"] == [0.05, 0.1]
    recipe = GridSpace(learning_rates=(5e-5,), batch_sizes=(8,))
    assert list(recipe.to_dict()) == [
        "learning_rates",
        "batch_sizes",
        "epochs",
        "context_sizes",
        "layers",
        "subtoken_poolings",
        "use_crf",
    ]


def test_stored_spec_versions() -> None:
    spec = StudySpec(model="org/m", label="m", space=GridSpace(learning_rates=(5e-5,), batch_sizes=(8,)))
    stored = spec.to_dict()
    assert stored["spec_version"] == 1
    assert StudySpec.from_dict(stored) == spec
    assert StudySpec.from_dict({k: v for k, v in stored.items() if k != "spec_version"}) == spec
    with pytest.raises(SpecError, match="spec_version 2 is not one this hpsearch reads"):
        StudySpec.from_dict({**stored, "spec_version": 2})


def test_pruners_are_one_registry() -> None:
    for name, entry in PRUNERS.items():
        assert make_pruner(name).name == name
        assert entry.help and "\n" not in entry.help
    with pytest.raises(SpecError, match="choose one of none, wilcoxon, paired"):
        make_pruner("median")


def test_search_imports_no_runtime_of_other_layers() -> None:
    """At module level, hpsearch.search imports neither Optuna, Flair nor torch, nor other hpsearch packages."""
    allowed = ("hpsearch.search", "hpsearch.errors")
    package = Path(__file__).resolve().parents[2] / "hpsearch" / "search"
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only: imports inside functions and TYPE_CHECKING are lazy
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                ok = name.startswith(allowed) or top not in ("hpsearch", "optuna", "flair", "torch", "transformers")
                assert ok, f"{path.name} imports {name} at module level"
