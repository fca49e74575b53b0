"""Only the searched dimensions are Optuna params: the note lists the fixed values, the dashboard's pages the params.

The browser test keeps what its screenshots showed (optuna-dashboard 0.21, a ``--space wide`` study
of 6 trials): Hyperparameter Importance ranks the 7 searched dimensions and no constant; Analytics'
Slice opens on ``Param batch_size`` and offers only searched dimensions; the note's spec shows one
row per searched dimension and a ``Fixed`` row with ``epochs 2, amp False``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from hpsearch.dashboard import spec_markdown
from hpsearch.search import GridSpace, StudySpec, wide_space
from hpsearch.store import create_study, load_study, open_storage
from hpsearch.testing import FakeTrainer
from hpsearch.worker import LineProgress, WorkerOptions, run_worker
from tests.dashboard.test_dashboard import CHROMIUM, _wait_for_url

optuna.logging.set_verbosity(optuna.logging.WARNING)

WIDE = StudySpec(model="org/fake-model", label="fake", space=wide_space(t5=False, epochs=2), seeds=(1,), n_trials=6)
SEARCHED = ["batch_size", "context_size", "layers", "learning_rate", "subtoken_pooling", "use_crf", "warmup_fraction"]
CONSTANTS = ("epochs", "amp")


def test_the_note_shows_a_grids_searched_dimensions_and_then_its_fixed_values() -> None:
    spec = StudySpec(
        model="org/m",
        label="m",
        space=GridSpace(learning_rates=(1e-3, 2e-3), batch_sizes=(4, 8), epochs=(2,), context_sizes=(0, 64)),
        seeds=(1, 2),
    )
    rows = spec_markdown(spec).splitlines()
    start = rows.index("| Search space | grid, 8 configurations × 2 seeds |")
    assert rows[start + 1 :] == [
        "| · learning_rates | 0.001, 0.002 |",
        "| · batch_sizes | 4, 8 |",
        "| · context_sizes | 0, 64 |",
        "| Fixed | epochs 2, layers -1, subtoken_pooling first, use_crf False, warmup_fraction 0.1, amp False |",
    ]


def test_the_note_shows_a_sampled_spaces_ranges_choices_fixed_values_and_pruner() -> None:
    rows = spec_markdown(WIDE).splitlines()
    start = rows.index("| Search space | sampled, 6 configurations × 1 seeds |")
    assert rows[start + 1 :] == [
        "| · learning_rate | 1e-05 to 0.0001, log scale |",
        "| · batch_size | 4, 8, 16 |",
        "| · context_size | 0, 64, 128 |",
        "| · layers | -1, -1,-2,-3,-4 |",
        "| · subtoken_pooling | first, mean, first_last |",
        "| · use_crf | False, True |",
        "| · warmup_fraction | 0 to 0.2 |",
        "| Fixed | epochs 2, amp False |",
        f"| Early stopping | {WIDE.pruner} |",
    ]


def test_a_one_point_grid_has_only_fixed_values_and_a_grids_pruner_shows_when_set() -> None:
    one = StudySpec(model="org/m", label="m", space=GridSpace(learning_rates=(1e-3,), batch_sizes=(4,)), seeds=(1,))
    text = spec_markdown(one)
    assert "· " not in text and "Early stopping" not in text
    assert "| Fixed | learning_rate 0.001, batch_size 4, epochs 10, context_size 0," in text
    pruned = StudySpec(model="org/m", label="m", space=one.space, seeds=(1,), pruner="paired")
    assert "| Early stopping | paired |" in spec_markdown(pruned)


def test_a_wide_study_in_the_browser_shows_only_the_searched_dimensions(tmp_path: Path, sqlite_url: str) -> None:
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])"
    )
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    script = shutil.which("hpsearch", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the hpsearch console script is not installed (pip install -e .)")

    create_study(WIDE, open_storage(sqlite_url), "wide")
    options = WorkerOptions(output_dir=tmp_path / "runs", keep_models="none", handle_signals=False)
    run_worker(sqlite_url, ["wide"], options, trainer=FakeTrainer(), progress=LineProgress(quiet=True))
    study, _ = load_study(open_storage(sqlite_url), "wide")
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    assert all(sorted(t.params) == SEARCHED for t in study.trials)

    env = {**os.environ, "HPSEARCH_STORAGE": sqlite_url, "PYTHONUNBUFFERED": "1"}
    env.pop("HPSEARCH_ARTIFACTS", None)
    proc = subprocess.Popen(
        [script, "dashboard", "--port", "0", "--study", "wide"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _, study_url = _wait_for_url(proc)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(60_000)

            # The study page's Hyperparameter Importance: one bar per searched dimension, no constant.
            page.goto(study_url)
            card = page.locator(".MuiCard-root", has_text="Hyperparameter Importance")
            card.locator(".ytick").first.wait_for()
            ranked = [t.text_content() for t in card.locator(".ytick text").all()]
            assert sorted(ranked) == SEARCHED
            page.screenshot(path=str(tmp_path / "importance.png"), full_page=True)

            # Analytics: Slice opens on a searched dimension, and its selector offers only those.
            page.goto(study_url + "/analytics")
            card = page.locator(".MuiCard-root", has_text="Slice")
            parameter = card.get_by_role("combobox").nth(1)
            parameter.wait_for()
            assert parameter.inner_text() == "Param batch_size"
            parameter.click()
            offered = page.get_by_role("option").all_inner_texts()
            assert offered == [f"Param {name}" for name in SEARCHED]
            page.screenshot(path=str(tmp_path / "analytics.png"))
            page.keyboard.press("Escape")
            body = page.inner_text("body")
            assert all(f"Param {name}" not in body for name in CONSTANTS)

            # The note: the fixed values, which are no longer params.
            page.goto(study_url + "/note")
            page.get_by_text("Leaderboard (top 10)").wait_for()
            fixed = page.get_by_role("row", name=re.compile("^Fixed")).inner_text()
            assert fixed.split("\t") == ["Fixed", "epochs 2, amp False"]
            assert page.get_by_role("row", name=re.compile("^· learning_rate")).inner_text().endswith("log scale")
            page.screenshot(path=str(tmp_path / "note.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"screenshots: {tmp_path / 'importance.png'} {tmp_path / 'analytics.png'} {tmp_path / 'note.png'}")
