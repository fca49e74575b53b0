"""``hpsearch status``: counts per state, best configuration, device hours and ETA per study."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from hpsearch.results import device_hours, eta_seconds, studies_table
from hpsearch.search import ConfigResult, GridSpace, SampledSpace, SeedProgress, SeedResult, StudySpec
from hpsearch.store import (
    PROGRESS_ATTR,
    StudyResults,
    claim_next,
    create_study,
    encode_progress,
    load_study,
    open_storage,
    study_results,
)

SPEC = StudySpec(
    model="org/m", label="m", space=GridSpace(learning_rates=(1e-3,), batch_sizes=(4,), epochs=(1,)), seeds=(1, 2)
)


def _run(seed: int, dev: float, seconds: float) -> SeedResult:
    return SeedResult(seed=seed, dev_curve=(dev,), test_f1=dev - 0.1, wall_time_s=seconds)


def _config(name: str, state: str, runs: tuple[SeedResult, ...], number: int) -> ConfigResult:
    return ConfigResult(name=name, seeds_planned=(1, 2), runs=runs, state=state, trial_number=number)


def _results() -> StudyResults:
    kept = _run(1, 0.7, 600)
    failed_attempt = _config("c", "failed", (kept,), 2)
    configs = (
        _config("a", "complete", (_run(1, 0.80, 1800), _run(2, 0.84, 1800)), 0),
        _config("b", "complete", (_run(1, 0.90, 1800), _run(2, 0.86, 1800)), 1),
        _config("c", "waiting", (kept,), 4),  # the retry of trial 2, which keeps seed 1
        _config("d", "running", (), 3),
        _config("e", "waiting", (), 5),
        _config("f", "pruned", (_run(1, 0.1, 300),), 6),
    )
    return StudyResults(name="s", spec=SPEC, configs=configs, all_trials=(*configs[:2], failed_attempt, *configs[2:]))


def test_device_hours_count_an_inherited_seed_once() -> None:
    # 4 × 30 min + 10 min (seed 1 of c, on the failed trial and its retry) + 5 min
    assert device_hours(_results()) == pytest.approx(2 + 15 / 60)


def test_eta_from_the_measured_time_per_epoch() -> None:
    results = _results()
    # 6 one-epoch runs measured (4 × 30 min, 10 min, 5 min): 22.5 min per epoch; left: one seed of c,
    # two of d and two of e, one epoch each, over one running worker.
    assert eta_seconds(results) == pytest.approx(5 * 22.5 * 60)
    assert eta_seconds(results, workers=5) == pytest.approx(22.5 * 60)
    nothing_done = StudyResults("s", SPEC, results.configs[3:5], results.configs[3:5])
    assert eta_seconds(nothing_done) is None


def test_eta_appears_with_the_first_epoch_and_weighs_batch_size_and_context() -> None:
    spec = StudySpec(
        model="org/m", label="m", space=GridSpace(learning_rates=(1e-3,), batch_sizes=(4, 16)), seeds=(1, 2)
    )

    def config(state: str, batch_size: int, runs: tuple[SeedResult, ...], number: int) -> ConfigResult:
        params = {"batch_size": batch_size, "context_size": 0, "epochs": 10}
        return ConfigResult(f"bs{batch_size}-{number}", (1, 2), runs, state, number, params)

    # Only a pruned run, stopped after 2 epochs of 100 s each: the ETA is known already.
    stopped = SeedResult(seed=1, dev_curve=(0.1, 0.2), wall_time_s=200, complete=False)
    configs = (config("pruned", 4, (stopped,), 0), config("waiting", 4, (), 1), config("waiting", 16, (), 2))
    results = StudyResults("s", spec, configs, configs)
    assert eta_seconds(results) == pytest.approx(2 * 2 * 10 * 100)  # batch size 16 not measured: the study's mean
    # Batch size 16 measured at 20 s per epoch.
    fast = SeedResult(seed=1, dev_curve=(0.5,) * 10, wall_time_s=200)
    configs = (*configs, config("running", 16, (fast,), 3))
    results = StudyResults("s", spec, configs, configs)
    assert eta_seconds(results) == pytest.approx((2 * 10 * 100 + 2 * 10 * 20 + 1 * 10 * 20) / 1)


def test_eta_of_a_sampled_study_counts_the_most_epochs_its_space_allows() -> None:
    space = SampledSpace({"learning_rate": (1e-3,), "batch_size": (4, 8), "epochs": (2, 3)})
    spec = StudySpec(model="org/m", label="m", space=space, seeds=(1,), n_trials=3)
    run = SeedResult(seed=1, dev_curve=(0.5, 0.6), wall_time_s=60)
    configs = (
        ConfigResult("a", (1,), (run,), "complete", 0, {"batch_size": 4, "context_size": 0, "epochs": 2}),
        ConfigResult("trial-1 (configuration not drawn yet)", (1,), (), "waiting", 1),
    )
    assert eta_seconds(StudyResults("s", spec, configs, configs)) == pytest.approx(3 * 30)


def _bs(state: str, batch_size: int, runs: tuple[SeedResult, ...], number: int, **kw: object) -> ConfigResult:
    params = {"batch_size": batch_size, "context_size": 0, "epochs": 10}
    return ConfigResult(f"bs{batch_size}-{number}", (1, 2), runs, state, number, params, **kw)  # type: ignore[arg-type]


def test_eta_from_a_running_seeds_stored_progress_before_any_run_finished() -> None:
    spec = StudySpec(
        model="org/m", label="m", space=GridSpace(learning_rates=(1e-3,), batch_sizes=(4, 16)), seeds=(1, 2)
    )
    # Two epochs of seed 1 in 200 s: 100 s per epoch; left: 18 epochs of the running trial, 20 of the queued.
    running = _bs("running", 4, (), 0, progress=SeedProgress(seed=1, epochs_done=2, seconds=200.0))
    configs = (running, _bs("waiting", 16, (), 1))
    assert eta_seconds(StudyResults("s", spec, configs, configs)) == pytest.approx((18 + 20) * 100)
    # Seed 1 done (10 epochs in 500 s) and its progress not yet replaced: the stale progress counts for nothing.
    done = SeedResult(seed=1, dev_curve=(0.5,) * 10, wall_time_s=500)
    stale = _bs("running", 4, (done,), 0, progress=SeedProgress(seed=1, epochs_done=9, seconds=4000.0))
    configs = (stale, _bs("waiting", 4, (), 1))
    assert eta_seconds(StudyResults("s", spec, configs, configs)) == pytest.approx((10 + 20) * 50)
    # Seed 2 at epoch 4 of 10, at 25 s per epoch: measured with seed 1, 900 s over 14 epochs.
    seed2 = _bs("running", 4, (done,), 0, progress=SeedProgress(seed=2, epochs_done=4, seconds=100.0))
    configs = (seed2, _bs("waiting", 4, (), 1))
    assert eta_seconds(StudyResults("s", spec, configs, configs)) == pytest.approx((6 + 20) * 600 / 14)
    # Only running trials' progress counts (a queued retry may carry its failed trial's).
    queued = _bs("waiting", 4, (), 1, progress=SeedProgress(seed=1, epochs_done=2, seconds=200.0))
    assert eta_seconds(StudyResults("s", spec, (queued,), (queued,))) is None


def test_status_shows_an_eta_once_a_running_trial_stored_its_progress(sqlite_url: str) -> None:
    spec = StudySpec(
        model="org/m", label="m", space=GridSpace(learning_rates=(1e-3, 2e-3), batch_sizes=(4,)), seeds=(1, 2)
    )
    create_study(spec, open_storage(sqlite_url), "s")
    study, stored = load_study(open_storage(sqlite_url), "s")
    trial = claim_next(study)
    assert trial is not None
    assert eta_seconds(study_results(study, stored)) is None
    trial.set_user_attr(PROGRESS_ATTR, {"seed": 1, "epochs_done": "x"})  # malformed: ignored
    assert eta_seconds(study_results(study, stored)) is None
    trial.set_user_attr(PROGRESS_ATTR, encode_progress(SeedProgress(seed=1, epochs_done=1, seconds=60.0)))
    results = study_results(study, stored)
    assert results.configs[0].progress == SeedProgress(seed=1, epochs_done=1, seconds=60.0)
    assert eta_seconds(results) == pytest.approx((19 + 20) * 60)  # 10 epochs × 2 seeds each, one done
    buffer = io.StringIO()
    Console(file=buffer, width=250, color_system=None).print(studies_table([results]))
    row = next(line for line in buffer.getvalue().splitlines() if line.startswith("│ s "))
    assert row.strip("│ ").split("│")[-1].strip() == "39m00s"


def test_studies_table_row() -> None:
    buffer = io.StringIO()
    Console(file=buffer, width=250, color_system=None).print(studies_table([_results()]))
    text = buffer.getvalue()
    row = next(line for line in text.splitlines() if line.startswith("│ s "))
    cells = [c.strip() for c in row.strip("│").split("│")]
    # study, model, done, running, queued, failed, pruned, best, dev F1, device hours, ETA
    assert cells == ["s", "m", "2/6", "1", "2", "0", "1", "b", "88.00 ± 2.00", "2.25", "1h52m"]


def _wide_results(n: int = 24) -> StudyResults:
    """A finished ``--space wide`` study of ``n`` trials with five seeds and long configuration names."""
    import random

    from hpsearch.search import Config, build_spec

    spec = build_spec(model="bert", config=None, space="wide", n_trials=n)
    rng = random.Random(0)
    configs = []
    for i in range(n):
        config = Config(
            learning_rate=float(f"{rng.uniform(1e-5, 1e-4):.3g}"),
            batch_size=rng.choice((4, 8, 16)),
            context_size=rng.choice((0, 64, 128)),
            layers=rng.choice(("-1", "-1,-2,-3,-4")),
            subtoken_pooling=rng.choice(("first", "mean", "first_last")),
            use_crf=rng.choice((False, True)),
            warmup_fraction=float(f"{rng.uniform(0, 0.2):.3g}"),
        )
        runs = tuple(_run(seed, 0.8 + rng.random() / 10, 600) for seed in spec.seeds)
        configs.append(ConfigResult(config.name, spec.seeds, runs, "complete", i, config.to_params()))
    return StudyResults("ajmc-en-bert-wide", spec, tuple(configs), tuple(configs))


def test_a_wide_study_keeps_every_score_readable_at_100_columns() -> None:
    from hpsearch.formatting import pct
    from hpsearch.results import trials_table

    results = _wide_results()
    buffer = io.StringIO()
    Console(file=buffer, width=100, color_system=None).print(trials_table(results))
    text = buffer.getvalue()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 100
    for c in results.configs:
        assert pct(c.dev_mean) in text and all(pct(r.dev_f1) in text for r in c.runs)
        assert c.name.replace("-", "")[:12] in text.replace("\n", "").replace(" ", "").replace("-", "")


# --- the worker's live ETA: eta_seconds kept incrementally -----------------------------------------

_RUNS = {  # one stored run per configuration and seed: trials of one configuration share them, as retries do
    (name, seed): SeedResult(seed=seed, dev_curve=(0.5,) * (1 + (ord(name) + seed) % 3), wall_time_s=10.0 * seed)
    for name in "abc"
    for seed in (1, 2)
}


@st.composite
def _histories(draw: st.DrawFn) -> list[list[ConfigResult]]:
    """A study's trials as a worker reads them over five reads: each trial appears queued, may run
    (with some of its seeds stored and one in training), and may end, after which it never changes."""
    n = draw(st.integers(1, 10))
    appear = sorted(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    snapshots: list[list[ConfigResult]] = [[] for _ in range(5)]
    for number, first in enumerate(appear):
        name = draw(st.sampled_from("abc"))
        runs = tuple(_RUNS[name, s] for s in draw(st.lists(st.sampled_from((1, 2)), unique=True, max_size=2)))
        started = draw(st.integers(first, 5))
        ended = draw(st.integers(started, 5))
        final = draw(st.sampled_from(("complete", "failed", "pruned")))
        params = {"batch_size": 4 if name == "a" else 8}  # a configuration's name tells its parameters
        for step in range(first, 5):
            if step >= ended:
                state, stored, progress = final, runs, None
            elif step >= started:
                state, stored = "running", runs[: step - started]
                progress = SeedProgress(seed=2, epochs_done=1, seconds=5.0) if step % 2 else None
            else:
                state, stored, progress = "waiting", runs[:1] if step % 2 else (), None
            config = ConfigResult(name, (1, 2), stored, state, number, params, progress=progress)
            snapshots[step].append(config)
    return snapshots


@settings(max_examples=200, deadline=None)
@given(_histories())
def test_the_live_eta_is_eta_seconds_at_every_read(history: list[list[ConfigResult]]) -> None:
    from hpsearch.results import LiveEta
    from hpsearch.store._studies import _by_config

    live = LiveEta(SPEC)
    for trials in history:
        whole = eta_seconds(_by_config("s", SPEC, tuple(trials), None))
        assert live.seconds(trials) == pytest.approx(whole)
