"""The claim-train-tell loop in-process (``run_worker``) with ``FakeTrainer``, on SQLite and PostgreSQL.

Every queued trial is trained once; a training error fails only its trial; a stop re-queues the
running trial with its finished seeds; ``n_trials`` and ``timeout`` end the loop; lost replies and a
trial declared dead by another worker lose nothing. tests/worker/test_fleet.py runs workers as processes.
"""

from __future__ import annotations

import threading
from pathlib import Path

import optuna
import pytest

from hpsearch.errors import SpecError
from hpsearch.search import Config, SeedResult, StudySpec, build_spec
from hpsearch.store import (
    CONFIG_ATTR,
    FAIL_REASON_ATTR,
    RETRIES_ATTR,
    create_study,
    load_study,
    open_storage,
    requeue,
    resolve_studies,
    seed_results_from_attrs,
)
from hpsearch.testing import FakeTrainer, fake_dev_f1
from hpsearch.training import RunHooks
from hpsearch.worker import WorkerOptions, run_worker
from tests.fleet_helpers import (
    config_name,
    done_counts,
    learning_rates,
    make_study,
    states,
    trials,
    worker_options,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_a_worker_completes_every_queued_trial_once(tmp_path: Path, storage_url: str) -> None:
    make_study(storage_url, "s", 3, seeds=(1, 2))
    record = tmp_path / "record.jsonl"
    summary = run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer(record=record))
    assert (summary.completed, summary.failed, summary.pruned, summary.interrupted) == (3, 0, 0, False)
    assert states(storage_url, "s") == {"COMPLETE": 3}
    assert set(done_counts(record).values()) == {1} and len(done_counts(record)) == 6
    for t in trials(storage_url, "s"):
        expected = [fake_dev_f1(Config.from_name(t.user_attrs[CONFIG_ATTR]), s) for s in (1, 2)]
        assert list(seed_results_from_attrs(t.user_attrs)) == [1, 2]
        assert t.value == pytest.approx(sum(expected) / 2)
    # Nothing left: another worker exits at once.
    assert run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer()).completed == 0


def test_worker_options_say_what_was_wrong() -> None:
    with pytest.raises(SpecError, match="--keep-models must be one of all, best, none"):
        WorkerOptions(keep_models="some")
    with pytest.raises(SpecError, match="--n-trials must be >= 1"):
        WorkerOptions(n_trials=0)
    with pytest.raises(SpecError, match="grace period must be longer"):
        WorkerOptions(heartbeat_interval=20, grace_period=20)


class StopsAfterSeed1(FakeTrainer):
    """Sets the worker's stop event once seed 1 of the first trial is trained (SIGTERM or Ctrl-C would)."""

    def __init__(self, stop: threading.Event, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.stop = stop

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        result = super().train(spec, config, seed, out_dir, hooks)
        if seed == 1:
            self.stop.set()
        return result


def test_a_stop_requeues_the_running_trial_with_its_finished_seeds(tmp_path: Path, storage_url: str) -> None:
    make_study(storage_url, "s", 2, seeds=(1, 2, 3))
    record = tmp_path / "record.jsonl"
    options = worker_options(tmp_path)
    summary = run_worker(storage_url, ["s"], options, trainer=StopsAfterSeed1(options.stop, record=record))
    assert (summary.completed, summary.failed, summary.interrupted) == (0, 0, True)

    by_number = {t.number: t for t in trials(storage_url, "s")}
    assert by_number[0].state.name == "FAIL"
    assert by_number[0].user_attrs[FAIL_REASON_ATTR] == "interrupted: the worker was stopped; re-queued"
    assert by_number[1].state.name == "WAITING"  # the loop claimed nothing more
    copy = by_number[2]
    assert copy.state.name == "WAITING"
    assert "seed:1" in copy.user_attrs and "seed:2" not in copy.user_attrs
    assert copy.system_attrs[RETRIES_ATTR] == 0  # stopping a worker is no failure of the configuration

    run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer(record=record))
    assert states(storage_url, "s") == {"FAIL": 1, "COMPLETE": 2}
    assert set(done_counts(record).values()) == {1}  # seed 1 of the stopped trial was not trained again


def test_a_worker_serves_studies_by_pattern_in_order(tmp_path: Path, storage_url: str) -> None:
    make_study(storage_url, "ner-a", 2, seeds=(1,))
    make_study(storage_url, "ner-b", 2, seeds=(1,), offset=10)
    make_study(storage_url, "other", 1, seeds=(1,))
    storage = open_storage(storage_url)
    assert resolve_studies(storage, ["ner-*"]) == ["ner-a", "ner-b"]
    assert resolve_studies(storage, ["ner-b", "ner-*"]) == ["ner-b", "ner-a"]

    summary = run_worker(storage_url, ["ner-b", "ner-a"], worker_options(tmp_path), trainer=FakeTrainer())
    assert summary.completed == 4
    assert states(storage_url, "other") == {"WAITING": 1}
    b_done = max(t.datetime_complete for t in trials(storage_url, "ner-b"))
    a_started = min(t.datetime_start for t in trials(storage_url, "ner-a"))
    assert b_done <= a_started  # the first study's queue first


def test_n_trials_and_timeout_limit_a_worker(tmp_path: Path, storage_url: str) -> None:
    make_study(storage_url, "s", 5, seeds=(1,))
    assert run_worker(storage_url, ["s"], worker_options(tmp_path, n_trials=2), trainer=FakeTrainer()).completed == 2
    # --timeout: no new trial after 0.3 s; the first one takes 0.5 s.
    summary = run_worker(storage_url, ["s"], worker_options(tmp_path, timeout_s=0.3), trainer=FakeTrainer(0.5))
    assert summary.completed == 1
    assert states(storage_url, "s") == {"COMPLETE": 3, "WAITING": 2}
    assert run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer()).completed == 2


def test_a_failing_run_fails_its_trial_with_the_reason_and_the_worker_goes_on(tmp_path: Path, storage_url: str) -> None:
    make_study(storage_url, "s", 3)
    bad = config_name(learning_rates(3)[1])
    summary = run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer(fail_configs={bad}))
    assert (summary.completed, summary.failed) == (2, 1)
    (failed,) = [t for t in trials(storage_url, "s") if t.state.name == "FAIL"]
    assert failed.user_attrs["config"] == bad
    assert f"fake failure of {bad} seed 1" in failed.user_attrs[FAIL_REASON_ATTR]
    assert states(storage_url, "s") == {"COMPLETE": 2, "FAIL": 1}  # a training error is not retried


@pytest.mark.parametrize("write", ["set_trial_user_attr", "_set_trial_param"])  # the latter: via optuna's cache
def test_a_lost_reply_while_a_trial_starts_is_retried_not_failed(
    write: str, tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection breaks after a starting trial's first write was committed, before the reply
    (a database restart): the write is tried again and the trial completes with what was stored.
    A grid trial's parameters are queued with it; a sampled trial writes them when it starts."""
    import optuna
    from optuna.exceptions import StorageInternalError
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import OperationalError

    if write == "_set_trial_param":
        spec = build_spec(model="bert", config=None, space="wide", n_trials=2, pruner="none", seeds="1")
        create_study(spec, open_storage(storage_url), "s")
    else:
        make_study(storage_url, "s", 2)
    original = getattr(RDBStorage, write)
    lost: list[tuple] = []

    def reply_lost_once(self: RDBStorage, *args: object, **kwargs: object) -> object:
        result = original(self, *args, **kwargs)
        if not lost:
            lost.append(args)
            cause = OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
            raise StorageInternalError("An exception is raised during the commit.") from cause
        return result

    monkeypatch.setattr(RDBStorage, write, reply_lost_once)
    summary = run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer())
    assert lost
    assert (summary.completed, summary.failed) == (2, 0)
    assert states(storage_url, "s") == {"COMPLETE": 2}
    # Trained as stored: each trial's configuration is the one its stored parameters give.
    _, stored_spec = load_study(open_storage(storage_url), "s")
    for t in trials(storage_url, "s"):
        assert t.user_attrs["config"] == stored_spec.space.suggest(optuna.trial.FixedTrial(t.params)).name


class DeclaredDeadAfterSeed2(FakeTrainer):
    """Once seed 2 is trained, does what another worker does to a trial whose heartbeat was lost
    for longer than the grace period (a database outage): fail it and re-queue it."""

    def __init__(self, url: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.url = url
        self.declared = False

    def train(self, spec, config, seed, out_dir, hooks):  # type: ignore[no-untyped-def]
        import optuna
        from optuna.trial import TrialState

        result = super().train(spec, config, seed, out_dir, hooks)
        if seed == 2 and not self.declared:
            self.declared = True
            storage = open_storage(self.url)
            study = optuna.load_study(study_name="s", storage=storage)
            (running,) = study.get_trials(states=(TrialState.RUNNING,))
            storage.set_trial_user_attr(running._trial_id, FAIL_REASON_ATTR, "worker lost: no heartbeat")
            storage.set_trial_state_values(running._trial_id, TrialState.FAIL)
            requeue(study, storage.get_trial(running._trial_id))
        return result


def test_a_trial_declared_dead_while_it_trains_hands_its_seeds_to_its_copy(tmp_path: Path, storage_url: str) -> None:
    make_study(storage_url, "s", 1, seeds=(1, 2, 3))
    record = tmp_path / "record.jsonl"
    run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=DeclaredDeadAfterSeed2(storage_url, record=record))
    lost, copy = trials(storage_url, "s")
    assert lost.state.name == "FAIL" and "seed:2" not in lost.user_attrs  # the store came too late
    assert copy.state.name == "COMPLETE"
    assert {"seed:1", "seed:2", "seed:3"} <= set(copy.user_attrs)
    assert set(done_counts(record).values()) == {1}  # seed 2 was handed over, not trained again


# --- worker faults (issue 13): the machine is wrong, not the trial -------------------------------


def test_a_worker_whose_data_folder_is_missing_hands_its_trial_back_and_stops(tmp_path: Path, storage_url: str) -> None:
    from hpsearch.training import FlairTrainer

    make_study(storage_url, "s", 3, seeds=(1, 2))
    trainer = FlairTrainer(tmp_path / "typo")
    summary = run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=trainer)
    assert (summary.completed, summary.failed) == (0, 0)
    assert "lacks" in summary.fault
    assert states(storage_url, "s") == {"WAITING": 3}  # all three still queued
    assert all(
        FAIL_REASON_ATTR not in t.user_attrs and RETRIES_ATTR not in t.system_attrs for t in trials(storage_url, "s")
    )


def test_a_handed_back_trial_keeps_its_finished_seeds(tmp_path: Path, storage_url: str) -> None:
    class FailsOnSeed2(FakeTrainer):
        def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
            if seed == 2:
                raise PermissionError(13, "Permission denied", str(out_dir))
            return super().train(spec, config, seed, out_dir, hooks)

    make_study(storage_url, "s", 2, seeds=(1, 2))
    summary = run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FailsOnSeed2())
    assert summary.fault.startswith("PermissionError") and summary.failed == 0
    assert states(storage_url, "s") == {"WAITING": 2}
    first = trials(storage_url, "s")[0]
    assert list(seed_results_from_attrs(first.user_attrs)) == [1]
    # A worker on a good machine finishes it, training only what is missing.
    record = tmp_path / "record.jsonl"
    assert run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer(record=record)).completed == 2
    assert len(done_counts(record)) == 3


def test_a_study_whose_run_folder_would_escape_output_dir_is_refused(tmp_path: Path, storage_url: str) -> None:
    make_study(storage_url, "../escape", 1, seeds=(1,))  # an older study's name, made before names were checked
    summary = run_worker(storage_url, ["../escape"], worker_options(tmp_path), trainer=FakeTrainer())
    assert "outside --output-dir" in summary.fault
    assert states(storage_url, "../escape") == {"WAITING": 1}
    assert not (tmp_path / "escape").exists()


def test_a_trial_error_without_a_message_says_what_it_was(tmp_path: Path, storage_url: str) -> None:
    class Asserts(FakeTrainer):
        def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
            raise AssertionError

    make_study(storage_url, "s", 1, seeds=(1,))
    assert run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=Asserts()).failed == 1
    reason = trials(storage_url, "s")[0].user_attrs[FAIL_REASON_ATTR]
    assert reason.startswith("AssertionError (no message") and reason != "AssertionError: "
