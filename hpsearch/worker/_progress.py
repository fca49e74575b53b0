"""What a worker tells its user while it trains: one line per event, or a live view in a terminal."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Protocol

from hpsearch.formatting import clock as _clock
from hpsearch.search import Config, SeedResult

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

log = logging.getLogger("hpsearch.worker")


class Progress(Protocol):
    """Receives a worker's events. Implementations must be cheap: they run inside training."""

    def trial_started(self, study: str, trial: int, config: Config, n_seeds: int) -> None: ...

    def seed_started(self, index: int, seed: int, skipped: bool) -> None: ...

    def batch_done(self, epoch: int, batch: int, n_batches: int) -> None: ...

    def epoch_done(self, epoch: int, dev_f1: float) -> None: ...

    def seed_done(self, result: SeedResult) -> None: ...

    def trial_done(self, state: str, value: float | None, detail: str = "") -> None: ...

    def study_eta(self, seconds: float | None) -> None:
        """The study's remaining time as ``status`` estimates it (``hpsearch.results.eta_seconds``);
        the worker reads it once per seed, at the end of the seed's first epoch."""
        ...

    def message(self, text: str) -> None: ...


class _StudyEta:
    """The study's ETA as last read, counted down since: shown between two reads of the study."""

    def __init__(self) -> None:
        self._read: tuple[float, float] | None = None  # (seconds, when); one attribute, as views read it in a thread

    def set(self, seconds: float | None) -> None:
        self._read = None if seconds is None else (seconds, time.monotonic())

    def left(self) -> float | None:
        read = self._read
        return None if read is None else max(0.0, read[0] - (time.monotonic() - read[1]))


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
        self._study_eta = _StudyEta()

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
        state = "done" if result.complete else f"stopped after epoch {len(result.dev_curve)}"
        self._emit(
            f"trial={self._trial} {self._seed_label} {state} dev_f1={result.dev_f1:.4f} "
            f"test_f1={result.test_f1 if result.test_f1 is None else round(result.test_f1, 4)} "
            f"time={result.wall_time_s:.1f}s"
        )

    def trial_done(self, state: str, value: float | None, detail: str = "") -> None:
        elapsed = time.monotonic() - self._trial_started
        shown = "" if value is None else f" value={value:.4f}"
        extra = f" ({detail})" if detail else ""
        eta = self._study_eta.left()
        study_eta = "" if eta is None else f" study ETA {_clock(eta)}"
        self._emit(
            f"study={self._study} trial={self._trial} config={self._config} {state}{shown} "
            f"time={elapsed:.1f}s{study_eta}{extra}",
            important=True,
        )

    def study_eta(self, seconds: float | None) -> None:
        self._study_eta.set(seconds)

    def message(self, text: str) -> None:
        self._emit(text, important=True)


class RichProgress:
    """A live view in a terminal: study, trial, configuration, seed i/n, epoch j/m with a bar
    (moved by each batch), latest dev F1, elapsed time, the trial's ETA and the study's.

    Each finished seed and trial stays printed above the view. The view runs only while a trial
    does; use the object as a context manager so that it is always closed.

    The trial's ETA is the time per trained epoch so far (batches included) times the epochs left;
    seeds kept from an earlier attempt count as neither. The study's is ``status``'s, read by the
    worker once per seed and counted down in between.
    """

    def __init__(self, console: Console | None = None, *, refresh_per_second: float = 4) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._refresh = refresh_per_second
        self._live: Live | None = None
        self._lock = threading.Lock()
        self._study = ""
        self._trial = -1
        self._config = ""
        self._n_seeds = 0
        self._epochs = 1
        self._seed_index = 0
        self._seed = 0
        self._to_train = 0  # seeds this attempt trains
        self._trained = 0  # of which done
        self._epoch = 0  # epochs done in the current seed
        self._batch = 0
        self._n_batches = 0
        self._dev_f1: float | None = None
        self._dev_epoch = 0
        self._started = 0.0
        self._study_eta = _StudyEta()

    # --- the Progress protocol

    def trial_started(self, study: str, trial: int, config: Config, n_seeds: int) -> None:
        with self._lock:
            self._study, self._trial, self._config, self._n_seeds = study, trial, config.name, n_seeds
            self._epochs = max(1, config.epochs)
            self._to_train, self._trained = n_seeds, 0
            self._seed_index = self._seed = self._epoch = self._batch = self._n_batches = 0
            self._dev_f1, self._dev_epoch = None, 0
            self._started = time.monotonic()
        self._start_live()

    def seed_started(self, index: int, seed: int, skipped: bool) -> None:
        with self._lock:
            self._seed_index, self._seed = index, seed
            self._epoch = self._batch = 0
            self._dev_f1, self._dev_epoch = None, 0  # the view shows this seed's own dev F1 only
            if skipped:
                self._to_train -= 1
        if skipped:
            self._print(f"trial {self._trial} seed {index + 1}/{self._n_seeds} (seed={seed}) kept from an earlier run")

    def batch_done(self, epoch: int, batch: int, n_batches: int) -> None:
        self._epoch, self._batch, self._n_batches = epoch - 1, batch, n_batches

    def epoch_done(self, epoch: int, dev_f1: float) -> None:
        with self._lock:
            self._epoch, self._batch = epoch, 0
            self._dev_f1, self._dev_epoch = dev_f1, epoch

    def seed_done(self, result: SeedResult) -> None:
        with self._lock:
            self._trained += 1
            self._epoch, self._batch = 0, 0
        state = "done" if result.complete else f"stopped after epoch {len(result.dev_curve)}"
        test = "" if result.test_f1 is None else f" test F1 {result.test_f1:.4f}"
        self._print(
            f"trial {self._trial} seed {self._seed_index + 1}/{self._n_seeds} (seed={result.seed}) {state}: "
            f"dev F1 {result.dev_f1:.4f}{test} in {_clock(result.wall_time_s)}"
        )

    def trial_done(self, state: str, value: float | None, detail: str = "") -> None:
        from rich.markup import escape

        elapsed = time.monotonic() - self._started
        self._stop_live()
        colour = {"complete": "green", "failed": "red", "interrupted": "yellow"}.get(state, "")
        shown = "" if value is None else f" value {value:.4f}"
        extra = f" ({detail})" if detail else ""
        eta = self._study_eta.left()
        study_eta = "" if eta is None else f", study ETA {_clock(eta)}"
        self._print(
            f"[bold]{escape(self._study)}[/] trial {self._trial} {escape(self._config)} "
            f"[{colour or 'default'}]{state}[/]{shown} in {_clock(elapsed)}{study_eta}{escape(extra)}",
            markup=True,
        )

    def study_eta(self, seconds: float | None) -> None:
        self._study_eta.set(seconds)

    def message(self, text: str) -> None:
        self._print(text)

    # --- the view

    def fraction_done(self) -> float:
        """The share of this attempt's epochs trained, batches of the current epoch included."""
        total = self._to_train * self._epochs
        if total <= 0:
            return 1.0
        epochs = self._epoch + (self._batch / self._n_batches if self._n_batches else 0.0)
        return min(1.0, (self._trained * self._epochs + epochs) / total)

    def eta_seconds(self) -> float | None:
        done = self.fraction_done()
        if done <= 0 or done >= 1:
            return None
        return (time.monotonic() - self._started) * (1 - done) / done

    def __rich__(self) -> RenderableType:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        elapsed = time.monotonic() - self._started
        eta = self.eta_seconds()
        study_eta = self._study_eta.left()
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(width=32)
        grid.add_column(no_wrap=True)
        grid.add_row(
            Text.assemble(("trial ", "bold"), (str(self._trial), "bold"), f"  {self._study}"),
            Text(self._config, style="cyan"),
            f"study ETA {'–' if study_eta is None else _clock(study_eta)}",
        )
        grid.add_row(
            f"seed {self._seed_index + 1}/{self._n_seeds} (seed={self._seed})",
            ProgressBar(total=1.0, completed=self.fraction_done()),
            f"{100 * self.fraction_done():3.0f}%  elapsed {_clock(elapsed)}  "
            f"trial ETA {'–' if eta is None else _clock(eta)}",
        )
        epoch = min(self._epoch + 1, self._epochs)
        batches = f"batch {self._batch}/{self._n_batches}" if self._n_batches else ""
        grid.add_row(
            f"epoch {epoch}/{self._epochs}",
            ProgressBar(total=max(1, self._n_batches), completed=self._batch),
            batches,
        )
        dev = "–" if self._dev_f1 is None else f"{self._dev_f1:.4f} (epoch {self._dev_epoch})"
        grid.add_row("dev F1", Text(dev, style="green" if self._dev_f1 is not None else "dim"), "")
        return grid

    def _print(self, text: str, *, markup: bool = False) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.console.print(f"[dim]{stamp}[/] {text}" if markup else f"{stamp} {text}", markup=markup, highlight=False)

    def _start_live(self) -> None:
        from rich.live import Live

        self._stop_live()
        self._live = Live(self, console=self.console, refresh_per_second=self._refresh, transient=True)
        self._live.start()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def log_handler(self) -> logging.Handler:
        """A logging handler that prints above the live view instead of through it."""
        from rich.logging import RichHandler

        return RichHandler(console=self.console, show_path=False, show_level=False, markup=False)

    def close(self) -> None:
        self._stop_live()

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PROGRESS_ENV = "HPSEARCH_PROGRESS"
"""``lines`` forces one line per event, ``live`` the live view; unset: live in a terminal."""


def choose_progress(*, quiet: bool = False, verbose: bool = False, stream: IO[str] | None = None) -> Progress:
    """A live view when ``stream`` (stderr) is a terminal, else one line per event.

    ``--quiet`` (only results) and ``--verbose`` (every log line) keep the lines; so does
    ``HPSEARCH_PROGRESS=lines``, which ``--gpus`` sets for its workers sharing one terminal.
    """
    stream = sys.stderr if stream is None else stream
    wanted = os.environ.get(PROGRESS_ENV, "")
    live = wanted == "live" or (wanted != "lines" and not quiet and not verbose and _isatty(stream))
    if live:
        return RichProgress()
    return LineProgress(quiet=quiet, verbose=verbose)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
