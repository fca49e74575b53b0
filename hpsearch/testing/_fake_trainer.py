"""A scheduling-only stand-in for ``FlairTrainer``: no model, no data, no Flair import.

For tests and benchmarks of the worker fleet (claiming, heartbeats, crashes, retries). Its dev
F1 is a deterministic function of the configuration and the seed, so results can be compared
across workers and runs; it says nothing about real training.

Example:
    >>> from hpsearch.testing._fake_trainer import FakeTrainer
    >>> from hpsearch.worker._loop import WorkerOptions, run_worker
    >>> run_worker("sqlite:///fleet.db", ["demo"], WorkerOptions(), trainer=FakeTrainer(0.5))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from hpsearch.errors import SpecError, TrainingError
from hpsearch.search import Config, SeedResult, StudySpec
from hpsearch.training import RunHooks, RunInterrupted, RunPruned


def fake_dev_f1(config: Config, seed: int) -> float:
    """The fake "best dev F1" of a configuration and seed, in [0.5, 0.9)."""
    digest = hashlib.sha256(f"{config.name}:{seed}".encode()).digest()
    return 0.5 + 0.4 * int.from_bytes(digest[:8], "big") / 2**64


class FakeTrainer:
    """Sleeps instead of training and returns a deterministic ``SeedResult``.

    Args:
        seconds: Time one seed takes, spread over the configuration's epochs.
        record: A file to which one JSON line is appended per event (``start``, ``done``,
            ``interrupted``, ``failed``) with the configuration, seed and process id, so that
            tests can check which (configuration, seed) pairs were trained, and by whom.
        fail_configs: Names of configurations whose every seed raises ``TrainingError``.
        step: How often ``hooks.stop`` is checked while sleeping, in seconds.
    """

    def __init__(
        self,
        seconds: float = 0.0,
        *,
        record: Path | str | None = None,
        fail_configs: Collection[str] = (),
        step: float = 0.05,
    ) -> None:
        if seconds < 0:
            raise SpecError(f"seconds must be >= 0, but got {seconds=}.")
        if step <= 0:
            raise SpecError(f"step must be > 0, but got {step=}.")
        self.seconds = seconds
        self.record = Path(record) if record is not None else None
        self.fail_configs = frozenset(fail_configs)
        self.step = step

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        started = time.perf_counter()
        self._note("start", config, seed)
        best = fake_dev_f1(config, seed)
        curve = tuple(best * (0.9 + 0.1 * (epoch + 1) / config.epochs) for epoch in range(config.epochs))
        for epoch, dev_f1 in enumerate(curve, start=1):
            self._sleep(started + self.seconds * epoch / config.epochs, hooks, config, seed)
            if config.name in self.fail_configs and epoch == 1:
                self._note("failed", config, seed)
                raise TrainingError(f"fake failure of {config.name} seed {seed}")
            if hooks.on_epoch is not None:
                try:
                    hooks.on_epoch(epoch, dev_f1)
                except RunPruned:  # as train_seed: the run stops, its curve so far is kept
                    self._note("pruned", config, seed)
                    return SeedResult(
                        seed=seed,
                        dev_curve=curve[:epoch],
                        wall_time_s=time.perf_counter() - started,
                        device="fake",
                        complete=False,
                    )
        self._note("done", config, seed)
        return SeedResult(
            seed=seed,
            dev_curve=curve,
            test_f1=best - 0.02,
            wall_time_s=time.perf_counter() - started,
            device="fake",
        )

    def _sleep(self, until: float, hooks: RunHooks, config: Config, seed: int) -> None:
        while True:
            if hooks.stop.is_set():
                self._note("interrupted", config, seed)
                raise RunInterrupted("worker stopping")
            left = until - time.perf_counter()
            if left <= 0:
                return
            time.sleep(min(left, self.step))

    def _note(self, event: str, config: Config, seed: int) -> None:
        if self.record is None:
            return
        line = json.dumps({"event": event, "config": config.name, "seed": seed, "pid": os.getpid(), "t": time.time()})
        # One write of one short line with O_APPEND: lines from many processes do not interleave.
        fd = os.open(self.record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


def read_record(path: Path | str) -> list[dict[str, Any]]:
    """The events a ``FakeTrainer`` appended to ``record``, oldest first."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """``python -m hpsearch.testing._fake_trainer --storage URL --study NAME [...]``: one worker with a fake trainer.

    For fleet tests and benchmarks: it starts in well under a second, as it never imports Flair.
    """
    import argparse
    import logging
    import sys

    from hpsearch.worker import WorkerOptions, run_worker

    parser = argparse.ArgumentParser(prog="python -m hpsearch.testing._fake_trainer", description=main.__doc__)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", action="append", required=True)
    parser.add_argument("--seconds", type=float, default=0.0, help="per seed")
    parser.add_argument("--record", type=Path)
    parser.add_argument("--fail-config", action="append", default=[])
    parser.add_argument("--output-dir", type=Path, default=Path("runs"))
    parser.add_argument("--n-trials", type=int)
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--heartbeat", type=int, default=20)
    parser.add_argument("--grace", type=int, default=60)
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument("--gpu", type=int, help="recorded only (hpsearch.worker._fleet appends it)")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s pid={os.getpid()} %(message)s", "%H:%M:%S"))
    logging.getLogger("hpsearch").addHandler(handler)
    logging.getLogger("hpsearch").setLevel(logging.INFO)
    options = WorkerOptions(
        output_dir=args.output_dir,
        keep_models="none",
        n_trials=args.n_trials,
        timeout_s=args.timeout,
        heartbeat_interval=args.heartbeat,
        grace_period=args.grace,
        max_retries=args.max_retries,
    )
    trainer = FakeTrainer(args.seconds, record=args.record, fail_configs=args.fail_config)
    summary = run_worker(args.storage, args.study, options, trainer=trainer)
    done = {"completed": summary.completed, "failed": summary.failed, "interrupted": summary.interrupted}
    print(json.dumps({**done, "gpu": args.gpu, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
