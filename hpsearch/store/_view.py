"""A study's trials, kept in the process and refreshed by reading only what may have changed.

A worker asks for the study's trials once per epoch (its pruner) and after each trial (the
dashboard note). ``study.get_trials`` answers with every trial, and what hpsearch derives from them
(seed curves, leaderboard rows) would be decoded again each time, so that the cost of each question
grows with every finished trial. A :class:`StudyView` keeps what cannot change:

- a finished trial (COMPLETE, PRUNED, FAIL: Optuna refuses any write to it) is read once;
- a WAITING trial is read again only when its state changes or a user attribute is added to it
  (``hand_over`` adds seeds to a queued copy; nothing in hpsearch rewrites a queued trial's attribute);
- a RUNNING trial is read again at every refresh (its seeds and progress change in place).

Each refresh is one transaction: a scan of the trials queued, running or new since the last one
(ids, states and, for WAITING trials, how many user attributes they hold), then one read of the
trials that may have changed (``hpsearch.store._queue.TrialTable``). What it reads, sends and decodes
grows with the trials running and queued, not with those finished (the database still steps over the
study's finished rows to find the others: Optuna indexes trials by study, not by state).

A trial stored finished with an id below one already scanned is not seen: on PostgreSQL, a trial
added finished (``add_trials``, an import) while a view refreshes may commit after a later trial;
Optuna's own trial cache has the same blind spot. Trials that pass through the queue are always seen.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections import deque
from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from hpsearch.store._queue import TrialRow, TrialTable

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial, TrialState

T = TypeVar("T")


class StudyView:
    """One study's trials as this process last read them; see the module docstring.

    What :meth:`trials` and :meth:`derived` return is kept in number order and patched with what each
    refresh read, so that a call costs what changed, not what the study holds. Thread-safe. The
    FrozenTrials it returns are shared with later calls: do not change them.

    Example:
        >>> view = StudyView(study)  # doctest: +SKIP
        >>> view.trials((TrialState.COMPLETE, TrialState.RUNNING))  # doctest: +SKIP
        [FrozenTrial(number=0, ...), ...]
    """

    LOG = 1024
    """Refreshes whose changes are remembered; a list not asked for during as many is rebuilt (from what it kept)."""

    ID_MARGIN = 256
    """A scan skips the trials with ids this far below the lowest unfinished one it knows (they are finished), so that
    it steps over no finished trials but the last few; the margin still finds a queued trial that committed late
    (PostgreSQL: a trial id is taken at insert, so an insert may commit after one with a higher id)."""

    def __init__(self, study: optuna.Study) -> None:
        self._table = TrialTable(study)
        self._lock = threading.RLock()
        self._trials: dict[int, FrozenTrial] = {}  # by trial id
        self._numbers: dict[int, int] = {}  # trial id -> number, for every trial ever read
        self._unfinished: dict[int, TrialRow] = {}  # the RUNNING and WAITING trials of the last scan
        self._after = -1  # the highest trial id scanned
        self._generation = 0  # refreshes that changed something
        self._log: deque[tuple[int, list[int]]] = deque(maxlen=self.LOG)  # (generation, trial ids it changed)
        self._kept: dict[tuple[Hashable, frozenset[TrialState] | None], _Kept] = {}

    def refresh(self) -> None:
        """Read what changed since the last refresh (everything, the first time)."""
        with self._lock:
            asked: list[int] = []

            def choose(rows: list[TrialRow]) -> list[int]:
                asked[:] = self._to_read(rows)
                return asked

            lowest = min([*self._unfinished, self._after + 1])
            rows, read = self._table.changes(self._after, choose, from_id=max(0, lowest - self.ID_MARGIN))
            for trial_id in asked:
                if trial_id in read:
                    self._trials[trial_id] = read[trial_id]
                    self._numbers[trial_id] = read[trial_id].number
                else:  # no longer stored
                    self._trials.pop(trial_id, None)
            self._unfinished = {
                r.trial_id: r
                for r in rows
                if not r.state.is_finished() and not (r.trial_id in read and read[r.trial_id].state.is_finished())
            }
            self._after = max([self._after, *(r.trial_id for r in rows)])
            if asked:
                self._generation += 1
                self._log.append((self._generation, asked))

    def trials(self, states: Collection[TrialState] | None = None, *, refresh: bool = True) -> list[FrozenTrial]:
        """The study's trials in ``states`` (all when None), by number, as ``study.get_trials(deepcopy=False)``.

        Args:
            states: The states to return.
            refresh: Read what changed first; False answers from what this view holds.
        """
        return self.derived(_TRIALS, _same, states, refresh=refresh)

    def derived(
        self,
        key: Hashable,
        make: Callable[[FrozenTrial], T],
        states: Collection[TrialState] | None = None,
        *,
        refresh: bool = True,
    ) -> list[T]:
        """``make(trial)`` for each of :meth:`trials`, leaving out None, each kept until the trial is read again.

        A finished trial is never read again, so ``make`` runs once for it. ``make`` must depend on
        the trial only; ``key`` names it (values are kept per key).
        """
        if refresh:
            self.refresh()
        wanted = None if states is None else frozenset(states)
        with self._lock:
            kept = self._kept.get((key, wanted))
            if kept is None or kept.generation < min(self._generation, self._log[0][0] - 1 if self._log else 0):
                kept = self._kept[key, wanted] = self._build(kept, make, wanted)
            elif kept.generation < self._generation:
                changed: set[int] = set()
                for generation, ids in reversed(self._log):
                    if generation <= kept.generation:
                        break
                    changed.update(ids)
                for trial_id in changed:
                    kept.patch(self._numbers[trial_id], self._trials.get(trial_id), make)
                kept.generation = self._generation
            return list(kept.values)

    def _build(self, old: _Kept | None, make: Callable[[FrozenTrial], Any], wanted: frozenset | None) -> _Kept:
        """All the trials in ``wanted``, reusing what ``old`` kept."""
        before = {} if old is None else dict(zip(old.numbers, zip(old.sources, old.values, strict=True), strict=True))
        kept = _Kept(wanted, self._generation)
        for trial in sorted(self._trials.values(), key=lambda t: t.number):
            if wanted is None or trial.state in wanted:
                source, value = before.get(trial.number, (None, None))
                value = value if source is trial else make(trial)
                if value is not None:
                    kept.numbers.append(trial.number)
                    kept.sources.append(trial)
                    kept.values.append(value)
        return kept

    def _to_read(self, rows: list[TrialRow]) -> list[int]:
        """Of a scan, the ids of the trials to read: those that may have changed since this view read them."""
        scanned = {r.trial_id for r in rows}
        ids = [i for i in self._unfinished if i not in scanned]  # finished since the last scan
        for row in rows:
            if row.state.is_finished():  # new since the last scan
                changed = row.trial_id not in self._trials
            elif row.state.name == "RUNNING":
                changed = True
            else:  # WAITING: read when new, or when its state or attributes changed since the last scan
                changed = row.trial_id not in self._trials or self._unfinished.get(row.trial_id) != row
            if changed:
                ids.append(row.trial_id)
        return ids


@dataclass
class _Kept:
    """One key's values over the trials in ``states``, in number order, as of ``generation``."""

    states: frozenset[TrialState] | None
    generation: int
    numbers: list[int] = field(default_factory=list)
    sources: list[FrozenTrial] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def patch(self, number: int, trial: FrozenTrial | None, make: Callable[[FrozenTrial], Any]) -> None:
        """Trial ``number`` as read now (None: gone): its value made anew, added, or removed."""
        i = bisect.bisect_left(self.numbers, number)
        present = i < len(self.numbers) and self.numbers[i] == number
        if present and self.sources[i] is trial:
            return
        wanted = trial is not None and (self.states is None or trial.state in self.states)
        value = make(trial) if wanted else None
        if value is None:
            if present:
                del self.numbers[i], self.sources[i], self.values[i]
        elif present:
            self.sources[i], self.values[i] = trial, value
        else:
            self.numbers.insert(i, number)
            self.sources.insert(i, trial)
            self.values.insert(i, value)


_TRIALS = object()  # the key of trials() among derived()'s


def _same(trial: FrozenTrial) -> FrozenTrial:
    return trial


_VIEWS: weakref.WeakKeyDictionary[optuna.Study, StudyView] = weakref.WeakKeyDictionary()
_VIEWS_LOCK = threading.Lock()


def study_view(study: optuna.Study) -> StudyView:
    """This process's view of ``study``: one per ``Study`` object, kept as long as the object.

    A worker loads each study once, so its pruner and its dashboard note share one view per study
    for the worker's life.

    Raises:
        TypeError: the study is not stored in an ``RDBStorage``.
    """
    with _VIEWS_LOCK:
        view = _VIEWS.get(study)
        if view is None:
            view = _VIEWS[study] = StudyView(study)
        return view
