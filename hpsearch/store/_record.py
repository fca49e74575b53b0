"""The stored trial record: every attribute key hpsearch writes, its codec, and the run-folder layout.

This module is the one owner of these names; nothing else spells them. Changing one changes the
stored format: studies written by earlier releases must keep loading (tests/store/test_record.py).

Study user attributes:
    ``hpsearch:spec`` the study spec (``StudySpec.to_dict``).

Trial user attributes (the dashboard shows them):
    ``config`` the configuration's name; ``run_dir`` the trial's run folder;
    ``seed:<n>`` one seed's result (``SeedResult``), written as soon as the seed finishes;
    ``fail_reason`` / ``prune_reason`` why a trial failed or was pruned;
    the summary of a finished trial (``summary_attrs``); ``imported_from`` for imported runs.

Trial system attributes (the queue's bookkeeping):
    ``hpsearch:retry_of`` the first trial of a chain of retries; ``hpsearch:retries`` how many;
    ``hpsearch:requeued_from`` the trial this one re-queues.

Run folders: ``<output_dir>/<study>/trial-NNNN-<configuration>/seed-<n>/`` with Flair's
``training.log`` and ``best-model.pt`` (and ``final-model.pt`` where asked for).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hpsearch.search import SeedResult, mean, population_std

SPEC_ATTR = "hpsearch:spec"
METRIC_NAME = "dev F1 (mean over seeds)"

CONFIG_ATTR = "config"
RUN_DIR_ATTR = "run_dir"
FAIL_REASON_ATTR = "fail_reason"
PRUNE_REASON_ATTR = "prune_reason"
IMPORTED_ATTR = "imported_from"
VERSIONS_ATTR = "versions"
SEED_ATTR_PREFIX = "seed:"

RETRY_OF_ATTR = "hpsearch:retry_of"
RETRIES_ATTR = "hpsearch:retries"
REQUEUED_FROM_ATTR = "hpsearch:requeued_from"

REASON_MAX_CHARS = 2000
"""A fail or prune reason is cut to this length before it is stored."""

TRAINING_LOG = "training.log"
BEST_MODEL = "best-model.pt"
FINAL_MODEL = "final-model.pt"
MODEL_FILES = (BEST_MODEL, FINAL_MODEL)
ARTIFACTS_DIRNAME = "artifacts"


# --- per-seed results ---------------------------------------------------------------------------


def seed_attr_key(seed: int) -> str:
    return f"{SEED_ATTR_PREFIX}{seed}"


def encode_seed(result: SeedResult) -> dict[str, Any]:
    """A seed's result as the JSON-able dict stored under ``seed:<n>``."""
    return {
        "seed": result.seed,
        "dev_curve": list(result.dev_curve),
        "test_f1": result.test_f1,
        "wall_time_s": result.wall_time_s,
        "device": result.device,
        "mini_batch_chunk_size": result.mini_batch_chunk_size,
        "complete": result.complete,
        "dev_f1": result.dev_f1,
    }


def decode_seed(data: Mapping[str, Any]) -> SeedResult:
    return SeedResult(
        seed=int(data["seed"]),
        dev_curve=tuple(float(v) for v in data["dev_curve"]),
        test_f1=None if data.get("test_f1") is None else float(data["test_f1"]),
        wall_time_s=float(data.get("wall_time_s", 0.0)),
        device=str(data.get("device", "")),
        mini_batch_chunk_size=data.get("mini_batch_chunk_size"),
        complete=bool(data.get("complete", True)),
    )


def seed_results_from_attrs(user_attrs: Mapping[str, Any]) -> dict[int, SeedResult]:
    """The finished (or pruned) seed runs stored on a trial, by seed."""
    out: dict[int, SeedResult] = {}
    for key, value in user_attrs.items():
        if key.startswith(SEED_ATTR_PREFIX):
            result = decode_seed(value)
            out[result.seed] = result
    return dict(sorted(out.items()))


def summary_attrs(runs: Sequence[SeedResult], seeds: Sequence[int]) -> dict[str, Any]:
    """A finished trial's aggregates, as user attributes (the dashboard shows them)."""
    dev = [r.dev_f1 for r in runs]
    test = [r.test_f1 for r in runs if r.test_f1 is not None]
    return {
        "dev_f1_per_seed": dev,
        "dev_f1_mean": mean(dev),
        "dev_f1_std": population_std(dev),
        "test_f1_per_seed": test,
        "test_f1_mean": mean(test) if test else None,
        "test_f1_std": population_std(test) if test else None,
        "wall_time_s": sum(r.wall_time_s for r in runs),
        "device": ", ".join(sorted({r.device for r in runs if r.device})),
        "seeds": list(seeds),
    }


def reason_text(reason: str) -> str:
    return reason[:REASON_MAX_CHARS]


# --- run folders --------------------------------------------------------------------------------


def trial_dir(output_dir: Path, study_name: str, trial_number: int, config_name: str) -> Path:
    return output_dir / study_name / f"trial-{trial_number:04d}-{config_name}"


def seed_dir(trial_root: Path, seed: int) -> Path:
    return trial_root / f"seed-{seed}"


def remove_model_files(run_dir: Path) -> None:
    """Delete one run's model files, keeping its log."""
    for name in MODEL_FILES:
        (run_dir / name).unlink(missing_ok=True)


def remove_run_models(trial_root: Path) -> None:
    """Delete the model files of every seed of a trial, keeping logs."""
    if trial_root.is_dir():
        for run_dir in trial_root.iterdir():
            remove_model_files(run_dir)

