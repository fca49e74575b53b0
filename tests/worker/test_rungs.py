"""Seed-major rungs in the worker (``--pruner rungs``), with ``FakeTrainer``, on SQLite and PostgreSQL.

Trials pause at a rung (back in the queue with what they trained), are promoted when they rank in
the top third, the best one trains every seed, and the rest are stopped once nothing is left.
"""

from __future__ import annotations

import collections
from pathlib import Path

import optuna

from hpsearch.search import SampledSpace, SeedResult, StudySpec, TrialCurves, wide_space
from hpsearch.store import (
    CONFIG_ATTR,
    PAUSED_ATTR,
    PRUNE_REASON_ATTR,
    claim_next,
    create_study,
    encode_seed,
    load_study,
    open_storage,
    pause,
    seed_attr_key,
    seed_results_from_attrs,
)
from hpsearch.testing import FakeTrainer, read_record
from hpsearch.worker import run_worker
from tests.fleet_helpers import (
    Worker,
    assert_clean_logs,
    not_complete,
    states,
    trials,
    wait_all,
    worker_options,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

SEEDS = (1, 2, 3)


def rung_spec(n_trials: int, pruner: str = "rungs") -> StudySpec:
    space = SampledSpace({**wide_space(t5=False, epochs=4).dimensions, "context_size": (0,)})
    return StudySpec(model="fake", label="fake", space=space, seeds=SEEDS, n_trials=n_trials, pruner=pruner)


def test_rungs_train_the_best_with_every_seed_and_stop_the_rest_keeping_their_seeds(
    tmp_path: Path, storage_url: str
) -> None:
    create_study(rung_spec(9), open_storage(storage_url), "s")
    record = tmp_path / "record.jsonl"
    summary = run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer(record=record))
    assert summary.failed == 0
    counts = states(storage_url, "s")
    assert counts["WAITING"] == 0 and counts["RUNNING"] == 0 and counts["COMPLETE"] >= 1
    assert counts["COMPLETE"] + counts["PRUNED"] == 9
    events = read_record(record)
    epochs = sum(4 if e["event"] == "done" else 0 for e in events) + 2 * sum(e["event"] == "pruned" for e in events)
    assert epochs < 0.6 * 9 * len(SEEDS) * 4
    starts = collections.Counter((e["config"], e["seed"]) for e in events if e["event"] == "start")
    assert max(starts.values()) == 2  # a trial promoted from the first rung trains its first seed again

    everything = trials(storage_url, "s")
    scores = {}
    for t in everything:
        seeds = seed_results_from_attrs(t.user_attrs)
        assert seeds, f"trial {t.number} kept nothing"
        if t.state.name == "COMPLETE":
            assert sorted(seeds) == list(SEEDS) and all(r.complete for r in seeds.values())
            assert t.user_attrs.get(PAUSED_ATTR) is None
            scores[t.number] = t.value
        else:
            assert t.user_attrs[PRUNE_REASON_ATTR].startswith("rungs: stopped at ")
    # No stopped trial ranks above the best complete one on the seeds both trained.
    best = max(scores, key=scores.__getitem__)
    best_runs = {s: r.dev_curve for s, r in seed_results_from_attrs(everything[best].user_attrs).items()}
    for t in everything:
        if t.state.name == "PRUNED":
            runs = {s: r.dev_curve for s, r in seed_results_from_attrs(t.user_attrs).items() if r.complete}
            shared = {s: best_runs[s] for s in runs}
            if runs:
                assert TrialCurves(runs).score <= TrialCurves(shared).score


def test_a_paused_trial_is_not_taken_as_new_work_and_keeps_its_seeds(tmp_path: Path, storage_url: str) -> None:
    create_study(rung_spec(2), open_storage(storage_url), "s")
    study, _ = load_study(open_storage(storage_url), "s")
    first = claim_next(study)
    assert first is not None
    partial = SeedResult(seed=1, dev_curve=(0.1, 0.2), wall_time_s=1.0, device="fake", complete=False)
    first.set_user_attr(seed_attr_key(1), encode_seed(partial))
    assert pause(first, "rungs: paused at seed 1 epoch 2")
    second = claim_next(study)
    assert second is not None and second.number != first.number
    assert claim_next(study) is None  # the paused trial waits to be promoted, not claimed as new
    frozen = study.get_trials(deepcopy=False)[first.number]
    assert frozen.state.name == "WAITING" and frozen.user_attrs[PAUSED_ATTR].startswith("rungs: paused")
    assert seed_results_from_attrs(frozen.user_attrs)[1].dev_curve == (0.1, 0.2)


def test_without_rungs_a_sampled_study_runs_each_trial_through(tmp_path: Path, storage_url: str) -> None:
    create_study(rung_spec(3, pruner="none"), open_storage(storage_url), "s")
    summary = run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer())
    assert summary.completed == 3 and states(storage_url, "s") == {"COMPLETE": 3}
    assert all(CONFIG_ATTR in t.user_attrs for t in trials(storage_url, "s"))


def test_three_worker_processes_share_the_rungs_without_training_a_seed_twice(tmp_path: Path, storage_url: str) -> None:
    create_study(rung_spec(12), open_storage(storage_url), "s")
    records = [tmp_path / f"record{i}.jsonl" for i in range(3)]
    workers = [
        Worker(storage_url, ["s"], tmp_path, f"w{i}", "--seconds", 0.2, "--record", records[i]) for i in range(3)
    ]
    wait_all(workers)
    assert_clean_logs(workers)
    counts = states(storage_url, "s")
    assert counts["COMPLETE"] >= 1 and counts["COMPLETE"] + counts["PRUNED"] == 12, not_complete(storage_url, "s")
    events = [e for r in records if r.exists() for e in read_record(r)]
    done = collections.Counter((e["config"], e["seed"]) for e in events if e["event"] == "done")
    assert max(done.values()) == 1, done  # each seed trained to its end once, whoever trained it
    for t in trials(storage_url, "s"):
        if t.state.name == "COMPLETE":
            assert sorted(seed_results_from_attrs(t.user_attrs)) == list(SEEDS)
