"""The study figure: a PNG (or an HTML page embedding it) of a fixed pixel size."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from PIL import Image

from hpsearch.errors import UsageError
from hpsearch.results import figure_size_px, plot_study
from hpsearch.search import ConfigResult, SeedResult


def config(name: str, best: list[float], *, state: str = "complete", planned: int = 5) -> ConfigResult:
    runs = tuple(
        SeedResult(seed=i + 1, dev_curve=tuple(b - 0.02 * (4 - e) for e in range(5)), test_f1=b - 0.01)
        for i, b in enumerate(best)
    )
    return ConfigResult(name=name, seeds_planned=tuple(range(1, planned + 1)), runs=runs, state=state)


RESULTS = {
    "BERT": [
        config("wsFalse-bs8-e10-lr5e-05", [0.8660, 0.8599, 0.8612, 0.8496, 0.8592]),
        config("wsFalse-bs8-e10-lr3e-05", [0.8531, 0.8380, 0.8473, 0.8687, 0.8514]),
    ],
    "hmBERT": [
        config("wsFalse-bs4-e10-lr3e-05", [0.87, 0.865]),
        config("wsFalse-bs16-e10-lr3e-05", [0.5], state="pruned"),
    ],
}


def test_png_has_the_fixed_size(tmp_path: Path) -> None:
    out = plot_study(RESULTS, tmp_path / "study.png")

    assert out.stat().st_size > 10_000
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == figure_size_px(2) == (1400, 1000)


def test_html_is_an_interactive_plotly_page(tmp_path: Path) -> None:
    out = plot_study({"BERT": RESULTS["BERT"]}, tmp_path / "study.html")

    page = out.read_text(encoding="utf-8")
    assert page.lower().startswith("<!doctype html>") and "plotly" in page.lower() and "Plotly.newPlot" in page
    assert "hpsearch: BERT" in page and "wsFalse-bs8-e10-lr5e-05" in page
    assert "<img alt=" not in page  # not a PNG in a page


def test_top_keeps_the_best_configurations_and_lays_out_without_warnings(tmp_path: Path) -> None:
    many = [
        config(f"wsFalse-bs4-e10-lr{i}e-05-layers-1,-2,-3,-4-poolingfirst_last-crfTrue", [0.5 + i / 100])
        for i in range(40)
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # unclosed connections of earlier tests, collected here
        out = plot_study({"wide": many}, tmp_path / "wide.png", top=10)
    assert [str(w.message) for w in caught] == []
    with Image.open(out) as image:
        assert image.size == figure_size_px(1)
    page = plot_study({"wide": many}, tmp_path / "wide.html", top=3).read_text(encoding="utf-8")
    assert "lr39e-05" in page and "lr37e-05" in page and "lr36e-05" not in page
    with pytest.raises(UsageError, match="--top"):
        plot_study({"wide": many}, tmp_path / "x.png", top=0)


def test_a_model_without_runs_still_plots(tmp_path: Path) -> None:
    out = plot_study({"empty": [], "BERT": RESULTS["BERT"][:1]}, tmp_path / "study.png")

    with Image.open(out) as image:
        assert image.size == figure_size_px(2)


def test_other_suffixes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\.png or \.html"):
        plot_study(RESULTS, tmp_path / "study.svg")
