"""What ``hpsearch status`` shows: studies at a glance, or one study's trials."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from hpsearch.formatting import pct, pm, short_duration
from hpsearch.results._significance import SHORT_VERDICT, verdicts
from hpsearch.search import ConfigResult, Range, SampledSpace, SeedProgress, StudySpec
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
    times = _EpochTimes()
    for c in results.all_trials:
        times.add(c)
    left = [c for c in results.configs if c.state in _UNFINISHED]
    return _time_left(times, left, results.spec, workers or max(1, results.count("running")))


class LiveEta:
    """:func:`eta_seconds` of one study, asked again and again by a worker (its live view's study ETA).

    A finished trial's runs are counted once, when first seen; a later call steps over it with one set
    lookup and otherwise costs what the trials queued and running cost. Gives what
    ``eta_seconds(study_results(...))`` gives.

    Example:
        >>> eta = LiveEta(spec)  # doctest: +SKIP
        >>> eta.seconds(live_trial_results(study, spec))  # doctest: +SKIP
        5400.0
    """

    def __init__(self, spec: StudySpec) -> None:
        self._spec = spec
        self._finished = _EpochTimes()
        self._counted: set[int | None] = set()  # numbers of the finished trials in _finished
        self._latest: dict[str, int] = {}  # configuration name -> its latest finished trial's number
        self._complete: set[str] = set()  # names with a complete finished trial

    def seconds(self, trials: Sequence[ConfigResult]) -> float | None:
        """The study's remaining time; ``trials``: all of its trials, in number order."""
        unfinished = []
        for c in trials:
            if c.state in _UNFINISHED:
                unfinished.append(c)
            elif c.trial_number not in self._counted:
                self._counted.add(c.trial_number)
                self._finished.add(c)
                self._latest[c.name] = max(self._latest.get(c.name, -1), c.trial_number or 0)
                if c.state == "complete":
                    self._complete.add(c.name)
        times = self._finished.copy()
        latest: dict[str, ConfigResult] = {}  # name -> its latest queued or running trial
        for c in unfinished:
            times.add(c)
            latest[c.name] = c
        # study_results' choice: a configuration's latest complete trial, else its latest trial.
        left = [
            c
            for name, c in latest.items()
            if name not in self._complete and (c.trial_number or 0) > self._latest.get(name, -1)
        ]
        return _time_left(times, left, self._spec, max(1, sum(1 for c in left if c.state == "running")))


_UNFINISHED = ("waiting", "running")


class _EpochTimes:
    """Seconds and epochs trained, by cost kind; a run stored in several trials (a retry keeps the seeds
    its failed trial finished) counts once."""

    def __init__(self, base: _EpochTimes | None = None) -> None:
        self.totals: dict[tuple[object, object], list[float]] = (
            {} if base is None else {kind: list(total) for kind, total in base.totals.items()}
        )
        self._seen: set[tuple[object, ...]] = set()
        self._base_seen = set() if base is None else base._seen  # read, never changed

    def add(self, c: ConfigResult) -> None:
        """The configuration's stored runs, and its seed in training."""
        kind = _cost_kind(c)
        for r in c.runs:
            key = (c.name, r.seed, r.wall_time_s, r.dev_curve)
            if r.dev_curve and r.wall_time_s > 0 and key not in self._seen and key not in self._base_seen:
                self._seen.add(key)
                self._count(kind, r.wall_time_s, len(r.dev_curve))
        training = _in_training(c)
        if training is not None and training.epochs_done and training.seconds > 0:
            self._count(kind, training.seconds, training.epochs_done)

    def _count(self, kind: tuple[object, object], seconds: float, epochs: float) -> None:
        total = self.totals.setdefault(kind, [0.0, 0.0])
        total[0] += seconds
        total[1] += epochs

    def copy(self) -> _EpochTimes:
        """A copy to add to, leaving this one (made without a base) as it is."""
        return _EpochTimes(self)


def _time_left(times: _EpochTimes, left: Sequence[ConfigResult], spec: StudySpec, workers: int) -> float | None:
    """The epochs left of ``left`` (the configurations queued or running) at ``times``' pace, over ``workers``."""
    if not times.totals:
        return None
    study_wide = [sum(t[0] for t in times.totals.values()), sum(t[1] for t in times.totals.values())]
    seconds_left = 0.0
    for c in left:
        seconds, epochs = times.totals.get(_cost_kind(c), study_wide)
        seeds_left = max(0, len(c.seeds_planned) - len(c.finished_runs))
        planned = _planned_epochs(c, spec)
        training = _in_training(c)
        done = min(training.epochs_done, planned) if training is not None and seeds_left else 0
        seconds_left += (seeds_left * planned - done) * seconds / epochs
    if seconds_left <= 0:
        return None
    return seconds_left / workers


def _in_training(c: ConfigResult) -> SeedProgress | None:
    """The running trial's seed in training, unless that seed is finished already (its progress is then stale)."""
    if c.state != "running" or c.progress is None:
        return None
    return None if c.progress.seed in {r.seed for r in c.finished_runs} else c.progress


def _cost_kind(c: ConfigResult) -> tuple[object, object]:
    """What the time per epoch depends on most: batch size and context size (None where not drawn yet)."""
    return c.params.get("batch_size"), c.params.get("context_size")


def _planned_epochs(c: ConfigResult, spec: StudySpec) -> int:
    """The configuration's epochs; for one not drawn yet, the most its space allows."""
    if "epochs" in c.params:
        return int(c.params["epochs"])
    space = spec.space
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
