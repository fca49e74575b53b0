"""What the pruner sees of the study (``finished_curves``), read through the process's view of it."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from hpsearch.search import GridSpace, SeedResult, StudySpec, TrialCurves
from hpsearch.store import claim_next, create_study, encode_seed, load_study, open_storage, seed_attr_key
from hpsearch.worker._trial import finished_curves


def _seed(seed: int, curve: tuple[float, ...], complete: bool = True) -> dict[str, object]:
    result = SeedResult(seed=seed, dev_curve=curve, test_f1=0.5, wall_time_s=1.0, device="cpu", complete=complete)
    return encode_seed(result)


def _claim(study: optuna.Study, *seeds: dict[str, object]) -> optuna.Trial:
    trial = claim_next(study)
    assert trial is not None
    for data in seeds:
        trial.set_user_attr(seed_attr_key(int(data["seed"])), data)  # type: ignore[call-overload]
    return trial


def test_finished_curves_follow_the_study(storage_url: str) -> None:
    space = GridSpace(learning_rates=tuple(1e-5 * (i + 1) for i in range(6)), batch_sizes=(8,), epochs=(2,))
    create_study(StudySpec(model="fake", label="fake", space=space, seeds=(1, 2)), open_storage(storage_url), "s")
    study = load_study(open_storage(storage_url), "s")[0]
    done = _claim(study, _seed(1, (0.5, 0.6)), _seed(2, (0.4, 0.7)))
    study.tell(done, 0.65)
    pruned = _claim(study, _seed(1, (0.3, 0.2)), _seed(2, (0.1,), complete=False))
    study.tell(pruned, state=TrialState.PRUNED)
    nothing = _claim(study)  # failed before any seed: no curve
    study.tell(nothing, state=TrialState.FAIL)
    running = _claim(study, _seed(1, (0.45, 0.5)))
    asking = _claim(study)

    assert finished_curves(study, exclude=asking.number) == [
        TrialCurves({1: (0.5, 0.6), 2: (0.4, 0.7)}, number=done.number, complete=True),
        TrialCurves({1: (0.3, 0.2)}, number=pruned.number, complete=False),
        TrialCurves({1: (0.45, 0.5)}, number=running.number, complete=False),
    ]
    running.set_user_attr(seed_attr_key(2), _seed(2, (0.5, 0.55)))
    study.tell(running, 0.5)
    asking.set_user_attr(seed_attr_key(1), _seed(1, (0.6, 0.6)))
    curves = finished_curves(study, exclude=asking.number)
    assert curves[-1] == TrialCurves({1: (0.45, 0.5), 2: (0.5, 0.55)}, number=running.number, complete=True)
    assert [c.number for c in finished_curves(study)] == [done.number, pruned.number, running.number, asking.number]
