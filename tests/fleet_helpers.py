"""Helpers for the fleet tests: studies for the fake trainer, worker processes, waiting bounded by progress.

Subprocess tests never fail on a total wall-clock time: a loaded machine only makes them slower.
``wait_for`` and ``Worker.wait`` fail once nothing has progressed (no log line, no recorded seed,
no byte trained) for ``STALL_S`` seconds; pytest-timeout (pyproject.toml) guards against real hangs.
"""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hpsearch.search import Config, GridSpace, StudySpec
from hpsearch.store import create_study, open_storage
from hpsearch.testing import read_record
from hpsearch.worker import WorkerOptions

BATCH_SIZE = 8


def worker_options(tmp_path: Path, **kw: object) -> WorkerOptions:
    """In-process worker settings for tests: runs under ``tmp_path``, no models kept, no signal handlers."""
    return WorkerOptions(
        output_dir=tmp_path / "runs",
        keep_models="none",
        handle_signals=False,
        **kw,  # type: ignore[arg-type]
    )


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


def has_started(record: Path, config: str, seed: int) -> bool:
    """Whether a ``FakeTrainer`` recorded training ``seed`` of ``config``."""
    return any((e["config"], e["seed"]) == (config, seed) for e in read_record(record))


STALL_S = float(os.environ.get("HPSEARCH_TEST_STALL_S", "300"))
"""How long a wait may see no progress before the test fails (``HPSEARCH_TEST_STALL_S``)."""


def growth(*paths: Path) -> Callable[[], int]:
    """A progress measure: the bytes in ``paths`` (files, and the files under folders), which grow as workers work."""

    def size() -> int:
        total = 0
        for path in paths:
            for file in path.rglob("*") if path.is_dir() else (path,):
                with contextlib.suppress(OSError):  # not there yet, or removed meanwhile
                    total += file.stat().st_size
        return total

    return size


def wait_for(
    predicate: Callable[[], bool],
    what: str,
    *,
    progress: Callable[[], object] = lambda: None,
    stall: float = STALL_S,
    poll: float = 0.05,
) -> None:
    """Wait until ``predicate()`` holds; fail only once ``progress()`` has not changed for ``stall`` seconds.

    Without a ``progress`` measure, nothing counts as progress: the wait fails after ``stall`` seconds.
    """
    last, since = progress(), time.monotonic()
    while not predicate():
        now = progress()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > stall:
            raise AssertionError(f"no progress for {stall:.0f} s while waiting for {what}")
        time.sleep(poll)


class Worker:
    """``python -m hpsearch.testing._fake_trainer`` in a process of its own; output in ``<dir>/<name>.out|.err``."""

    def __init__(self, url: str, studies: Sequence[str], directory: Path, name: str, *args: object) -> None:
        self.name = name
        self.out = directory / f"{name}.out"
        self.err = directory / f"{name}.err"
        words = [str(a) for a in args]
        self.record = Path(words[words.index("--record") + 1]) if "--record" in words else None
        argv = [sys.executable, "-m", "hpsearch.testing._fake_trainer", "--storage", url]
        for study in studies:
            argv += ["--study", study]
        argv += ["--output-dir", str(directory / "runs"), *words]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=directory)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def files(self) -> tuple[Path, ...]:
        """What grows while it works: its output and its trainer's record."""
        return (self.out, self.err) if self.record is None else (self.out, self.err, self.record)

    def wait(self, *, progress: Callable[[], object] | None = None, stall: float = STALL_S) -> int:
        """Its exit code, once it exits; fails (and kills it) when ``progress`` (default: its files) stalls."""
        try:
            progress = progress or growth(*self.files)
            wait_for(
                lambda: self.proc.poll() is not None, f"worker {self.name} to exit", progress=progress, stall=stall
            )
        except AssertionError as e:
            self.kill()
            raise AssertionError(f"{e}:\n{self.log()}") from None
        return self.proc.returncode

    def log(self) -> str:
        return self.err.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def wait_all(workers: Sequence[Worker], *, stall: float = STALL_S) -> None:
    """Wait for every worker to exit 0, while any of them makes progress; a worker waiting for the others does not."""
    progress = growth(*(f for w in workers for f in w.files))
    try:
        for worker in workers:
            assert worker.wait(progress=progress, stall=stall) == 0, worker.log()
    finally:
        for worker in workers:
            worker.kill()


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
