"""The worker's side of seed-major rungs (``--pruner rungs``; the rules are ``hpsearch.search._rungs``).

The study's trials are read as ``RungTrial``: what each trained (its stored seeds, and a paused
first seed's curve so far) and whether it runs, waits paused (``PAUSED_ATTR``) or has finished.
``claim_with_rungs`` does what ``Rungs.next_action`` says: claim the paused trial to promote, else
a new one; once nothing is new and nothing runs, promote each rung's best, and stop the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from hpsearch.search import Rungs, RungTrial, StudySpec, make_pruner, rule_stops
from hpsearch.store import (
    PAUSED_ATTR,
    PRUNE_REASON_ATTR,
    claim_next,
    claim_trial,
    reason_text,
    seed_results_from_attrs,
)

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

MAX_CLAIM_ATTEMPTS = 20
"""Claims of a chosen trial that another worker took first, before giving up this round."""


def study_rungs(spec: StudySpec, epochs: int) -> Rungs | None:
    """The rungs of the study's trials (each trains ``epochs`` epochs a seed), or None without ``--pruner rungs``."""
    return Rungs.of(make_pruner(spec.pruner or "none"), spec.seeds, epochs)


def is_paused(trial: FrozenTrial) -> bool:
    from optuna.trial import TrialState

    return trial.state == TrialState.WAITING and trial.user_attrs.get(PAUSED_ATTR) is not None


def rung_trial(trial: FrozenTrial, seeds: Sequence[int]) -> RungTrial | None:
    """The trial as the rungs see it; None for a trial that never started or failed."""
    from optuna.trial import TrialState

    if trial.state == TrialState.RUNNING:
        state = "running"
    elif trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        state = "finished"
    elif is_paused(trial):
        state = "paused"
    else:
        return None
    results = seed_results_from_attrs(trial.user_attrs)
    runs = {s: r.dev_curve for s, r in results.items() if r.complete and r.dev_curve}
    nxt = next((s for s in seeds if s not in runs), None)
    partial = results[nxt].dev_curve if nxt in results and not results[nxt].complete else ()
    return RungTrial(trial.number, runs, tuple(partial), state)  # type: ignore[arg-type]


def rung_view(trials: Iterable[FrozenTrial], seeds: Sequence[int]) -> list[RungTrial]:
    return [t for t in (rung_trial(f, seeds) for f in trials) if t is not None]


def claim_with_rungs(
    study: optuna.Study, spec: StudySpec, rungs: Rungs, read: Callable[[], Sequence[FrozenTrial]]
) -> optuna.Trial | None:
    """The trial this worker trains next under ``rungs``, now RUNNING; None while there is nothing to take.

    ``read`` returns the study's trials (WAITING ones with their attributes included).
    """
    from optuna.trial import TrialState

    pruner = make_pruner(spec.pruner or "none")
    new_left = True
    for _ in range(MAX_CLAIM_ATTEMPTS):
        view = rung_view(read(), rungs.seeds)
        action = rungs.next_action(view, new_left=new_left, rule_stops=rule_stops(pruner, view, rungs.seeds))
        if action.kind == "start":
            trial = claim_next(study)
            if trial is not None:
                return trial
            new_left = False
        elif action.kind == "promote":
            trial = claim_trial(study, action.numbers[0])
            if trial is not None:
                trial.set_user_attr(PAUSED_ATTR, None)  # promoted: no longer paused
                return trial
        elif action.kind == "stop":
            view = rung_view(read(), rungs.seeds)
            by_number = {t.number: t for t in view}
            for number in action.numbers:
                trial = claim_trial(study, number)
                if trial is None or number not in by_number:
                    continue
                trial.set_user_attr(PRUNE_REASON_ATTR, reason_text(rungs.stop_reason(view, by_number[number])))
                study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
        else:  # wait for running trials, or done
            return None
    return None
