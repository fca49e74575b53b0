"""Seed-major rungs (``hpsearch.search._rungs``) on hand-made curves, and ``TrialSchedule`` pausing at them."""

from __future__ import annotations

import pytest

from hpsearch.search import Curve, Rungs, RungsPruner, RungTrial, TrialCurves, make_pruner
from hpsearch.worker import TrialSchedule

RUNGS = Rungs((1, 2, 3), 4, eta=3)  # rungs: seed 1 epoch 2, seed 1, seeds 1-2, seeds 1-3


def paused(number: int, epoch2: float) -> RungTrial:
    """A trial paused at the first rung with ``epoch2`` as its first seed's dev F1 after 2 epochs."""
    return RungTrial(number, {}, (0.0, epoch2), "paused")


def test_values_at_each_rung_use_the_same_seeds() -> None:
    t = RungTrial(0, {1: (0.1, 0.5, 0.4, 0.6), 2: (0.2, 0.3, 0.2, 0.1)}, (0.0,), "paused")
    assert [RUNGS.value(t, r) for r in RUNGS.rungs] == [0.5, 0.6, pytest.approx(0.45), None]
    assert RUNGS.reached(t) == 2
    assert RUNGS.reached(RungTrial(1, {}, (0.3,))) == -1
    assert Rungs((1, 2), 2).rungs[0].epoch == 0  # no first-epochs rung when a run is that short


def test_a_trial_goes_on_only_in_the_top_third_of_its_rung() -> None:
    me = RungTrial(9, {}, (0.0, 0.5), "running")
    assert not RUNGS.goes_on([], me, 0)  # alone: 1 // 3 = 0 places; it pauses, nobody waits
    peers = [paused(0, 0.1), paused(1, 0.2)]
    assert RUNGS.goes_on(peers, me, 0)  # best of 3
    assert not RUNGS.goes_on(peers, me._replace(partial=(0.0, 0.15)), 0)
    assert RUNGS.goes_on([*peers, paused(2, 0.6), paused(3, 0.0), paused(4, 0.0)], me, 0)  # 2nd of 6: 2 places
    # Ties go to the earlier trial; the top rung always goes on.
    assert RUNGS.rank([paused(0, 0.5), paused(1, 0.5)], me, 0) == (2, 3)
    top = RungTrial(9, {1: (0.1,), 2: (0.1,), 3: (0.1,)})
    assert RUNGS.goes_on([], top, len(RUNGS.rungs) - 1)


def test_a_free_worker_promotes_the_most_advanced_promotable_trial_else_starts_a_new_one() -> None:
    trials = [paused(n, 0.1 * n) for n in range(6)]  # trials 5 and 4 are the top 2 of 6
    assert RUNGS.next_action(trials, new_left=True).numbers == (5,)
    advanced = RungTrial(7, {1: (0.1, 0.2, 0.3, 0.3)}, (), "paused")
    more = [RungTrial(8 + n, {1: (0.1, 0.1, 0.1, 0.1 * n)}, (), "finished") for n in range(2)]
    assert RUNGS.next_action([*trials, advanced, *more], new_left=True).numbers == (7,)  # 1st of 3 at rung 1
    weak = [paused(n, 0.1) for n in range(2)]
    assert RUNGS.next_action(weak, new_left=True).kind == "start"
    assert RUNGS.next_action([*weak, RungTrial(5, {}, (), "running")], new_left=False).kind == "wait"


def test_when_nothing_new_is_left_each_rung_promotes_its_best_then_the_rest_stop() -> None:
    trials = [paused(0, 0.3), paused(1, 0.1)]
    action = RUNGS.next_action(trials, new_left=False)
    assert (action.kind, action.numbers) == ("promote", (0,))
    # Trial 0 went on and finished every seed: nothing more to promote, trial 1 stops.
    done = RungTrial(0, {1: (0.3, 0.4), 2: (0.3, 0.4), 3: (0.3, 0.4)}, (), "finished")
    action = RUNGS.next_action([done, trials[1]], new_left=False)
    assert (action.kind, action.numbers) == ("stop", (1,))
    assert "ranked 2 of 2" in RUNGS.stop_reason([done, trials[1]], trials[1])
    assert RUNGS.next_action([done], new_left=False).kind == "done"


def search(curves: dict[str, dict[int, Curve]], order: list[str], rungs: Rungs) -> tuple[int, set[str], str]:
    """One worker under rungs, as ``benchmarks/replay.py`` runs it: epochs trained, stopped configurations, pick."""
    state: dict[int, RungTrial] = {}
    epochs, fresh = 0, list(order)
    pruner = RungsPruner()
    while (action := rungs.next_action(list(state.values()), new_left=bool(fresh))).kind not in ("done", "wait"):
        if action.kind == "stop":
            state.update({n: state[n]._replace(state="finished") for n in action.numbers})
            continue
        if action.kind == "start":
            number = len(order) - len(fresh)
            fresh.pop(0)
            state[number] = RungTrial(number, {}, (), "running")
        else:
            number = action.numbers[0]
        me = state[number]
        schedule = TrialSchedule(
            pruner,
            rungs.seeds,
            rungs.epochs,
            finished=lambda n=number: [TrialCurves(t.runs, t.number, False) for t in state.values() if t.number != n],
            rungs=rungs,
            peers=lambda: list(state.values()),
            number=number,
            promoted_from=rungs.reached(me),
        )
        me = me._replace(state="running", partial=())
        for seed in rungs.seeds:
            if seed in me.runs:
                schedule.seed_done(seed, me.runs[seed], stored=True)
                continue
            schedule.start_run(seed)
            curve = curves[order[number]][seed]
            for e, f1 in enumerate(curve, start=1):
                epochs += 1
                if schedule.epoch_done(f1) is not None:
                    me = me._replace(partial=curve[:e])
                    break
            else:
                me = me._replace(runs={**me.runs, seed: curve})
                if schedule.seed_done(seed, curve) is None:
                    continue
            break
        state[number] = me._replace(state="paused" if schedule.paused else "finished")
    complete = [t for t in state.values() if len(t.runs) == 3]
    pick = max(complete, key=lambda t: TrialCurves(t.runs).score)
    stopped = {order[t.number] for t in state.values() if len(t.runs) < 3}
    return epochs, stopped, order[pick.number]


def test_the_winner_is_found_with_a_fraction_of_the_epochs_in_any_order() -> None:
    # Nine configurations: one learns well, one late jumper on seed 1, seven learn little.
    curves = {f"weak{i}": dict.fromkeys((1, 2, 3), (0.0, 0.02 * i, 0.03 * i, 0.03 * i)) for i in range(7)}
    curves["best"] = {s: (0.0, 0.4, 0.5, 0.55 + 0.01 * s) for s in (1, 2, 3)}
    curves["late"] = {1: (0.0, 0.25, 0.45, 0.5), 2: (0.0, 0.3, 0.4, 0.45), 3: (0.0, 0.3, 0.4, 0.45)}
    grid_epochs = 9 * 3 * 4
    import random

    for seed in range(20):
        order = random.Random(seed).sample(sorted(curves), len(curves))
        epochs, stopped, pick = search(curves, order, RUNGS)
        assert pick == "best" and "best" not in stopped
        assert epochs <= 0.6 * grid_epochs
        assert {f"weak{i}" for i in range(7)} <= stopped


def test_the_schedule_pauses_at_the_first_rung_and_a_promoted_trial_is_not_asked_there_again() -> None:
    rival = [RungTrial(n, {}, (0.0, 0.5), "paused") for n in range(3)]
    kw = {"rungs": RUNGS, "peers": lambda: rival, "number": 7}
    schedule = TrialSchedule(make_pruner("rungs"), RUNGS.seeds, 4, finished=list, **kw)  # type: ignore[arg-type]
    schedule.start_run(1)
    assert schedule.epoch_done(0.0) is None
    reason = schedule.epoch_done(0.1)
    assert reason is not None and schedule.paused == reason and "paused at seed 1 epoch 2" in reason
    assert schedule.record(7) is None
    promoted = TrialSchedule(make_pruner("rungs"), RUNGS.seeds, 4, finished=list, promoted_from=0, **kw)  # type: ignore[arg-type]
    promoted.start_run(1)
    assert [promoted.epoch_done(f) for f in (0.0, 0.1, 0.2)] == [None, None, None]
    # After seed 1: rung 1, where it is not in the top third either.
    rival[:] = [RungTrial(n, {1: (0.0, 0.5, 0.5, 0.5)}, (), "finished") for n in range(3)]
    assert promoted.seed_done(1, (0.0, 0.1, 0.2, 0.3)) is not None and promoted.paused
    # A seed stored before is never a reason to pause again.
    again = TrialSchedule(make_pruner("rungs"), RUNGS.seeds, 4, finished=list, promoted_from=1, **kw)  # type: ignore[arg-type]
    assert again.seed_done(1, (0.0, 0.1, 0.2, 0.3), stored=True) is None and again.paused is None
