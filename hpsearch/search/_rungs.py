"""Seed-major rungs: which trial a worker trains next, and when a trial pauses (asynchronous successive halving).

A trial trains its seeds one after another. Its *rungs* are checkpoints on that path: the first
seed after ``first_epochs`` epochs, then the end of each seed. A trial's value at a rung is what it
measured up to there: the first seed's best dev F1 so far, or the mean of the finished seeds' best
epochs. All trials at one rung have trained the same seeds, so they are compared seed-paired.

As in ASHA (Li et al., 2020), a trial that reaches a rung goes on only if it ranks in the top
``1/eta`` of the trials that reached that rung so far; otherwise it *pauses*: it goes back to the
queue keeping what it trained, and is taken up again (promoted) once enough trials reached the rung
for it to rank in the top ``1/eta``. A worker takes the most advanced promotable trial first, else a
new trial; nobody waits for a rung to fill. Once no new trial is left and none runs, each rung
has at least one place: a paused trial that is the best at its rung goes on (so the best configuration
at the last rung trains every seed), and the trials still paused are then stopped. A trial promoted
from the first rung trains its first seed again from the start (a run's optimizer and learning-rate
schedule are not kept), with the same seed.

On the paper's grid (4 configurations within noise of each other) a seed or two rank them no better
than chance: there the tie check (``rule_stops``) gives every seed to all four, as ``paired`` alone does.

The study's early-stopping rule (``PairedPruner``) still acts inside runs and between seeds; the
rungs decide the order. ``benchmarks/replay.py`` replays recorded curves through this module and
``hpsearch.worker.TrialSchedule``, as the worker runs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from hpsearch.search._pruning import Curve, RungsPruner, SeedPruner, TrialCurves, best_so_far

RungState = Literal["running", "paused", "finished"]


class RungTrial(NamedTuple):
    """A trial as the rungs see it."""

    number: int
    runs: Mapping[int, Curve]
    """Its finished seeds: seed -> dev curve."""
    partial: Curve = ()
    """The first seed's dev curve so far, when it paused inside that seed."""
    state: RungState = "paused"
    """``finished``: complete, pruned or stopped; it keeps its place at the rungs it reached."""


class Action(NamedTuple):
    """What a worker does next: ``promote`` a paused trial, ``start`` a new one, ``stop`` paused trials for good,
    ``wait`` for running trials, or nothing is left (``done``)."""

    kind: Literal["promote", "start", "stop", "wait", "done"]
    numbers: tuple[int, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Rung:
    """A checkpoint: ``seeds`` finished seeds, plus ``epoch`` epochs of the next one (0: at a seed's end)."""

    seeds: int
    epoch: int = 0

    def label(self, seed_order: Sequence[int]) -> str:
        if self.epoch:
            return f"seed {seed_order[self.seeds]} epoch {self.epoch}"
        return f"seed{'s' if self.seeds > 1 else ''} {', '.join(map(str, seed_order[: self.seeds]))}"


@dataclass(frozen=True)
class Rungs:
    """The rungs of a study's trials: ``seeds`` in training order, ``epochs`` per run.

    Args:
        first_epochs: Epochs of the first seed before the first rung (none if not fewer than ``epochs``).
        eta: A trial goes on from a rung if it ranks in the top ``1/eta`` of the trials that reached it.

    Example:
        >>> r = Rungs((1, 2, 3), 4)  # 3 seeds, 4 epochs a seed
        >>> [x.label(r.seeds) for x in r.rungs]
        ['seed 1 epoch 2', 'seed 1', 'seeds 1, 2', 'seeds 1, 2, 3']
    """

    seeds: tuple[int, ...]
    epochs: int
    first_epochs: int = 2
    eta: int = 4

    def __post_init__(self) -> None:
        if not self.seeds or self.epochs < 1 or self.first_epochs < 1 or self.eta < 2:
            raise ValueError(f"invalid rungs: {self}")

    @classmethod
    def of(cls, pruner: SeedPruner, seeds: Sequence[int], epochs: int) -> Rungs | None:
        """The rungs a study's rule asks for (``--pruner rungs``), or None."""
        if not isinstance(pruner, RungsPruner):
            return None
        return cls(tuple(seeds), epochs, first_epochs=pruner.first_epochs, eta=pruner.eta)

    @property
    def rungs(self) -> tuple[Rung, ...]:
        first = (Rung(0, self.first_epochs),) if self.first_epochs < self.epochs else ()
        return (*first, *(Rung(n) for n in range(1, len(self.seeds) + 1)))

    def value(self, trial: RungTrial, rung: Rung) -> float | None:
        """The trial's value at ``rung``, or None if it has not reached it."""
        if rung.epoch:
            seed = self.seeds[rung.seeds]
            curve = trial.runs.get(seed) or trial.partial
            return best_so_far(curve, rung.epoch) if len(curve) >= rung.epoch else None
        seeds = self.seeds[: rung.seeds]
        if not all(s in trial.runs and trial.runs[s] for s in seeds):
            return None
        return sum(max(trial.runs[s]) for s in seeds) / len(seeds)

    def reached(self, trial: RungTrial) -> int:
        """The index of the highest rung the trial reached (-1: none)."""
        top = -1
        for k, rung in enumerate(self.rungs):
            if self.value(trial, rung) is None:
                break
            top = k
        return top

    def rank(self, trials: Sequence[RungTrial], trial: RungTrial, k: int) -> tuple[int, int]:
        """The trial's rank (0: best) among the trials that reached rung ``k``, and how many did."""
        rung = self.rungs[k]
        mine = self.value(trial, rung)
        assert mine is not None
        peers = [(v, t.number) for t in trials if (v := self.value(t, rung)) is not None]
        if trial.number not in {n for _, n in peers}:
            peers.append((mine, trial.number))
        ahead = sum(v > mine or (v == mine and n < trial.number) for v, n in peers)  # ties: the earlier trial
        return ahead, len(peers)

    def goes_on(self, trials: Sequence[RungTrial], trial: RungTrial, k: int) -> bool:
        """Whether ``trial``, having just reached rung ``k``, goes on now (else it pauses)."""
        if k == len(self.rungs) - 1:
            return True
        ahead, n = self.rank(trials, trial, k)
        return ahead < n // self.eta

    def next_action(
        self,
        trials: Sequence[RungTrial],
        *,
        new_left: bool,
        rule_stops: Callable[[RungTrial], bool] | None = None,
    ) -> Action:
        """What a free worker does next, given every started trial and whether new trials are queued.

        ``rule_stops(trial)``: whether the study's early-stopping rule tells that a paused trial is
        worse than the best one on the seeds it finished; at closing, a paused trial with finished
        seeds that it cannot tell is promoted, not stopped (near-ties get every seed).
        """
        paused = [t for t in trials if t.state == "paused"]
        promotable = []
        for t in paused:
            k = self.reached(t)
            if k >= 0 and self.goes_on(trials, t, k):
                promotable.append((-k, -self.value(t, self.rungs[k]), t.number))  # type: ignore[operator]
        if promotable:
            return Action("promote", (min(promotable)[2],), f"ranks in the top 1/{self.eta} of its rung")
        if new_left:
            return Action("start")
        if any(t.state == "running" for t in trials):
            return Action("wait")
        # Closing: no trial can reach a rung any more, so each rung has at least one place.
        closing = [t for t in paused if self.reached(t) >= 0 and self.rank(trials, t, self.reached(t))[0] == 0]
        if closing:
            best = max(closing, key=lambda t: (self.reached(t), self.value(t, self.rungs[self.reached(t)]), -t.number))
            return Action("promote", (best.number,), "the best at its rung, with no new trial left")
        if rule_stops is not None:  # a trial with finished seeds is stopped only if the rule tells it is worse
            for t in sorted(paused, key=lambda t: (-self.reached(t), t.number)):
                if t.runs and not rule_stops(t):
                    return Action("promote", (t.number,), "the early-stopping rule cannot tell it is worse")
        if paused:
            return Action("stop", tuple(t.number for t in paused), "ranked out at its rung")
        return Action("done")

    def stop_reason(self, trials: Sequence[RungTrial], trial: RungTrial) -> str:
        """Why a paused trial was stopped: its rung, rank and value."""
        k = self.reached(trial)
        if k < 0:
            return "stopped before its first rung"
        ahead, n = self.rank(trials, trial, k)
        value = self.value(trial, self.rungs[k])
        shown = "nan" if value is None or math.isnan(value) else f"{100 * value:.2f}"
        return (
            f"rungs: stopped at {self.rungs[k].label(self.seeds)} (dev F1 {shown}), ranked {ahead + 1} of {n}; "
            f"only the top 1/{self.eta} go on"
        )


def rule_stops(
    pruner: SeedPruner, trials: Sequence[RungTrial], seeds: Sequence[int]
) -> Callable[[RungTrial], bool] | None:
    """For ``Rungs.next_action``: whether ``pruner`` tells a paused trial is worse than the best on its finished seeds.

    None unless the pruner asks for it (``RungsPruner.tie_check``). The best is the best trial that
    finished every seed; the others' finished seeds show the noise, as in ``PairedPruner``.
    """
    if not getattr(pruner, "tie_check", False):
        return None
    finished = [TrialCurves(dict(t.runs), t.number, complete=len(t.runs) == len(seeds)) for t in trials if t.runs]

    def stops(trial: RungTrial) -> bool:
        others = [f for f in finished if f.number != trial.number]
        return pruner.stop_trial(others, trial.runs) is not None

    return stops
