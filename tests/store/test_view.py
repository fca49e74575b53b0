"""The incremental view of a study's trials (hpsearch/store/_view.py), on SQLite and PostgreSQL.

Its scan and read speak SQL to Optuna's tables (``TrialTable`` in hpsearch/store/_queue.py): these
tests are part of the contract a backend and an Optuna release must pass.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from hpsearch.search import GridSpace, SeedResult, StudySpec
from hpsearch.store import (
    REQUEUED_FROM_ATTR,
    StudyView,
    claim_next,
    create_study,
    encode_seed,
    fail_trial,
    hand_back,
    load_study,
    open_storage,
    requeue,
    seed_attr_key,
    study_view,
)


def _spec(n: int) -> StudySpec:
    space = GridSpace(learning_rates=tuple(1e-5 * (i + 1) for i in range(n)), batch_sizes=(8,), epochs=(1,))
    return StudySpec(model="fake", label="fake", space=space, seeds=(1, 2))


def _open(url: str) -> optuna.Study:
    return load_study(open_storage(url), "s")[0]


def _seed(seed: int, dev: float = 0.6) -> dict[str, object]:
    return encode_seed(SeedResult(seed=seed, dev_curve=(0.5, dev), test_f1=0.5, wall_time_s=1.0, device="cpu"))


def _finish(study: optuna.Study, value: float = 0.6) -> optuna.Trial:
    """Claim the next queued trial and complete it with two seeds."""
    trial = claim_next(study)
    assert trial is not None
    for seed in (1, 2):
        trial.set_user_attr(seed_attr_key(seed), _seed(seed, value))
    study.tell(trial, value)
    return trial


def _summary(trials: list[optuna.trial.FrozenTrial]) -> list[tuple[int, str, dict[str, object], dict[str, object]]]:
    return [(t.number, t.state.name, t.user_attrs, t.params) for t in trials]


def _tamper(url: str, number: int, key: str, value: str) -> None:
    """Rewrite a stored user attribute behind Optuna's back (it refuses writes to finished trials)."""
    with open_storage(url).engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "UPDATE trial_user_attributes SET value_json = :v WHERE key = :k AND trial_id = "
                "(SELECT trial_id FROM trials WHERE number = :n)"
            ),
            {"v": value, "k": key, "n": number},
        )


class _Statements:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine: sqlalchemy.engine.Engine) -> None:
        self.count = 0
        sqlalchemy.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


def test_the_view_holds_every_trial_as_the_study_does(storage_url: str) -> None:
    create_study(_spec(6), open_storage(storage_url), "s")
    study = _open(storage_url)
    _finish(study, 0.7)  # 0: complete
    failed = claim_next(study)  # 1: failed, then queued again with its seed (a copy, trial 6)
    assert failed is not None
    failed.set_user_attr(seed_attr_key(1), _seed(1))
    fail_trial(study, failed, "boom")
    requeue(study, study.get_trials(deepcopy=False)[1])
    pruned = claim_next(study)  # 6: the copy, claimed first, pruned
    assert pruned is not None
    study.tell(pruned, state=TrialState.PRUNED)
    running = claim_next(study)  # 2: running; 3, 4, 5 stay queued
    assert running is not None
    running.set_user_attr(seed_attr_key(1), _seed(1))
    running.report(0.4, step=0)
    running.storage.set_trial_system_attr(running._trial_id, "s", [1])

    view = StudyView(study)
    everything = study.get_trials(deepcopy=False)
    assert _summary(view.trials()) == _summary(everything)
    assert view.trials() == everything  # every field, as Optuna builds it (TrialTable builds its own)
    assert everything[2].intermediate_values == {0: 0.4} and everything[0].values == [0.7]
    assert [t.state.name for t in everything] == [
        "COMPLETE",
        "FAIL",
        "RUNNING",
        "WAITING",
        "WAITING",
        "WAITING",
        "PRUNED",
    ]
    some = (TrialState.COMPLETE, TrialState.RUNNING)
    assert _summary(view.trials(some)) == _summary(study.get_trials(deepcopy=False, states=some))


def _done_and_running(url: str, n: int) -> tuple[optuna.Study, optuna.Trial, optuna.Trial]:
    """A study of ``n`` queued trials, the first completed and the second running."""
    create_study(_spec(n), open_storage(url), "s")
    study = _open(url)
    done = _finish(study)
    running = claim_next(study)
    assert running is not None
    return study, done, running


def test_a_finished_trial_is_read_once(storage_url: str) -> None:
    study, done, running = _done_and_running(storage_url, 4)
    view = StudyView(study)
    assert {t.number: t.user_attrs["config"] for t in view.trials()}[done.number].startswith("wsFalse")

    # Changed behind the view's back: a finished trial is never read again, a running one always.
    _tamper(storage_url, done.number, "config", '"changed"')
    _tamper(storage_url, running.number, "config", '"changed"')
    seen = {t.number: t.user_attrs["config"] for t in view.trials()}
    assert seen[done.number] != "changed" and seen[running.number] == "changed"
    assert [t.user_attrs["config"] for t in StudyView(study).trials(refresh=True)].count("changed") == 2


def test_a_refresh_costs_the_same_however_many_trials_finished(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hpsearch.store._queue import TrialTable

    changes = TrialTable.changes
    scanned: list[tuple[int, int]] = []

    def spy(self: TrialTable, *args: Any, **kwargs: Any) -> Any:
        rows, read = changes(self, *args, **kwargs)
        scanned.append((len(rows), len(read)))
        return rows, read

    monkeypatch.setattr(TrialTable, "changes", spy)
    costs = []
    for finished in (1, 8):
        storage = open_storage(storage_url)
        create_study(_spec(finished + 2), storage, f"s{finished}")
        study = load_study(storage, f"s{finished}")[0]
        for _ in range(finished):
            _finish(study)
        running = claim_next(study)
        assert running is not None
        view = StudyView(study)
        view.refresh()
        statements = _Statements(storage.engine)
        running.set_user_attr(seed_attr_key(1), _seed(1))
        statements.count = 0
        view.refresh()
        costs.append((statements.count, scanned[-1]))
        assert seed_attr_key(1) in {t.number: t for t in view.trials(refresh=False)}[running.number].user_attrs
    # One trial queued and one running, whether 1 or 8 finished: both scanned, the running one read.
    assert costs[0] == costs[1] and costs[0][1] == (2, 1)


@pytest.mark.parametrize("margin", [0, StudyView.ID_MARGIN])
def test_a_queued_trial_that_commits_late_is_found_within_the_margin(
    storage_url: str, monkeypatch: pytest.MonkeyPatch, margin: int
) -> None:
    monkeypatch.setattr(StudyView, "ID_MARGIN", margin)
    storage = open_storage(storage_url)
    create_study(_spec(2), storage, "other")
    create_study(_spec(3), storage, "s")
    study = _open(storage_url)
    for _ in range(3):
        _finish(study)
    view = StudyView(study)
    assert len(view.trials()) == 3
    # A trial with a lower id than all the study's trials appears queued in it, as an insert that commits
    # after later ones does on PostgreSQL: taken over from the other study, under the next number.
    with storage.engine.begin() as conn:
        conn.execute(
            sqlalchemy.text(
                "UPDATE trials SET study_id = (SELECT study_id FROM studies WHERE study_name = 's'), number = 3 "
                "WHERE trial_id = (SELECT min(trial_id) FROM trials WHERE study_id = "
                "(SELECT study_id FROM studies WHERE study_name = 'other'))"
            )
        )
    numbers = [t.number for t in view.trials()]
    assert numbers == ([0, 1, 2, 3] if margin else [0, 1, 2])


def test_new_and_changed_trials_appear(storage_url: str) -> None:
    create_study(_spec(5), open_storage(storage_url), "s")
    study = _open(storage_url)
    other = _open(storage_url)  # another worker
    view = StudyView(study)
    assert [t.state.name for t in view.trials()] == ["WAITING"] * 5

    first = claim_next(other)  # claimed, trained and completed between two refreshes
    assert first is not None
    other.tell(first, 0.5)
    second = claim_next(other)
    assert second is not None
    states = {t.number: t.state.name for t in view.trials()}
    assert states[first.number] == "COMPLETE" and states[second.number] == "RUNNING"

    second.set_user_attr(seed_attr_key(1), _seed(1))
    assert seed_attr_key(1) in {t.number: t for t in view.trials()}[second.number].user_attrs
    assert hand_back(second)  # RUNNING -> WAITING, keeping its seed
    back = {t.number: t for t in view.trials([TrialState.WAITING])}[second.number]
    assert seed_attr_key(1) in back.user_attrs

    # A seed added to a queued trial (as hand_over does), and trials added after the view's first read.
    other._storage.set_trial_user_attr(back._trial_id, seed_attr_key(2), _seed(2))  # type: ignore[attr-defined]
    other.add_trial(optuna.trial.create_trial(state=TrialState.COMPLETE, value=0.9, user_attrs={"config": "x"}))
    other.enqueue_trial({})
    trials = {t.number: t for t in view.trials()}
    assert set(trials[second.number].user_attrs) >= {seed_attr_key(1), seed_attr_key(2)}
    assert trials[5].state == TrialState.COMPLETE and trials[5].value == 0.9
    assert trials[6].state == TrialState.WAITING
    everything = _open(storage_url).get_trials(deepcopy=False)  # a fresh read (Optuna 4.3's cache in `other` lags)
    assert _summary(list(trials.values())) == _summary(everything)


def test_a_requeued_copy_with_seeds_is_returned_while_waiting(storage_url: str) -> None:
    create_study(_spec(2), open_storage(storage_url), "s")
    study = _open(storage_url)
    trial = claim_next(study)
    assert trial is not None
    trial.set_user_attr(seed_attr_key(1), _seed(1))
    fail_trial(study, trial, "boom")
    requeue(study, study.get_trials(deepcopy=False)[trial.number])
    (copy,) = [t for t in StudyView(study).trials([TrialState.WAITING]) if REQUEUED_FROM_ATTR in t.system_attrs]
    assert copy.user_attrs[seed_attr_key(1)] == _seed(1)


def test_derived_values_are_made_once_per_read(storage_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    study, done, running = _done_and_running(storage_url, 3)
    view = StudyView(study)
    made: list[int] = []

    def number(t: optuna.trial.FrozenTrial) -> int:
        made.append(t.number)
        return t.number

    for _ in range(3):
        assert view.derived("n", number) == [0, 1, 2]
    # The finished and the queued trial once; the running one at every refresh.
    assert sorted(made) == [done.number, running.number, running.number, running.number, 2]
    assert view.derived("other", lambda t: -t.number, [TrialState.COMPLETE]) == [-done.number]


def test_kept_lists_follow_trials_in_and_out_of_their_states(storage_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StudyView, "LOG", 2)  # a list left unasked for three refreshes is rebuilt
    create_study(_spec(5), open_storage(storage_url), "s")
    study = _open(storage_url)
    view = StudyView(study)
    made: list[int] = []

    def number(t: optuna.trial.FrozenTrial) -> int:
        made.append(t.number)
        return t.number

    asked = (TrialState.COMPLETE, TrialState.RUNNING)
    assert view.derived("n", number, asked) == []
    first = claim_next(study)
    assert first is not None
    assert view.derived("n", number, asked) == [first.number]
    assert hand_back(first)  # out of the states asked for, then in again
    assert view.derived("n", number, asked) == []
    again = claim_next(study)
    assert again is not None and again.number == first.number
    study.tell(again, 0.5)
    second = _finish(study)
    assert view.derived("n", number, asked) == [first.number, second.number]
    made.clear()
    for _ in range(3):  # changes the view reads, while nobody asks for the list
        _finish(study)
        view.refresh()
    assert view.derived("n", number, asked) == [0, 1, 2, 3, 4] and made == [2, 3, 4]


def test_one_view_per_study_object_kept_while_it_lives(storage_url: str) -> None:
    create_study(_spec(2), open_storage(storage_url), "s")
    study = _open(storage_url)
    view = study_view(study)
    assert study_view(study) is view and study_view(_open(storage_url)) is not view
    gone = weakref.ref(view)
    del study, view
    gc.collect()
    assert gone() is None


def test_only_rdb_storages_have_a_view() -> None:
    with pytest.raises(TypeError, match="RDBStorage"):
        StudyView(optuna.create_study())


def test_live_eta_is_the_study_results_eta(storage_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import hpsearch.store._studies as studies
    from hpsearch.results import LiveEta, eta_seconds
    from hpsearch.store import live_trial_results, study_results

    spec = _spec(5)
    create_study(spec, open_storage(storage_url), "s")
    study = _open(storage_url)
    live = LiveEta(spec)

    def same() -> None:
        whole = study_results(study, spec)
        assert live_trial_results(study, spec) == list(whole.all_trials)
        assert live.seconds(live_trial_results(study, spec)) == eta_seconds(whole)

    same()
    _finish(study, 0.7)
    running = claim_next(study)
    assert running is not None
    running.set_user_attr(seed_attr_key(1), _seed(1))
    same()
    fail_trial(study, running, "boom")
    requeue(study, study.get_trials(deepcopy=False)[running.number])  # the copy keeps seed 1
    same()

    # A finished trial is decoded once: later calls decode only the trials not finished.
    decoded: list[int] = []
    trial_result = studies.trial_result
    monkeypatch.setattr(studies, "trial_result", lambda t, s: decoded.append(t.number) or trial_result(t, s))
    live_trial_results(study, spec)
    decoded.clear()
    live_trial_results(study, spec)
    assert decoded == []  # nothing changed since: nothing read, nothing decoded
    finished = _finish(study, 0.6)
    live_trial_results(study, spec)
    assert decoded == [finished.number]
    same()
