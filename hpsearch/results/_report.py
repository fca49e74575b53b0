"""Rendering results: the recipe's sections, a comparison table across models, a cost summary.

Pure functions over :class:`~hpsearch.search._results.ConfigResult` lists; nothing here reads a study.
Scores are 0..1 floats everywhere except in rendered text, where they are ×100.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from hpsearch.errors import SpecError
from hpsearch.search import ConfigResult

FORMATS = ("markdown", "csv", "json", "table")
_STOPPED = ("pruned", "failed")


def _recipe_round(score: float) -> str:
    """The recipe prints ``round(score * 100, 2)``: ``85.92``, but ``84.6`` rather than ``84.60``."""
    return str(round(score * 100, 2))


def _pct(score: float) -> str:
    return f"{score * 100:.2f}"


def _pm(mean: float, std: float) -> str:
    return "-" if math.isnan(mean) else f"{_pct(mean)} ± {_pct(std)}"


def ranked(results: Sequence[ConfigResult]) -> list[ConfigResult]:
    """The complete configurations, best mean dev score first (ties keep their order)."""
    complete = [r for r in results if r.is_complete]
    return sorted(complete, key=lambda r: r.dev_mean, reverse=True)


def best_config(results: Sequence[ConfigResult]) -> ConfigResult | None:
    """The complete configuration with the best mean dev score; None while none is complete."""
    ordered = ranked(results)
    return ordered[0] if ordered else None


def _progress(result: ConfigResult) -> str:
    return f"{len(result.finished_runs)}/{len(result.seeds_planned)} seeds"


def recipe_sections(results: Sequence[ConfigResult], debug: bool = False) -> str:
    """The recipe parser's output, plus the best configuration's test F1.

    Example output::

        Averaged Development Results:
        wsFalse-bs8-e10-lr5e-05 : 85.92
        wsFalse-bs4-e10-lr3e-05 : 85.76
        wsFalse-bs4-e10-lr1e-05 : incomplete (3/5 seeds)

        Best configuration: wsFalse-bs8-e10-lr5e-05

        Best Development Score: 85.92

        Test F1 (best configuration): 84.10 ± 0.52

    Numbers in the recipe's sections are printed as the recipe does (``round(x * 100, 2)``).
    Incomplete configurations are listed after the ranked ones and never averaged in; pruned
    and failed ones get a section of their own.

    Args:
        results: The configurations of one study or one log scan.
        debug: Also print the dev score of each seed per configuration, as the recipe's ``Debug:`` line.
    """
    lines: list[str] = []
    if debug:
        scores = {r.name: r.dev_scores for r in results}
        lines.append(f"Debug: {scores}")
    lines.append("Averaged Development Results:")
    ordered = ranked(results)
    lines += [f"{r.name} : {_recipe_round(r.dev_mean)}" for r in ordered]
    lines += [
        f"{r.name} : incomplete ({_progress(r)})" for r in results if not r.is_complete and r.state not in _STOPPED
    ]
    stopped = [r for r in results if r.state in _STOPPED]
    if stopped:
        lines += ["", "Pruned or failed:"]
        lines += [f"{r.name} : {r.state} ({_progress(r)})" for r in stopped]
    best = ordered[0] if ordered else None
    lines.append("")
    lines.append(f"Best configuration: {best.name if best else 'none yet (no configuration has all its seeds)'}")
    lines.append("")
    lines.append(f"Best Development Score: {_recipe_round(best.dev_mean) if best else '-'}")
    if best is not None:
        lines.append("")
        if best.test_scores:
            lines.append(f"Test F1 (best configuration): {_pm(best.test_mean, best.test_std)}")
        else:
            lines.append("Test F1 (best configuration): no test score recorded")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ComparisonRow:
    """One model's line in the comparison table; scores are 0..1 floats (NaN when missing).

    ``status`` is empty when every configuration has finished, else e.g. ``running: 12/20 runs``.
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
        # A pruned or failed configuration will get no more runs.
        planned = sum(len(r.finished_runs) if r.state in _STOPPED else len(r.seeds_planned) for r in results)
        unfinished = any(not r.is_complete and r.state not in _STOPPED for r in results) or not results
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
    if any(r.status for r in rows):
        headers.append("Status")
    return headers, n_runs


def _cells(row: ComparisonRow, n_runs: int, with_status: bool, *, markdown: bool = False) -> list[str]:
    runs = [_pct(v) for v in row.dev_scores] + ["-"] * (n_runs - len(row.dev_scores))
    config = row.best_config or "-"
    if markdown and row.best_config:
        config = f"`{config}`"
    cells = [row.model, config, *runs, _pm(row.dev_mean, row.dev_std), _pm(row.test_mean, row.test_std)]
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


def comparison_rich(rows: Sequence[ComparisonRow], title: str | None = None) -> Table:
    """The comparison as a rich Table, for the CLI to print."""
    headers, n_runs = _headers(rows)
    with_status = headers[-1] == "Status"
    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if 2 <= i < 2 + n_runs else "left")
    for row in rows:
        cells = _cells(row, n_runs, with_status)
        table.add_row(*_emphasise(cells, n_runs, _best_keys(rows, row), "[bold]", "[/bold]"))
    return table


def comparison_csv(rows: Sequence[ComparisonRow]) -> str:
    """CSV with every number unrounded as a 0..1 float; empty cells where there is none.

    Columns: model, best_configuration, run_1..run_N (dev F1 per seed, seed order), seed_1..seed_N,
    dev_mean, dev_std, test_mean, test_std (std with ddof=0), runs_done, runs_planned, status.
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
            ]
        )
    return buffer.getvalue()


def comparison_json(rows: Sequence[ComparisonRow]) -> str:
    """JSON list of :meth:`ComparisonRow.to_dict`: 0..1 floats, unrounded, null where missing."""
    return json.dumps([r.to_dict() for r in rows], indent=2) + "\n"


def render_comparison(studies: Sequence[StudyInput], fmt: str = "markdown") -> str:
    """The comparison table across models in one of :data:`FORMATS`.

    Args:
        studies: ``(model label, configurations, state or None)`` per model, in row order.
        fmt: ``markdown``, ``csv``, ``json`` or ``table`` (plain aligned text).

    Raises:
        SpecError: Unknown format.
    """
    renderers = {
        "markdown": comparison_markdown,
        "csv": comparison_csv,
        "json": comparison_json,
        "table": comparison_text,
    }
    if fmt not in renderers:
        raise SpecError(f"format must be one of {', '.join(FORMATS)}, but got {fmt!r}.")
    return renderers[fmt](comparison_rows(studies))


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


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1h 02m 05s``; ``65`` -> ``1m 05s``; ``5.4`` -> ``5s``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


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
            format_duration(c.wall_time_s),
        ]
        for c in summary.configs
        if c.runs or c.state != "waiting"  # a sampled study's queued trials have cost nothing yet
    ]
    total_epochs = str(summary.epochs_trained)
    rows.append(["total", "", "", str(summary.runs), total_epochs, format_duration(summary.wall_time_s)])
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
            f"{format_duration(summary.epochs_saved * per_epoch)} at this study's time per epoch)\n"
        )
    return text
