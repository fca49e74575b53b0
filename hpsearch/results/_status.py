"""What ``hpsearch status`` shows: studies at a glance, or one study's trials."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from hpsearch.formatting import pct, pm, short_duration
from hpsearch.results._significance import SHORT_VERDICT, verdicts
from hpsearch.search import ConfigResult, Range, SampledSpace, SeedProgress
from hpsearch.store import StudyResults

STATE_STYLE = {"complete": "green", "running": "cyan", "waiting": "dim", "failed": "red", "pruned": "yellow"}
# Cells that hold stored text (study names, labels, configurations, reasons) are ``Text``: printed
# literally, never read as Rich markup.


def eta_seconds(results: StudyResults, workers: int | None = None) -> float | None:
    """Remaining time: the epochs left times the measured time per epoch, spread over the workers running now.

    The time per epoch is measured on every stored run (finished or stopped early) and on the
    seeds in training (their stored ``progress``), so it is known once one epoch of any run has
    finished: per batch size and context size where runs of that kind were measured, else over
    the whole study. The epochs left are those of the seeds not yet finished of queued and running
    configurations, less the epochs a seed in training has done (a retry keeps the seeds its failed
    trial finished); with no trial running, one worker is assumed.
    """
    measured: dict[tuple[object, object], list[float]] = {}  # kind -> [seconds, epochs]
    seen: set[tuple[object, ...]] = set()
    for c in results.all_trials:
        for r in c.runs:
            key = (c.name, r.seed, r.wall_time_s, r.dev_curve)
            if r.epochs_done and r.wall_time_s > 0 and key not in seen:
                seen.add(key)
                total = measured.setdefault(_cost_kind(c), [0.0, 0.0])
                total[0] += r.wall_time_s
                total[1] += r.epochs_done
        training = _in_training(c)
        if training is not None and training.epochs_done and training.seconds > 0:
            total = measured.setdefault(_cost_kind(c), [0.0, 0.0])
            total[0] += training.seconds
            total[1] += training.epochs_done
    if not measured:
        return None
    study_wide = [sum(t[0] for t in measured.values()), sum(t[1] for t in measured.values())]
    left = 0.0
    for c in results.configs:
        if c.state in ("waiting", "running"):
            seconds, epochs = measured.get(_cost_kind(c), study_wide)
            seeds_left = max(0, len(c.seeds_planned) - len(c.finished_runs))
            planned = _planned_epochs(c, results)
            training = _in_training(c)
            done = min(training.epochs_done, planned) if training is not None and seeds_left else 0
            left += (seeds_left * planned - done) * seconds / epochs
    if left <= 0:
        return None
    return left / (workers or max(1, results.count("running")))


def _in_training(c: ConfigResult) -> SeedProgress | None:
    """The running trial's seed in training, unless that seed is finished already (its progress is then stale)."""
    if c.state != "running" or c.progress is None:
        return None
    return None if c.progress.seed in {r.seed for r in c.finished_runs} else c.progress


def _cost_kind(c: ConfigResult) -> tuple[object, object]:
    """What the time per epoch depends on most: batch size and context size (None where not drawn yet)."""
    return c.params.get("batch_size"), c.params.get("context_size")


def _planned_epochs(c: ConfigResult, results: StudyResults) -> int:
    """The configuration's epochs; for one not drawn yet, the most its space allows."""
    if "epochs" in c.params:
        return int(c.params["epochs"])
    space = results.spec.space
    domain = space.dimensions["epochs"] if isinstance(space, SampledSpace) else space.values("epochs")
    return int(domain.high if isinstance(domain, Range) else max(domain))  # type: ignore[arg-type]


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
        unfinished = f" (create unfinished: {r.unfinished_create} meant)" if r.unfinished_create is not None else ""
        table.add_row(
            Text(r.name + unfinished),
            Text(r.spec.label),
            f"{r.count('complete')}/{len(r.configs)}",
            str(r.count("running")),
            str(r.count("waiting")),
            str(r.count("failed")),
            str(r.count("pruned")),
            Text(best.name) if best else "",
            pm(best.dev_mean, best.dev_std, "") if best else "",
            f"{hours:.2f}",
            short_duration(eta) if eta else "",
        )
    return table


def trials_table(results: StudyResults) -> Table:
    seeds = results.spec.seeds
    # Scores never wrap; long configuration names (wide spaces) and notes fold instead.
    table = Table(
        title=Text(f"{results.name}: {results.spec.model}"),
        title_justify="left",
        box=None,
        padding=(0, 1, 0, 0),
        header_style="bold",
    )
    table.add_column("trial", justify="right", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("configuration", overflow="fold", min_width=16, ratio=1)
    table.add_column("seeds", justify="right", no_wrap=True)
    for seed in seeds:  # dev F1 per seed
        table.add_column(f"s{seed}" if len(seeds) > 3 else f"seed {seed}", justify="right", no_wrap=True)
    for column in ("mean", "std", "time"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("vs best", no_wrap=True)  # tied/worse by a paired test over seeds, once complete
    table.add_column("note", overflow="fold")
    marks = verdicts(results.configs)
    for c in results.all_trials:
        row = _trial_row(c, seeds)
        mark = "" if c.state == "failed" else SHORT_VERDICT.get(marks.get(c.name, ""), "")
        table.add_row(*row[:-1], mark, row[-1])
    return table


def _trial_row(c: ConfigResult, seeds: Sequence[int]) -> list[str | Text]:
    by_seed = {r.seed: r for r in c.runs}
    cells: list[str | Text] = []
    for seed in seeds:
        run = by_seed.get(seed)
        cells.append("" if run is None else pct(run.dev_f1) + ("" if run.complete else "*"))
    style = STATE_STYLE.get(c.state, "")
    return [
        str(c.trial_number),
        Text(c.state, style=style),
        Text(c.name),
        f"{len(c.finished_runs)}/{len(seeds)}",
        *cells,
        pct(c.dev_mean) if c.finished_runs else "",
        pct(c.dev_std) if c.finished_runs else "",
        short_duration(c.wall_time_s),
        Text(c.note[:60]),
    ]
