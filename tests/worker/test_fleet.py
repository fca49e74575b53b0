"""A worker fleet that survives: GPUs, crashes, signals, many workers at once; on SQLite and PostgreSQL.

Each scenario runs on both backends (the ``storage_url`` fixture); tests/worker/test_postgres.py holds
what only PostgreSQL has (server restarts, the connection pool, passwords). Workers train with
``hpsearch.testing._fake_trainer.FakeTrainer`` (scheduling only: it sleeps and returns a deterministic
result) and record each (configuration, seed) they train, so that the tests can check that a retried
trial trained only the seeds that were missing. Waits are bounded by progress (tests/fleet_helpers.py).
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
from hpsearch.search import Config
from hpsearch.store import (
    CONFIG_ATTR,
    FAIL_REASON_ATTR,
    RETRIES_ATTR,
    claim_next,
    fail_stale_trials,
    load_study,
    open_storage,
)
from hpsearch.testing import FakeTrainer, fake_dev_f1, read_record
from hpsearch.worker import parse_gpus, run_fleet, run_worker, worker_argv
from tests.fleet_helpers import (
    STALL_S,
    Worker,
    assert_clean_logs,
    assert_drained_once,
    assert_each_config_complete_once,
    config_name,
    done_counts,
    growth,
    has_started,
    learning_rates,
    make_study,
    states,
    trials,
    wait_all,
    wait_for,
    worker_options,
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
if mode == "fault":
    sys.exit(3)
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


def test_fleet_does_not_restart_a_worker_that_cannot_run_trials_on_its_machine(tmp_path: Path) -> None:
    from hpsearch.worker import WORKER_FAULT_EXIT

    assert WORKER_FAULT_EXIT == 3  # documented in README and docs/fleet.md
    assert _fleet(tmp_path, "fault") == WORKER_FAULT_EXIT
    assert (_runs(tmp_path, 0), _runs(tmp_path, 1)) == (1, 1)


def test_fleet_passes_sigterm_on_to_every_worker(tmp_path: Path) -> None:
    def stop_when_ready() -> None:
        wait_for(lambda: all((tmp_path / f"gpu{g}.ready").exists() for g in (0, 1)), "workers")
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=stop_when_ready)
    thread.start()
    started = time.monotonic()
    assert _fleet(tmp_path, "wait-for-signal") == 0  # each worker saw SIGTERM and exited 0
    thread.join()
    assert time.monotonic() - started < 15
    assert (_runs(tmp_path, 0), _runs(tmp_path, 1)) == (1, 1)


def test_fleet_of_fake_workers_drains_a_study(tmp_path: Path, storage_url: str, capfd: pytest.CaptureFixture) -> None:
    make_study(storage_url, "s", 6, seeds=(1,))
    record = tmp_path / "record.jsonl"
    argv = ["--storage", storage_url, "--study", "s", "--gpus", "0,1", "--seconds", "0.2", "--record", str(record)]
    argv += ["--output-dir", str(tmp_path / "runs")]
    assert run_fleet("0,1", argv, command=[sys.executable, "-m", "hpsearch.testing._fake_trainer"]) == 0
    assert_each_config_complete_once(storage_url, "s", 6)
    summaries = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    assert sorted((s["gpu"], s["cuda_visible_devices"]) for s in summaries) == [(0, "0"), (1, "1")]
    assert sum(s["completed"] for s in summaries) == 6


# --- crashes and signals -----------------------------------------------------------------------


def test_sigkill_mid_trial_is_recovered_by_another_worker_keeping_finished_seeds(
    tmp_path: Path, storage_url: str
) -> None:
    make_study(storage_url, "s", 3, seeds=(1, 2, 3))
    record = tmp_path / "record.jsonl"
    fast = ("--heartbeat", 1, "--grace", 3, "--record", record)
    first = Worker(storage_url, ["s"], tmp_path, "first", "--seconds", 1, *fast)
    killed = config_name(learning_rates(3)[0])
    wait_for(lambda: has_started(record, killed, 2), "seed 2 to start", progress=growth(*first.files))
    first.kill()  # SIGKILL while seed 2 of trial 0 trains; seed 1 is stored

    second = Worker(storage_url, ["s"], tmp_path, "second", "--seconds", 0.1, *fast)
    assert second.wait() == 0, second.log()
    assert_clean_logs([second])
    assert_each_config_complete_once(storage_url, "s", 3)

    by_number = {t.number: t for t in trials(storage_url, "s")}
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
    config = Config.from_name(retry.user_attrs[CONFIG_ATTR])
    assert retry.user_attrs["dev_f1_per_seed"] == pytest.approx([fake_dev_f1(config, s) for s in (1, 2, 3)])


def test_a_dead_trial_is_retried_at_most_max_retries_times(storage_url: str) -> None:
    make_study(storage_url, "s", 1)
    storage = open_storage(storage_url, heartbeat_interval=1, grace_period=1)
    study, _ = load_study(storage, "s")
    assert claim_next(study) is not None  # a worker claims it, then dies: no more heartbeats
    time.sleep(2.1)
    assert fail_stale_trials(study, grace_period=1, max_retries=1) == [0]
    assert fail_stale_trials(study, grace_period=1, max_retries=1) == []  # failed and re-queued once only
    assert claim_next(study) is not None  # its retry, which dies too
    time.sleep(2.1)
    assert fail_stale_trials(study, grace_period=1, max_retries=1) == [1]
    assert claim_next(study) is None
    first, second = trials(storage_url, "s")
    assert first.user_attrs[FAIL_REASON_ATTR] == "worker lost: no heartbeat for 1 s; re-queued (retry 1 of 1)"
    assert second.user_attrs[FAIL_REASON_ATTR] == "worker lost: no heartbeat for 1 s; 1 retries used"
    assert states(storage_url, "s") == {"FAIL": 2}


def test_sigterm_stops_a_worker_at_once_and_requeues_its_trial(tmp_path: Path, storage_url: str) -> None:
    make_study(storage_url, "s", 2, seeds=(1, 2, 3))
    record = tmp_path / "record.jsonl"
    seconds = 5  # per seed: finishing the trial first would take 2 x 5 s more; a busy machine may take a few
    worker = Worker(storage_url, ["s"], tmp_path, "w", "--seconds", seconds, "--record", record)  # grace: 60 s
    first = config_name(learning_rates(2)[0])
    wait_for(lambda: has_started(record, first, 2), "seed 2 to start", progress=growth(*worker.files))
    stopped = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert time.monotonic() - stopped < seconds  # within the running seed: stopped at once, the trial not finished
    assert json.loads(worker.out.read_text())["interrupted"] is True

    by_number = {t.number: t for t in trials(storage_url, "s")}
    assert by_number[0].state.name == "FAIL"
    assert by_number[0].user_attrs[FAIL_REASON_ATTR].startswith("interrupted")
    copy = by_number[2]
    assert copy.state.name == "WAITING"  # re-queued at once, not after the grace period
    assert "seed:1" in copy.user_attrs and "seed:2" not in copy.user_attrs
    assert copy.system_attrs[RETRIES_ATTR] == 0  # stopping a worker is no failure of the configuration

    run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=FakeTrainer(record=record))
    assert_each_config_complete_once(storage_url, "s", 2)
    assert set(done_counts(record).values()) == {1}
    # The re-queued trial goes first: its missing seeds, then the next configuration.
    here = [(e["config"], e["seed"]) for e in read_record(record) if e["pid"] == os.getpid() and e["event"] == "done"]
    second = config_name(learning_rates(2)[1])
    assert here == [(first, 2), (first, 3), (second, 1), (second, 2), (second, 3)]


def test_a_second_signal_exits_at_once() -> None:
    code = (
        "import os, signal, threading, time\n"
        "from hpsearch.worker._loop import _install_signal_handlers\n"
        "stop = threading.Event()\n"
        "_install_signal_handlers(stop)\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "assert stop.is_set()\n"
        "print(time.monotonic(), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(600)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=STALL_S)
    assert done.returncode == 130, done.stderr
    assert time.monotonic() - float(done.stdout) < 8  # from the second signal: the monotonic clock is system-wide


# --- many workers on one storage ---------------------------------------------------------------


def test_many_workers_train_every_trial_of_a_200_point_grid_once(tmp_path: Path, storage_url: str) -> None:
    n_workers = 8 if storage_url.startswith("sqlite") else 16  # SQLite: one file, one writer at a time
    make_study(storage_url, "s", 200, seeds=(1,))
    record = tmp_path / "record.jsonl"
    workers = [Worker(storage_url, ["s"], tmp_path, f"w{i}", "--record", record) for i in range(n_workers)]
    wait_all(workers)
    assert_drained_once(storage_url, "s", 200, workers, record, seeds=1)
    assert sum(json.loads(w.out.read_text())["completed"] for w in workers) == 200
