"""How numbers read in every table, note and progress line: scores ×100, mean ± std, durations.

No hpsearch imports, so that every layer (worker progress, results, dashboard) can use it.
Scores are 0..1 floats; each caller says what a missing value (None or NaN) shows as.
"""

from __future__ import annotations

import math


def _missing(x: float | None) -> bool:
    return x is None or math.isnan(x)


def pct(score: float | None, missing: str = "") -> str:
    """A 0..1 score as a percentage with two decimals: ``0.8592`` -> ``85.92``."""
    return missing if _missing(score) else f"{100 * score:.2f}"  # type: ignore[operator]


def pm(mean: float | None, std: float | None, missing: str = "-") -> str:
    """Mean ± standard deviation as percentages: ``85.92 ± 0.52``; ``missing`` when there is no mean."""
    return missing if _missing(mean) else f"{pct(mean, missing)} ± {pct(std, missing)}"


def duration(seconds: float) -> str:
    """``3725`` -> ``1h 02m 05s``; ``65`` -> ``1m 05s``; ``5.4`` -> ``5s``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def short_duration(seconds: float) -> str:
    """A table cell: ``3725`` -> ``1h02m``, ``65`` -> ``1m05s``; empty for no time (0 or NaN)."""
    if seconds <= 0 or math.isnan(seconds):
        return ""
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s"


def clock(seconds: float) -> str:
    """A clock reading for progress lines: ``3725`` -> ``1:02:05``; negative times read ``0:00:00``."""
    minutes, s = divmod(max(0, round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}"
