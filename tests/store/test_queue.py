"""Contract tests of the trial queue (hpsearch/store/_queue.py), on SQLite and PostgreSQL.

The queue is the one module that uses Optuna's private API. Each test is named after the Optuna
behaviour it relies on, so that a new Optuna release which changes one fails one named test.
``.ci/run`` also runs this file on the oldest Optuna that pyproject.toml allows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from hpsearch.search import GridSpace, SeedResult, StudySpec
from hpsearch.store import (
    CONFIG_ATTR,
    FAIL_REASON_ATTR,
    REQUEUED_FROM_ATTR,
    RETRIES_ATTR,
    RETRY_OF_ATTR,
    claim_next,
    count_running,
    create_study,
    encode_seed,
    fail_stale_trials,
    fail_trial,
    frozen_trial,
    hand_over,
    latest_copy,
    load_study,
    open_storage,
    record_heartbeat,
    refresh_params,
    requeue,
    seed_attr_key,
    set_user_attrs,
)
from hpsearch.store._queue import _rdb_backend

GRACE = 60  # seconds; stale trials are made by back-dating their heartbeat, not by waiting
LONG_AGO = datetime(2000, 1, 1)


def _spec(n: int) -> StudySpec:
    space = GridSpace(learning_rates=tuple(1e-5 * (i + 1) for i in range(n)), batch_sizes=(8,), epochs=(1,))
    return StudySpec(model="fake", label="fake", space=space, seeds=(1, 2, 3))


def _study(url: str, n: int = 3) -> optuna.Study:
    """A new study of ``n`` queued grid trials, opened as a worker opens it (heartbeats on)."""
    create_study(_spec(n), open_storage(url), "s")
    return _open(url)


def _open(url: str) -> optuna.Study:
    """The study "s" through a storage of its own, as another worker process sees it."""
    storage = open_storage(url, heartbeat_interval=1, grace_period=GRACE)
    return load_study(storage, "s")[0]


def _heartbeats(url: str) -> dict[int, datetime]:
    """Optuna's ``trial_heartbeats`` table: trial id -> last heartbeat."""
    with open_storage(url).engine.connect() as conn:
        return dict(conn.execute(sqlalchemy.text("SELECT trial_id, heartbeat FROM trial_heartbeats")).all())


def _age_heartbeats(url: str) -> None:
    """Back-date every heartbeat: as if the workers had died long ago."""
    with open_storage(url).engine.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE trial_heartbeats SET heartbeat = :t"), {"t": LONG_AGO})


def _seed(seed: int) -> SeedResult:
    return SeedResult(seed=seed, dev_curve=(0.5, 0.6 + seed / 100), test_f1=0.55, wall_time_s=1.0, device="cpu")


def _by_number(study: optuna.Study) -> dict[int, optuna.trial.FrozenTrial]:
    return {t.number: t for t in study.get_trials(deepcopy=False)}


def _concurrently(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(0..n-1)`` in ``n`` threads released at once; their results, re-raising the first error."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


# --- claim: Optuna's RDB tables (TrialModel, TrialHeartbeatModel), _create_scoped_session ----------


def test_rdb_trial_and_heartbeat_models_claim_turns_waiting_running_with_start_and_heartbeat(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert isinstance(trial, optuna.Trial)
    assert trial.number == 0
    stored = frozen_trial(trial)
    assert stored.state == TrialState.RUNNING and stored.datetime_start is not None
    assert stored.user_attrs[CONFIG_ATTR] and stored.params  # the queued trial's params came with it
    assert list(_heartbeats(storage_url)) == [stored._trial_id]  # heartbeat recorded in the claim's commit
    assert count_running(study) == 1


def test_rdb_trial_model_claim_returns_none_when_no_trial_waits(storage_url: str) -> None:
    study = _study(storage_url, n=1)
    assert claim_next(study) is not None
    assert claim_next(study) is None


def test_rdb_trial_system_attribute_model_claim_takes_requeued_trials_first(storage_url: str) -> None:
    study = _study(storage_url)
    first = claim_next(study)
    assert first is not None
    fail_trial(study, first, "boom")
    requeue(study, frozen_trial(first))  # trial 3, behind trials 1 and 2 in the queue
    again = claim_next(study)
    assert again is not None and again.number == 3
    assert again.params == first.params
    assert [claim_next(study).number, claim_next(study).number] == [1, 2]  # type: ignore[union-attr]


def test_rdb_locking_two_claimers_never_get_the_same_trial(storage_url: str) -> None:
    """PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED; SQLite: BEGIN IMMEDIATE (open_storage)."""
    n_trials, n_claimers = 12, 4
    _study(storage_url, n=n_trials)
    studies = [_open(storage_url) for _ in range(n_claimers)]

    def drain(i: int) -> list[int]:
        numbers = []
        while (trial := claim_next(studies[i])) is not None:
            numbers.append(trial.number)
        return numbers

    claimed = [n for numbers in _concurrently(n_claimers, drain) for n in numbers]
    assert sorted(claimed) == list(range(n_trials))  # each trial once
    assert count_running(studies[0]) == n_trials
    assert len(_heartbeats(storage_url)) == n_trials


# --- heartbeats: RDBStorage.record_heartbeat through the _CachedStorage, Trial._trial_id ------------


def test_record_heartbeat_via_cached_storage_keeps_a_trial_off_the_stale_list(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    _age_heartbeats(storage_url)
    record_heartbeat(trial)
    (beat,) = _heartbeats(storage_url).values()
    assert not str(beat).startswith(str(LONG_AGO.year))  # SQLite gives a string, PostgreSQL a datetime
    assert fail_stale_trials(study, grace_period=GRACE, max_retries=1) == []
    assert frozen_trial(trial).state == TrialState.RUNNING


# --- stale trials: RDBStorage._get_stale_trial_ids, UpdateFinishedTrialError ------------------------


def test_get_stale_trial_ids_finds_a_dead_workers_trial_and_it_is_failed_with_a_reason(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    assert fail_stale_trials(study, grace_period=GRACE, max_retries=1) == []  # alive: fresh heartbeat
    _age_heartbeats(storage_url)
    assert fail_stale_trials(study, grace_period=GRACE, max_retries=1) == [0]
    trials = _by_number(study)
    assert trials[0].state == TrialState.FAIL
    reason = trials[0].user_attrs[FAIL_REASON_ATTR]
    assert reason == f"worker lost: no heartbeat for {GRACE} s; re-queued (retry 1 of 1)"
    assert trials[3].state == TrialState.WAITING and trials[3].system_attrs[REQUEUED_FROM_ATTR] == 0
    assert fail_stale_trials(study, grace_period=GRACE, max_retries=1) == []  # failed once


def test_update_finished_trial_error_two_workers_finding_one_stale_trial_fail_and_requeue_it_once(
    storage_url: str,
) -> None:
    study = _study(storage_url)
    assert claim_next(study) is not None
    _age_heartbeats(storage_url)
    workers = [_open(storage_url) for _ in range(3)]
    found = _concurrently(3, lambda i: fail_stale_trials(workers[i], grace_period=GRACE, max_retries=1))
    assert sorted(n for numbers in found for n in numbers) == [0]
    copies = [t for t in study.get_trials(deepcopy=False) if t.system_attrs.get(REQUEUED_FROM_ATTR) == 0]
    assert len(copies) == 1 and copies[0].state == TrialState.WAITING


def test_get_stale_trial_ids_a_trial_out_of_retries_is_failed_not_requeued(storage_url: str) -> None:
    study = _study(storage_url, n=1)
    for number, outcome in ((0, "re-queued (retry 1 of 1)"), (1, "1 retries used")):
        trial = claim_next(study)
        assert trial is not None and trial.number == number
        _age_heartbeats(storage_url)
        assert fail_stale_trials(study, grace_period=GRACE, max_retries=1) == [number]
        assert frozen_trial(trial).user_attrs[FAIL_REASON_ATTR].endswith(outcome)
    assert claim_next(study) is None
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.FAIL]


# --- re-queue: create_trial / add_trial with system attributes --------------------------------------


def test_create_trial_with_system_attrs_requeue_keeps_params_and_finished_seeds_and_copies_once(
    storage_url: str,
) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    trial.set_user_attr(seed_attr_key(1), encode_seed(_seed(1)))
    fail_trial(study, trial, "interrupted")
    failed = frozen_trial(trial)
    requeue(study, failed)
    requeue(study, failed)  # repeated after a lost reply: no second copy
    copies = [t for t in study.get_trials(deepcopy=False) if REQUEUED_FROM_ATTR in t.system_attrs]
    assert len(copies) == 1
    (copy,) = copies
    assert copy.state == TrialState.WAITING
    assert copy.params == failed.params and copy.distributions == failed.distributions
    assert copy.user_attrs[seed_attr_key(1)] == encode_seed(_seed(1))
    assert copy.user_attrs[CONFIG_ATTR] == failed.user_attrs[CONFIG_ATTR]
    assert FAIL_REASON_ATTR not in copy.user_attrs
    assert copy.system_attrs == {RETRY_OF_ATTR: 0, RETRIES_ATTR: 1, REQUEUED_FROM_ATTR: 0}
    assert latest_copy(study, 0) is not None and latest_copy(study, 0).number == copy.number  # type: ignore[union-attr]


def test_create_trial_with_system_attrs_a_stopped_workers_requeue_is_no_retry(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    fail_trial(study, trial, "interrupted")
    requeue(study, frozen_trial(trial), count_as_retry=False)
    copy = latest_copy(study, 0)
    assert copy is not None and copy.system_attrs[RETRIES_ATTR] == 0


def test_tell_fail_fail_trial_writes_its_reason_and_leaves_a_finished_trial_alone(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    fail_trial(study, trial, "x" * 5000)
    stored = frozen_trial(trial)
    assert stored.state == TrialState.FAIL and stored.user_attrs[FAIL_REASON_ATTR] == "x" * 2000
    fail_trial(study, trial, "again")  # finished already: neither raises nor overwrites
    assert frozen_trial(trial).user_attrs[FAIL_REASON_ATTR] == "x" * 2000


# --- hand-over: set_trial_user_attr by FrozenTrial._trial_id ---------------------------------------


def test_set_trial_user_attr_by_id_hands_seeds_over_to_the_waiting_copy(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    trial.set_user_attr(seed_attr_key(1), encode_seed(_seed(1)))
    _age_heartbeats(storage_url)
    assert fail_stale_trials(_open(storage_url), grace_period=GRACE, max_retries=1) == [0]
    # The lost worker trained seeds 1 and 2; seed 1 is on the copy already.
    detail = hand_over(study, trial, [_seed(1), _seed(2)], max_retries=1)
    copy = latest_copy(study, 0)
    assert copy is not None
    assert detail == f"1 seeds trained here were stored on its copy, trial {copy.number}"
    assert copy.user_attrs[seed_attr_key(2)] == encode_seed(_seed(2))
    assert seed_attr_key(2) not in frozen_trial(trial).user_attrs


def test_set_trial_user_attr_by_id_hand_over_requeues_when_the_failing_worker_died_first(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    other = _open(storage_url)
    other._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # failed, not re-queued
    detail = hand_over(study, trial, [_seed(1)], max_retries=1)
    copy = latest_copy(study, 0)
    assert copy is not None and copy.user_attrs[seed_attr_key(1)] == encode_seed(_seed(1))
    assert detail.startswith("1 seeds")
    assert hand_over(study, trial, [_seed(1)], max_retries=1).startswith("0 seeds")  # nothing twice


def test_set_trial_user_attr_by_id_hand_over_follows_copies_and_stops_at_a_finished_one(storage_url: str) -> None:
    study = _study(storage_url, n=1)
    first = claim_next(study)
    assert first is not None
    fail_trial(study, first, "lost")
    requeue(study, frozen_trial(first))
    second = claim_next(study)
    assert second is not None and second.number == 1
    fail_trial(study, second, "lost again")
    requeue(study, frozen_trial(second))
    assert latest_copy(study, 0).number == 2  # type: ignore[union-attr]
    third = claim_next(study)
    assert third is not None
    study.tell(third, 0.5)
    assert hand_over(study, first, [_seed(1)], max_retries=3) == "its copy, trial 2, has finished"


def test_set_trial_user_attr_by_id_hand_over_without_retries_left_stores_nothing(storage_url: str) -> None:
    study = _study(storage_url, n=1)
    trial = claim_next(study)
    assert trial is not None
    _open(storage_url)._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    assert hand_over(study, trial, [_seed(1)], max_retries=0) == "not re-queued: no retries left"
    assert latest_copy(study, 0) is None


# --- a trial's stored state: Trial._cached_frozen_trial, storage.get_trial --------------------------


def test_cached_frozen_trial_refreshed_makes_suggest_return_the_stored_param(storage_url: str) -> None:
    """A lost reply after ``set_trial_param``: the param is stored, the Trial's cache does not know it."""
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    distribution = optuna.distributions.FloatDistribution(0.0, 1.0)
    open_storage(storage_url).set_trial_param(trial._trial_id, "dropout", 0.25, distribution)  # no cache
    refresh_params(trial)
    assert trial.suggest_float("dropout", 0.0, 1.0) == 0.25
    assert frozen_trial(trial).params["dropout"] == 0.25


def test_storage_get_trial_frozen_trial_sees_another_workers_write(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    other = _open(storage_url)
    other._storage.set_trial_user_attr(trial._trial_id, "note", "from elsewhere")
    other._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    stored = frozen_trial(trial)
    assert stored.state == TrialState.FAIL and stored.user_attrs["note"] == "from elsewhere"


def test_set_trial_attr_without_commit_stores_many_attributes_in_one_commit(storage_url: str) -> None:
    study = _study(storage_url)
    trial = claim_next(study)
    assert trial is not None
    trial.set_user_attr("a", 0)
    commits: list[object] = []
    sqlalchemy.event.listen(_rdb_backend(study).engine, "commit", commits.append)
    set_user_attrs(trial, {"a": 1, "b": [1, 2], "c": {"x": None}})
    assert len(commits) == 1
    assert {k: v for k, v in trial.user_attrs.items() if k in "abc"} == {"a": 1, "b": [1, 2], "c": {"x": None}}
    assert {k: v for k, v in _open(storage_url).trials[0].user_attrs.items() if k in "abc"} == {
        "a": 1,
        "b": [1, 2],
        "c": {"x": None},
    }

    study.tell(trial, 0.5)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        set_user_attrs(trial, {"d": 1, "a": 2})
    stored = _open(storage_url).trials[0].user_attrs
    assert "d" not in stored and stored["a"] == 1


# --- study artifacts: optuna.artifacts._upload.ARTIFACTS_ATTR_PREFIX, set_study_system_attr ----------


def test_artifacts_attr_prefix_a_fixed_id_artifact_is_read_by_get_all_artifact_meta(storage_url: str) -> None:
    from optuna.artifacts import ArtifactMeta, get_all_artifact_meta

    from hpsearch.store._queue import set_study_artifact

    study = _study(storage_url)
    for name in ("a.pt", "b.pt"):
        set_study_artifact(study, ArtifactMeta(artifact_id="fixed", filename=name, mimetype="x", encoding=None))
    assert [(m.artifact_id, m.filename) for m in get_all_artifact_meta(_open(storage_url))] == [("fixed", "b.pt")]
