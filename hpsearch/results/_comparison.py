"""The comparison table across models: one row per model, rendered by one of :data:`FORMATS`.

Pure functions over :class:`~hpsearch.search.ConfigResult` lists; nothing here reads a study.
Scores are 0..1 floats everywhere except in rendered text, where they are ×100. An output format
is one entry in :data:`FORMATS` (its renderer and help line); the CLI's choices and help derive from it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from hpsearch.errors import UsageError
from hpsearch.formatting import pct, pm
from hpsearch.results._recipe import STOPPED, best_config
from hpsearch.results._significance import CSV_HEADERS, ModelStatistics, model_statistics, statistics_headers
from hpsearch.search import ConfigResult

_MISSING = "-"


@dataclass(frozen=True)
class ComparisonRow:
    """One model's line in the comparison table; scores are 0..1 floats (NaN when missing).

    ``status`` is empty when every configuration has finished, else e.g. ``running: 12/20 runs``.
    ``statistics`` (tests against the best model, expected best at a budget) is None unless asked for.
    """

    model: str
    best_config: str | None
    seeds: tuple[int, ...]
    dev_scores: tuple[float, ...]
    dev_mean: float
    dev_std: float
    test_scores: tuple[float, ...]
    test_mean: float
    test_std: float
    runs_done: int
    runs_planned: int
    status: str = ""
    statistics: ModelStatistics | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, with NaN as None."""

        def clean(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {
            "model": self.model,
            "best_configuration": self.best_config,
            "seeds": list(self.seeds),
            "dev_scores": [clean(v) for v in self.dev_scores],
            "dev_mean": clean(self.dev_mean),
            "dev_std": clean(self.dev_std),
            "test_scores": [clean(v) for v in self.test_scores],
            "test_mean": clean(self.test_mean),
            "test_std": clean(self.test_std),
            "runs_done": self.runs_done,
            "runs_planned": self.runs_planned,
            "status": self.status,
            **(self.statistics.to_dict() if self.statistics else {}),
        }


StudyInput = tuple[str, Sequence[ConfigResult], str | None]


def comparison_rows(studies: Sequence[StudyInput]) -> list[ComparisonRow]:
    """One row per model: its best complete configuration's seeds and means.

    Args:
        studies: ``(model label, configurations, state)`` per model. ``state`` names what an
            unfinished study is doing (``running`` when None); a finished one shows no status.
    """
    rows = []
    for model, results, state in studies:
        best = best_config(results)
        runs = best.finished_runs if best else ()
        done = sum(len(r.finished_runs) for r in results)
        planned = sum(len(r.finished_runs) if r.state in STOPPED else len(r.seeds_planned) for r in results)
        unfinished = any(not r.is_complete and r.state not in STOPPED for r in results) or not results
        status = f"{state or 'running'}: {done}/{planned} runs" if unfinished else ""
        rows.append(
            ComparisonRow(
                model=model,
                best_config=best.name if best else None,
                seeds=tuple(r.seed for r in runs),
                dev_scores=tuple(r.dev_f1 for r in runs),
                dev_mean=best.dev_mean if best else math.nan,
                dev_std=best.dev_std if best else math.nan,
                test_scores=tuple(best.test_scores) if best else (),
                test_mean=best.test_mean if best else math.nan,
                test_std=best.test_std if best else math.nan,
                runs_done=done,
                runs_planned=planned,
                status=status,
            )
        )
    return rows


def _headers(rows: Sequence[ComparisonRow]) -> tuple[list[str], int]:
    n_runs = max((len(r.dev_scores) for r in rows), default=0)
    headers = ["Model", "Best Configuration", *(f"Run {i + 1}" for i in range(n_runs))]
    headers += ["Averaged F1-Score", "Test F1"]
    if rows and rows[0].statistics:
        headers += statistics_headers(rows[0].statistics)
    if any(r.status for r in rows):
        headers.append("Status")
    return headers, n_runs


def _cells(row: ComparisonRow, n_runs: int, with_status: bool, *, markdown: bool = False) -> list[str]:
    runs = [pct(v, _MISSING) for v in row.dev_scores] + ["-"] * (n_runs - len(row.dev_scores))
    config = row.best_config or "-"
    if markdown and row.best_config:
        config = f"`{config}`"
    cells = [row.model, config, *runs, pm(row.dev_mean, row.dev_std), pm(row.test_mean, row.test_std)]
    if row.statistics:
        cells += row.statistics.cells()
    if with_status:
        cells.append(row.status or "done")
    return cells


def _emphasise(cells: list[str], n_runs: int, best: set[str], start: str, end: str) -> list[str]:
    """Wrap the averaged dev and test cells of the best row(s) in ``start``/``end``."""
    for offset, key in ((0, "dev"), (1, "test")):
        at = 2 + n_runs + offset
        if key in best and cells[at] != "-":
            cells[at] = f"{start}{cells[at]}{end}"
    return cells


def _best_keys(rows: Sequence[ComparisonRow], row: ComparisonRow) -> set[str]:
    """Which of ``row``'s means (``dev``, ``test``) are the best across rows."""
    keys = set()
    devs = [r.dev_mean for r in rows if not math.isnan(r.dev_mean)]
    tests = [r.test_mean for r in rows if not math.isnan(r.test_mean)]
    if devs and row.dev_mean == max(devs):
        keys.add("dev")
    if tests and row.test_mean == max(tests):
        keys.add("test")
    return keys


def comparison_markdown(rows: Sequence[ComparisonRow]) -> str:
    """A GitHub markdown table, ×100 with two decimals; the best means (dev and test) in bold."""
    headers, n_runs = _headers(rows)
    with_status = headers[-1] == "Status"
    body = []
    for row in rows:
        cells = _emphasise(_cells(row, n_runs, with_status, markdown=True), n_runs, _best_keys(rows, row), "**", "**")
        body.append([cell.replace("|", "\\|") for cell in cells])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(headers), "| " + " | ".join("-" * w for w in widths) + " |"]
    out += [line(b) for b in body]
    return "\n".join(out) + "\n"


def comparison_text(rows: Sequence[ComparisonRow]) -> str:
    """A plain aligned text table (×100, two decimals) for terminals and logs."""
    headers, n_runs = _headers(rows)
    with_status = headers[-1] == "Status"
    body = [_cells(r, n_runs, with_status) for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    out = ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in [headers, *body]]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


def comparison_csv(rows: Sequence[ComparisonRow]) -> str:
    """CSV with every number unrounded as a 0..1 float; empty cells where there is none.

    Columns: model, best_configuration, run_1..run_N (dev F1 per seed, seed order), seed_1..seed_N,
    dev_mean, dev_std, test_mean, test_std (std with ddof=0), runs_done, runs_planned, status; with
    statistics also the columns of ``CSV_HEADERS`` (delta_vs_best ... expected_best_at_budget).
    """
    n_runs = max((len(r.dev_scores) for r in rows), default=0)

    def num(value: float | None) -> str:
        return "" if value is None or math.isnan(value) else repr(value)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "model",
            "best_configuration",
            *(f"run_{i + 1}" for i in range(n_runs)),
            *(f"seed_{i + 1}" for i in range(n_runs)),
            "dev_mean",
            "dev_std",
            "test_mean",
            "test_std",
            "runs_done",
            "runs_planned",
            "status",
            *(CSV_HEADERS if rows and rows[0].statistics else ()),
        ]
    )
    for r in rows:
        pad = [""] * (n_runs - len(r.dev_scores))
        writer.writerow(
            [
                r.model,
                r.best_config or "",
                *(num(v) for v in r.dev_scores),
                *pad,
                *(str(s) for s in r.seeds),
                *pad,
                num(r.dev_mean),
                num(r.dev_std),
                num(r.test_mean),
                num(r.test_std),
                r.runs_done,
                r.runs_planned,
                r.status,
                *(r.statistics.csv_cells() if r.statistics else ()),
            ]
        )
    return buffer.getvalue()


def comparison_json(rows: Sequence[ComparisonRow]) -> str:
    """JSON list of :meth:`ComparisonRow.to_dict`: 0..1 floats, unrounded, null where missing."""
    return json.dumps([r.to_dict() for r in rows], indent=2) + "\n"


class OutputFormat(NamedTuple):
    """A comparison renderer and the line that describes it in ``--help``."""

    render: Callable[[Sequence[ComparisonRow]], str]
    help: str


FORMATS: Mapping[str, OutputFormat] = {
    "markdown": OutputFormat(comparison_markdown, "a GitHub markdown table, best means in bold"),
    "csv": OutputFormat(comparison_csv, "unrounded 0..1 floats, one column per run"),
    "json": OutputFormat(comparison_json, "a list of rows, unrounded 0..1 floats, null where missing"),
    "table": OutputFormat(comparison_text, "plain aligned text"),
}
"""Every output format of the comparison table, by name."""


def render_comparison(
    studies: Sequence[StudyInput], fmt: str = "markdown", *, alpha: float | None = None, budget: int | None = None
) -> str:
    """The comparison table across models in one of :data:`FORMATS`.

    Args:
        studies: ``(model label, configurations, state or None)`` per model, in row order.
        fmt: A key of :data:`FORMATS`.
        alpha: With a level, add each model's test against the best model, the verdict, its
            configurations tied with its best and its expected best at ``budget`` trials.
        budget: Trials for "expected best at n trials"; default the smallest study's complete trials.

    Raises:
        UsageError: Unknown format.
    """
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, but got {fmt!r}.")
    rows = comparison_rows(studies)
    if alpha is not None:
        found = model_statistics([(model, configs) for model, configs, _ in studies], alpha=alpha, budget=budget)
        rows = [dataclasses.replace(row, statistics=s) for row, s in zip(rows, found, strict=True)]
    return FORMATS[fmt].render(rows)
