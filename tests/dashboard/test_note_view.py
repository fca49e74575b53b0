"""The worker's note, kept from the study's view, says what ``study_note(study_results(...))`` says."""

from __future__ import annotations

from datetime import UTC, datetime

import optuna
from optuna.trial import TrialState

from hpsearch.dashboard import study_note
from hpsearch.dashboard._note import current_note
from hpsearch.search import GridSpace, SeedResult, StudySpec
from hpsearch.store import (
    claim_next,
    create_study,
    encode_seed,
    fail_trial,
    load_study,
    open_storage,
    requeue,
    seed_attr_key,
    study_results,
)

WHEN = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)


def _spec() -> StudySpec:
    space = GridSpace(learning_rates=tuple(1e-5 * (i + 1) for i in range(20)), batch_sizes=(8,), epochs=(1,))
    return StudySpec(model="fake", label="fake", space=space, seeds=(1, 2))


def _train(study: optuna.Study, devs: tuple[float, ...]) -> optuna.Trial:
    trial = claim_next(study)
    assert trial is not None
    for seed, dev in enumerate(devs, start=1):
        result = SeedResult(seed=seed, dev_curve=(dev,), test_f1=dev - 0.1, wall_time_s=61.5 + seed, device="cpu")
        trial.set_user_attr(seed_attr_key(seed), encode_seed(result))
    return trial


def _same_note(study: optuna.Study, spec: StudySpec) -> str:
    note = current_note(study, spec, best_model="m.pt", updated=WHEN)
    assert note == study_note(study_results(study, spec), best_model="m.pt", updated=WHEN)
    return note


def test_the_note_from_the_view_is_the_note_from_every_trial(sqlite_url: str) -> None:
    create_study(_spec(), open_storage(sqlite_url), "s")
    study, spec = load_study(open_storage(sqlite_url), "s")
    assert "20 queued" in _same_note(study, spec)
    for i in range(14):  # complete, with ties: more than the leaderboard shows
        study.tell(_train(study, (0.5 + (i % 5) / 100, 0.6)), 0.55)
    failed = _train(study, (0.99,))  # failed after one seed, queued again with it
    fail_trial(study, failed, "boom")
    requeue(study, study.get_trials(deepcopy=False)[failed.number])
    study.tell(_train(study, (0.9,)), state=TrialState.PRUNED)  # the copy, first in the queue
    running = _train(study, (0.95,))
    note = _same_note(study, spec)
    assert "14 complete, 1 running, 4 queued, 0 failed, 1 pruned" in note and note.count("| tied |") > 3

    study.tell(running, 0.95)  # complete with one seed of two: not ranked
    study.tell(_train(study, (0.97, 0.97)), 0.97)  # a new best; the same view reads only what changed
    note = _same_note(study, spec)
    assert "16 complete" in note
