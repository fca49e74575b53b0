"""Repair: failed (or named finished) trials back in the queue, keeping their finished seeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hpsearch.errors import NotFoundError, UsageError
from hpsearch.store._queue import latest_copy, requeue
from hpsearch.store._record import REQUEUED_FROM_ATTR
from hpsearch.store._storage import open_storage
from hpsearch.store._studies import load_study


@dataclass(frozen=True)
class Requeued:
    """What ``requeue`` did: each re-queued trial's number and its new WAITING copy's."""

    study: str
    pairs: tuple[tuple[int, int], ...]


def requeue_trials(storage_url: str, name: str, *, failed: bool = False, numbers: Sequence[int] = ()) -> Requeued:
    """Queue a WAITING copy of every failed trial (``failed``) and of each named finished trial.

    Each copy keeps the params and the finished seeds of its trial and counts no retry. A failed
    trial re-queued already (its copy exists) is left out; everything is checked before anything is written.

    Raises:
        UsageError: neither ``failed`` nor ``numbers``; a named trial is running, queued, or re-queued already.
        NotFoundError, StudyNotFoundError: no such trial or study.
    """
    from optuna.trial import TrialState

    if not failed and not numbers:
        raise UsageError("give --failed (every failed trial) or --trial N (repeatable).")
    storage = open_storage(storage_url, must_exist=True)
    study, _ = load_study(storage, name)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    copied = {t.system_attrs[REQUEUED_FROM_ATTR] for t in trials.values() if REQUEUED_FROM_ATTR in t.system_attrs}
    chosen = []
    for number in dict.fromkeys(numbers):
        trial = trials.get(number)
        if trial is None:
            raise NotFoundError(f"study {name!r} has no trial {number}; see hpsearch status --study {name}.")
        if not trial.state.is_finished():
            raise UsageError(f"trial {number} is {trial.state.name.lower()}: only finished trials can be re-queued.")
        if number in copied:
            raise UsageError(f"trial {number} was re-queued already; re-queue its copy instead (hpsearch status).")
        chosen.append(trial)
    if failed:
        named = {t.number for t in chosen}
        chosen += [t for t in trials.values() if t.state == TrialState.FAIL and t.number not in copied | named]
    pairs = []
    for trial in chosen:
        requeue(study, trial, count_as_retry=False)
        copy = latest_copy(study, trial.number)
        pairs.append((trial.number, copy.number if copy is not None else -1))
    return Requeued(study=name, pairs=tuple(pairs))
