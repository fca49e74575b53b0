"""Reading the recipe's Flair run folders, on training.log files written in Flair 0.15's format."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hpsearch.errors import DataError, NotFoundError
from hpsearch.results import collect_runs, parse_run_name, read_training_log, recipe_sections

LINE = "-" * 100
START = datetime(2024, 5, 1, 10, 0, 0)
MODEL_DIR = "hipe2022-flert-fine-tune-ajmc/en-bigscience-historical-texts"
MODEL = "bert-base-blbooks-cased"
SEEDS = (1, 2, 3, 4, 5)

# The paper's BERT runs (dev F1 per seed) and made-up test scores.
BERT_DEV = {
    (4, 5e-05): (0.8548, 0.8456, 0.8476, 0.8711, 0.8475),
    (4, 3e-05): (0.8709, 0.8551, 0.8517, 0.8605, 0.8500),
    (8, 5e-05): (0.8660, 0.8599, 0.8612, 0.8496, 0.8592),
    (8, 3e-05): (0.8531, 0.8380, 0.8473, 0.8687, 0.8514),
}
BERT_TEST = {(8, 5e-05): (0.8410, 0.8350, 0.8470, 0.8390, 0.8430)}

RECIPE_OUTPUT = """\
Averaged Development Results:
wsFalse-bs8-e10-lr5e-05 : 85.92
wsFalse-bs4-e10-lr3e-05 : 85.76
wsFalse-bs4-e10-lr5e-05 : 85.33
wsFalse-bs8-e10-lr3e-05 : 85.17

Best configuration: wsFalse-bs8-e10-lr5e-05

Best Development Score: 85.92

Test F1 (best configuration): 84.10 ± 0.40
"""


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S,") + f"{when.microsecond // 1000:03d}"


def write_training_log(
    path: Path,
    dev: Sequence[float],
    test_f1: float | None = None,
    *,
    epoch_s: float = 60.0,
    device: str = "cuda:0",
) -> Path:
    """Write a training.log as Flair 0.15's ModelTrainer does: header, epochs, final test block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = START
    lines = [
        f"{_stamp(t)} {LINE}",
        f'{_stamp(t)} Model: "SequenceTagger(',
        "  (embeddings): TransformerWordEmbeddings()",
        ')"',
        f"{_stamp(t)} {LINE}",
        f"{_stamp(t)} Training Params:",
        f'{_stamp(t)}  - learning_rate: "5e-05" ',
        f'{_stamp(t)}  - mini_batch_size: "8"',
        f"{_stamp(t)} {LINE}",
        f"{_stamp(t)}  - metric: \"('micro avg', 'f1-score')\"",
        f"{_stamp(t)} Computation:",
        f"{_stamp(t)}  - compute on device: {device}",
        f"{_stamp(t)}  - embedding storage: none",
        f"{_stamp(t)} {LINE}",
    ]
    for epoch, score in enumerate(dev, start=1):
        t += timedelta(seconds=epoch_s)
        lines += [
            f"{_stamp(t)} {LINE}",
            f"{_stamp(t)} epoch {epoch} - iter 9/90 - loss 0.41234567 - time (sec): 5.10 - samples/sec: 141.00"
            " - lr: 0.000050 - momentum: 0.000000",
            f"{_stamp(t)} {LINE}",
            f"{_stamp(t)} EPOCH {epoch} done: loss 0.1234 - lr: 0.000045",
            f"{_stamp(t)} DEV : loss 0.2712345678 - f1-score (micro avg)  {score}",
            f"{_stamp(t)} saving best model",
        ]
    if test_f1 is not None:
        t += timedelta(seconds=epoch_s / 2)
        lines += [
            f"{_stamp(t)} {LINE}",
            f"{_stamp(t)} Loading model from best epoch ...",
            f"{_stamp(t)} ",
            "Results:",
            f"- F-score (micro) {test_f1}",
            "- F-score (macro) 0.4411",
            "- Accuracy 0.4102",
            "",
            "By class:",
            "              precision    recall  f1-score   support",
            "",
            "         loc     0.6000    0.5000    0.5455        10",
            "",
            "   micro avg     0.9999    0.9999    0.9999        10",
            "   macro avg     0.6000    0.5000    0.5455        10",
            "",
            f"{_stamp(t)} {LINE}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _curve(best: float, epochs: int = 10) -> list[float]:
    """A dev curve rising to ``best`` at epoch 7, then slightly lower."""
    curve = [round(best - 0.02 * (7 - e), 4) for e in range(1, 8)]
    return curve + [round(best - 0.001 * k, 4) for k in range(1, epochs - 6)]


def run_dir(root: Path, bs: int, lr: float, seed: int, *, model_dir: str = MODEL_DIR, model: str = MODEL) -> Path:
    return root / model_dir / f"{model}-bs{bs}-wsFalse-e10-lr{lr}-layers-1-crfFalse-{seed}"


def write_bert_runs(root: Path) -> None:
    for (bs, lr), scores in BERT_DEV.items():
        tests = BERT_TEST.get((bs, lr), (0.83,) * 5)
        for seed, score, test in zip(SEEDS, scores, tests, strict=True):
            write_training_log(run_dir(root, bs, lr, seed) / "training.log", _curve(score), test)


def test_read_training_log_reads_dev_curve_and_final_test_score(tmp_path: Path) -> None:
    log = read_training_log(write_training_log(tmp_path / "training.log", [0.5322, 0.61, 0.5999], 0.5406))

    assert (log.dev_curve, log.test_f1) == ((0.5322, 0.61, 0.5999), 0.5406)


def test_read_training_log_wall_time_and_device(tmp_path: Path) -> None:
    log = read_training_log(write_training_log(tmp_path / "training.log", [0.5, 0.6], 0.55, device="cpu"))

    assert log.wall_time_s == pytest.approx(150.0)  # two 60 s epochs and the 30 s test
    assert log.device == "cpu"


def test_training_log_without_test_block_or_dev_line(tmp_path: Path) -> None:
    a = read_training_log(write_training_log(tmp_path / "a.log", [0.5, 0.6]))
    b = read_training_log(write_training_log(tmp_path / "b.log", []))
    assert (a.dev_curve, a.test_f1) == ((0.5, 0.6), None)
    assert (b.dev_curve, b.test_f1) == ((), None)


@pytest.mark.parametrize(
    ("name", "config_name", "seed", "prefix"),
    [
        (f"{MODEL}-bs8-wsFalse-e10-lr5e-05-layers-1-crfFalse-3", "wsFalse-bs8-e10-lr5e-05", 3, MODEL),
        (f"{MODEL}-bs4-wsFalse-e10-lr3e-05-2", "wsFalse-bs4-e10-lr3e-05", 2, MODEL),  # older runs
        (
            f"{MODEL}-bs8-wsFalse-e10-lr5e-05-layers-1,-2,-3,-4-crfTrue-1",
            "wsFalse-bs8-e10-lr5e-05-layers-1,-2,-3,-4-crfTrue",
            1,
            MODEL,
        ),
        (
            "hmbench-x-bs4-ws64-e5-lr0.00016-poolingmean-layers-1-crfFalse-42",
            "ws64-bs4-e5-lr0.00016-poolingmean",
            42,
            "hmbench-x",
        ),
    ],
)
def test_parse_run_name(name: str, config_name: str, seed: int, prefix: str) -> None:
    parsed = parse_run_name(name)

    assert parsed is not None
    config, got_seed, got_prefix = parsed
    assert (config.name, got_seed, got_prefix) == (config_name, seed, prefix)


def test_parse_run_name_rejects_other_folders() -> None:
    assert parse_run_name("bert-base-blbooks-cased") is None
    assert parse_run_name("runs") is None


def test_collect_runs_reproduces_the_recipe_output(tmp_path: Path) -> None:
    write_bert_runs(tmp_path)

    scan = collect_runs(f"{MODEL_DIR}/{MODEL}-*", tmp_path)

    assert scan.warnings == ()
    assert scan.prefixes == (f"{MODEL_DIR}/{MODEL}",)
    assert {r.name for r in scan.results} == {
        "wsFalse-bs4-e10-lr5e-05",
        "wsFalse-bs4-e10-lr3e-05",
        "wsFalse-bs8-e10-lr5e-05",
        "wsFalse-bs8-e10-lr3e-05",
    }
    best = next(r for r in scan.results if r.name == "wsFalse-bs8-e10-lr5e-05")
    assert best.seeds_planned == SEEDS
    assert best.dev_scores == list(BERT_DEV[(8, 5e-05)])
    assert best.state == "complete"
    assert best.runs[0].dev_curve[6] == 0.866  # epoch 7 is the best epoch
    assert best.epochs_trained == 50
    assert best.wall_time_s == pytest.approx(5 * 630.0)
    assert recipe_sections(scan.results) == RECIPE_OUTPUT


@pytest.mark.parametrize(
    "pattern",
    [
        "**/*-bs*",
        "**/training.log",
        f"**/{MODEL}-*",
        "hipe2022-flert-fine-tune-ajmc",  # a folder above the run folders
        "hipe2022-flert-fine-tune-ajmc/en-*",
    ],
)
def test_collect_runs_natural_globs(tmp_path: Path, pattern: str) -> None:
    write_bert_runs(tmp_path)

    scan = collect_runs(pattern, tmp_path)

    assert sorted(len(r.runs) for r in scan.results) == [5, 5, 5, 5]
    assert recipe_sections(scan.results) == RECIPE_OUTPUT


def test_collect_runs_absolute_pattern(tmp_path: Path) -> None:
    write_bert_runs(tmp_path)

    scan = collect_runs(f"{tmp_path}/{MODEL_DIR}/{MODEL}-*", Path("/nonexistent"))

    assert len(scan.results) == 4


def test_collect_runs_other_layers_and_crf_are_other_configs(tmp_path: Path) -> None:
    for seed in (1, 2):
        write_training_log(run_dir(tmp_path, 8, 5e-05, seed) / "training.log", [0.80], 0.79)
        crf = tmp_path / MODEL_DIR / f"{MODEL}-bs8-wsFalse-e10-lr5e-05-layers-1,-2-crfTrue-{seed}"
        write_training_log(crf / "training.log", [0.90], 0.89)

    scan = collect_runs(f"{MODEL_DIR}/{MODEL}-*", tmp_path)

    by_name = {r.name: r for r in scan.results}
    assert by_name["wsFalse-bs8-e10-lr5e-05"].dev_scores == [0.80, 0.80]
    assert by_name["wsFalse-bs8-e10-lr5e-05-layers-1,-2-crfTrue"].dev_scores == [0.90, 0.90]
    assert by_name["wsFalse-bs8-e10-lr5e-05-layers-1,-2-crfTrue"].params["use_crf"] is True


def test_collect_runs_warns_about_a_folder_without_training_log(tmp_path: Path) -> None:
    write_bert_runs(tmp_path)
    empty = run_dir(tmp_path, 16, 5e-05, 1)
    empty.mkdir()

    scan = collect_runs(f"{MODEL_DIR}/{MODEL}-*", tmp_path)

    assert len(scan.warnings) == 1
    assert str(empty) in scan.warnings[0] and "no training.log" in scan.warnings[0]
    assert "wsFalse-bs16-e10-lr5e-05" not in {r.name for r in scan.results}
    assert recipe_sections(scan.results) == RECIPE_OUTPUT


def test_collect_runs_a_run_without_dev_score_is_incomplete(tmp_path: Path) -> None:
    write_bert_runs(tmp_path)
    for seed in (1, 2, 3):
        write_training_log(run_dir(tmp_path, 16, 5e-05, seed) / "training.log", [0.95] * 10, 0.95)
    write_training_log(run_dir(tmp_path, 16, 5e-05, 4) / "training.log", [])  # just started
    write_training_log(run_dir(tmp_path, 16, 5e-05, 5) / "training.log", [0.99, 0.99])  # epoch 3 running

    scan = collect_runs(f"{MODEL_DIR}/{MODEL}-*", tmp_path)

    partial = next(r for r in scan.results if r.name == "wsFalse-bs16-e10-lr5e-05")
    assert partial.state == "running"
    assert not partial.is_complete
    assert [r.complete for r in partial.runs] == [True, True, True, False, False]
    assert partial.dev_scores == [0.95, 0.95, 0.95]
    assert any("no dev score yet" in w for w in scan.warnings)
    text = recipe_sections(scan.results)
    assert "wsFalse-bs16-e10-lr5e-05 : incomplete (3/5 seeds)" in text
    assert "Best configuration: wsFalse-bs8-e10-lr5e-05" in text


def test_collect_runs_nothing_matched_is_a_not_found_error(tmp_path: Path) -> None:
    write_bert_runs(tmp_path)

    with pytest.raises(NotFoundError, match=r"no Flair run folders match 'roberta-\*'") as info:
        collect_runs("roberta-*", tmp_path)
    assert "\n" not in str(info.value)


def test_collect_runs_only_folders_without_logs_is_a_data_error(tmp_path: Path) -> None:
    run_dir(tmp_path, 8, 5e-05, 1).mkdir(parents=True)

    with pytest.raises(DataError, match=r"has a training\.log"):
        collect_runs("**/*-bs*", tmp_path)


def test_collect_runs_several_models_are_pooled_with_a_warning(tmp_path: Path) -> None:
    write_training_log(run_dir(tmp_path, 8, 5e-05, 1) / "training.log", [0.8], 0.8)
    write_training_log(run_dir(tmp_path, 8, 5e-05, 1, model="roberta") / "training.log", [0.7], 0.7)
    write_training_log(run_dir(tmp_path, 8, 5e-05, 2, model="roberta") / "training.log", [0.7], 0.7)

    scan = collect_runs("**/*-bs*", tmp_path)

    assert len(scan.prefixes) == 2
    assert any("second run" in w for w in scan.warnings)
    assert any("2 models" in w for w in scan.warnings)
    assert [r.seed for r in scan.results[0].runs] == [1, 2]
