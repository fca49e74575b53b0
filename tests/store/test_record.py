"""The stored trial record: the seed codec round-trips, the keys and layout stay what earlier releases wrote."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from hpsearch import store
from hpsearch.search import SeedResult
from hpsearch.store import (
    decode_seed,
    encode_seed,
    reason_text,
    remove_run_models,
    seed_attr_key,
    seed_dir,
    seed_results_from_attrs,
    summary_attrs,
    trial_dir,
)

floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
seed_results = st.builds(
    SeedResult,
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    dev_curve=st.lists(st.floats(min_value=0, max_value=1), max_size=30).map(tuple),
    test_f1=st.none() | st.floats(min_value=0, max_value=1),
    wall_time_s=st.floats(min_value=0, max_value=1e7),
    device=st.text(max_size=20),
    mini_batch_chunk_size=st.none() | st.integers(min_value=1, max_value=4096),
    complete=st.booleans(),
)


@given(seed_results)
def test_a_seed_result_round_trips_through_the_codec_and_json(result: SeedResult) -> None:
    encoded = encode_seed(result)
    assert decode_seed(encoded) == result
    assert decode_seed(json.loads(json.dumps(encoded))) == result  # Optuna stores user attributes as JSON


@given(st.lists(seed_results, max_size=5))
def test_seed_results_are_found_by_their_keys_sorted_by_seed(results: list[SeedResult]) -> None:
    attrs = {seed_attr_key(r.seed): encode_seed(r) for r in results} | {"config": "x", "run_dir": "/r"}
    by_seed = {r.seed: r for r in results}  # a later result of the same seed replaces the earlier
    assert seed_results_from_attrs(attrs) == dict(sorted(by_seed.items()))


def test_encoded_seed_is_the_stored_format() -> None:
    result = SeedResult(
        seed=2, dev_curve=(0.5, 0.75), test_f1=0.7, wall_time_s=12.5, device="cuda:0", mini_batch_chunk_size=16
    )
    assert encode_seed(result) == {
        "seed": 2,
        "dev_curve": [0.5, 0.75],
        "test_f1": 0.7,
        "wall_time_s": 12.5,
        "device": "cuda:0",
        "mini_batch_chunk_size": 16,
        "complete": True,
        "dev_f1": 0.75,
    }


def test_a_seed_stored_with_only_seed_and_curve_decodes_with_defaults() -> None:
    assert decode_seed({"seed": 1, "dev_curve": [0.4]}) == SeedResult(seed=1, dev_curve=(0.4,))


RELEASED_KEYS = {
    "ARTIFACTS_DIRNAME": "artifacts",
    "BEST_MODEL": "best-model.pt",
    "CONFIG_ATTR": "config",
    "FAIL_REASON_ATTR": "fail_reason",
    "FINAL_MODEL": "final-model.pt",
    "IMPORTED_ATTR": "imported_from",
    "METRIC_NAME": "dev F1 (mean over seeds)",
    "PRUNE_REASON_ATTR": "prune_reason",
    "REQUEUED_FROM_ATTR": "hpsearch:requeued_from",
    "RETRIES_ATTR": "hpsearch:retries",
    "RETRY_OF_ATTR": "hpsearch:retry_of",
    "RUN_DIR_ATTR": "run_dir",
    "SEED_ATTR_PREFIX": "seed:",
    "SPEC_ATTR": "hpsearch:spec",
    "TRAINING_LOG": "training.log",
    "VERSIONS_ATTR": "versions",
}
"""What release 0.1.0 stored under each name; a new key may be added to the record, none may change."""


def test_attribute_keys_and_file_names_are_the_released_ones() -> None:
    exported = {name: getattr(store, name) for name in store.__all__ if name.isupper()}
    assert {name: exported.get(name) for name in RELEASED_KEYS} == RELEASED_KEYS
    assert seed_attr_key(3) == "seed:3"
    assert len(reason_text("x" * 5000)) == 2000


def test_summary_attributes_are_the_stored_ones() -> None:
    runs = [
        SeedResult(seed=s, dev_curve=(0.5, d), test_f1=t, wall_time_s=10, device="cpu")
        for s, d, t in ((1, 0.6, 0.5), (2, 0.8, 0.7))
    ]
    attrs = summary_attrs(runs, (1, 2))
    assert attrs.keys() == {
        "dev_f1_per_seed",
        "dev_f1_mean",
        "dev_f1_std",
        "test_f1_per_seed",
        "test_f1_mean",
        "test_f1_std",
        "wall_time_s",
        "device",
        "seeds",
    }
    assert attrs["dev_f1_per_seed"] == [0.6, 0.8] and attrs["seeds"] == [1, 2] and attrs["device"] == "cpu"
    assert abs(attrs["dev_f1_mean"] - 0.7) < 1e-12 and abs(attrs["dev_f1_std"] - 0.1) < 1e-12


def test_run_folders_are_study_trial_and_seed(tmp_path: Path) -> None:
    root = trial_dir(tmp_path / "runs", "ner", 7, "lr1e-05-bs8-e1")
    assert root == tmp_path / "runs" / "ner" / "trial-0007-lr1e-05-bs8-e1"
    assert seed_dir(root, 3) == root / "seed-3"


def test_removing_a_trials_models_keeps_its_logs(tmp_path: Path) -> None:
    root = tmp_path / "trial-0000-x"
    for seed in (1, 2):
        run = seed_dir(root, seed)
        run.mkdir(parents=True)
        for name in (store.BEST_MODEL, store.FINAL_MODEL, store.TRAINING_LOG):
            (run / name).write_text(name)
    remove_run_models(root)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "seed-1/training.log",
        "seed-2/training.log",
    ]
    remove_run_models(tmp_path / "missing")  # no folder: nothing to do
