"""One trial's seeds (``run_trial``) and its pruning schedule (``TrialSchedule``), on SQLite and PostgreSQL.

``run_trial`` runs in-process on a claimed trial with a fake trainer; the pruner is a recording
fake, so the tests see exactly when a rule is asked. The replay benchmark is checked against the
worker on the same curves: it drives the same schedule.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import optuna
import pytest

from hpsearch.results import eta_seconds
from hpsearch.search import (
    Config,
    Curve,
    GridSpace,
    NoPruner,
    PairedPruner,
    SeedProgress,
    SeedPruner,
    SeedResult,
    StudySpec,
    TrialCurves,
)
from hpsearch.store import (
    PROGRESS_ATTR,
    PRUNE_REASON_ATTR,
    claim_next,
    config_of,
    create_study,
    decode_progress,
    encode_seed,
    load_study,
    open_storage,
    seed_attr_key,
    seed_dir,
    seed_results_from_attrs,
    study_results,
)
from hpsearch.testing import FakeTrainer, fake_dev_f1
from hpsearch.training import RunHooks, RunPruned
from hpsearch.worker import LineProgress, TrialSchedule, run_trial, run_worker
from tests.fleet_helpers import BATCH_SIZE, learning_rates, trials, worker_options

optuna.logging.set_verbosity(optuna.logging.WARNING)
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def spec_of(
    n_configs: int = 1, seeds: Sequence[int] = (1, 2, 3), epochs: int = 3, pruner: str | None = None
) -> StudySpec:
    space = GridSpace(learning_rates=learning_rates(n_configs), batch_sizes=(BATCH_SIZE,), epochs=(epochs,))
    return StudySpec(model="fake", label="fake", space=space, seeds=tuple(seeds), pruner=pruner)


def claim(url: str, spec: StudySpec | None = None) -> tuple[optuna.Trial, StudySpec]:
    """The next queued trial of study ``s`` (created with ``spec`` if given), claimed, and the stored spec."""
    if spec is not None:
        create_study(spec, open_storage(url), "s")
    study, stored = load_study(open_storage(url), "s")
    trial = claim_next(study)
    assert trial is not None
    return trial, stored


def run(trial: optuna.Trial, spec: StudySpec, trainer: object, tmp_path: Path, **kw: object):
    return run_trial(
        trial,
        spec,
        trainer,  # type: ignore[arg-type]
        output_dir=tmp_path / "runs",
        progress=LineProgress(quiet=True),
        hooks=RunHooks(),
        **kw,  # type: ignore[arg-type]
    )


class Recorder(SeedPruner):
    """A fake rule: records each question and answers ``stop`` at the question numbered in ``stop_at``."""

    name = "recorder"

    def __init__(self, stop_at: Mapping[tuple, str] | None = None) -> None:
        self.stop_at = dict(stop_at or {})
        self.asked: list[tuple] = []
        self.finished_seen: list[list[int | None]] = []

    def stop_run(
        self, finished: Sequence[TrialCurves], done: Mapping[int, Curve], seed: int, curve: Curve
    ) -> str | None:
        return self._answer(("run", seed, len(curve), tuple(done)), finished)

    def stop_trial(self, finished: Sequence[TrialCurves], done: Mapping[int, Curve]) -> str | None:
        return self._answer(("trial", tuple(done)), finished)

    def _answer(self, question: tuple, finished: Sequence[TrialCurves]) -> str | None:
        self.asked.append(question)
        self.finished_seen.append([t.number for t in finished])
        return self.stop_at.get(question)


class Trained(FakeTrainer):
    """A ``FakeTrainer`` that notes which seeds it trained and which seeds the storage held when each began."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.seeds: list[int] = []
        self.stored_before: list[set[str]] = []

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        self.seeds.append(seed)
        (stored,) = [t for t in trials(self.url, "s") if t.state.name == "RUNNING"]  # read afresh
        self.stored_before.append({k for k in stored.user_attrs if k.startswith("seed:")})
        return super().train(spec, config, seed, out_dir, hooks)


def use_pruner(monkeypatch: pytest.MonkeyPatch, pruner: SeedPruner) -> None:
    monkeypatch.setattr("hpsearch.worker._trial.make_pruner", lambda name: pruner)


# --- one trial's seeds ---------------------------------------------------------------------------


def test_every_seed_is_trained_and_stored_as_soon_as_it_finishes(tmp_path: Path, storage_url: str) -> None:
    trial, spec = claim(storage_url, spec_of(seeds=(1, 2, 3)))
    trainer = Trained(storage_url)
    uploaded: list[tuple[int, Path]] = []
    outcome = run(trial, spec, trainer, tmp_path, after_seed=lambda seed, path: uploaded.append((seed, path)))

    assert trainer.seeds == [1, 2, 3]
    assert trainer.stored_before == [set(), {"seed:1"}, {"seed:1", "seed:2"}]
    (stored,) = trials(storage_url, "s")
    config = config_of(stored, spec)
    root = Path(stored.user_attrs["run_dir"])
    assert uploaded == [(seed, seed_dir(root, seed)) for seed in (1, 2, 3)]
    assert outcome.value == pytest.approx(sum(fake_dev_f1(config, s) for s in (1, 2, 3)) / 3)
    assert [r.seed for r in outcome.runs] == [1, 2, 3]
    assert stored.state.name == "RUNNING"  # the worker tells the result, not run_trial
    assert stored.user_attrs["config"] == config.name
    assert stored.user_attrs["dev_f1_per_seed"] == pytest.approx([fake_dev_f1(config, s) for s in (1, 2, 3)])
    assert "versions" in stored.user_attrs
    assert stored.intermediate_values == {i: pytest.approx(fake_dev_f1(config, s)) for i, s in enumerate((1, 2, 3))}


def test_seeds_already_stored_are_skipped_and_a_stopped_one_is_trained_again(tmp_path: Path, storage_url: str) -> None:
    trial, spec = claim(storage_url, spec_of(seeds=(1, 2, 3)))
    kept = SeedResult(seed=1, dev_curve=(0.1, 0.2, 0.3), test_f1=0.25, device="earlier")
    stopped = SeedResult(seed=2, dev_curve=(0.1,), device="earlier", complete=False)
    for result in (kept, stopped):
        trial.set_user_attr(seed_attr_key(result.seed), encode_seed(result))
    trainer = Trained(storage_url)
    uploaded: list[int] = []
    outcome = run(trial, spec, trainer, tmp_path, after_seed=lambda seed, _: uploaded.append(seed))

    assert trainer.seeds == uploaded == [2, 3]
    assert outcome.runs[0] == kept
    (stored,) = trials(storage_url, "s")
    config = config_of(stored, spec)
    assert outcome.value == pytest.approx((0.3 + fake_dev_f1(config, 2) + fake_dev_f1(config, 3)) / 3)
    runs = seed_results_from_attrs(stored.user_attrs)
    assert runs[1] == kept and runs[2].complete and runs[2].device == "fake"


# --- the seed in training: its stored progress, the study's ETA ------------------------------------


def spy_progress_writes(monkeypatch: pytest.MonkeyPatch, trial: optuna.Trial, *, fail: bool = False) -> list[dict]:
    """The ``progress`` values the trial is asked to store (each write fails if ``fail``)."""
    writes: list[dict] = []
    original = trial.set_user_attr

    def set_user_attr(key: str, value: object) -> None:
        if key == PROGRESS_ATTR:
            writes.append(value)  # type: ignore[arg-type]
            if fail:
                raise RuntimeError("attempt to write a readonly database")
        original(key, value)

    monkeypatch.setattr(trial, "set_user_attr", set_user_attr)
    return writes


class EtaSeen(LineProgress):
    """A quiet ``LineProgress`` that keeps the study ETAs the worker hands it."""

    def __init__(self) -> None:
        super().__init__(quiet=True)
        self.etas: list[float | None] = []

    def study_eta(self, seconds: float | None) -> None:
        super().study_eta(seconds)
        self.etas.append(seconds)


def run_seen(trial: optuna.Trial, spec: StudySpec, trainer: object, tmp_path: Path, progress: EtaSeen):
    return run_trial(
        trial,
        spec,
        trainer,  # type: ignore[arg-type]
        output_dir=tmp_path / "runs",
        progress=progress,
        hooks=RunHooks(),
    )


def test_a_seeds_progress_is_stored_at_a_trials_first_epoch_then_at_most_once_a_minute(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, spec = claim(storage_url, spec_of(n_configs=2, seeds=(1, 2, 3), epochs=3))
    writes = spy_progress_writes(monkeypatch, trial)
    run(trial, spec, FakeTrainer(), tmp_path)
    assert [(w["seed"], w["epochs_done"]) for w in writes] == [(1, 1)]  # the rest came within the minute
    (stored,) = [t for t in trials(storage_url, "s") if t.number == trial.number]
    assert decode_progress(stored.user_attrs[PROGRESS_ATTR]) == SeedProgress(1, 1, writes[0]["seconds"])

    monkeypatch.setattr("hpsearch.worker._trial.PROGRESS_INTERVAL_S", 0.0)  # an epoch's end after every minute
    trial, spec = claim(storage_url)
    writes = spy_progress_writes(monkeypatch, trial)
    run(trial, spec, FakeTrainer(0.3), tmp_path)
    assert [(w["seed"], w["epochs_done"]) for w in writes] == [(s, e) for s in (1, 2, 3) for e in (1, 2, 3)]
    for seed in (1, 2, 3):  # seconds since the seed's run began, 0.1 s an epoch
        seconds = [w["seconds"] for w in writes if w["seed"] == seed]
        assert seconds == sorted(seconds) and seconds[0] >= 0.1


class StatusWatcher(FakeTrainer):
    """A ``FakeTrainer`` that reads the study's ETA as ``status`` does before and after each epoch's hooks."""

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(seconds)
        self.url = url
        self.seen: list[tuple[int, int, float | None, SeedProgress | None]] = []  # seed, epochs done, ETA, progress

    def status(self) -> tuple[float | None, SeedProgress | None]:
        study, spec = load_study(open_storage(self.url), "s")
        results = study_results(study, spec)
        (running,) = [c for c in results.configs if c.state == "running"]
        return eta_seconds(results), running.progress

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        def on_epoch(epoch: int, dev_f1: float) -> None:
            if not self.seen:
                self.seen.append((seed, 0, *self.status()))
            assert hooks.on_epoch is not None
            hooks.on_epoch(epoch, dev_f1)
            self.seen.append((seed, epoch, *self.status()))

        return super().train(spec, config, seed, out_dir, RunHooks(stop=hooks.stop, on_epoch=on_epoch))


@pytest.mark.parametrize("interval", [0.0, 60.0])
def test_status_and_the_live_view_have_the_studys_eta_once_the_first_epoch_ended(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch, interval: float
) -> None:
    monkeypatch.setattr("hpsearch.worker._trial.STUDY_ETA_INTERVAL_S", interval)
    trial, spec = claim(storage_url, spec_of(n_configs=2, seeds=(1, 2, 3), epochs=3))
    trainer = StatusWatcher(storage_url, seconds=0.3)
    progress = EtaSeen()
    run_seen(trial, spec, trainer, tmp_path, progress)

    assert trainer.seen[0] == (1, 0, None, None)  # nothing measured before the first epoch ended
    seed, epochs, eta, stored = trainer.seen[1]
    assert (seed, epochs) == (1, 1) and stored is not None and (stored.seed, stored.epochs_done) == (1, 1)
    # One epoch measured; left: 8 epochs of this trial and 9 of the queued one, over one running worker.
    assert eta == pytest.approx((8 + 9) * stored.seconds)
    # The live view got the same estimate at that moment, then at each seed's first epoch's end, at
    # most once a minute (the trial takes 3 s).
    assert len(progress.etas) == (3 if interval == 0 else 1) and progress.etas[0] == pytest.approx(eta)
    assert all(e is not None and e > 0 for e in progress.etas)
    assert all(e is not None for _, _, e, _ in trainer.seen[1:])


def test_a_failed_progress_write_or_eta_read_never_fails_the_trial(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    trial, spec = claim(storage_url, spec_of(seeds=(1, 2), epochs=2))
    writes = spy_progress_writes(monkeypatch, trial, fail=True)

    def unreadable(*_args: object) -> None:
        raise RuntimeError("the study cannot be read")

    monkeypatch.setattr("hpsearch.worker._trial.live_trial_results", unreadable)
    monkeypatch.setattr("hpsearch.worker._trial.STUDY_ETA_INTERVAL_S", 0.0)
    progress = EtaSeen()
    with caplog.at_level(logging.WARNING, logger="hpsearch.worker"):
        outcome = run_seen(trial, spec, FakeTrainer(), tmp_path, progress)

    assert [r.seed for r in outcome.runs] == [1, 2] and all(r.complete for r in outcome.runs)
    assert len(writes) == 1 and progress.etas == []
    (stored,) = trials(storage_url, "s")
    assert PROGRESS_ATTR not in stored.user_attrs and "dev_f1_mean" in stored.user_attrs
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not store its progress: RuntimeError: attempt to write a readonly" in m for m in messages)
    assert sum("could not read the study's ETA: RuntimeError" in m for m in messages) == 2  # once per seed


# --- the pruning schedule in run_trial -----------------------------------------------------------


def test_the_rule_is_asked_after_every_epoch_but_a_runs_last_and_every_seed_but_the_last(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_of(n_configs=2, seeds=(1, 2, 3), epochs=3)
    first, stored = claim(storage_url, spec)
    use_pruner(monkeypatch, NoPruner())
    outcome = run(first, stored, FakeTrainer(), tmp_path)
    first.study.tell(first, outcome.value)

    second, _ = claim(storage_url)
    recorder = Recorder()
    use_pruner(monkeypatch, recorder)
    run(second, stored, FakeTrainer(), tmp_path)
    assert recorder.asked == [
        ("run", 1, 1, ()),
        ("run", 1, 2, ()),
        ("trial", (1,)),
        ("run", 2, 1, (1,)),
        ("run", 2, 2, (1,)),
        ("trial", (1, 2)),
        ("run", 3, 1, (1, 2)),
        ("run", 3, 2, (1, 2)),
    ]
    assert recorder.finished_seen == [[0]] * 8  # the other trials, never the asking one


def test_a_seed_stored_before_is_asked_about_between_seeds_only(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, spec = claim(storage_url, spec_of(seeds=(1, 2), epochs=2))
    trial.set_user_attr(seed_attr_key(1), encode_seed(SeedResult(seed=1, dev_curve=(0.4, 0.5))))
    recorder = Recorder()
    use_pruner(monkeypatch, recorder)
    run(trial, spec, FakeTrainer(), tmp_path)
    assert recorder.asked == [("trial", (1,)), ("run", 2, 1, (1,))]


def test_a_run_stopped_inside_its_epochs_is_stored_unfinished_and_prunes_the_trial(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, spec = claim(storage_url, spec_of(seeds=(1, 2, 3), epochs=3))
    recorder = Recorder({("run", 2, 1, (1,)): "too far behind"})
    use_pruner(monkeypatch, recorder)
    trainer = Trained(storage_url)
    with pytest.raises(optuna.TrialPruned, match="too far behind"):
        run(trial, spec, trainer, tmp_path)
    assert trainer.seeds == [1, 2]
    assert recorder.asked[-1] == ("run", 2, 1, (1,))  # nothing asked after the stop
    (stored,) = trials(storage_url, "s")
    assert stored.user_attrs[PRUNE_REASON_ATTR] == "too far behind"
    runs = seed_results_from_attrs(stored.user_attrs)
    assert runs[1].complete and not runs[2].complete and runs[2].epochs_done == 1
    assert set(stored.intermediate_values) == {0}  # a stopped run is stored, not reported


def test_a_trial_stopped_between_seeds_keeps_the_seeds_it_trained(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, spec = claim(storage_url, spec_of(seeds=(1, 2, 3), epochs=2))
    use_pruner(monkeypatch, Recorder({("trial", (1,)): "behind after seed 1"}))
    trainer = Trained(storage_url)
    with pytest.raises(optuna.TrialPruned, match="behind after seed 1"):
        run(trial, spec, trainer, tmp_path)
    assert trainer.seeds == [1]
    (stored,) = trials(storage_url, "s")
    assert stored.user_attrs[PRUNE_REASON_ATTR] == "behind after seed 1"
    assert list(seed_results_from_attrs(stored.user_attrs)) == [1]
    assert set(stored.intermediate_values) == {0}


def test_a_run_the_trainer_ended_early_prunes_the_trial_with_its_epochs(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trial, spec = claim(storage_url, spec_of(seeds=(1, 2), epochs=3))
    use_pruner(monkeypatch, NoPruner())

    class EndsEarly(FakeTrainer):
        def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
            assert hooks.on_epoch is not None  # the progress hook only: NoPruner asks nothing
            return SeedResult(seed=seed, dev_curve=(0.3, 0.4), complete=False)

    with pytest.raises(optuna.TrialPruned, match="seed 1 was stopped after epoch 2"):
        run(trial, spec, EndsEarly(), tmp_path)


# --- TrialSchedule on its own ----------------------------------------------------------------------


def test_schedule_without_a_rule_never_reads_the_study() -> None:
    def unread() -> list[TrialCurves]:
        raise AssertionError("the study was read")

    schedule = TrialSchedule(NoPruner(), (1, 2), 2, finished=unread)
    assert not schedule.active
    schedule.start_run(1)
    assert schedule.epoch_done(0.5) is None and schedule.seed_done(1, (0.5, 0.6)) is None
    assert schedule.record(7) == TrialCurves({1: (0.5, 0.6)}, number=7, complete=True)


def test_schedule_records_a_pruned_trial_as_evidence_only() -> None:
    schedule = TrialSchedule(Recorder({("trial", (1,)): "stop"}), (1, 2, 3), 1, finished=list)
    schedule.start_run(1)
    assert schedule.epoch_done(0.5) is None  # a run's last epoch is not asked about
    assert schedule.seed_done(1, (0.5,)) == "stop"
    assert schedule.pruned and schedule.reason == "stop"
    assert schedule.record(3) == TrialCurves({1: (0.5,)}, number=3, complete=False)
    assert TrialSchedule(NoPruner(), (1,), 1, finished=list).record(0) is None  # nothing finished: nothing seen


def test_schedule_rejects_no_seeds_and_no_epochs() -> None:
    with pytest.raises(ValueError, match="seeds must not be empty"):
        TrialSchedule(NoPruner(), (), 1, finished=list)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        TrialSchedule(NoPruner(), (1,), 0, finished=list)


def test_the_epoch_hook_stops_a_run_with_run_pruned_and_the_rules_reason(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``RunPruned`` is what train_seed (and the fake trainer) catch to end a run and keep its curve."""
    trial, spec = claim(storage_url, spec_of(seeds=(1,), epochs=2))
    use_pruner(monkeypatch, Recorder({("run", 1, 1, ()): "stop now"}))
    raised: list[str] = []

    class Watching(FakeTrainer):
        def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
            assert hooks.on_epoch is not None
            try:
                hooks.on_epoch(1, 0.2)
            except RunPruned as e:
                raised.append(str(e))
            return SeedResult(seed=seed, dev_curve=(0.2,), complete=False)

    with pytest.raises(optuna.TrialPruned):
        run(trial, spec, Watching(), tmp_path)
    assert raised == ["stop now"]


# --- the replay benchmark drives the worker's schedule -----------------------------------------------


class CurvePlayer:
    """Plays given curves (by learning rate, then seed) epoch by epoch through the hooks, as train_seed does."""

    def __init__(self, curves: Mapping[float, Mapping[int, Curve]]) -> None:
        self.curves = curves

    def train(self, spec: StudySpec, config: Config, seed: int, out_dir: Path, hooks: RunHooks) -> SeedResult:
        curve = self.curves[config.learning_rate][seed]
        for epoch, f1 in enumerate(curve, start=1):
            try:
                if hooks.on_epoch is not None:
                    hooks.on_epoch(epoch, f1)
            except RunPruned:
                return SeedResult(seed=seed, dev_curve=curve[:epoch], complete=False)
        return SeedResult(seed=seed, dev_curve=curve, test_f1=max(curve))


def test_the_replay_benchmark_trains_what_the_worker_trains(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("replay", None)
    import replay

    lrs = learning_rates(5)
    finals = dict(zip(lrs, (0.40, 0.85, 0.848, 0.42, 0.80), strict=True))
    curves = {
        lr: {s: tuple(round(final * f + 0.002 * s, 4) for f in (0.6, 0.8, 0.95, 1.0)) for s in (1, 2, 3, 4)}
        for lr, final in finals.items()
    }
    create_study(spec_of(5, seeds=(1, 2, 3, 4), epochs=4, pruner="paired"), open_storage(storage_url), "s")
    run_worker(storage_url, ["s"], worker_options(tmp_path), trainer=CurvePlayer(curves))

    done = sorted(trials(storage_url, "s"), key=lambda t: t.number)
    names = [t.user_attrs["config"] for t in done]
    spec = load_study(open_storage(storage_url), "s")[1]
    grid = replay.Grid({t.user_attrs["config"]: curves[config_of(t, spec).learning_rate] for t in done})
    search = replay.simulate(grid, names, PairedPruner())
    trained = sum(r.epochs_done for t in done for r in seed_results_from_attrs(t.user_attrs).values())
    assert search.pruned  # the case is one where the rule acts
    assert search.epochs == trained
    assert search.pruned == {t.user_attrs["config"] for t in done if t.state.name == "PRUNED"}
