"""The trial queue: claiming, heartbeats, failing dead trials, re-queueing and handing seeds over.

Ownership of trials: a study's WAITING trials are the queue (its budget; workers never create
trials). A worker owns the trials it claimed and keeps their heartbeat alive. A RUNNING trial whose
heartbeat is older than the grace period is failed by whichever worker looks next, with a
``fail_reason``, and re-queued once as a WAITING copy that keeps the seeds it had finished.

Claiming is one short transaction on Optuna's RDB schema. Optuna's ``Study.ask`` reads every
WAITING trial and tries them one by one, so that N workers race for the same trial and each claim
costs as much as the queue is long. Here:

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1``, so concurrent workers take different
  trials without waiting for one another;
- SQLite: the transaction starts with ``BEGIN IMMEDIATE`` (:func:`hpsearch.store.open_storage`),
  so claims queue for the write lock.

Re-queued trials come first, then the queue in the order it was created. The trial turns RUNNING
and gets its heartbeat in the same commit: a RUNNING trial without a heartbeat, which Optuna never
finds stale, cannot arise, not even when the claimant dies at once or its connection breaks before
the commit's reply arrives.

``TrialTable`` reads a study's trials by id for ``hpsearch.store.StudyView``.

This is the one module of hpsearch that uses Optuna's private API; each use says why the public API
does not serve. ``tests/store/test_queue.py`` names, test by test, the Optuna behaviour relied on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hpsearch.search import SeedResult
from hpsearch.store._backoff import with_retries
from hpsearch.store._record import (
    FAIL_REASON_ATTR,
    PAUSED_ATTR,
    PROGRESS_ATTR,
    REQUEUED_FROM_ATTR,
    RETRIES_ATTR,
    RETRY_OF_ATTR,
    encode_seed,
    reason_text,
    seed_attr_key,
)

if TYPE_CHECKING:
    import optuna
    import sqlalchemy.orm
    from optuna.artifacts import ArtifactMeta
    from optuna.trial import FrozenTrial, TrialState


# --- claiming and heartbeats ----------------------------------------------------------------------


def claim_next(study: optuna.Study) -> optuna.Trial | None:
    """Mark the study's next WAITING trial RUNNING, with a fresh heartbeat; the trial, or None if none waits.

    Re-queued trials come first; paused trials (``PAUSED_ATTR``) are left to ``claim_trial``.
    """
    import sqlalchemy
    from optuna.storages._rdb import models

    trial_model, attr, user = models.TrialModel, models.TrialSystemAttributeModel, models.TrialUserAttributeModel
    requeued = sqlalchemy.exists().where(attr.trial_id == trial_model.trial_id, attr.key == REQUEUED_FROM_ATTR)
    paused = sqlalchemy.exists().where(
        user.trial_id == trial_model.trial_id, user.key == PAUSED_ATTR, user.value_json != "null"
    )
    return _claim(study, lambda q: q.where(~paused).order_by(requeued.desc(), trial_model.trial_id))


def claim_trial(study: optuna.Study, number: int) -> optuna.Trial | None:
    """Mark trial ``number`` RUNNING if it is WAITING (a paused trial a worker promotes); None if another took it."""
    from optuna.storages._rdb import models

    return _claim(study, lambda q: q.where(models.TrialModel.number == number))


def _claim(study: optuna.Study, narrow: Callable[[Any], Any]) -> optuna.Trial | None:
    import optuna
    import sqlalchemy
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from optuna.trial import TrialState

    # Private: Optuna's public API has no "take one WAITING trial" (Study.ask scans them all), so
    # the claim is written on Optuna's own tables (models), in Optuna's session helper.
    backend = _rdb_backend(study)
    trial_model = models.TrialModel
    query = narrow(
        sqlalchemy.select(trial_model).where(
            trial_model.study_id == study._study_id, trial_model.state == TrialState.WAITING
        )
    ).limit(1)
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
    return optuna.Trial(study, trial_id)  # as Study.ask does for the trial it took


def record_heartbeat(trial: optuna.Trial) -> None:
    """Record that ``trial``'s worker is alive (``RDBStorage.record_heartbeat``)."""
    # Private: the storage method takes a trial id, which a Trial keeps in _trial_id only.
    trial.storage.record_heartbeat(trial._trial_id)  # type: ignore[attr-defined]


def _rdb_backend(study: optuna.Study) -> optuna.storages.RDBStorage:
    """The ``RDBStorage`` behind a study (Optuna wraps it in a cache)."""
    import optuna
    from optuna.storages._cached_storage import _CachedStorage

    # Private: a study keeps its storage in _storage; load_study wraps an RDBStorage in a
    # _CachedStorage, and the claim needs the engine and session of the RDBStorage behind it.
    storage = study._storage
    if isinstance(storage, _CachedStorage):
        storage = storage._backend
    if not isinstance(storage, optuna.storages.RDBStorage):
        raise TypeError(f"hpsearch workers need an RDBStorage, but got {type(storage).__name__}.")
    return storage


def set_user_attrs(trial: optuna.Trial, attrs: Mapping[str, Any]) -> None:
    """``trial.set_user_attr(key, value)`` for each item, in one transaction.

    Optuna commits each attribute on its own: a worker storing ten of them at a trial's end costs ten
    commits (ten WAL flushes on PostgreSQL). Like ``set_user_attr``, refuses a finished trial
    (``UpdateFinishedTrialError``), and writes nothing then. Safe to run again.
    """
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    storage = _rdb_backend(trial.study)
    with _create_scoped_session(storage.scoped_session, True) as session:
        for key, value in attrs.items():
            # Private: the body of RDBStorage.set_trial_user_attr (checks the trial is not finished, then
            # upserts), without its commit; a Trial keeps its id in _trial_id only.
            storage._set_trial_attr_without_commit(
                session,
                models.TrialUserAttributeModel,
                trial._trial_id,  # type: ignore[attr-defined]
                key,
                value,
            )
    # Private: Trial.set_user_attr also updates the trial's cached FrozenTrial, which trial.user_attrs reads.
    trial._cached_frozen_trial.user_attrs.update(attrs)  # type: ignore[attr-defined]


def count_running(study: optuna.Study) -> int:
    """How many of the study's trials are RUNNING (their workers may yet die and leave them to re-queue)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


# --- a trial's stored state ---------------------------------------------------------------------


def frozen_trial(trial: optuna.Trial) -> FrozenTrial:
    """The trial as stored now (state, attributes, params), read from the storage."""
    # Private: a Trial has no public "read me back"; the storage reads trials by id only.
    return trial.storage.get_trial(trial._trial_id)  # type: ignore[attr-defined]


def refresh_params(trial: optuna.Trial) -> None:
    """Re-read the trial's stored params into it, so that ``suggest_*`` returns those instead of writing anew.

    Needed before drawing a configuration again after a lost connection: the earlier attempt may have
    stored some params before its reply was lost, and Optuna would try to insert them a second time.
    """
    # Private: suggest_* consults the Trial's cached FrozenTrial, which Optuna reads once in
    # Trial.__init__ and never refreshes; there is no public way to refresh it.
    trial._cached_frozen_trial = frozen_trial(trial)  # type: ignore[attr-defined]


def fail_trial(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Fail the trial with its ``fail_reason``, unless it has finished already (another worker declared it dead)."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    try:
        trial.set_user_attr(FAIL_REASON_ATTR, reason_text(reason))
    except UpdateFinishedTrialError:
        return
    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


def hand_back(trial: optuna.Trial) -> bool:
    """Put a RUNNING trial this worker owns back in the queue as it is: WAITING, same number, params and seeds.

    For a worker that cannot run any trial on its machine (``hpsearch.worker``'s worker faults):
    the trial is no failure, so it leaves no FAIL trial behind and counts no retry. Returns False
    if the trial has finished meanwhile (another worker declared it dead).
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    # Private: a Trial keeps its id in _trial_id only; the public API never sets a trial back to WAITING.
    try:
        return trial.storage.set_trial_state_values(trial._trial_id, TrialState.WAITING)  # type: ignore[attr-defined]
    except UpdateFinishedTrialError:
        return False


def pause(trial: optuna.Trial, reason: str) -> bool:
    """Put a RUNNING trial back in the queue as paused at a rung, keeping its seeds; False if it has finished."""
    trial.set_user_attr(PAUSED_ATTR, reason_text(reason))  # first: a WAITING trial without it is fresh work
    return hand_back(trial)


# --- dead workers: failing, re-queueing, handing over ----------------------------------------------


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

    # Private: the public optuna.storages.fail_stale_trials fails the trials without a reason and
    # gives no way to write one first (a finished trial takes no attribute); this is its first step.
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


def requeue(study: optuna.Study, trial: FrozenTrial, *, count_as_retry: bool = True) -> None:
    """Add a WAITING copy of a failed trial: same params and the seed results it kept.

    An interrupted worker's trial is re-queued with ``count_as_retry=False``: stopping a worker is
    no failure of the configuration. A trial that has a copy already is not copied again, so a call
    repeated after a lost connection (whose first attempt may have been committed) adds no second copy.
    """
    import optuna

    if any(t.system_attrs.get(REQUEUED_FROM_ATTR) == trial.number for t in study.get_trials(deepcopy=False)):
        return
    retries = int(trial.system_attrs.get(RETRIES_ATTR, 0)) + (1 if count_as_retry else 0)
    # A copy starts afresh: no failure yet, and no progress of a seed it has not begun.
    user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in (FAIL_REASON_ATTR, PROGRESS_ATTR)}
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


def latest_copy(study: optuna.Study, number: int) -> FrozenTrial | None:
    """The trial that re-queues trial ``number``, following copies of copies that failed too."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    copies = {t.system_attrs[REQUEUED_FROM_ATTR]: t for t in trials if REQUEUED_FROM_ATTR in t.system_attrs}
    copy = copies.get(number)
    while copy is not None and copy.state == TrialState.FAIL and copy.number in copies:
        copy = copies[copy.number]
    return copy


def hand_over(study: optuna.Study, trial: optuna.Trial, trained: Sequence[SeedResult], max_retries: int) -> str:
    """Store the seeds trained here on the re-queued copy of a trial another worker declared dead.

    Returns:
        What became of the seeds, for the worker's progress line.
    """
    frozen = frozen_trial(trial)
    copy = latest_copy(study, frozen.number)
    if copy is None and int(frozen.system_attrs.get(RETRIES_ATTR, 0)) < max_retries:
        requeue(study, frozen)  # the worker that failed it died before re-queueing it
        copy = latest_copy(study, frozen.number)
    if copy is None:
        return "not re-queued: no retries left"
    if copy.state.is_finished():
        return f"its copy, trial {copy.number}, has finished"
    missing = [r for r in trained if seed_attr_key(r.seed) not in copy.user_attrs]
    for result in missing:
        # Private: the copy is WAITING, owned by no Trial object; only the storage writes to it, by id.
        study._storage.set_trial_user_attr(copy._trial_id, seed_attr_key(result.seed), encode_seed(result))
    return f"{len(missing)} seeds trained here were stored on its copy, trial {copy.number}"


# --- study-level bookkeeping ----------------------------------------------------------------------


def storage_id(study: optuna.Study) -> int:
    """The study's id in its storage, which optuna-dashboard's page URLs use."""
    # Private: a Study keeps its id in _study_id only (storage.get_study_id_from_name asks the database again).
    return study._study_id


def set_study_artifact(study: optuna.Study, meta: ArtifactMeta) -> None:
    """Record an artifact on the study under ``meta.artifact_id``, as ``optuna.artifacts.upload_artifact`` does.

    ``upload_artifact`` always draws a new id; this keeps a fixed one, so that a new file replaces the
    old in place. ``optuna.artifacts.get_all_artifact_meta`` reads it back.
    """
    # Private: the key prefix upload_artifact writes under, and the study's storage and id
    # (Study.set_system_attr is gone from the public API).
    from optuna.artifacts._upload import ARTIFACTS_ATTR_PREFIX

    key = ARTIFACTS_ATTR_PREFIX + meta.artifact_id
    study._storage.set_study_system_attr(study._study_id, key, json.dumps(asdict(meta)))


def study_system_attrs(study: optuna.Study) -> dict[str, object]:
    """The study's system attributes (its metric names, its artifacts), for ``extend`` to carry them over."""
    # Private: Study.system_attrs is gone from the public API; optuna.copy_study reads them the same way.
    return dict(study._storage.get_study_system_attrs(study._study_id))


def set_study_system_attrs(study: optuna.Study, attrs: dict[str, object]) -> None:
    """Write system attributes read by :func:`study_system_attrs` onto another study."""
    # Private: as above, the public API has no setter for study system attributes.
    for key, value in attrs.items():
        study._storage.set_study_system_attr(study._study_id, key, value)


# --- reading a study's trials by id (hpsearch.store.StudyView) --------------------------------------


@dataclass(frozen=True)
class TrialRow:
    """One trial as :meth:`TrialTable.changes` scans it: no attribute is decoded."""

    trial_id: int
    state: TrialState
    attrs: tuple[int, int]
    """A WAITING trial's user attributes: how many, and the sum of their row ids (an added one changes both);
    else (0, 0)."""


class TrialTable:
    """One study's rows in Optuna's trial tables, read by trial id, for :class:`hpsearch.store.StudyView`.

    Holds the storage and the study's id, not the study, so that a view kept per ``Study`` object
    does not keep it alive.
    """

    READ_BATCH = 500
    """Trial ids per ``IN (...)`` list: SQLite limits the parameters of one statement."""

    def __init__(self, study: optuna.Study) -> None:
        # Private: Optuna reads trials by study (get_all_trials, every trial or its own cache's
        # idea of what changed), by id one query at a time (get_trial), but never a chosen set of
        # ids in one query, nor states without the attributes. A study keeps its id in _study_id only.
        self._storage = _rdb_backend(study)
        self._study_id: int = study._study_id
        self._distributions: dict[str, optuna.distributions.BaseDistribution] = {}  # by JSON; shared, never changed

    def changes(
        self, after_id: int, choose: Callable[[list[TrialRow]], Collection[int]], *, from_id: int = 0
    ) -> tuple[list[TrialRow], dict[int, FrozenTrial]]:
        """Scan the study's unfinished trials with ids from ``from_id`` on and those with ids above ``after_id``,
        then read the trials ``choose`` picks from the scan, in one transaction.

        The scan selects ids, states and, for WAITING trials, the count and the sum of the row ids of their user
        attributes: its cost grows with the trials queued and running, not with those finished (``from_id``
        lets the database skip the finished trials below the lowest unfinished one on the primary key).

        Returns:
            The scan, and the trials read by trial id (ids no longer stored are missing).
        """
        import sqlalchemy
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
        from optuna.trial import TrialState

        trial, attr = models.TrialModel, models.TrialUserAttributeModel
        waiting = trial.state == TrialState.WAITING
        # Per WAITING trial, on the (trial_id, key) index. Not max(id): PostgreSQL answers it by walking
        # the primary key down from the newest attribute of the whole table.
        own = attr.trial_id == trial.trial_id
        count = sqlalchemy.select(sqlalchemy.func.count()).where(own).scalar_subquery()
        ids = sqlalchemy.select(sqlalchemy.func.sum(attr.trial_user_attribute_id)).where(own).scalar_subquery()
        scan = sqlalchemy.select(
            trial.trial_id,
            trial.state,
            sqlalchemy.case((waiting, count), else_=0),
            sqlalchemy.case((waiting, sqlalchemy.func.coalesce(ids, 0)), else_=0),
        ).where(
            trial.study_id == self._study_id,
            trial.trial_id >= from_id,
            sqlalchemy.or_(trial.state.in_((TrialState.RUNNING, TrialState.WAITING)), trial.trial_id > after_id),
        )
        with _create_scoped_session(self._storage.scoped_session) as session:
            rows = [TrialRow(i, s, (n, int(ids))) for i, s, n, ids in session.execute(scan)]
            ids = sorted(choose(rows))
            read: dict[int, FrozenTrial] = {}
            for start in range(0, len(ids), self.READ_BATCH):
                for model in self._query(session, ids[start : start + self.READ_BATCH]):
                    read[model.trial_id] = self._frozen_trial(model)
        return rows, read

    def _frozen_trial(self, model: Any) -> FrozenTrial:
        """The trial's FrozenTrial as ``RDBStorage._build_frozen_trial_from_trial_model`` builds it, with each
        distribution parsed once per table, not twice per parameter of every trial: a grid's categorical holds
        every value of its dimension, and parsing it was most of what reading a queued grid trial cost."""
        from optuna.storages._rdb import models
        from optuna.trial import FrozenTrial

        values: list[float] | None = None
        if model.values:
            values = [0.0] * len(model.values)
            for value in model.values:  # Private: how Optuna stores infinities (and NaN) in a float column
                values[value.objective] = models.TrialValueModel.stored_repr_to_value(value.value, value.value_type)
        params = sorted(model.params, key=lambda p: p.param_id)
        found = {p.param_name: self._distribution(p.distribution_json) for p in params}
        return FrozenTrial(
            number=model.number,
            state=model.state,
            value=None,
            values=values,
            datetime_start=model.datetime_start,
            datetime_complete=model.datetime_complete,
            params={p.param_name: found[p.param_name].to_external_repr(p.param_value) for p in params},
            distributions=found,
            user_attrs={a.key: json.loads(a.value_json) for a in model.user_attributes},
            system_attrs={a.key: json.loads(a.value_json) for a in model.system_attributes},
            intermediate_values={
                v.step: models.TrialIntermediateValueModel.stored_repr_to_intermediate_value(
                    v.intermediate_value, v.intermediate_value_type
                )
                for v in model.intermediate_values
            },
            trial_id=model.trial_id,
        )

    def _distribution(self, text: str) -> optuna.distributions.BaseDistribution:
        found = self._distributions.get(text)
        if found is None:
            from optuna.distributions import json_to_distribution

            found = self._distributions[text] = json_to_distribution(text)
        return found

    @staticmethod
    def _query(session: sqlalchemy.orm.Session, ids: Sequence[int]) -> list[Any]:
        """The trials' rows with everything a FrozenTrial holds, loaded as ``RDBStorage._get_trials`` loads them."""
        from optuna.storages._rdb import models
        from sqlalchemy.orm import selectinload

        trial = models.TrialModel
        return (
            session.query(trial)
            .options(
                selectinload(trial.params),
                selectinload(trial.values),
                selectinload(trial.user_attributes),
                selectinload(trial.system_attributes),
                selectinload(trial.intermediate_values),
            )
            .filter(trial.trial_id.in_(ids))
            .all()
        )
