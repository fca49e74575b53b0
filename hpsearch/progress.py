"""What a worker tells its user while it trains: one line per event, or a live view in a terminal."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from hpsearch.results import SeedResult
from hpsearch.spaces import Config

log = logging.getLogger("hpsearch.worker")


class Progress(Protocol):
    """Receives a worker's events. Implementations must be cheap: they run inside training."""

    def trial_started(self, study: str, trial: int, config: Config, n_seeds: int) -> None: ...

    def seed_started(self, index: int, seed: int, skipped: bool) -> None: ...

    def batch_done(self, epoch: int, batch: int, n_batches: int) -> None: ...

    def epoch_done(self, epoch: int, dev_f1: float) -> None: ...

    def seed_done(self, result: SeedResult) -> None: ...

    def trial_done(self, state: str, value: float | None, detail: str = "") -> None: ...

    def message(self, text: str) -> None: ...


class LineProgress:
    """One log line per event (seed, epoch, trial), greppable when output is not a terminal."""

    def __init__(self, *, verbose: bool = False, quiet: bool = False) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self._study = ""
        self._trial = -1
        self._config = ""
        self._n_seeds = 0
        self._seed_label = ""
        self._epochs = 0
        self._trial_started = 0.0

    def _emit(self, text: str, *, important: bool = False) -> None:
        if not self.quiet or important:
            log.info(text)

    def trial_started(self, study: str, trial: int, config: Config, n_seeds: int) -> None:
        self._study, self._trial, self._config, self._n_seeds = study, trial, config.name, n_seeds
        self._epochs = config.epochs
        self._trial_started = time.monotonic()
        self._emit(f"study={study} trial={trial} config={config.name} started ({n_seeds} seeds)")

    def seed_started(self, index: int, seed: int, skipped: bool) -> None:
        self._seed_label = f"seed {index + 1}/{self._n_seeds} (seed={seed})"
        if skipped:
            self._emit(f"trial={self._trial} {self._seed_label} kept from an earlier attempt")

    def batch_done(self, epoch: int, batch: int, n_batches: int) -> None:
        if self.verbose and (batch == n_batches or batch % max(1, n_batches // 10) == 0):
            self._emit(f"trial={self._trial} {self._seed_label} epoch {epoch}/{self._epochs} batch {batch}/{n_batches}")

    def epoch_done(self, epoch: int, dev_f1: float) -> None:
        self._emit(f"trial={self._trial} {self._seed_label} epoch {epoch}/{self._epochs} dev_f1={dev_f1:.4f}")

    def seed_done(self, result: SeedResult) -> None:
        state = "done" if result.complete else "pruned"
        self._emit(
            f"trial={self._trial} {self._seed_label} {state} dev_f1={result.dev_f1:.4f} "
            f"test_f1={result.test_f1 if result.test_f1 is None else round(result.test_f1, 4)} "
            f"time={result.wall_time_s:.1f}s"
        )

    def trial_done(self, state: str, value: float | None, detail: str = "") -> None:
        elapsed = time.monotonic() - self._trial_started
        shown = "" if value is None else f" value={value:.4f}"
        extra = f" ({detail})" if detail else ""
        self._emit(
            f"study={self._study} trial={self._trial} config={self._config} {state}{shown} time={elapsed:.1f}s{extra}",
            important=True,
        )

    def message(self, text: str) -> None:
        self._emit(text, important=True)
