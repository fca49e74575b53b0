"""Rendering: the recipe's sections, the comparison table in every format, the cost summary."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

import pytest

from hpsearch.errors import UsageError
from hpsearch.results import (
    FORMATS,
    comparison_rows,
    cost_summary,
    recipe_sections,
    render_comparison,
    render_cost,
)
from hpsearch.search import ConfigResult, SeedResult


def config(
    name: str,
    dev: Sequence[float],
    test: Sequence[float] | None = None,
    *,
    state: str = "complete",
    planned: int | None = None,
    wall_s: float = 60.0,
) -> ConfigResult:
    """A configuration whose seed ``i + 1`` has a two-epoch curve ending in ``dev[i]``."""
    tests: Sequence[float | None] = test if test is not None else [None] * len(dev)
    runs = tuple(
        SeedResult(seed=i + 1, dev_curve=(d - 0.01, d), test_f1=t, wall_time_s=wall_s)
        for i, (d, t) in enumerate(zip(dev, tests, strict=True))
    )
    return ConfigResult(name=name, seeds_planned=tuple(range(1, (planned or len(dev)) + 1)), runs=runs, state=state)


# The paper's BERT grid (dev F1 per seed); test scores made up.
BERT = [
    config("wsFalse-bs4-e10-lr5e-05", [0.8548, 0.8456, 0.8476, 0.8711, 0.8475]),
    config("wsFalse-bs4-e10-lr3e-05", [0.8709, 0.8551, 0.8517, 0.8605, 0.8500]),
    config(
        "wsFalse-bs8-e10-lr5e-05", [0.8660, 0.8599, 0.8612, 0.8496, 0.8592], [0.8410, 0.8350, 0.8470, 0.8390, 0.8430]
    ),
    config("wsFalse-bs8-e10-lr3e-05", [0.8531, 0.8380, 0.8473, 0.8687, 0.8514]),
]
# A second model, still running: one complete configuration, one at 2/5 seeds, one pruned after 1.
HMBERT = [
    config(
        "wsFalse-bs4-e10-lr3e-05", [0.8700, 0.8650, 0.8720, 0.8680, 0.8750], [0.8300, 0.8350, 0.8250, 0.8320, 0.8280]
    ),
    config("wsFalse-bs8-e10-lr3e-05", [0.8500, 0.8600], state="running", planned=5),
    config("wsFalse-bs16-e10-lr3e-05", [0.5000], state="pruned", planned=5),
]
STUDIES = [("BERT", BERT, None), ("hmBERT", HMBERT, None)]


def test_recipe_sections_match_the_recipe() -> None:
    assert recipe_sections(BERT, debug=True) == (
        "Debug: {'wsFalse-bs4-e10-lr5e-05': [0.8548, 0.8456, 0.8476, 0.8711, 0.8475], "
        "'wsFalse-bs4-e10-lr3e-05': [0.8709, 0.8551, 0.8517, 0.8605, 0.85], "
        "'wsFalse-bs8-e10-lr5e-05': [0.866, 0.8599, 0.8612, 0.8496, 0.8592], "
        "'wsFalse-bs8-e10-lr3e-05': [0.8531, 0.838, 0.8473, 0.8687, 0.8514]}\n"
        "Averaged Development Results:\n"
        "wsFalse-bs8-e10-lr5e-05 : 85.92\n"
        "wsFalse-bs4-e10-lr3e-05 : 85.76\n"
        "wsFalse-bs4-e10-lr5e-05 : 85.33\n"
        "wsFalse-bs8-e10-lr3e-05 : 85.17\n"
        "\n"
        "Best configuration: wsFalse-bs8-e10-lr5e-05\n"
        "\n"
        "Best Development Score: 85.92\n"
        "\n"
        "Test F1 (best configuration): 84.10 ± 0.40\n"
    )


def test_recipe_sections_keep_incomplete_and_pruned_apart() -> None:
    # 87.0, not 87.00: the recipe prints round(x * 100, 2).
    assert recipe_sections(HMBERT) == (
        "Averaged Development Results:\n"
        "wsFalse-bs4-e10-lr3e-05 : 87.0\n"
        "wsFalse-bs8-e10-lr3e-05 : incomplete (2/5 seeds)\n"
        "\n"
        "Pruned or failed:\n"
        "wsFalse-bs16-e10-lr3e-05 : pruned (1/5 seeds)\n"
        "\n"
        "Best configuration: wsFalse-bs4-e10-lr3e-05\n"
        "\n"
        "Best Development Score: 87.0\n"
        "\n"
        "Test F1 (best configuration): 83.00 ± 0.34\n"
    )


def test_recipe_sections_before_any_configuration_is_complete() -> None:
    text = recipe_sections([config("wsFalse-bs8-e10-lr5e-05", [0.9], state="running", planned=5)])

    assert "wsFalse-bs8-e10-lr5e-05 : incomplete (1/5 seeds)" in text
    assert "Best configuration: none yet" in text
    assert "Best Development Score: -" in text
    assert "90" not in text


def test_comparison_markdown() -> None:
    # BERT: mean 85.918, std sqrt(1.42888 / 5) = 0.5346; test 84.10 ± 0.40 (best test, bold).
    # hmBERT: dev 87.00 ± 0.34 (best dev, bold); 5 + 2 + 1 runs done of 5 + 5 + 1 (pruned stops at 1).
    assert render_comparison(STUDIES, "markdown") == (
        "| Model  | Best Configuration        | Run 1 | Run 2 | Run 3 | Run 4 | Run 5 "
        "| Averaged F1-Score | Test F1          | Status             |\n"
        "| ------ | ------------------------- | ----- | ----- | ----- | ----- | ----- "
        "| ----------------- | ---------------- | ------------------ |\n"
        "| BERT   | `wsFalse-bs8-e10-lr5e-05` | 86.60 | 85.99 | 86.12 | 84.96 | 85.92 "
        "| 85.92 ± 0.53      | **84.10 ± 0.40** | done               |\n"
        "| hmBERT | `wsFalse-bs4-e10-lr3e-05` | 87.00 | 86.50 | 87.20 | 86.80 | 87.50 "
        "| **87.00 ± 0.34**  | 83.00 ± 0.34     | running: 8/11 runs |\n"
    )


def test_comparison_markdown_without_running_study_has_no_status_column() -> None:
    assert render_comparison([("BERT", BERT, None)], "markdown") == (
        "| Model | Best Configuration        | Run 1 | Run 2 | Run 3 | Run 4 | Run 5 "
        "| Averaged F1-Score | Test F1          |\n"
        "| ----- | ------------------------- | ----- | ----- | ----- | ----- | ----- "
        "| ----------------- | ---------------- |\n"
        "| BERT  | `wsFalse-bs8-e10-lr5e-05` | 86.60 | 85.99 | 86.12 | 84.96 | 85.92 "
        "| **85.92 ± 0.53**  | **84.10 ± 0.40** |\n"
    )


def test_comparison_table() -> None:
    assert render_comparison(STUDIES, "table") == (
        "Model   Best Configuration       Run 1  Run 2  Run 3  Run 4  Run 5  Averaged F1-Score  Test F1       Status\n"
        "------  -----------------------  -----  -----  -----  -----  -----  -----------------  ------------  "
        "------------------\n"
        "BERT    wsFalse-bs8-e10-lr5e-05  86.60  85.99  86.12  84.96  85.92  85.92 ± 0.53       84.10 ± 0.40  done\n"
        "hmBERT  wsFalse-bs4-e10-lr3e-05  87.00  86.50  87.20  86.80  87.50  87.00 ± 0.34       83.00 ± 0.34  "
        "running: 8/11 runs\n"
    )


def test_comparison_csv_carries_unrounded_fractions() -> None:
    rows = list(csv.DictReader(io.StringIO(render_comparison(STUDIES, "csv"))))

    assert list(rows[0]) == [
        "model",
        "best_configuration",
        *(f"run_{i}" for i in range(1, 6)),
        *(f"seed_{i}" for i in range(1, 6)),
        "dev_mean",
        "dev_std",
        "test_mean",
        "test_std",
        "runs_done",
        "runs_planned",
        "status",
    ]
    bert, hmbert = rows
    assert (bert["model"], bert["best_configuration"], bert["status"]) == ("BERT", "wsFalse-bs8-e10-lr5e-05", "")
    assert [float(bert[f"run_{i}"]) for i in range(1, 6)] == [0.866, 0.8599, 0.8612, 0.8496, 0.8592]
    assert [int(bert[f"seed_{i}"]) for i in range(1, 6)] == [1, 2, 3, 4, 5]
    assert float(bert["dev_mean"]) == pytest.approx(0.85918)
    assert float(bert["dev_std"]) == pytest.approx((1.42888e-4 / 5) ** 0.5)
    assert float(bert["test_mean"]) == pytest.approx(0.841)
    assert float(bert["test_std"]) == pytest.approx(0.004)
    assert (bert["runs_done"], bert["runs_planned"]) == ("20", "20")
    assert float(hmbert["dev_mean"]) == pytest.approx(0.87)
    assert float(hmbert["dev_std"]) == pytest.approx((58e-6 / 5) ** 0.5)
    assert (hmbert["runs_done"], hmbert["runs_planned"], hmbert["status"]) == ("8", "11", "running: 8/11 runs")


def test_comparison_json_carries_unrounded_fractions() -> None:
    data = json.loads(render_comparison(STUDIES, "json"))

    assert [d["model"] for d in data] == ["BERT", "hmBERT"]
    bert = data[0]
    assert bert["best_configuration"] == "wsFalse-bs8-e10-lr5e-05"
    assert bert["seeds"] == [1, 2, 3, 4, 5]
    assert bert["dev_scores"] == [0.866, 0.8599, 0.8612, 0.8496, 0.8592]
    assert bert["test_scores"] == [0.841, 0.835, 0.847, 0.839, 0.843]
    assert bert["dev_mean"] == pytest.approx(0.85918)
    assert bert["dev_std"] == pytest.approx(0.0053458, abs=1e-7)
    assert (bert["test_mean"], bert["test_std"]) == (pytest.approx(0.841), pytest.approx(0.004))
    assert bert["status"] == ""
    assert data[1]["status"] == "running: 8/11 runs"


def test_comparison_of_a_study_without_complete_configuration() -> None:
    studies = [("new", [config("wsFalse-bs8-e10-lr5e-05", [0.9], state="running", planned=5)], "waiting")]

    assert (
        render_comparison(studies, "table").splitlines()[2]
        == "new    -                   -                  -        waiting: 1/5 runs"
    )
    assert json.loads(render_comparison(studies, "json"))[0]["dev_mean"] is None
    assert "waiting: 1/5 runs" in render_comparison(studies, "csv")


def test_every_registered_format_renders_and_has_a_help_line() -> None:
    for name, entry in FORMATS.items():
        text = render_comparison(STUDIES, name)
        assert "running: 8/11 runs" in text, name
        assert entry.help and entry.render(comparison_rows(STUDIES)) == text


def test_render_comparison_rejects_unknown_format() -> None:
    with pytest.raises(UsageError, match="format must be one of markdown, csv, json, table"):
        render_comparison(STUDIES, "latex")


def test_cost_summary() -> None:
    summary = cost_summary(HMBERT)

    assert [(c.name, c.runs, c.epochs_trained, c.wall_time_s) for c in summary.configs] == [
        ("wsFalse-bs4-e10-lr3e-05", 5, 10, 300.0),
        ("wsFalse-bs8-e10-lr3e-05", 2, 4, 120.0),
        ("wsFalse-bs16-e10-lr3e-05", 1, 2, 60.0),
    ]
    assert (summary.runs, summary.epochs_trained, summary.wall_time_s) == (8, 16, 480.0)
    # A complete trial planned what it trained; the pruned one planned 5 seeds x 10 epochs.
    assert (summary.epochs_planned, summary.epochs_saved) == (60, 48)
    assert summary.saved_fraction == pytest.approx(0.8)
    assert render_cost(summary) == (
        "Trial  Configuration             State     Runs  Epochs  Wall time\n"
        "       wsFalse-bs4-e10-lr3e-05   complete     5   10/10     5m 00s\n"
        "       wsFalse-bs8-e10-lr3e-05   running      2       4     2m 00s\n"
        "       wsFalse-bs16-e10-lr3e-05  pruned       1    2/50     1m 00s\n"
        "total                                         8      16     8m 00s\n"
        "pruning saved 80% of the finished trials' epochs (48 of 60; about 24m 00s at this study's time per epoch)\n"
    )
