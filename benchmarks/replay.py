"""Replay a finished grid through the early-stopping rules, in many random trial orders.

Usage:
    python benchmarks/replay.py [--orders 200] [--curves FILE ...] [--z 2/1,1/1/2 ...]

A search is simulated as one worker would run it: the configurations in a random order, each
trained seed by seed and epoch by epoch from the recorded dev curves, asking the rule
(``hpsearch.search._pruning``) on the worker's own schedule (``hpsearch.worker.TrialSchedule``:
after every epoch but a run's last and after every seed but the last). For each rule it prints the
epochs trained as a share of the full grid's, how often the best configuration it picks is the
grid's best (and within 0.3 F1 of it), and how often the grid's best was pruned.

Two data sets:

- ``minilm``: recorded curves (``record_curves.py``), seeds paired across configurations; by default
  both recordings in ``benchmarks/data`` (300 training sentences at the wide space's learning rates,
  and the first one: 100 sentences at ten times those).
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

from hpsearch.search import Curve, PairedPruner, SeedPruner, TrialCurves, make_pruner
from hpsearch.worker import TrialSchedule

DATA = Path(__file__).parent / "data"
DEFAULT_CURVES = [DATA / "minilm-ajmc-en-300-curves.json", DATA / "minilm-ajmc-en-100-curves.json"]
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


@dataclass(frozen=True)
class Summary:
    pruner: str
    fraction_mean: float
    fraction_min: float
    fraction_max: float
    same_best: float
    within: float
    best_pruned: float


def replay(grids: Callable[[random.Random], Grid], pruner: SeedPruner, *, orders: int, seed: int = 0) -> Summary:
    """``orders`` random trial orders of the grid (a fresh grid from ``grids`` per order, for unpaired data)."""
    rng = random.Random(seed)
    fractions, same, close, lost = [], 0, 0, 0
    for _ in range(orders):
        grid = grids(rng)
        order = rng.sample(list(grid.runs), len(grid.runs))
        search = simulate(grid, order, pruner)
        fractions.append(search.epochs / grid.epochs)
        same += search.picked == grid.best
        close += grid.score(search.picked) >= grid.score(grid.best) - WITHIN
        lost += grid.best in search.pruned
    return Summary(
        pruner=pruner.name if not isinstance(pruner, PairedPruner) else describe(pruner),
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


def describe(pruner: PairedPruner) -> str:
    default = PairedPruner()
    pairs = f", min_pairs={pruner.min_pairs}" if pruner.min_pairs != default.min_pairs else ""
    gain = "" if pruner.gain_bound == default.gain_bound else f", gain_bound={pruner.gain_bound}"
    return f"paired(z={pruner.z:g}, z_run={pruner.z_run:g}{pairs}{gain})"


def paired_settings(text: str) -> list[PairedPruner]:
    """``z/z_run[/min_pairs[/gain_bound]]`` settings, comma-separated (gain_bound: 1 or 0)."""
    out = []
    for setting in text.split(","):
        z, z_run, *rest = setting.split("/")
        extra: dict = {"min_pairs": int(rest[0])} if rest else {}
        if len(rest) > 1:
            extra["gain_bound"] = rest[1] == "1"
        out.append(PairedPruner(z=float(z), z_run=float(z_run), **extra))
    return out


def pruners(paired: Sequence[PairedPruner]) -> list[SeedPruner]:
    """``none``, ``wilcoxon``, and each ``paired`` setting."""
    return [make_pruner("none"), make_pruner("wilcoxon"), *paired]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=Path, nargs="+", default=DEFAULT_CURVES)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument(
        "--z",
        type=paired_settings,
        default="2/1,1/1,1/0.5,0.5/0.5",
        help="paired settings to compare, as z/z_run[/min_pairs[/gain_bound 1|0]], comma-separated; "
        "the default rule is always shown",
    )
    parser.add_argument("--seed", type=int, default=0, help="of the random trial orders")
    args = parser.parse_args()
    settings = [make_pruner("paired"), *(p for p in args.z if describe(p) != describe(make_pruner("paired")))]

    for path in args.curves:
        grid = load_curves(path)
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


if __name__ == "__main__":
    main()
