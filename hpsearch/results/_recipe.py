"""The recipe's report: its ranked dev scores, its best configuration, and that configuration's test F1.

Pure functions over :class:`~hpsearch.search.ConfigResult` lists; nothing here reads a study.
Scores are 0..1 floats everywhere except in rendered text, where they are ×100.
"""

from __future__ import annotations

from collections.abc import Sequence

from hpsearch.formatting import pm
from hpsearch.search import ConfigResult

# A pruned or failed configuration gets no more runs.
STOPPED = ("pruned", "failed")


def _recipe_round(score: float) -> str:
    """The recipe prints ``round(score * 100, 2)``: ``85.92``, but ``84.6`` rather than ``84.60``."""
    return str(round(score * 100, 2))


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
        f"{r.name} : incomplete ({_progress(r)})" for r in results if not r.is_complete and r.state not in STOPPED
    ]
    stopped = [r for r in results if r.state in STOPPED]
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
            lines.append(f"Test F1 (best configuration): {pm(best.test_mean, best.test_std)}")
        else:
            lines.append("Test F1 (best configuration): no test score recorded")
    return "\n".join(lines) + "\n"
