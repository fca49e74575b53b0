"""Re-queueing failed trials so that a retry keeps the seeds that had finished."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

from hpsearch.store._record import FAIL_REASON_ATTR, REQUEUED_FROM_ATTR, RETRIES_ATTR, RETRY_OF_ATTR


def requeue(study: optuna.Study, trial: FrozenTrial, *, count_as_retry: bool = True) -> None:
    """Add a WAITING copy of a failed trial: same params and the seed results it kept.

    An interrupted worker's trial is re-queued with
    ``count_as_retry=False``: stopping a worker is no failure of the configuration.
    A trial that has a copy already is not copied again, so a call repeated after a lost
    connection (whose first attempt may have been committed) adds no second copy.
    """
    import optuna

    if any(t.system_attrs.get(REQUEUED_FROM_ATTR) == trial.number for t in study.get_trials(deepcopy=False)):
        return
    retries = int(trial.system_attrs.get(RETRIES_ATTR, 0)) + (1 if count_as_retry else 0)
    user_attrs = {k: v for k, v in trial.user_attrs.items() if k != FAIL_REASON_ATTR}
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs=user_attrs,
            system_attrs={
                RETRY_OF_ATTR: trial.system_attrs.get(RETRY_OF_ATTR, trial.number),
                RETRIES_ATTR: retries,
                REQUEUED_FROM_ATTR: trial.number,
            },
        )
    )


def requeue_failed_trial(max_retries: int) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A storage ``heartbeat_stale_trial_callback``: re-queue a dead worker's trial up to ``max_retries`` times."""

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        if int(trial.system_attrs.get(RETRIES_ATTR, 0)) < max_retries:
            requeue(study, trial)

    return callback


def fail_stale_trials(study: optuna.Study, *, grace_period: int, max_retries: int) -> list[int]:
    """Fail the study's RUNNING trials whose worker stopped beating, and re-queue each up to ``max_retries`` times.

    As ``optuna.storages.fail_stale_trials``, but the failed trial says why in its ``fail_reason``
    user attribute. Safe across processes: of the workers that find the same stale trial, one
    fails and re-queues it; the others skip it.

    Returns:
        The numbers of the trials this call failed.
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    from hpsearch.store._storage import with_retries

    storage = study._storage
    failed: list[int] = []
    for trial_id in storage._get_stale_trial_ids(study._study_id):  # type: ignore[attr-defined]
        frozen = storage.get_trial(trial_id)
        retries = int(frozen.system_attrs.get(RETRIES_ATTR, 0))
        again = retries < max_retries
        outcome = f"re-queued (retry {retries + 1} of {max_retries})" if again else f"{max_retries} retries used"
        reason = f"worker lost: no heartbeat for {grace_period} s; {outcome}"
        try:
            # Written while still RUNNING: a finished trial takes no attribute.
            storage.set_trial_user_attr(trial_id, FAIL_REASON_ATTR, reason)
            if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                continue
        except UpdateFinishedTrialError:
            continue  # another worker failed it first, or its owner has just finished it
        failed.append(frozen.number)
        if again:
            # Failed and not yet copied: retry until the copy is stored, or the trial is lost.
            with_retries(lambda trial_id=trial_id: requeue(study, storage.get_trial(trial_id)))
    return failed
