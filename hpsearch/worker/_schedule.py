"""When one trial asks its pruner, and what the study sees of the trial once it ends.

A trial trains its seeds one after another, each for the configuration's epochs. Its rule
(``hpsearch.search``'s ``SeedPruner``) is asked:

- ``stop_run`` after each epoch of a run but the run's last; a reason stops the run, and the trial;
- ``stop_trial`` after each seed but the last, seeds stored by an earlier attempt included.

With rungs (``--pruner rungs``, ``hpsearch.search._rungs``) the schedule also pauses the trial at
a rung where it does not rank in the top ``1/eta``: ``paused`` then says where, and the worker hands
the trial back to the queue with what it trained. Rungs at or below ``promoted_from`` (where a
promoted trial was paused) are not asked again.

A stopped trial is PRUNED: the study's later trials see its finished seeds only as evidence of how
runs climb (``TrialCurves(complete=False)``); a trial that trained every seed is a candidate for the
reference. ``TrialSchedule`` holds no storage and trains nothing: ``run_trial`` drives it with the
trainer's epochs and ``benchmarks/replay.py`` with recorded curves, so the replay cannot drift from
the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hpsearch.search import Curve, NoPruner, Rungs, RungTrial, SeedPruner, TrialCurves


class TrialSchedule:
    """The pruning schedule of one trial.

    Call ``start_run(seed)`` before a seed trains, ``epoch_done(dev_f1)`` after each of its epochs
    and ``seed_done(seed, curve)`` once it (or a seed stored before) finished; ``epoch_done`` and
    ``seed_done`` answer the reason to stop, or None to go on. ``run_stopped`` gives the reason when a
    run ended before its last epoch.

    Args:
        pruner: The rule to ask.
        seeds: The trial's seeds, in the order they train.
        epochs: Epochs per run.
        finished: The study's other trials as the rule sees them; called only when the rule is
            asked, as reading them may cost a database query.
        rungs: The study's rungs, if its rule orders the work in rungs.
        peers: The study's started trials as the rungs see them (called at a rung only).
        number: The trial's number.
        promoted_from: The rung the trial was paused at before it was promoted (-1: none).

    Example:
        >>> from hpsearch.search import make_pruner
        >>> schedule = TrialSchedule(make_pruner("paired"), (1, 2), 2, finished=list)
        >>> schedule.start_run(1)
        >>> schedule.epoch_done(0.5), schedule.epoch_done(0.6), schedule.seed_done(1, (0.5, 0.6))
        (None, None, None)
        >>> schedule.record(0)
        TrialCurves(runs={1: (0.5, 0.6)}, number=0, complete=True)
    """

    def __init__(
        self,
        pruner: SeedPruner,
        seeds: Sequence[int],
        epochs: int,
        *,
        finished: Callable[[], Sequence[TrialCurves]],
        rungs: Rungs | None = None,
        peers: Callable[[], Sequence[RungTrial]] = list,
        number: int = -1,
        promoted_from: int = -1,
    ) -> None:
        if not seeds:
            raise ValueError(f"seeds must not be empty, but got {seeds=}.")
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, but got {epochs=}.")
        self.pruner = pruner
        self.seeds = tuple(seeds)
        self.epochs = epochs
        self._finished = finished
        self.rungs = rungs
        self._peers = peers
        self.number = number
        self.promoted_from = promoted_from
        self.paused: str | None = None
        """Where the trial paused (a rung's label); None while it goes on."""
        self.done: dict[int, Curve] = {}
        """The trial's finished seeds so far: seed -> dev curve."""
        self.reason: str | None = None
        """Why the trial was stopped; None while it goes on."""
        self._seed: int | None = None
        self._curve: list[float] = []

    @property
    def active(self) -> bool:
        """Whether the rule can stop anything; ``NoPruner`` is never asked (the worker then adds no epoch hook)."""
        return not isinstance(self.pruner, NoPruner) or self.rungs is not None

    @property
    def pruned(self) -> bool:
        return self.reason is not None

    def start_run(self, seed: int) -> None:
        """A run of ``seed`` starts training."""
        self._seed, self._curve = seed, []

    def epoch_done(self, dev_f1: float) -> str | None:
        """After an epoch of the running seed: the reason to stop the run (and so the trial), or None."""
        if self._seed is None:
            raise RuntimeError("epoch_done before start_run.")
        self._curve.append(dev_f1)
        if not self.active or len(self._curve) >= self.epochs:
            return None
        reason = self._stop(self.pruner.stop_run(self._finished(), self.done, self._seed, tuple(self._curve)))
        if reason is None and self.rungs is not None:
            first = self.rungs.rungs[0]
            if first.epoch == len(self._curve) and first.seeds == len(self.done):
                return self._at_rung(0, tuple(self._curve))
        return reason

    def run_stopped(self, epochs_done: int) -> str:
        """The reason to prune the trial once the running seed ended after ``epochs_done`` of its epochs."""
        if self.reason is None:
            self.reason = f"seed {self._seed} was stopped after epoch {epochs_done}"
        return self.reason

    def seed_done(self, seed: int, curve: Curve, *, stored: bool = False) -> str | None:
        """After a seed finished, trained here or ``stored`` before: the reason to stop or pause the trial, or None."""
        self.done[seed] = tuple(curve)
        if not self.active or seed == self.seeds[-1]:
            return None
        reason = self._stop(self.pruner.stop_trial(self._finished(), self.done))
        if reason is None and self.rungs is not None and not stored:
            return self._at_rung(self.rungs.reached(RungTrial(self.number, self.done)), ())
        return reason

    def _at_rung(self, k: int, partial: Curve) -> str | None:
        """At rung ``k``: the reason to pause, or None to go on."""
        assert self.rungs is not None
        if k <= self.promoted_from:
            return None
        me = RungTrial(self.number, dict(self.done), partial, "running")
        if self.rungs.goes_on(self._peers(), me, k):
            return None
        self.paused = self.rungs.stop_reason(self._peers(), me).replace("stopped", "paused", 1)
        return self.paused

    def record(self, number: int) -> TrialCurves | None:
        """What the study's later trials see of this one once it ended (None: no finished seed)."""
        if not self.done:
            return None
        return TrialCurves(dict(self.done), number=number, complete=not self.pruned and self.paused is None)

    def _stop(self, reason: str | None) -> str | None:
        if reason is not None:
            self.reason = reason
        return reason
