"""Study specs: presets, config files in both formats, validation, configuration names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpsearch.errors import SpecError
from hpsearch.search import (
    PRESETS,
    Config,
    DatasetRef,
    GridSpace,
    StudySpec,
    load_config,
    parse_seeds,
    resolve_model,
    spec_for_preset,
)

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def test_zoo_matches_the_paper() -> None:
    assert set(PRESETS) == {"bert", "electra", "convbert", "t5-small", "t5-base", "t5-large"}
    assert PRESETS["t5-base"].hf_id == "bigscience-historical-texts/t5-efficient-blbooks-base-nl36"
    assert PRESETS["bert"].learning_rates == (3e-5, 5e-5)
    assert PRESETS["t5-large"].learning_rates == (1.5e-4, 1.6e-4)
    spec = spec_for_preset("t5-base")
    assert spec.default_study_name == "ajmc-en-t5-base"
    assert spec.seeds == (1, 2, 3, 4, 5)
    assert sorted(c.name for c in spec.space.configs()) == [
        "wsFalse-bs4-e10-lr0.00015",
        "wsFalse-bs4-e10-lr0.00016",
        "wsFalse-bs8-e10-lr0.00015",
        "wsFalse-bs8-e10-lr0.00016",
    ]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_study_files_equal_presets(name: str) -> None:
    assert load_config(STUDIES / f"{name}.toml") == spec_for_preset(name)


def test_recipe_json_is_accepted_unchanged() -> None:
    spec = load_config(STUDIES / "recipe-bert.json")
    assert spec.model == PRESETS["bert"].hf_id
    assert spec.label == "bert-base-blbooks-cased"
    assert len(spec.space) == 4
    assert {c.name for c in spec.space.configs()} == {c.name for c in spec_for_preset("bert").space.configs()}


def test_configuration_names_follow_the_recipe() -> None:
    assert Config(learning_rate=5e-5, batch_size=8).name == "wsFalse-bs8-e10-lr5e-05"
    assert Config(learning_rate=3e-5, batch_size=4, context_size=64).name == "ws64-bs4-e10-lr3e-05"
    extended = Config(learning_rate=5e-5, batch_size=8, layers="-1,-2,-3,-4", use_crf=True, subtoken_pooling="mean")
    assert extended.name == "wsFalse-bs8-e10-lr5e-05-layers-1,-2,-3,-4-poolingmean-crfTrue"


def test_spec_round_trips_through_dict() -> None:
    spec = StudySpec(
        model="org/model",
        label="model",
        space=GridSpace(learning_rates=(1e-5,), batch_sizes=(16,), context_sizes=(0, 64)),
        datasets=(DatasetRef("ajmc", "de"), DatasetRef("newseye", "fi")),
        seeds=(7, 8),
        data_dir="/data",
    )
    assert StudySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.default_study_name == "ajmc-de+newseye-fi-model"


def test_resolve_model(tmp_path: Path) -> None:
    assert resolve_model("bert") == (PRESETS["bert"].hf_id, "bert")
    assert resolve_model("org/some-model") == ("org/some-model", "some-model")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path / "m")) == (str((tmp_path / "m").resolve()), "m")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("roberta", "unknown model preset 'roberta'"),
        ("/no/such/folder", "does not exist"),
        ("./missing", "does not exist"),
    ],
)
def test_resolve_model_refuses(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        resolve_model(text)


def test_seeds_parse() -> None:
    assert parse_seeds("1-5") == (1, 2, 3, 4, 5)
    assert parse_seeds("1,3") == (1, 3)
    with pytest.raises(SpecError, match="seeds are written"):
        parse_seeds("a,b")


BAD_TOML = {
    "missing space": ('model = "bert"\n', "missing key"),
    "unknown key": ('model = "bert"\ncolour = 1\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=[4]\n', "unknown key"),
    "unknown space key": ('model = "bert"\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=[4]\nlr=[1]\n', "unknown key"),
    "wrong type": ('model = "bert"\n[space]\nlearning_rates="fast"\nbatch_sizes=[4]\n', "must be a non-empty list"),
    "bool batch": ('model = "bert"\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=[true]\n', "must list int"),
    "lr zero": ('model = "bert"\n[space]\nlearning_rates=[0.0]\nbatch_sizes=[4]\n', "learning rate must be > 0"),
    "batch zero": ('model = "bert"\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=[0]\n', "batch size must be >= 1"),
    "dataset": (
        'model = "bert"\ndatasets=["ajmc/xx"]\n[space]\nlearning_rates=[1e-5]\nbatch_sizes=[4]\n',
        "no language",
    ),
    "malformed": ('model = "bert\n', "not valid TOML"),
    "empty dim": ('model = "bert"\n[space]\nlearning_rates=[]\nbatch_sizes=[4]\n', "non-empty list"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOML))
def test_bad_toml_is_refused(tmp_path: Path, case: str) -> None:
    text, message = BAD_TOML[case]
    path = tmp_path / "study.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_config(path)


RECIPE = {
    "seeds": [1, 2],
    "batch_sizes": [8],
    "hf_model": "org/model",
    "context_size": 0,
    "epochs": [10],
    "learning_rates": [5e-5],
    "hipe_datasets": ["ajmc/en"],
    "cuda": "0",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra_key": 1}, "unknown key"),
        ({"seeds": 5}, "must be a non-empty list"),
        ({"learning_rates": [-1e-5]}, "learning rate must be > 0"),
        ({"hipe_datasets": ["nosuch/en"]}, "unknown HIPE-2022 dataset"),
        ({"hipe_datasets": ["ajmc"]}, "DATASET/LANG"),
        ({"context_size": "big"}, "context_size"),
        ({"use_crf": "yes"}, "'use_crf' must be a bool"),
    ],
)
def test_bad_recipe_json_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    data = {**RECIPE, **change}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=message):
        load_config(path)


def test_incomplete_recipe_json(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({k: v for k, v in RECIPE.items() if k != "hf_model"}))
    with pytest.raises(SpecError, match=r"missing key.*hf_model"):
        load_config(path)
    path.write_text('{"seeds": [1,')
    with pytest.raises(SpecError, match="not valid JSON"):
        load_config(path)
