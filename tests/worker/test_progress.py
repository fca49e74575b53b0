"""The worker's output: one line per event (LineProgress) or a live view in a terminal (RichProgress)."""

from __future__ import annotations

import io
import logging
import time

import pytest
from rich.console import Console

from hpsearch.search import Config, SeedResult
from hpsearch.worker import PROGRESS_ENV, LineProgress, RichProgress, choose_progress

CONFIG = Config(learning_rate=5e-5, batch_size=8, epochs=2)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def lines() -> list[str]:
    handler = _Lines()
    logger = logging.getLogger("hpsearch.worker")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _drive(progress: object) -> None:
    """One trial of two seeds, two epochs, four batches; the first seed kept from an earlier attempt."""
    p = progress
    p.trial_started("ajmc-en-bert", 3, CONFIG, 2)  # type: ignore[attr-defined]
    p.seed_started(0, 1, skipped=True)  # type: ignore[attr-defined]
    p.seed_started(1, 2, skipped=False)  # type: ignore[attr-defined]
    for epoch in (1, 2):
        for batch in range(1, 5):
            p.batch_done(epoch, batch, 4)  # type: ignore[attr-defined]
        p.epoch_done(epoch, 0.5 + epoch / 10)  # type: ignore[attr-defined]
    p.seed_done(SeedResult(seed=2, dev_curve=(0.6, 0.7), test_f1=0.65, wall_time_s=12.0))  # type: ignore[attr-defined]
    p.trial_done("complete", 0.71)  # type: ignore[attr-defined]


def test_line_progress_logs_one_line_per_event(lines: list[str]) -> None:
    _drive(LineProgress())
    assert lines[0] == f"study=ajmc-en-bert trial=3 config={CONFIG.name} started (2 seeds)"
    assert lines[1] == "trial=3 seed 1/2 (seed=1) kept from an earlier attempt"
    assert lines[2] == "trial=3 seed 2/2 (seed=2) epoch 1/2 dev_f1=0.6000"
    assert lines[3] == "trial=3 seed 2/2 (seed=2) epoch 2/2 dev_f1=0.7000"
    assert lines[4] == "trial=3 seed 2/2 (seed=2) done dev_f1=0.7000 test_f1=0.65 time=12.0s"
    assert lines[5].startswith(f"study=ajmc-en-bert trial=3 config={CONFIG.name} complete value=0.7100 time=")
    assert len(lines) == 6  # batches only with verbose


def test_line_progress_quiet_and_verbose(lines: list[str]) -> None:
    _drive(LineProgress(quiet=True))
    assert len(lines) == 1 and "complete value=0.7100" in lines[0]
    lines.clear()
    _drive(LineProgress(verbose=True))
    batch_lines = [line for line in lines if " batch " in line]
    assert "trial=3 seed 2/2 (seed=2) epoch 1/2 batch 4/4" in batch_lines
    assert len(batch_lines) == 8  # n_batches // 10 == 0: every batch


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=120, color_system=None), buffer


def _render(progress: RichProgress) -> str:
    console, buffer = _console()
    console.print(progress)
    return buffer.getvalue()


def test_rich_progress_view_shows_trial_seed_epoch_batch_and_dev_f1() -> None:
    console, buffer = _console()
    p = RichProgress(console, refresh_per_second=20)
    p.trial_started("ajmc-en-bert", 3, CONFIG, 2)
    p.seed_started(0, 1, skipped=True)
    p.seed_started(1, 2, skipped=False)
    view = _render(p)
    assert "trial 3" in view and "ajmc-en-bert" in view and CONFIG.name in view
    assert "seed 2/2 (seed=2)" in view and "epoch 1/2" in view
    assert "ETA –" in view  # nothing trained yet
    for batch in (1, 2):
        p.batch_done(1, batch, 4)
    view = _render(p)
    assert "batch 2/4" in view
    # The kept seed counts for nothing: half an epoch of this seed's two is a quarter of the work.
    assert p.fraction_done() == pytest.approx(0.25)
    assert p.eta_seconds() is not None
    p.batch_done(1, 4, 4)
    p.epoch_done(1, 0.6123)
    view = _render(p)
    assert "dev F1" in view and "0.6123 (epoch 1)" in view and "epoch 2/2" in view
    assert p.fraction_done() == pytest.approx(0.5)
    p.seed_done(SeedResult(seed=2, dev_curve=(0.6123, 0.7), test_f1=0.65, wall_time_s=75.0))
    p.trial_done("complete", 0.71)
    printed = buffer.getvalue()
    assert "kept from an earlier run" in printed
    assert "trial 3 seed 2/2 (seed=2) done: dev F1 0.7000 test F1 0.6500 in 0:01:15" in printed
    assert f"trial 3 {CONFIG.name} complete value 0.7100" in printed
    assert p._live is None  # the view lives only while a trial runs


def test_rich_progress_shows_the_current_seeds_own_dev_f1_only() -> None:
    console, _ = _console()
    with RichProgress(console) as p:
        p.trial_started("s", 0, CONFIG, 2)
        p.seed_started(0, 1, skipped=False)
        p.epoch_done(1, 0.6123)
        p.seed_done(SeedResult(seed=1, dev_curve=(0.6123,), wall_time_s=1.0))
        p.seed_started(1, 2, skipped=False)
        view = _render(p)
        assert "0.6123" not in view and "seed 2/2" in view
        p.epoch_done(1, 0.5)
        assert "0.5000 (epoch 1)" in _render(p)
        p.trial_done("complete", 0.55)


def test_the_live_view_shows_the_study_eta_counted_down_between_two_reads() -> None:
    console, buffer = _console()
    with RichProgress(console) as p:
        p.trial_started("s", 0, CONFIG, 2)
        p.seed_started(0, 1, skipped=False)
        view = _render(p)
        assert "study ETA –" in view and "trial ETA –" in view  # nothing read, nothing trained yet
        p.epoch_done(1, 0.6)
        p.study_eta(2 * 3600)  # the worker's read at the seed's first epoch's end
        view = _render(p)
        first_row = next(line for line in view.splitlines() if line.startswith("trial 0"))
        assert first_row.rstrip().endswith("study ETA 2:00:00")
        p._study_eta._read = (2 * 3600, time.monotonic() - 600)  # ten minutes after that read
        assert "study ETA 1:50:00" in _render(p)
        p.study_eta(None)  # a read that found nothing left to estimate
        assert "study ETA –" in _render(p)
        p.study_eta(90)
        p.trial_done("complete", 0.55)
    assert f"trial 0 {CONFIG.name} complete value 0.5500 in 0:00:" in buffer.getvalue()
    assert ", study ETA 0:01:30" in buffer.getvalue()


def test_the_line_at_a_trials_end_gives_the_study_eta_once_known(lines: list[str]) -> None:
    p = LineProgress(quiet=True)
    p.trial_started("s", 0, CONFIG, 1)
    p.trial_done("complete", 0.5)
    assert "study ETA" not in lines[-1]  # never read
    p.trial_started("s", 1, CONFIG, 1)
    p.study_eta(3 * 3600 + 125)
    p.trial_done("failed", None, "OSError: disk full")
    assert lines[-1].startswith(f"study=s trial=1 config={CONFIG.name} failed time=")
    assert lines[-1].endswith("s study ETA 3:02:05 (OSError: disk full)")


def test_rich_progress_survives_markup_in_messages_and_closes() -> None:
    console, buffer = _console()
    with RichProgress(console) as p:
        p.trial_started("s", 0, CONFIG, 1)
        p.seed_started(0, 1, skipped=False)
        p.trial_done("failed", None, "OSError: [Errno 28] No space left on device")
        p.message("[not markup]")
        p.trial_started("s", 1, CONFIG, 1)
    assert p._live is None
    out = buffer.getvalue()
    assert "[Errno 28] No space left" in out and "[not markup]" in out


def test_rich_progress_in_a_worker_run(tmp_path, sqlite_url: str) -> None:
    from tests.dashboard.test_dashboard import make_study

    console, buffer = _console()
    with RichProgress(console, refresh_per_second=50) as progress:
        make_study(tmp_path, sqlite_url, progress=progress)
    out = buffer.getvalue()
    assert out.count(" complete value ") == 4
    assert "seed 2/2 (seed=2) done: dev F1" in out


def test_choose_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    assert isinstance(choose_progress(stream=Tty()), RichProgress)
    assert isinstance(choose_progress(stream=io.StringIO()), LineProgress)
    assert isinstance(choose_progress(stream=Tty(), quiet=True), LineProgress)
    assert isinstance(choose_progress(stream=Tty(), verbose=True), LineProgress)
    monkeypatch.setenv(PROGRESS_ENV, "lines")  # what --gpus sets for its workers
    assert isinstance(choose_progress(stream=Tty()), LineProgress)
    monkeypatch.setenv(PROGRESS_ENV, "live")
    assert isinstance(choose_progress(stream=io.StringIO()), RichProgress)
