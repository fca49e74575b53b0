"""Seed statistics in the reports: the section after the recipe's, the comparison columns, status,
the dashboard leaderboard's mark and the expected-best figure."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console

from hpsearch.dashboard import leaderboard_markdown
from hpsearch.errors import UsageError
from hpsearch.results import (
    figure_size_px,
    model_statistics,
    plot_study,
    recipe_sections,
    render_comparison,
    significance_section,
    trials_table,
    verdicts,
)
from hpsearch.results._budget import render_expected_best
from hpsearch.search import TIED, GridSpace, StudySpec
from hpsearch.store import StudyResults
from tests.results.test_report import BERT, HMBERT, STUDIES, config


def test_the_recipes_bert_grid_is_tied_with_its_best() -> None:
    # By hand (tests/search/test_statistics.py): p = 13/32, 6/32, 5/32 with 5 paired seeds each.
    assert significance_section(BERT).splitlines()[:5] == [
        "Against the best (dev F1 paired by seed, one-sided sign-flip test, alpha=0.05):",
        "Configuration            Δ vs best  95% CI          p       Verdict             Seeds paired",
        "wsFalse-bs4-e10-lr3e-05  -0.15      [-0.84, +0.56]  0.4062  tied with the best  5",
        "wsFalse-bs4-e10-lr5e-05  -0.59      [-1.35, +0.79]  0.1875  tied with the best  5",
        "wsFalse-bs8-e10-lr3e-05  -0.75      [-1.75, +0.63]  0.1562  tied with the best  5",
    ]
    assert "note:" not in significance_section(BERT)
    assert verdicts(BERT) == {
        "wsFalse-bs8-e10-lr5e-05": "best",
        "wsFalse-bs4-e10-lr3e-05": TIED,
        "wsFalse-bs4-e10-lr5e-05": TIED,
        "wsFalse-bs8-e10-lr3e-05": TIED,
    }


def test_the_section_follows_the_unchanged_recipe_sections() -> None:
    recipe = recipe_sections(BERT)
    assert recipe.endswith("Test F1 (best configuration): 84.10 ± 0.40\n")
    assert "Expected best dev F1 at n trials: n=1: 85.55  n=2: 85.71  n=3: 85.80  n=4: 85.84" in (
        significance_section(BERT)
    )


def test_few_shared_seeds_are_said_and_pruned_trials_pair_what_they_have() -> None:
    text = significance_section(HMBERT)
    assert "wsFalse-bs8-e10-lr3e-05   -1.25" in text and "tied with the best  2" in text
    assert "wsFalse-bs16-e10-lr3e-05  -37.00" in text and "tied with the best  1" in text
    assert "note: 1 paired seed cannot separate anything at alpha=0.05: the smallest possible p is 2^-1" in text
    assert "note: 2 paired seeds cannot separate" in text


def test_section_before_any_complete_configuration() -> None:
    running = [config("a", [0.9], state="running", planned=5)]
    assert "none yet" in significance_section(running)
    assert verdicts(running) == {}


def test_a_clearly_worse_configuration_is_worse() -> None:
    worse = config("worse", [s - 0.01 for s in (0.8660, 0.8599, 0.8612, 0.8496, 0.8592)])
    assert verdicts([*BERT, worse])["worse"] == "worse"
    assert "p < 0.05" not in significance_section([*BERT, worse])
    assert "0.03125" in significance_section([*BERT, worse], alpha=0.05)
    assert verdicts([*BERT, worse], alpha=0.01)["worse"] == TIED


def test_comparison_without_alpha_is_unchanged_and_with_it_has_the_columns() -> None:
    assert "Verdict" not in render_comparison(STUDIES, "markdown")
    table = render_comparison(STUDIES, "markdown", alpha=0.05)
    header = table.splitlines()[0]
    assert "Δ vs best (95% CI)" in header and "| Verdict |" in header
    assert "Expected best at 1 trial " in header  # hmBERT has one complete configuration
    assert header.rstrip(" |").endswith("Status")
    # BERT's best (85.92) against hmBERT's (87.00), 5 runs each, unpaired: exact over 252 splits.
    bert = table.splitlines()[2]
    assert "-1.08 [" in bert and "| 0.007937 | worse " in bert and "| 4/4 " in bert
    assert "| best " in table.splitlines()[3]


def test_comparison_json_and_csv_fields() -> None:
    rows = json.loads(render_comparison(STUDIES, "json", alpha=0.05, budget=3))
    bert, hmbert = rows
    assert bert["verdict"] == "worse" and hmbert["verdict"] == "best"
    assert bert["p_value"] == pytest.approx(2 / 252)
    assert bert["delta_vs_best"] == pytest.approx(-0.01082)
    assert bert["delta_ci95"][0] < bert["delta_vs_best"] < bert["delta_ci95"][1]
    assert bert["budget"] == 3 and len(bert["expected_best"]) == 3
    assert bert["expected_best_at_budget"] == bert["expected_best"][-1]
    assert [c["seeds_paired"] for c in hmbert["configurations"]] == [2, 1]
    assert {c["verdict"] for c in bert["configurations"]} == {TIED}
    assert bert["configurations_tied"] == 4 and hmbert["configurations_tied"] == 1
    assert hmbert["delta_vs_best"] == 0.0 and hmbert["p_value"] is None

    table = list(csv.DictReader(io.StringIO(render_comparison(STUDIES, "csv", alpha=0.05))))
    assert table[0]["verdict"] == "worse" and table[1]["verdict"] == "best"
    assert float(table[0]["p_value"]) == pytest.approx(2 / 252)
    assert table[0]["budget"] == "1"


def test_budget_and_alpha_are_checked() -> None:
    with pytest.raises(UsageError, match="--budget must be at least 1"):
        model_statistics([("BERT", BERT)], budget=0)
    with pytest.raises(UsageError, match="--alpha must be between 0 and 1"):
        model_statistics([("BERT", BERT)], alpha=1.0)


def test_status_marks_tied_and_worse() -> None:
    worse = config("bad", [0.5, 0.5, 0.5, 0.5, 0.5])
    configs = (*BERT, worse)
    results = StudyResults(name="s", spec=_spec(), configs=configs, all_trials=configs)
    console = Console(width=400, record=True)
    console.print(trials_table(results))
    text = console.export_text()
    assert "vs best" in text
    marks = [line.split()[-1] for line in text.splitlines()[2:] if line.strip()]  # the last column, row by row
    assert marks == ["tied", "tied", "best", "tied", "worse"]


def test_dashboard_leaderboard_marks_tied() -> None:
    board = leaderboard_markdown(BERT)
    assert "| vs best |" in board.splitlines()[0]
    assert board.count("| tied |") == 3 and board.count("| best |") == 1


def test_expected_best_figure_has_one_row_size(tmp_path: Path) -> None:
    out = plot_study({"BERT": BERT, "hmBERT": HMBERT, "none": []}, tmp_path / "b.png", render=render_expected_best)
    with Image.open(out) as image:
        assert image.size == figure_size_px(1)
    lines = render_expected_best({"BERT": BERT, "hmBERT": HMBERT}).axes[0].get_lines()
    assert [len(line.get_xdata()) for line in lines] == [4, 1]


def _spec() -> StudySpec:
    return StudySpec(
        model="org/m", label="m", space=GridSpace(learning_rates=(1e-3,), batch_sizes=(4,)), seeds=(1, 2, 3, 4, 5)
    )
