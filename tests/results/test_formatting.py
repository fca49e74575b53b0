"""The number formats every table, note and progress line shares (hpsearch.formatting)."""

from __future__ import annotations

import math

import pytest

from hpsearch.formatting import clock, duration, pct, pm, short_duration


def test_pct_is_times_100_with_two_decimals_and_missing_as_told() -> None:
    assert pct(0.8592) == "85.92"
    assert pct(0.846) == "84.60"
    assert pct(None) == pct(math.nan) == ""
    assert pct(math.nan, "–") == "–"


def test_pm_is_mean_plus_minus_std_or_missing() -> None:
    assert pm(0.87, 0.0034) == "87.00 ± 0.34"
    assert pm(math.nan, math.nan) == "-"
    assert pm(math.nan, 0.1, "–") == "–"


@pytest.mark.parametrize(("seconds", "text"), [(5.4, "5s"), (65, "1m 05s"), (3725, "1h 02m 05s")])
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(0, ""), (math.nan, ""), (65, "1m05s"), (3725, "1h02m")])
def test_short_duration_for_table_cells(seconds: float, text: str) -> None:
    assert short_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(-3, "0:00:00"), (65.4, "0:01:05"), (3725, "1:02:05")])
def test_clock_for_progress_lines(seconds: float, text: str) -> None:
    assert clock(seconds) == text
