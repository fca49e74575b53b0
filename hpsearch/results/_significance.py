"""Which differences in a report are real: each configuration against the study's best, each model
against the best model, and the expected best dev F1 against search budget.

The statistics themselves live in :mod:`hpsearch.search._statistics`; this module applies them to
:class:`~hpsearch.search.ConfigResult` lists and renders them. Scores are 0..1 floats except in
rendered text, where they are ×100. See docs/statistics.md for what each number means.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hpsearch.errors import UsageError
from hpsearch.formatting import pct
from hpsearch.results._recipe import best_config, ranked
from hpsearch.search import (
    ALPHA,
    TIED,
    WORSE,
    ConfigResult,
    PairedComparison,
    UnpairedComparison,
    compare_to_best,
    compare_unpaired,
    expected_best_curve,
    too_few_seeds_note,
)

BEST = "best"
SHORT_VERDICT = {BEST: "best", TIED: "tied", WORSE: "worse"}
"""How the narrow places (status table, dashboard leaderboard) spell each verdict."""


def check_options(alpha: float, budget: int | None = None) -> None:
    """Validate ``--alpha`` and ``--budget``.

    Raises:
        UsageError: ``alpha`` outside (0, 1) or ``budget`` below 1.
    """
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be between 0 and 1 (exclusive), but got {alpha:g}.")
    if budget is not None and budget < 1:
        raise UsageError(f"--budget must be at least 1, but got {budget}.")


def _seed_scores(result: ConfigResult) -> dict[int, float]:
    return {r.seed: r.dev_f1 for r in result.finished_runs}


def _signed(score: float) -> str:
    return f"{100 * score:+.2f}"


def _interval(ci: tuple[float, float]) -> str:
    return f"[{_signed(ci[0])}, {_signed(ci[1])}]"


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else value


def config_comparisons(
    results: Sequence[ConfigResult], *, alpha: float = ALPHA
) -> list[tuple[ConfigResult, PairedComparison]]:
    """Every configuration with a finished seed against the best complete one, paired by seed.

    The ranked complete configurations come first, then incomplete, pruned and failed ones (on the
    seeds they share with the best). The best itself and configurations sharing no seed with it are
    left out; nothing is returned while no configuration is complete.
    """
    best = best_config(results)
    if best is None:
        return []
    scores = _seed_scores(best)
    complete = ranked(results)
    others = complete[1:] + [r for r in results if not r.is_complete and r.finished_runs]
    pairs = []
    for other in others:
        comparison = compare_to_best(scores, _seed_scores(other), alpha=alpha)
        if comparison is not None:
            pairs.append((other, comparison))
    return pairs


def verdicts(results: Sequence[ConfigResult], *, alpha: float = ALPHA) -> dict[str, str]:
    """``best``, ``tied with the best`` or ``worse`` by configuration name; empty while none is complete."""
    best = best_config(results)
    if best is None:
        return {}
    found = {best.name: BEST}
    found.update((c.name, comparison.verdict) for c, comparison in config_comparisons(results, alpha=alpha))
    return found


def expected_best(results: Sequence[ConfigResult], budget: int | None = None) -> list[float]:
    """Expected best mean dev F1 of ``n = 1 .. budget`` trials drawn from the complete ones (Dodge et al.).

    Only complete configurations count: a pruned or unfinished one has no mean over all its seeds.
    ``budget`` defaults to the number of complete configurations.
    """
    return expected_best_curve([r.dev_mean for r in ranked(results)], budget)


def significance_section(results: Sequence[ConfigResult], *, alpha: float = ALPHA) -> str:
    """Each configuration against the best, as aligned text, then the expected-best curve.

    Example output::

        Against the best (dev F1 paired by seed, one-sided sign-flip test, alpha=0.05):
        Configuration            Δ vs best  95% CI          p       Verdict             Seeds paired
        wsFalse-bs4-e10-lr3e-05  -0.15      [-1.01, +0.64]  0.4062  tied with the best  5

        Expected best dev F1 at n trials: n=1: 85.55  n=2: 85.74  n=3: 85.84  n=4: 85.88
    """
    best = best_config(results)
    title = f"Against the best (dev F1 paired by seed, one-sided sign-flip test, alpha={alpha:g}):"
    if best is None:
        return f"{title}\nnone yet (no configuration has all its seeds)\n"
    pairs = config_comparisons(results, alpha=alpha)
    if not pairs:
        return f"{title}\nno other configuration has a seed in common with the best\n"
    headers = ["Configuration", "Δ vs best", "95% CI", "p", "Verdict", "Seeds paired"]
    rows = [
        [c.name, _signed(cmp.delta), _interval(cmp.ci95), f"{cmp.p_value:.4g}", cmp.verdict, str(cmp.seeds_paired)]
        for c, cmp in pairs
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [title]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() for cells in [headers, *rows]]
    notes = sorted({cmp.seeds_paired for _, cmp in pairs if cmp.too_few_seeds})
    lines += [f"note: {too_few_seeds_note(n, alpha)}" for n in notes]
    curve = expected_best(results)
    lines += ["", "Expected best dev F1 at n trials: " + "  ".join(f"n={n}: {pct(v)}" for n, v in enumerate(curve, 1))]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ModelStatistics:
    """One model's statistics in the comparison table; scores are 0..1 floats.

    Attributes:
        comparison: Its best configuration's runs against the best model's, unpaired; None for the
            best model itself and for a model without a complete configuration.
        is_best: Whether this is the model with the best mean dev F1.
        expected_best: Expected best mean dev F1 at ``n = 1 .. budget`` trials.
        budget: The trial budget of the table's "expected best at n trials" column.
        configurations: Each of its configurations against its own best, paired by seed.
        tied: Its complete configurations tied with its best, the best included.
        complete: Its complete configurations.
        alpha: The level of every verdict.
    """

    comparison: UnpairedComparison | None
    is_best: bool
    expected_best: tuple[float, ...]
    budget: int
    configurations: tuple[tuple[str, PairedComparison], ...]
    tied: int = 0
    complete: int = 0
    alpha: float = ALPHA

    @property
    def verdict(self) -> str:
        """``best``, ``tied with the best``, ``worse``, or empty for a model with nothing complete."""
        if self.is_best:
            return BEST
        return self.comparison.verdict if self.comparison else ""

    @property
    def expected_at_budget(self) -> float:
        return self.expected_best[self.budget - 1] if self.budget and self.expected_best else math.nan

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields: 0..1 floats, unrounded, null where missing."""
        c = self.comparison
        return {
            "delta_vs_best": 0.0 if self.is_best else (c.delta if c else None),
            "delta_ci95": [0.0, 0.0] if self.is_best else (list(c.ci95) if c else None),
            "p_value": _clean(c.p_value) if c else None,
            "verdict": self.verdict or None,
            "runs_compared": list(c.runs) if c else None,
            "alpha": self.alpha,
            "budget": self.budget,
            "expected_best_at_budget": _clean(self.expected_at_budget),
            "expected_best": list(self.expected_best),
            "configurations_tied": self.tied,
            "configurations_complete": self.complete,
            "configurations": [
                {
                    "configuration": name,
                    "delta_vs_best": cmp.delta,
                    "delta_ci95": list(cmp.ci95),
                    "p_value": cmp.p_value,
                    "verdict": cmp.verdict,
                    "seeds_paired": cmp.seeds_paired,
                }
                for name, cmp in self.configurations
            ],
        }

    def cells(self) -> list[str]:
        """The text cells under :func:`statistics_headers`, ×100."""
        c = self.comparison
        if self.is_best:
            delta, p = "best", "-"
        elif c is None:
            delta, p = "-", "-"
        else:
            delta = f"{_signed(c.delta)} {_interval(c.ci95)}"
            p = "-" if math.isnan(c.p_value) else f"{c.p_value:.4g}"
        expected = pct(self.expected_at_budget, "-")
        tied = f"{self.tied}/{self.complete}" if self.complete else "-"
        return [delta, p, self.verdict or "-", expected, tied]

    def csv_cells(self) -> list[str]:
        """The cells under :data:`CSV_HEADERS`: unrounded 0..1 floats, empty where missing."""
        data = self.to_dict()
        ci = data["delta_ci95"] or ["", ""]

        def num(value: float | str | None) -> str:
            return "" if value is None or value == "" else repr(value)

        return [
            num(data["delta_vs_best"]),
            num(ci[0]),
            num(ci[1]),
            num(data["p_value"]),
            data["verdict"] or "",
            str(self.budget),
            num(data["expected_best_at_budget"]),
        ]


CSV_HEADERS = (
    "delta_vs_best",
    "delta_ci95_low",
    "delta_ci95_high",
    "p_value",
    "verdict",
    "budget",
    "expected_best_at_budget",
)


def statistics_headers(statistics: ModelStatistics) -> list[str]:
    """The text and markdown column headers of :meth:`ModelStatistics.cells`."""
    return [
        "Δ vs best (95% CI)",
        "p",
        "Verdict",
        f"Expected best at {statistics.budget} trial{'s' if statistics.budget != 1 else ''}",
        "Configs tied",
    ]


def default_budget(studies: Sequence[Sequence[ConfigResult]]) -> int:
    """The smallest number of complete configurations among the studies that have one (at least 1)."""
    counts = [len(ranked(results)) for results in studies if ranked(results)]
    return min(counts, default=1)


def model_statistics(
    studies: Sequence[tuple[str, Sequence[ConfigResult]]], *, alpha: float = ALPHA, budget: int | None = None
) -> list[ModelStatistics]:
    """Each model's best configuration against the best model's, unpaired, in row order.

    Args:
        studies: ``(model label, configurations)`` per model.
        alpha: The level of every verdict.
        budget: Trials for the "expected best at n trials" column; default :func:`default_budget`.

    Raises:
        UsageError: ``alpha`` outside (0, 1) or ``budget`` below 1.
    """
    check_options(alpha, budget)
    n = budget if budget is not None else default_budget([configs for _, configs in studies])
    bests = [best_config(configs) for _, configs in studies]
    complete = [b for b in bests if b is not None]
    leader = max(complete, key=lambda b: b.dev_mean) if complete else None
    found = []
    for (_, configs), best in zip(studies, bests, strict=True):
        is_best = best is not None and best is leader
        comparison = None
        if best is not None and leader is not None and not is_best:
            comparison = compare_unpaired(leader.dev_scores, best.dev_scores, alpha=alpha)
        pairs = config_comparisons(configs, alpha=alpha)
        tied = sum(c.is_complete and cmp.verdict == TIED for c, cmp in pairs) + (best is not None)
        found.append(
            ModelStatistics(
                comparison=comparison,
                is_best=is_best,
                expected_best=tuple(expected_best(configs, n)),
                budget=n,
                configurations=tuple((c.name, cmp) for c, cmp in pairs),
                tied=tied,
                complete=len(ranked(configs)),
                alpha=alpha,
            )
        )
    return found
