"""Replay a finished grid through the early-stopping rules, in many random trial orders.

Usage:
    python benchmarks/replay.py [--orders 200] [--curves FILE ...] [--z 2/1,1/1/2 ...]

A search is simulated as one worker would run it: the configurations in a random order, each
trained seed by seed and epoch by epoch from the recorded dev curves, asking the rule
(``hpsearch.search._pruning``) on the worker's own schedule (``hpsearch.worker.TrialSchedule``:
after every epoch but a run's last and after every seed but the last). With ``rungs``
(``hpsearch.search._rungs``) the worker takes its next piece of work as ``Rungs.next_action`` says
(promote a paused trial, start a new one, or stop the paused ones once nothing new is left), and a
trial promoted from the first rung trains its first seed again from epoch 1. For each rule it prints
the epochs trained as a share of the full grid's, how often the best configuration it picks (the
best trial that trained every seed) is the grid's best (and within 0.3 F1 of it), and how often the
grid's best was pruned. With several recordings, a leave-one-recording-out table follows: for each
recording, the rung setting chosen on the others, and how it does on the one held out.

Two data sets:

- ``minilm``: recorded curves, seeds paired across configurations; by default the four recordings in
  ``benchmarks/data``: two on AjMC-en made with ``record_curves.py`` (300 training sentences at the
  wide space's learning rates, and the first one: 100 sentences at ten times those), and AjMC-de and
  AjMC-fr recorded through hpsearch's own workers with another sampler seed (``record_study.py``),
  which no rule setting was chosen on.
- ``paper``: the paper's published per-seed dev F1 of the BERT grid, seed level only (one
  "epoch" per seed, so only the between-seed rule acts). Its scores are listed in file-system
  order, not seed order, so each replayed order shuffles every configuration's seeds anew: unpaired.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hpsearch.search import (
    Curve,
    PairedPruner,
    Rungs,
    RungsPruner,
    RungTrial,
    SeedPruner,
    TrialCurves,
    make_pruner,
    rule_stops,
)
from hpsearch.worker import TrialSchedule

DATA = Path(__file__).parent / "data"
DEFAULT_CURVES = [
    DATA / "minilm-ajmc-en-300-curves.json",
    DATA / "minilm-ajmc-en-100-curves.json",
    DATA / "minilm-ajmc-de-hpsearch-curves.json",
    DATA / "minilm-ajmc-fr-hpsearch-curves.json",
]
WITHIN = 0.003
"""0.3 F1 (scores are on a 0-1 scale)."""

PAPER_BERT = {  # dev F1 per seed, in the order the paper's files list them
    "wsFalse-bs4-e10-lr5e-05": [85.48, 84.56, 84.76, 87.11, 84.75],
    "wsFalse-bs4-e10-lr3e-05": [87.09, 85.51, 85.17, 86.05, 85.00],
    "wsFalse-bs8-e10-lr5e-05": [86.60, 85.99, 86.12, 84.96, 85.92],
    "wsFalse-bs8-e10-lr3e-05": [85.31, 83.80, 84.73, 86.87, 85.14],
}


@dataclass(frozen=True)
class Grid:
    """A finished grid: each configuration's dev curve per seed (seeds in training order)."""

    runs: dict[str, dict[int, Curve]]

    def score(self, name: str) -> float:
        return TrialCurves(self.runs[name]).score

    @property
    def best(self) -> str:
        return max(self.runs, key=self.score)

    @property
    def epochs(self) -> int:
        return sum(len(c) for runs in self.runs.values() for c in runs.values())


@dataclass(frozen=True)
class Search:
    """One simulated search."""

    epochs: int
    picked: str
    pruned: frozenset[str]


def load_curves(path: Path) -> Grid:
    data = json.loads(path.read_text())
    return Grid(
        {c["name"]: {int(s): tuple(r["dev_curve"]) for s, r in sorted(c["seeds"].items())} for c in data["configs"]}
    )


def paper_grid(rng: random.Random) -> Grid:
    """The paper's BERT grid with each configuration's seeds in a fresh random order (unpaired)."""
    runs = {}
    for name, scores in PAPER_BERT.items():
        shuffled = rng.sample(scores, len(scores))
        runs[name] = {seed: (score / 100,) for seed, score in enumerate(shuffled, start=1)}
    return Grid(runs)


def simulate(grid: Grid, order: Sequence[str], pruner: SeedPruner) -> Search:
    """Run the configurations in ``order`` as a worker would, with ``pruner`` asked on the worker's schedule."""
    finished: list[TrialCurves] = []
    epochs = 0
    pruned: set[str] = set()
    for number, name in enumerate(order):
        runs = grid.runs[name]
        schedule = TrialSchedule(pruner, list(runs), max(map(len, runs.values())), finished=lambda: finished)
        for seed, curve in runs.items():
            schedule.start_run(seed)
            for dev_f1 in curve:
                epochs += 1
                if schedule.epoch_done(dev_f1) is not None:
                    break
            if schedule.pruned or schedule.seed_done(seed, curve) is not None:
                break
        if schedule.pruned:
            pruned.add(name)
        record = schedule.record(number)
        if record is not None:
            finished.append(record)
    picked = max((t for t in finished if t.complete), key=lambda t: t.score)
    return Search(epochs=epochs, picked=order[picked.number], pruned=frozenset(pruned))


def simulate_rungs(grid: Grid, order: Sequence[str], pruner: SeedPruner, rungs: Rungs) -> Search:
    """Run the configurations as one worker under seed-major rungs: ``Rungs.next_action`` picks the work."""
    state: dict[int, RungTrial] = {}
    fresh = list(order)
    epochs = 0
    pruned: set[str] = set()
    while True:
        action = rungs.next_action(
            list(state.values()),
            new_left=bool(fresh),
            rule_stops=rule_stops(pruner, list(state.values()), rungs.seeds),
        )
        if action.kind == "done":
            break
        if action.kind == "stop":
            for n in action.numbers:
                state[n] = state[n]._replace(state="finished")
                pruned.add(order[n])
            continue
        assert action.kind in ("start", "promote"), action
        if action.kind == "start":
            number = len(order) - len(fresh)
            fresh.pop(0)
            state[number] = RungTrial(number, {}, (), "running")
        else:
            number = action.numbers[0]
            state[number] = state[number]._replace(state="running", partial=())
        epochs += train_to_next_rung(grid.runs[order[number]], number, state, pruner, rungs)
        if state[number].state == "finished" and len(state[number].runs) < len(rungs.seeds):
            pruned.add(order[number])
    done = [t for t in state.values() if len(t.runs) == len(rungs.seeds)]
    picked = max(done, key=lambda t: TrialCurves(t.runs).score)
    return Search(epochs=epochs, picked=order[picked.number], pruned=frozenset(pruned))


def train_to_next_rung(
    runs: dict[int, Curve], number: int, state: dict[int, RungTrial], pruner: SeedPruner, rungs: Rungs
) -> int:
    """Train trial ``number`` as ``run_trial`` does, until it pauses, is pruned or finishes; the epochs trained."""
    me = state[number]
    schedule = TrialSchedule(
        pruner,
        rungs.seeds,
        rungs.epochs,
        finished=lambda: [
            TrialCurves(dict(t.runs), t.number, complete=len(t.runs) == len(rungs.seeds))
            for t in state.values()
            if t.number != number and t.runs
        ],
        rungs=rungs,
        peers=lambda: list(state.values()),
        number=number,
        promoted_from=rungs.reached(me),
    )
    epochs = 0
    for seed in rungs.seeds:
        if seed in me.runs:
            if schedule.seed_done(seed, me.runs[seed], stored=True) is not None:
                break
            continue
        schedule.start_run(seed)
        curve = runs[seed]
        for e, dev_f1 in enumerate(curve, start=1):
            epochs += 1
            if schedule.epoch_done(dev_f1) is not None:
                if schedule.paused:
                    state[number] = me._replace(partial=tuple(curve[:e]), state="paused")
                    return epochs
                state[number] = me._replace(state="finished")
                return epochs
        me = me._replace(runs={**me.runs, seed: tuple(curve)}, partial=())
        state[number] = me
        if schedule.seed_done(seed, curve) is not None:
            if schedule.paused:
                state[number] = me._replace(state="paused")
                return epochs
            break
    state[number] = me._replace(state="finished")
    return epochs


@dataclass(frozen=True)
class Summary:
    pruner: str
    fraction_mean: float
    fraction_min: float
    fraction_max: float
    same_best: float
    within: float
    best_pruned: float


def replay(
    grids: Callable[[random.Random], Grid],
    pruner: SeedPruner,
    *,
    orders: int,
    seed: int = 0,
    label: str | None = None,
) -> Summary:
    """``orders`` random trial orders of the grid (a fresh grid from ``grids`` per order, for unpaired data)."""
    rng = random.Random(seed)
    fractions, same, close, lost = [], 0, 0, 0
    for _ in range(orders):
        grid = grids(rng)
        order = rng.sample(list(grid.runs), len(grid.runs))
        rungs = Rungs.of(pruner, next(iter(grid.runs.values())), max(map(len, next(iter(grid.runs.values())).values())))
        search = simulate(grid, order, pruner) if rungs is None else simulate_rungs(grid, order, pruner, rungs)
        fractions.append(search.epochs / grid.epochs)
        same += search.picked == grid.best
        close += grid.score(search.picked) >= grid.score(grid.best) - WITHIN
        lost += grid.best in search.pruned
    return Summary(
        pruner=label or describe(pruner),
        fraction_mean=statistics.fmean(fractions),
        fraction_min=min(fractions),
        fraction_max=max(fractions),
        same_best=same / orders,
        within=close / orders,
        best_pruned=lost / orders,
    )


def table(title: str, rows: Sequence[Summary]) -> str:
    lines = [
        f"### {title}",
        "",
        "| pruner | epochs trained (mean, min-max) | picks grid's best | within 0.3 F1 | grid's best pruned |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.pruner} | {100 * r.fraction_mean:.0f}% ({100 * r.fraction_min:.0f}-{100 * r.fraction_max:.0f}%) "
            f"| {100 * r.same_best:.1f}% | {100 * r.within:.1f}% | {100 * r.best_pruned:.1f}% |"
        )
    return "\n".join(lines)


def describe(pruner: SeedPruner) -> str:
    if isinstance(pruner, RungsPruner):
        default_rungs = RungsPruner()
        keys = ("first_epochs", "eta", "tie_check")
        changed = [f"{k}={getattr(pruner, k)}" for k in keys if getattr(pruner, k) != getattr(default_rungs, k)]
        return f"rungs({', '.join(changed)})" if changed else "rungs"
    if not isinstance(pruner, PairedPruner):
        return pruner.name
    default = PairedPruner()
    pairs = f", min_pairs={pruner.min_pairs}" if pruner.min_pairs != default.min_pairs else ""
    gain = "" if pruner.gain_bound == default.gain_bound else f", gain_bound={pruner.gain_bound}"
    return f"paired(z={pruner.z:g}, z_run={pruner.z_run:g}{pairs}{gain})"


def paired_settings(text: str) -> list[PairedPruner]:
    """``z/z_run[/min_pairs[/gain_bound]]`` settings, comma-separated (gain_bound: 1 or 0)."""
    out = []
    for setting in filter(None, text.split(",")):
        z, z_run, *rest = setting.split("/")
        extra: dict = {"min_pairs": int(rest[0])} if rest else {}
        if len(rest) > 1:
            extra["gain_bound"] = rest[1] == "1"
        out.append(PairedPruner(z=float(z), z_run=float(z_run), **extra))
    return out


def pruners(settings: Sequence[SeedPruner]) -> list[SeedPruner]:
    """``none``, ``wilcoxon``, and each setting."""
    return [make_pruner("none"), make_pruner("wilcoxon"), *settings]


RUNG_SETTINGS = [
    RungsPruner(first_epochs=f, eta=e, tie_check=t) for t in (True, False) for f in (1, 2) for e in (2, 3, 4)
]
"""The rung settings leave-one-recording-out chooses among (the default, ``first_epochs=2, eta=3``, is one)."""


def meets_target(summary: Summary) -> bool:
    """The issue's bar for a setting: the grid's best (within 0.3 F1) picked in at least 95% of orders."""
    return summary.within >= 0.95


def leave_one_out(recordings: dict[str, Grid], *, orders: int, seed: int) -> list[str]:
    """For each recording: the rung setting chosen on the others (fewest epochs among those meeting the target
    on every other recording), and how it does on the held-out one."""
    results = {
        (name, describe(p)): replay(lambda _, g=grid: g, p, orders=orders, seed=seed)
        for name, grid in recordings.items()
        for p in RUNG_SETTINGS
    }
    lines = [
        "| held out | setting chosen on the others | epochs there (mean, min-max) | picks grid's best "
        "| within 0.3 F1 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for held in recordings:
        others = [n for n in recordings if n != held]

        def cost(p: SeedPruner, others: list[str] = others) -> float:
            summaries = [results[(n, describe(p))] for n in others]
            if not all(map(meets_target, summaries)):
                return float("inf")
            return max(s.fraction_mean for s in summaries)

        chosen = min(RUNG_SETTINGS, key=cost)
        r = results[(held, describe(chosen))]
        lines.append(
            f"| {held} | {describe(chosen)} | {100 * r.fraction_mean:.0f}% ({100 * r.fraction_min:.0f}-"
            f"{100 * r.fraction_max:.0f}%) | {100 * r.same_best:.1f}% | {100 * r.within:.1f}% |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=Path, nargs="+", default=DEFAULT_CURVES)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument(
        "--z",
        type=paired_settings,
        default="",
        help="more paired settings to compare, as z/z_run[/min_pairs[/gain_bound 1|0]], comma-separated; "
        "the default rules are always shown",
    )
    parser.add_argument("--seed", type=int, default=0, help="of the random trial orders")
    parser.add_argument("--no-loro", action="store_true", help="skip the leave-one-recording-out table")
    args = parser.parse_args()
    defaults = [make_pruner("paired"), make_pruner("rungs")]
    settings = [*defaults, *(p for p in args.z if describe(p) not in map(describe, defaults))]
    settings += [p for p in RUNG_SETTINGS if describe(p) not in map(describe, settings)]

    recordings = {}
    for path in args.curves:
        if not path.exists():
            print(f"{path.name}: not recorded yet, skipped\n")
            continue
        grid = recordings[path.stem] = load_curves(path)
        meta = json.loads(path.read_text())["meta"]
        print(
            f"{path.name}: {len(grid.runs)} configurations x {len(meta['seeds'])} seeds x {meta['epochs']} epochs "
            f"= {grid.epochs} epochs ({meta['sentences']}); grid's best {grid.best} "
            f"({100 * grid.score(grid.best):.2f})\n"
        )
        print(
            table(
                f"{path.stem} (paired seeds, per-epoch curves; orders seed {args.seed})",
                [replay(lambda _, g=grid: g, p, orders=args.orders, seed=args.seed) for p in pruners(settings)],
            )
        )
        print()
    print(
        table(
            f"paper BERT grid (seed level, unpaired; orders seed {args.seed})",
            [replay(paper_grid, p, orders=args.orders, seed=args.seed) for p in pruners(settings)],
        )
    )
    if len(recordings) > 1 and not args.no_loro:
        print(f"\n### Leave one recording out (rung settings; orders seed {args.seed})\n")
        print("\n".join(leave_one_out(recordings, orders=args.orders, seed=args.seed)))


if __name__ == "__main__":
    main()
