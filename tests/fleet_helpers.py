"""Helpers for the fleet tests: studies for the fake trainer, worker processes, polling."""

from __future__ import annotations

import collections
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hpsearch.search import Config, GridSpace, StudySpec
from hpsearch.store import create_study, open_storage
from hpsearch.testing import read_record

BATCH_SIZE = 8


def learning_rates(n: int, offset: int = 0) -> tuple[float, ...]:
    return tuple(round(1e-5 * (i + 1 + offset), 8) for i in range(n))


def fake_spec(n_configs: int, seeds: Sequence[int] = (1, 2), offset: int = 0) -> StudySpec:
    """A grid of ``n_configs`` learning rates, one epoch each, for the fake trainer."""
    space = GridSpace(learning_rates=learning_rates(n_configs, offset), batch_sizes=(BATCH_SIZE,), epochs=(1,))
    return StudySpec(model="fake", label="fake", space=space, seeds=tuple(seeds))


def make_study(url: str, name: str, n_configs: int, seeds: Sequence[int] = (1, 2), offset: int = 0) -> StudySpec:
    spec = fake_spec(n_configs, seeds, offset)
    create_study(spec, open_storage(url), name)
    return spec


def config_name(lr: float) -> str:
    return Config(learning_rate=lr, batch_size=BATCH_SIZE, epochs=1).name


def trials(url: str, name: str) -> list[Any]:
    import optuna

    return optuna.load_study(study_name=name, storage=open_storage(url)).get_trials(deepcopy=False)


def states(url: str, name: str) -> collections.Counter[str]:
    return collections.Counter(t.state.name for t in trials(url, name))


def done_counts(record: Path) -> collections.Counter[tuple[str, int]]:
    """How often each (configuration, seed) was trained to the end."""
    return collections.Counter((e["config"], e["seed"]) for e in read_record(record) if e["event"] == "done")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Worker:
    """``python -m hpsearch.testing._fake_trainer`` in a process of its own; output in ``<dir>/<name>.out|.err``."""

    def __init__(self, url: str, studies: Sequence[str], directory: Path, name: str, *args: object) -> None:
        self.name = name
        self.out = directory / f"{name}.out"
        self.err = directory / f"{name}.err"
        argv = [sys.executable, "-m", "hpsearch.testing._fake_trainer", "--storage", url]
        for study in studies:
            argv += ["--study", study]
        argv += ["--output-dir", str(directory / "runs"), *map(str, args)]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=directory)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"worker {self.name} still running after {timeout} s:\n{self.log()}") from None

    def log(self) -> str:
        return self.err.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def assert_clean_logs(workers: Sequence[Worker]) -> None:
    for worker in workers:
        text = worker.log()
        for bad in ("Traceback", "database is locked", "ERROR"):
            assert bad not in text, f"{bad!r} in the log of worker {worker.name}:\n{text}"


def not_complete(url: str, name: str) -> list[tuple]:
    """(number, state, user attributes) of the study's trials that are not COMPLETE, for failure messages."""
    return [(t.number, t.state.name, t.user_attrs) for t in trials(url, name) if t.state.name != "COMPLETE"]


def assert_each_config_complete_once(url: str, name: str, n_configs: int) -> None:
    from optuna.trial import TrialState

    complete = [t for t in trials(url, name) if t.state == TrialState.COMPLETE]
    configs = collections.Counter(t.user_attrs["config"] for t in complete)
    assert len(configs) == n_configs, (
        f"{len(configs)} of {n_configs} configurations complete; others: {not_complete(url, name)}"
    )
    assert max(configs.values()) == 1, f"configurations completed twice: {[c for c, n in configs.items() if n > 1]}"
    unfinished = [t.number for t in trials(url, name) if not t.state.is_finished()]
    assert not unfinished, f"trials left unfinished: {unfinished}"


def assert_drained_once(
    url: str, name: str, n_configs: int, workers: Sequence[Worker], record: Path, seeds: int
) -> None:
    """Clean logs; every configuration COMPLETE exactly once; each of its ``seeds`` seeds trained once."""
    assert_clean_logs(workers)
    assert_each_config_complete_once(url, name, n_configs)
    assert states(url, name) == {"COMPLETE": n_configs}, f"not complete: {not_complete(url, name)}"
    counts = done_counts(record)
    again = {key: n for key, n in counts.items() if n != 1}
    assert len(counts) == n_configs * seeds and not again, f"{len(counts)} seeds trained; more than once: {again}"
