"""What a study cost: runs, epochs and wall time per configuration, and what pruning saved.

Pure functions over :class:`~hpsearch.search.ConfigResult` lists; nothing here reads a study.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hpsearch.formatting import duration
from hpsearch.search import ConfigResult


@dataclass(frozen=True)
class ConfigCost:
    """What one configuration (one trial) cost: runs started, epochs trained, seconds of training.

    ``epochs_planned`` is what it would have trained without pruning: its epochs for a complete
    trial, every planned seed times the configuration's epochs for a pruned one, 0 for the others.
    """

    name: str
    runs: int
    epochs_trained: int
    wall_time_s: float
    state: str = "complete"
    trial_number: int | None = None
    epochs_planned: int = 0


@dataclass(frozen=True)
class CostSummary:
    """Per-configuration costs and their totals."""

    configs: tuple[ConfigCost, ...]

    @property
    def runs(self) -> int:
        return sum(c.runs for c in self.configs)

    @property
    def epochs_trained(self) -> int:
        return sum(c.epochs_trained for c in self.configs)

    @property
    def wall_time_s(self) -> float:
        return sum(c.wall_time_s for c in self.configs)

    @property
    def epochs_planned(self) -> int:
        """Epochs the finished (complete and pruned) trials would have trained without pruning."""
        return sum(c.epochs_planned for c in self.configs)

    @property
    def epochs_saved(self) -> int:
        finished = sum(c.epochs_trained for c in self.configs if c.epochs_planned)
        return self.epochs_planned - finished

    @property
    def saved_fraction(self) -> float:
        """The share of the finished trials' planned epochs that pruning saved; NaN before any finished."""
        return self.epochs_saved / self.epochs_planned if self.epochs_planned else math.nan


def cost_summary(results: Sequence[ConfigResult]) -> CostSummary:
    """Epochs trained and wall time per configuration (every run, pruned or not) and in total."""
    return CostSummary(
        tuple(
            ConfigCost(
                r.name,
                len(r.runs),
                r.epochs_trained,
                r.wall_time_s,
                state=r.state,
                trial_number=r.trial_number,
                epochs_planned=_epochs_planned(r),
            )
            for r in results
        )
    )


def _epochs_planned(result: ConfigResult) -> int:
    if result.state == "complete":
        return result.epochs_trained
    if result.state != "pruned":
        return 0
    epochs = result.params.get("epochs")
    if not isinstance(epochs, int):
        named = re.search(r"-e(\d+)(?:-|$)", result.name)
        longest = max((r.epochs_done for r in result.runs), default=0)
        epochs = int(named.group(1)) if named else longest
    return max(len(result.seeds_planned) * epochs, result.epochs_trained)


def render_cost(summary: CostSummary) -> str:
    """The cost summary as aligned text: one line per trial, a total line, and what pruning saved."""

    def epochs(c: ConfigCost) -> str:
        return f"{c.epochs_trained}/{c.epochs_planned}" if c.epochs_planned else str(c.epochs_trained)

    rows = [
        [
            "" if c.trial_number is None else str(c.trial_number),
            c.name,
            c.state,
            str(c.runs),
            epochs(c),
            duration(c.wall_time_s),
        ]
        for c in summary.configs
        if c.runs or c.state != "waiting"  # a sampled study's queued trials have cost nothing yet
    ]
    total_epochs = str(summary.epochs_trained)
    rows.append(["total", "", "", str(summary.runs), total_epochs, duration(summary.wall_time_s)])
    headers = ["Trial", "Configuration", "State", "Runs", "Epochs", "Wall time"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:], strict=True)]
        return "  ".join(left + right).rstrip()

    text = "\n".join([line(headers), *(line(r) for r in rows)]) + "\n"
    if summary.epochs_saved > 0:
        per_epoch = summary.wall_time_s / summary.epochs_trained if summary.epochs_trained else 0.0
        text += (
            f"pruning saved {100 * summary.saved_fraction:.0f}% of the finished trials' epochs "
            f"({summary.epochs_saved} of {summary.epochs_planned}; about "
            f"{duration(summary.epochs_saved * per_epoch)} at this study's time per epoch)\n"
        )
    return text
