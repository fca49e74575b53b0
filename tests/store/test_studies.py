"""Creating studies (issue 13): concurrent creates of one name, and a create killed midway, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest

import hpsearch.store._studies as studies_module
from hpsearch.search import GridSpace, StudySpec
from hpsearch.store import (
    CONFIG_ATTR,
    CREATION_ATTR,
    SPEC_ATTR,
    create_study,
    load_study,
    open_storage,
    queued_count,
    study_results,
    unfinished_creation,
)


def _spec(n: int) -> StudySpec:
    space = GridSpace(learning_rates=tuple(1e-5 * (i + 1) for i in range(n)), batch_sizes=(8,), epochs=(1,))
    return StudySpec(model="fake", label="fake", space=space, seeds=(1,))


def _create(url: str, *options: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hpsearch", "create", "--model", "bert", "--study", "s", "--storage", url]
    return subprocess.Popen([*command, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("if_exists", ["fail", "resume"])
def test_concurrent_creates_of_one_name_make_one_study_and_no_traceback(storage_url: str, if_exists: str) -> None:
    procs = [_create(storage_url, "--if-exists", if_exists) for _ in range(3)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert all("Traceback" not in out + err for _, out, err in results), results
    codes = sorted(code for code, _, _ in results)
    assert codes == ([0, 2, 2] if if_exists == "fail" else [0, 0, 0]), results
    outputs = " ".join(out for _, out, _ in results)
    assert outputs.count("created study") == 1
    if if_exists == "resume":
        assert outputs.count("resumed study") == 2
    study, spec = load_study(open_storage(storage_url, read_only=True), "s")
    assert queued_count(study) == spec.n_configs == len(study.get_trials())


def test_a_create_killed_midway_is_marked_unfinished_and_resume_finishes_it(
    storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(7)
    storage = open_storage(storage_url)
    monkeypatch.setattr(studies_module, "QUEUE_BATCH", 2)
    monkeypatch.setattr(studies_module, "QUEUEING_QUIET_S", 0.2)
    real_add = optuna.Study.add_trials
    calls = []

    def dies_on_the_third_batch(self: optuna.Study, trials: list) -> None:
        calls.append(len(trials))
        if len(calls) == 3:
            raise KeyboardInterrupt  # a kill: nothing after it runs
        real_add(self, trials)

    monkeypatch.setattr(optuna.Study, "add_trials", dies_on_the_third_batch)
    monkeypatch.setattr(optuna, "delete_study", lambda **_kw: None)  # a killed process rolls nothing back
    with pytest.raises(KeyboardInterrupt):
        create_study(spec, storage, "s")
    monkeypatch.setattr(optuna.Study, "add_trials", real_add)

    study, stored = load_study(storage, "s")
    assert stored == spec and study.user_attrs[SPEC_ATTR] == spec.to_dict()  # the spec itself as before
    assert study.user_attrs[CREATION_ATTR] == {"n_queued": 7, "finished": False}
    assert unfinished_creation(study) == 7 and queued_count(study) == 4
    assert study_results(study, stored).unfinished_create == 7

    assert create_study(spec, storage, "s", if_exists="resume") is False
    study, _ = load_study(storage, "s")
    assert unfinished_creation(study) is None and queued_count(study) == 7
    names = [t.user_attrs[CONFIG_ATTR] for t in study.get_trials()]
    assert sorted(names) == sorted(c.name for c in spec.space.configs())  # each grid point once


def test_an_error_while_queueing_leaves_no_study(storage_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = open_storage(storage_url)

    def fails(self: optuna.Study, trials: list) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(optuna.Study, "add_trials", fails)
    with pytest.raises(RuntimeError):
        create_study(_spec(3), storage, "s")
    assert optuna.get_all_study_names(storage) == []


def test_a_study_of_an_earlier_release_has_no_creation_mark_and_counts_as_finished(storage_url: str) -> None:
    storage = open_storage(storage_url)
    study = optuna.create_study(study_name="old", storage=storage)
    study.set_user_attr(SPEC_ATTR, _spec(2).to_dict())
    assert unfinished_creation(load_study(storage, "old")[0]) is None
