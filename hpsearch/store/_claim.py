"""Claiming a queued trial: one transaction takes the next WAITING trial and records its first heartbeat.

Optuna's ``Study.ask`` reads every WAITING trial and tries them one by one, so that N workers race
for the same trial and each claim costs as much as the queue is long. Here a claim is one short
transaction on Optuna's RDB schema:

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1``, so concurrent workers take different
  trials without waiting for one another;
- SQLite: the transaction starts with ``BEGIN IMMEDIATE`` (:func:`hpsearch.store._storage.open_storage`),
  so claims queue for the write lock.

Re-queued trials (a stopped or dead worker's, with the seeds it finished) come first, then the
queue in the order it was created. The trial turns RUNNING and gets its heartbeat in the same
commit. A RUNNING trial without a heartbeat, which Optuna never finds stale, thus cannot arise,
not even when the claimant dies at once or its connection breaks before the commit's reply arrives.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import optuna


def rdb_backend(storage: optuna.storages.BaseStorage) -> optuna.storages.RDBStorage:
    """The ``RDBStorage`` behind a study's storage (Optuna wraps it in a cache)."""
    import optuna
    from optuna.storages._cached_storage import _CachedStorage

    if isinstance(storage, _CachedStorage):
        storage = storage._backend
    if not isinstance(storage, optuna.storages.RDBStorage):
        raise TypeError(f"hpsearch workers need an RDBStorage, but got {type(storage).__name__}.")
    return storage


def claim_next(study: optuna.Study) -> int | None:
    """Mark the study's next WAITING trial RUNNING, with a fresh heartbeat; its trial id, or None if none waits."""
    import sqlalchemy
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    from hpsearch.store._record import REQUEUED_FROM_ATTR

    backend = rdb_backend(study._storage)
    trial_model, attr = models.TrialModel, models.TrialSystemAttributeModel
    requeued = sqlalchemy.exists().where(attr.trial_id == trial_model.trial_id, attr.key == REQUEUED_FROM_ATTR)
    query = (
        sqlalchemy.select(trial_model)
        .where(trial_model.study_id == study._study_id, trial_model.state == TrialState.WAITING)
        .order_by(requeued.desc(), trial_model.trial_id)
        .limit(1)
    )
    if backend.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    with _create_scoped_session(backend.scoped_session) as session:
        trial = session.scalars(query).first()
        if trial is None:
            return None
        trial.state = TrialState.RUNNING
        trial.datetime_start = datetime.now()  # as Optuna's set_trial_state_values does
        heartbeat = models.TrialHeartbeatModel.where_trial_id(trial.trial_id, session)
        if heartbeat is None:
            session.add(models.TrialHeartbeatModel(trial_id=trial.trial_id))
        else:
            heartbeat.heartbeat = session.execute(sqlalchemy.func.now()).scalar()
        trial_id = trial.trial_id
    return trial_id
