"""``import-logs`` is all or nothing (issue 13, item 10): unreadable scores are skipped, failures leave no study."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from hpsearch.errors import SpecError
from hpsearch.results import collect_runs, import_logs

LOG = (
    "2024-01-01 10:00:00,000 - compute on device: cpu\n"
    "2024-01-01 10:00:01,000 DEV : loss 0.1 - f1-score (micro avg)  {dev}\n"
    "2024-01-01 10:00:02,000 Results:\n- F-score (micro) 0.5\n"
)
FOLDER = "hipe2022-flert-fine-tune-ajmc/en-bert-bs8-wsFalse-e10-lr5e-05-{seed}"


def write_run(root: Path, seed: int, dev: str) -> Path:
    log = root / FOLDER.format(seed=seed) / "training.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(LOG.format(dev=dev), encoding="utf-8")
    return log.parent


@pytest.mark.parametrize("dev", ["nan", "NaN", "-", "inf"])
def test_a_run_whose_score_is_not_a_number_is_skipped_with_a_warning_naming_it(tmp_path: Path, dev: str) -> None:
    write_run(tmp_path, 1, "0.61")
    bad = write_run(tmp_path, 2, dev)
    scan = collect_runs("hipe2022-*/*", tmp_path)
    assert [r.seeds_planned for r in scan.results] == [(1,)]
    assert any(str(bad) in w and "not a number" in w for w in scan.warnings)


def test_an_import_of_nan_scores_leaves_only_the_good_runs(storage_url: str, tmp_path: Path) -> None:
    write_run(tmp_path, 1, "0.61")
    write_run(tmp_path, 2, "nan")
    summary = import_logs(storage_url, "hipe2022-*/*", "imported", tmp_path)
    assert summary.created and len(summary.imported) == 1
    trial = optuna.load_study(study_name="imported", storage=storage_url).trials[0]
    assert trial.value == pytest.approx(0.61)


def test_an_import_that_fails_leaves_no_study_behind(storage_url: str, tmp_path: Path, monkeypatch) -> None:
    write_run(tmp_path, 1, "0.61")

    def fail(*_args: object, **_kwargs: object) -> None:
        raise SpecError("cannot add these trials")

    monkeypatch.setattr(optuna.Study, "add_trials", fail)
    with pytest.raises(SpecError):
        import_logs(storage_url, "hipe2022-*/*", "imported", tmp_path)
    monkeypatch.undo()
    assert "imported" not in [s.study_name for s in optuna.get_all_study_summaries(storage_url)]


def test_an_import_with_a_bad_study_name_writes_nothing(storage_url: str, tmp_path: Path) -> None:
    from hpsearch.errors import UsageError

    write_run(tmp_path, 1, "0.61")
    with pytest.raises(UsageError, match="study name"):
        import_logs(storage_url, "hipe2022-*/*", "../escape", tmp_path)
    if storage_url.startswith("sqlite"):
        assert not Path(storage_url.removeprefix("sqlite:///")).exists() or not optuna.get_all_study_summaries(
            storage_url
        )
