"""A worker fleet that survives: GPUs, several studies, crashes, signals, failing runs, many SQLite workers.

Workers train with ``hpsearch.testing._fake_trainer.FakeTrainer`` (scheduling only: it sleeps and returns a
deterministic result) and record each (configuration, seed) they train, so that the tests can check
that a retried trial trained only the seeds that were missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpsearch.errors import SpecError
from hpsearch.service import resolve_studies
from hpsearch.store import (
    FAIL_REASON_ATTR,
    RETRIES_ATTR,
    claim_next,
    config_of,
    fail_stale_trials,
    load_study,
    open_storage,
    requeue,
)
from hpsearch.testing import FakeTrainer, fake_dev_f1, read_record
from hpsearch.worker import WorkerOptions, parse_gpus, run_fleet, run_worker, worker_argv
from tests.fleet_helpers import (
    Worker,
    assert_clean_logs,
    assert_drained_once,
    assert_each_config_complete_once,
    config_name,
    done_counts,
    learning_rates,
    make_study,
    states,
    trials,
    wait_for,
)


def options(tmp_path: Path, **kw: object) -> WorkerOptions:
    return WorkerOptions(
        output_dir=tmp_path / "runs",
        keep_models="none",
        handle_signals=False,
        **kw,  # type: ignore[arg-type]
    )


# --- --gpus ------------------------------------------------------------------------------------


def test_parse_gpus() -> None:
    assert parse_gpus("0,1,3") == [0, 1, 3]
    assert parse_gpus(" 2 ") == [2]
    for bad in ("", "a,b", "0,0", "-1"):
        with pytest.raises(SpecError):
            parse_gpus(bad)


def test_gpus_all_without_gpus_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpsearch.cli import app

    monkeypatch.setattr("hpsearch.worker._fleet.detect_gpus", lambda: [])
    result = CliRunner().invoke(app, ["worker", "--study", "s", "--gpus", "all"])
    assert result.exit_code == 2
    assert "--gpus all found no CUDA GPU" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_gpu_and_gpus_together_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpsearch.cli import app

    args = ["worker", "--study", "s", "--gpus", "0,1", "--gpu", "0"]
    monkeypatch.setattr(sys, "argv", ["hpsearch", *args])  # the fleet passes on its own command line
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "not both" in result.output


def test_worker_argv_replaces_gpus_by_gpu() -> None:
    assert worker_argv(["worker", "--gpus", "0,1", "--study", "s"], 1) == ["worker", "--study", "s", "--gpu", "1"]
    assert worker_argv(["worker", "--gpus=all", "-s", "s"], 0) == ["worker", "-s", "s", "--gpu", "0"]


CHILD = """
import json, os, signal, sys, time
from pathlib import Path

out, args = Path(sys.argv[1]), sys.argv[2:]
gpu, mode = args[args.index("--gpu") + 1], args[args.index("--mode") + 1]
runs = out / f"gpu{gpu}.runs"
n = int(runs.read_text()) if runs.exists() else 0
runs.write_text(str(n + 1))
env = {"argv": args, "cuda": os.environ["CUDA_VISIBLE_DEVICES"], "progress": os.environ.get("HPSEARCH_PROGRESS")}
(out / f"gpu{gpu}.json").write_text(json.dumps(env))
if mode == "crash" or (mode == "crash-once" and gpu == "1" and n == 0):
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "usage":
    sys.exit(2)
if mode == "wait-for-signal":
    got = []
    signal.signal(signal.SIGTERM, lambda *a: got.append(a[0]))
    (out / f"gpu{gpu}.ready").write_text("")
    deadline = time.time() + 20
    while not got and time.time() < deadline:
        time.sleep(0.02)
    sys.exit(0 if got else 5)
"""


def _fleet(tmp_path: Path, mode: str, **kw: object) -> int:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    argv = ["worker", "--study", "s", "--gpus", "0,1", "--mode", mode]
    return run_fleet("0,1", argv, command=[sys.executable, str(script), str(tmp_path)], restart_delay=0.1, **kw)


def _runs(tmp_path: Path, gpu: int) -> int:
    return int((tmp_path / f"gpu{gpu}.runs").read_text())


def test_fleet_starts_one_pinned_worker_per_gpu_and_restarts_a_crashed_one(tmp_path: Path) -> None:
    assert _fleet(tmp_path, "crash-once") == 0
    assert (_runs(tmp_path, 0), _runs(tmp_path, 1)) == (1, 2)
    for gpu in (0, 1):
        child = json.loads((tmp_path / f"gpu{gpu}.json").read_text())
        assert child["argv"] == ["worker", "--study", "s", "--mode", "crash-once", "--gpu", str(gpu)]
        assert child["cuda"] == str(gpu)
        assert child["progress"] == "lines"


def test_fleet_gives_up_on_a_worker_that_keeps_crashing(tmp_path: Path) -> None:
    assert _fleet(tmp_path, "crash", max_restarts=2) == 128 + signal.SIGKILL
    assert (_runs(tmp_path, 0), _runs(tmp_path, 1)) == (3, 3)


def test_fleet_does_not_restart_a_worker_that_exits_2(tmp_path: Path) -> None:
    assert _fleet(tmp_path, "usage") == 2
    assert (_runs(tmp_path, 0), _runs(tmp_path, 1)) == (1, 1)


def test_fleet_passes_sigterm_on_to_every_worker(tmp_path: Path) -> None:
    def stop_when_ready() -> None:
        wait_for(lambda: all((tmp_path / f"gpu{g}.ready").exists() for g in (0, 1)), 20, "workers")
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=stop_when_ready)
    thread.start()
    started = time.monotonic()
    assert _fleet(tmp_path, "wait-for-signal") == 0  # each worker saw SIGTERM and exited 0
    thread.join()
    assert time.monotonic() - started < 15
    assert (_runs(tmp_path, 0), _runs(tmp_path, 1)) == (1, 1)


def test_fleet_of_fake_workers_drains_a_study(tmp_path: Path, sqlite_url: str, capfd: pytest.CaptureFixture) -> None:
    make_study(sqlite_url, "s", 6, seeds=(1,))
    record = tmp_path / "record.jsonl"
    argv = ["--storage", sqlite_url, "--study", "s", "--gpus", "0,1", "--seconds", "0.2", "--record", str(record)]
    argv += ["--output-dir", str(tmp_path / "runs")]
    assert run_fleet("0,1", argv, command=[sys.executable, "-m", "hpsearch.testing._fake_trainer"]) == 0
    assert_each_config_complete_once(sqlite_url, "s", 6)
    summaries = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    assert sorted((s["gpu"], s["cuda_visible_devices"]) for s in summaries) == [(0, "0"), (1, "1")]
    assert sum(s["completed"] for s in summaries) == 6


# --- one worker: several studies, limits, failing runs -----------------------------------------


def test_a_worker_serves_studies_by_pattern_in_order(tmp_path: Path, sqlite_url: str) -> None:
    make_study(sqlite_url, "ner-a", 2, seeds=(1,))
    make_study(sqlite_url, "ner-b", 2, seeds=(1,), offset=10)
    make_study(sqlite_url, "other", 1, seeds=(1,))
    storage = open_storage(sqlite_url)
    assert resolve_studies(storage, ["ner-*"]) == ["ner-a", "ner-b"]
    assert resolve_studies(storage, ["ner-b", "ner-*"]) == ["ner-b", "ner-a"]

    summary = run_worker(sqlite_url, ["ner-b", "ner-a"], options(tmp_path), trainer=FakeTrainer())
    assert summary.completed == 4
    assert states(sqlite_url, "other") == {"WAITING": 1}
    b_done = max(t.datetime_complete for t in trials(sqlite_url, "ner-b"))
    a_started = min(t.datetime_start for t in trials(sqlite_url, "ner-a"))
    assert b_done <= a_started  # the first study's queue first


def test_n_trials_and_timeout_limit_a_worker(tmp_path: Path, sqlite_url: str) -> None:
    make_study(sqlite_url, "s", 5, seeds=(1,))
    assert run_worker(sqlite_url, ["s"], options(tmp_path, n_trials=2), trainer=FakeTrainer()).completed == 2
    # --timeout: no new trial after 0.3 s; the first one takes 0.5 s.
    summary = run_worker(sqlite_url, ["s"], options(tmp_path, timeout_s=0.3), trainer=FakeTrainer(0.5))
    assert summary.completed == 1
    assert states(sqlite_url, "s") == {"COMPLETE": 3, "WAITING": 2}
    assert run_worker(sqlite_url, ["s"], options(tmp_path), trainer=FakeTrainer()).completed == 2


def test_a_failing_run_fails_its_trial_with_the_reason_and_the_worker_goes_on(tmp_path: Path, sqlite_url: str) -> None:
    make_study(sqlite_url, "s", 3)
    bad = config_name(learning_rates(3)[1])
    summary = run_worker(sqlite_url, ["s"], options(tmp_path), trainer=FakeTrainer(fail_configs={bad}))
    assert (summary.completed, summary.failed) == (2, 1)
    (failed,) = [t for t in trials(sqlite_url, "s") if t.state.name == "FAIL"]
    assert failed.user_attrs["config"] == bad
    assert f"fake failure of {bad} seed 1" in failed.user_attrs[FAIL_REASON_ATTR]
    assert states(sqlite_url, "s") == {"COMPLETE": 2, "FAIL": 1}  # a training error is not retried


@pytest.mark.parametrize("write", ["set_trial_user_attr", "_set_trial_param"])  # the latter: via optuna's cache
def test_a_lost_reply_while_a_trial_starts_is_retried_not_failed(
    write: str, tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection breaks after a starting trial's first write was committed, before the reply
    (a database restart): the write is tried again and the trial completes with what was stored.
    A grid trial's parameters are queued with it; a sampled trial writes them when it starts."""
    import optuna
    from optuna.exceptions import StorageInternalError
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import OperationalError

    from hpsearch.service import build_spec
    from hpsearch.store import create_study

    if write == "_set_trial_param":
        spec = build_spec(model="bert", config=None, space="wide", n_trials=2, pruner="none", seeds="1")
        create_study(spec, open_storage(sqlite_url), "s")
    else:
        make_study(sqlite_url, "s", 2)
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
    summary = run_worker(sqlite_url, ["s"], options(tmp_path), trainer=FakeTrainer())
    assert lost
    assert (summary.completed, summary.failed) == (2, 0)
    assert states(sqlite_url, "s") == {"COMPLETE": 2}
    # Trained as stored: each trial's configuration is the one its stored parameters give.
    _, stored_spec = load_study(open_storage(sqlite_url), "s")
    for t in trials(sqlite_url, "s"):
        assert t.user_attrs["config"] == stored_spec.space.suggest(optuna.trial.FixedTrial(t.params)).name


# --- crashes and signals -----------------------------------------------------------------------


def test_sigkill_mid_trial_is_recovered_by_another_worker_keeping_finished_seeds(
    tmp_path: Path, sqlite_url: str
) -> None:
    make_study(sqlite_url, "s", 3, seeds=(1, 2, 3))
    record = tmp_path / "record.jsonl"
    fast = ("--heartbeat", 1, "--grace", 3, "--record", record)
    first = Worker(sqlite_url, ["s"], tmp_path, "first", "--seconds", 1, *fast)
    killed = config_name(learning_rates(3)[0])
    wait_for(lambda: (killed, 2) in {(e["config"], e["seed"]) for e in read_record(record)}, 30, "seed 2 to start")
    first.kill()  # SIGKILL while seed 2 of trial 0 trains; seed 1 is stored

    second = Worker(sqlite_url, ["s"], tmp_path, "second", "--seconds", 0.1, *fast)
    assert second.wait(60) == 0, second.log()
    assert_clean_logs([second])
    assert_each_config_complete_once(sqlite_url, "s", 3)

    by_number = {t.number: t for t in trials(sqlite_url, "s")}
    assert by_number[0].state.name == "FAIL"
    assert by_number[0].user_attrs[FAIL_REASON_ATTR] == "worker lost: no heartbeat for 3 s; re-queued (retry 1 of 3)"
    (retry,) = [t for t in by_number.values() if t.system_attrs.get("hpsearch:retry_of") == 0]
    assert retry.state.name == "COMPLETE" and retry.system_attrs[RETRIES_ATTR] == 1
    # The retry trained only the missing seeds; every seed of every configuration was trained once.
    events = read_record(record)
    assert {e["seed"] for e in events if e["config"] == killed and e["event"] == "done" and e["pid"] == first.pid} == {
        1
    }
    assert {e["seed"] for e in events if e["config"] == killed and e["pid"] == second.pid} == {2, 3}
    assert set(done_counts(record).values()) == {1}
    assert len(done_counts(record)) == 9
    assert retry.user_attrs["dev_f1_per_seed"] == pytest.approx([fake_dev_f1(config_of(retry), s) for s in (1, 2, 3)])


def test_a_dead_trial_is_retried_at_most_max_retries_times(sqlite_url: str) -> None:
    make_study(sqlite_url, "s", 1)
    storage = open_storage(sqlite_url, heartbeat_interval=1, grace_period=1)
    study, _ = load_study(storage, "s")
    assert claim_next(study) is not None  # a worker claims it, then dies: no more heartbeats
    time.sleep(2.1)
    assert fail_stale_trials(study, grace_period=1, max_retries=1) == [0]
    assert fail_stale_trials(study, grace_period=1, max_retries=1) == []  # failed and re-queued once only
    assert claim_next(study) is not None  # its retry, which dies too
    time.sleep(2.1)
    assert fail_stale_trials(study, grace_period=1, max_retries=1) == [1]
    assert claim_next(study) is None
    first, second = trials(sqlite_url, "s")
    assert first.user_attrs[FAIL_REASON_ATTR] == "worker lost: no heartbeat for 1 s; re-queued (retry 1 of 1)"
    assert second.user_attrs[FAIL_REASON_ATTR] == "worker lost: no heartbeat for 1 s; 1 retries used"
    assert states(sqlite_url, "s") == {"FAIL": 2}


def test_sigterm_stops_a_worker_at_once_and_requeues_its_trial(tmp_path: Path, sqlite_url: str) -> None:
    make_study(sqlite_url, "s", 2, seeds=(1, 2, 3))
    record = tmp_path / "record.jsonl"
    worker = Worker(sqlite_url, ["s"], tmp_path, "w", "--seconds", 1, "--record", record)  # default grace: 60 s
    first = config_name(learning_rates(2)[0])
    wait_for(lambda: (first, 2) in {(e["config"], e["seed"]) for e in read_record(record)}, 30, "seed 2 to start")
    stopped = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait(10) == 0
    assert time.monotonic() - stopped < 3
    assert json.loads(worker.out.read_text())["interrupted"] is True

    by_number = {t.number: t for t in trials(sqlite_url, "s")}
    assert by_number[0].state.name == "FAIL"
    assert by_number[0].user_attrs[FAIL_REASON_ATTR].startswith("interrupted")
    copy = by_number[2]
    assert copy.state.name == "WAITING"  # re-queued at once, not after the grace period
    assert "seed:1" in copy.user_attrs and "seed:2" not in copy.user_attrs
    assert copy.system_attrs[RETRIES_ATTR] == 0  # stopping a worker is no failure of the configuration

    run_worker(sqlite_url, ["s"], options(tmp_path), trainer=FakeTrainer(record=record))
    assert_each_config_complete_once(sqlite_url, "s", 2)
    assert set(done_counts(record).values()) == {1}
    # The re-queued trial goes first: its missing seeds, then the next configuration.
    here = [(e["config"], e["seed"]) for e in read_record(record) if e["pid"] == os.getpid() and e["event"] == "done"]
    second = config_name(learning_rates(2)[1])
    assert here == [(first, 2), (first, 3), (second, 1), (second, 2), (second, 3)]


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


def test_a_trial_declared_dead_while_it_trains_hands_its_seeds_to_its_copy(tmp_path: Path, sqlite_url: str) -> None:
    make_study(sqlite_url, "s", 1, seeds=(1, 2, 3))
    record = tmp_path / "record.jsonl"
    run_worker(sqlite_url, ["s"], options(tmp_path), trainer=DeclaredDeadAfterSeed2(sqlite_url, record=record))
    lost, copy = trials(sqlite_url, "s")
    assert lost.state.name == "FAIL" and "seed:2" not in lost.user_attrs  # the store came too late
    assert copy.state.name == "COMPLETE"
    assert {"seed:1", "seed:2", "seed:3"} <= set(copy.user_attrs)
    assert set(done_counts(record).values()) == {1}  # seed 2 was handed over, not trained again


def test_a_second_signal_exits_at_once() -> None:
    code = (
        "import os, signal, threading, time\n"
        "from hpsearch.worker._loop import _install_signal_handlers\n"
        "stop = threading.Event()\n"
        "_install_signal_handlers(stop)\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "assert stop.is_set()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(10)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 130, done.stderr
    assert time.monotonic() - started < 8


# --- many workers on one SQLite file -----------------------------------------------------------


def test_eight_sqlite_workers_train_every_trial_of_a_200_point_grid_once(tmp_path: Path, sqlite_url: str) -> None:
    make_study(sqlite_url, "s", 200, seeds=(1,))
    record = tmp_path / "record.jsonl"
    workers = [Worker(sqlite_url, ["s"], tmp_path, f"w{i}", "--record", record) for i in range(8)]
    for worker in workers:
        assert worker.wait(170) == 0, worker.log()
    assert_drained_once(sqlite_url, "s", 200, workers, record, seeds=1)
    assert sum(json.loads(w.out.read_text())["completed"] for w in workers) == 200
