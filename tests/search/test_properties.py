"""Property-based tests (hypothesis) of what users type: seeds, study names, config files, storage URLs."""

from __future__ import annotations

import contextlib
import json
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpsearch.errors import SpecError, UsageError
from hpsearch.search import STUDY_NAME_MAX, check_study_name, load_config, parse_seeds
from hpsearch.search._configfiles import RECIPE_KEYS, TOML_KEYS
from hpsearch.search._spec import MAX_SEED, MAX_SEEDS

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- seeds ------------------------------------------------------------------------------------


@FAST
@given(st.lists(st.integers(0, MAX_SEED), min_size=1, max_size=MAX_SEEDS, unique=True))
def test_a_list_of_distinct_seeds_reads_back_as_written(seeds: list[int]) -> None:
    assert parse_seeds(",".join(map(str, seeds))) == tuple(seeds)


@FAST
@given(st.integers(0, 10_000), st.integers(0, MAX_SEEDS - 1))
def test_a_seed_range_reads_as_every_seed_in_it(low: int, extra: int) -> None:
    assert parse_seeds(f"{low}-{low + extra}") == tuple(range(low, low + extra + 1))


@FAST
@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_a_reversed_seed_range_is_refused(high: int, gap: int) -> None:
    with pytest.raises(SpecError, match="reversed"):
        parse_seeds(f"{high + gap}-{high}")


@FAST
@given(st.text(alphabet="0123456789,- x\t", max_size=30) | st.text(max_size=30))
def test_any_seed_text_gives_valid_seeds_or_a_spec_error(text: str) -> None:
    try:
        seeds = parse_seeds(text)
    except SpecError:
        return
    assert 1 <= len(seeds) <= MAX_SEEDS
    assert len(set(seeds)) == len(seeds)
    assert all(isinstance(s, int) and 0 <= s <= MAX_SEED for s in seeds)


# --- study names ------------------------------------------------------------------------------


@FAST
@given(st.text(max_size=120) | st.from_regex(r"[A-Za-z0-9._+-]{0,110}", fullmatch=True))
def test_an_accepted_study_name_is_a_plain_folder_name(name: str) -> None:
    try:
        assert check_study_name(name) == name
    except UsageError:
        return
    assert 1 <= len(name) <= STUDY_NAME_MAX
    assert re.fullmatch(r"[A-Za-z0-9._+-]+", name) and not name.startswith(".")
    root = Path("/srv/runs")
    assert (root / name).resolve().parent == root  # one folder, directly inside the output folder
    assert not any(c in name for c in "*?[]")  # no glob: a worker's --study NAME serves exactly it


@FAST
@given(st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}", fullmatch=True))
def test_names_of_letters_digits_dots_dashes_and_underscores_are_accepted(name: str) -> None:
    assert check_study_name(name) == name


# --- config files -----------------------------------------------------------------------------

SCALARS = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=12)
    | st.sampled_from(["bert", "t5-base", "ajmc/en", "a/b", "-1", "sampled", "grid", "paired"])
)
JSON_VALUES = st.recursive(st.none() | SCALARS, lambda inner: st.lists(inner, max_size=4), max_leaves=12)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


TOML_SCALARS = st.integers(-(2**63), 2**63 - 1) | st.floats() | st.booleans() | st.text(max_size=12)
TOML_VALUES = TOML_SCALARS | st.lists(TOML_SCALARS, max_size=4)
SPACE_KEYS = st.sampled_from(
    ["kind", "learning_rates", "batch_sizes", "epochs", "learning_rate", "batch_size", "layers", "use_crf", "x"]
)


def _load(suffix: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"config{suffix}"
        path.write_text(text, encoding="utf-8")
        with contextlib.suppress(SpecError, UsageError):
            load_config(path)


@FAST
@given(st.dictionaries(st.sampled_from(sorted(RECIPE_KEYS | {"x"})), JSON_VALUES, max_size=10))
def test_any_recipe_json_loads_or_gives_a_usage_error(data: dict[str, Any]) -> None:
    _load(".json", json.dumps(data))


@FAST
@given(
    st.dictionaries(st.sampled_from(sorted(TOML_KEYS - {"space"} | {"x"})), TOML_VALUES, max_size=6),
    st.dictionaries(SPACE_KEYS, TOML_VALUES, max_size=6),
)
def test_any_toml_config_loads_or_gives_a_usage_error(top: dict[str, Any], space: dict[str, Any]) -> None:
    lines = [f"{key} = {_toml_value(value)}" for key, value in top.items()]
    lines += ["[space]", *(f"{key} = {_toml_value(value)}" for key, value in space.items())]
    _load(".toml", "\n".join(lines) + "\n")


@FAST
@given(st.binary(max_size=200))
def test_any_bytes_as_a_config_file_give_a_usage_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".json", ".toml"):
            path = Path(tmp) / f"config{suffix}"
            path.write_bytes(data)
            with contextlib.suppress(SpecError, UsageError):
                load_config(path)


# --- storage URLs -----------------------------------------------------------------------------

PIECE = st.text(alphabet=st.characters(blacklist_characters="/@?#[]\x00", blacklist_categories=("Cs",)), max_size=8)


def _masked_pieces(pieces: list[str], host: str) -> tuple[str, list[str]]:
    from hpsearch.store import mask_url

    marked = [f"Sx{p}Zy" for p in pieces]
    url = f"postgresql+psycopg://hps:{'@'.join(marked)}@{host}/db"
    return mask_url(url), marked


@FAST
@given(PIECE, st.sampled_from(["127.0.0.1", "db.example.org:5432", "[::1]:5432", "h:notaport", "[::1"]))
def test_a_masked_url_never_shows_the_password(piece: str, host: str) -> None:
    shown, marked = _masked_pieces([piece], host)
    assert marked[0] not in shown


@FAST
@given(st.lists(PIECE, min_size=2, max_size=3), st.sampled_from(["127.0.0.1", "db.example.org:5432"]))
def test_a_masked_url_never_shows_a_password_that_holds_an_at_sign(pieces: list[str], host: str) -> None:
    shown, marked = _masked_pieces(pieces, host)
    assert not any(m in shown for m in marked)
