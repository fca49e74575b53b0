"""Re-queueing failed trials so that a retry keeps the seeds that had finished."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

RETRY_OF = "hpsearch:retry_of"
RETRIES = "hpsearch:retries"
FAIL_REASON = "fail_reason"


def requeue(study: optuna.Study, trial: FrozenTrial, *, count_as_retry: bool = True) -> None:
    """Add a WAITING copy of a failed trial: same params and the seed results it kept.

    An interrupted worker's trial is re-queued with
    ``count_as_retry=False``: stopping a worker is no failure of the configuration.
    """
    import optuna

    retries = int(trial.system_attrs.get(RETRIES, 0)) + (1 if count_as_retry else 0)
    user_attrs = {k: v for k, v in trial.user_attrs.items() if k != FAIL_REASON}
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs=user_attrs,
            system_attrs={RETRY_OF: trial.system_attrs.get(RETRY_OF, trial.number), RETRIES: retries},
        )
    )


def requeue_failed_trial(max_retries: int) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A storage ``failed_trial_callback``: re-queue a dead worker's trial up to ``max_retries`` times."""

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        if int(trial.system_attrs.get(RETRIES, 0)) < max_retries:
            requeue(study, trial)

    return callback
