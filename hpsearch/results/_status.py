"""What ``hpsearch status`` shows: studies at a glance, or one study's trials."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.table import Table

from hpsearch.search import ConfigResult
from hpsearch.store import StudyResults

STATE_STYLE = {"complete": "green", "running": "cyan", "waiting": "dim", "failed": "red", "pruned": "yellow"}


def _pct(x: float | None) -> str:
    return "" if x is None or math.isnan(x) else f"{100 * x:.2f}"


def _duration(seconds: float) -> str:
    if seconds <= 0 or math.isnan(seconds):
        return ""
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s"


def eta_seconds(results: StudyResults, workers: int | None = None) -> float | None:
    """Remaining time from the measured time per trial, spread over the workers running now.

    A queued or running configuration counts for the share of its seeds not yet finished (a retry
    keeps the seeds its failed trial finished); with no trial running, one worker is assumed.
    """
    done = [c for c in results.configs if c.state == "complete" and c.wall_time_s > 0]
    left = sum(
        1 - len(c.finished_runs) / max(1, len(c.seeds_planned))
        for c in results.configs
        if c.state in ("waiting", "running")
    )
    if not done or left <= 0:
        return None
    per_trial = sum(c.wall_time_s for c in done) / len(done)
    running = workers or max(1, results.count("running"))
    return per_trial * left / running


def device_hours(results: StudyResults) -> float:
    """Training time of every seed run of the study, in hours; a seed that a retry inherited counts once."""
    seen: set[tuple[object, ...]] = set()
    total = 0.0
    for c in results.all_trials:
        for r in c.runs:
            key = (c.name, r.seed, r.wall_time_s, r.dev_curve)
            if key not in seen:
                seen.add(key)
                total += r.wall_time_s
    return total / 3600


def studies_table(all_results: Sequence[StudyResults]) -> Table:
    table = Table(title="Studies", title_justify="left")
    for column in ("study", "model", "done", "running", "queued", "failed", "pruned", "best configuration"):
        table.add_column(column, no_wrap=column in ("study", "best configuration"))
    table.add_column("dev F1", justify="right")
    table.add_column("device hours", justify="right")
    table.add_column("ETA", justify="right")
    for r in all_results:
        best = r.best
        hours = device_hours(r)
        eta = eta_seconds(r)
        table.add_row(
            r.name,
            r.spec.label,
            f"{r.count('complete')}/{len(r.configs)}",
            str(r.count("running")),
            str(r.count("waiting")),
            str(r.count("failed")),
            str(r.count("pruned")),
            best.name if best else "",
            f"{_pct(best.dev_mean)} ± {_pct(best.dev_std)}" if best else "",
            f"{hours:.2f}",
            _duration(eta) if eta else "",
        )
    return table


def trials_table(results: StudyResults) -> Table:
    seeds = results.spec.seeds
    table = Table(title=f"{results.name}: {results.spec.model}", title_justify="left")
    table.add_column("trial", justify="right")
    table.add_column("state", no_wrap=True)
    table.add_column("configuration", no_wrap=True)
    table.add_column("seeds", justify="right")
    for seed in seeds:
        table.add_column(f"seed {seed}", justify="right")
    for column in ("mean", "std", "wall time"):
        table.add_column(column, justify="right")
    table.add_column("note")
    for c in results.all_trials:
        table.add_row(*_trial_row(c, seeds))
    return table


def _trial_row(c: ConfigResult, seeds: Sequence[int]) -> list[str]:
    by_seed = {r.seed: r for r in c.runs}
    cells = []
    for seed in seeds:
        run = by_seed.get(seed)
        cells.append("" if run is None else _pct(run.dev_f1) + ("" if run.complete else "*"))
    style = STATE_STYLE.get(c.state, "")
    return [
        str(c.trial_number),
        f"[{style}]{c.state}[/]" if style else c.state,
        c.name,
        f"{len(c.finished_runs)}/{len(seeds)}",
        *cells,
        _pct(c.dev_mean) if c.finished_runs else "",
        _pct(c.dev_std) if c.finished_runs else "",
        _duration(c.wall_time_s),
        c.note[:60],
    ]
