"""The stored trial record: every attribute key hpsearch writes, its codec, and the run-folder layout.

This module is the one owner of these names; nothing else spells them. Changing one changes the
stored format: studies written by earlier releases must keep loading (tests/store/test_record.py).

Study user attributes:
    ``hpsearch:spec`` the study spec (``StudySpec.to_dict``);
    ``hpsearch:creation`` how many trials ``create`` queues and whether it finished queueing them
    (``{"n_queued": 12, "finished": true}``; studies of earlier releases have none: finished).

Trial user attributes (the dashboard shows them):
    ``config`` the configuration's name; ``run_dir`` the trial's run folder;
    ``seed:<n>`` one seed's result (``SeedResult``), written as soon as the seed finishes;
    ``progress`` the seed in training: ``{"seed": 2, "epochs_done": 3, "seconds": 412.5}``, stored
    at an epoch's end at most once a minute (``status`` estimates the ETA from it);
    ``fail_reason`` / ``prune_reason`` why a trial failed or was pruned;
    the summary of a finished trial (``summary_attrs``); ``imported_from`` for imported runs.
    ``host``, ``pid`` and, under SLURM, ``slurm_job_id``, ``slurm_array_job_id``, ``slurm_array_task_id``:
    where the trial last started (``worker_attrs``).

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

from hpsearch.errors import UsageError
from hpsearch.search import SeedProgress, SeedResult, mean, population_std

SPEC_ATTR = "hpsearch:spec"
CREATION_ATTR = "hpsearch:creation"
METRIC_NAME = "dev F1 (mean over seeds)"

CONFIG_ATTR = "config"
RUN_DIR_ATTR = "run_dir"
FAIL_REASON_ATTR = "fail_reason"
PRUNE_REASON_ATTR = "prune_reason"
PAUSED_ATTR = "paused_at"
"""Why a WAITING trial paused at a rung (``--pruner rungs``); null once it was promoted."""
IMPORTED_ATTR = "imported_from"
VERSIONS_ATTR = "versions"
SEED_ATTR_PREFIX = "seed:"
PROGRESS_ATTR = "progress"

RETRY_OF_ATTR = "hpsearch:retry_of"
RETRIES_ATTR = "hpsearch:retries"
REQUEUED_FROM_ATTR = "hpsearch:requeued_from"

HOST_ATTR = "host"
PID_ATTR = "pid"
SLURM_JOB_ATTR = "slurm_job_id"
SLURM_ARRAY_JOB_ATTR = "slurm_array_job_id"
SLURM_ARRAY_TASK_ATTR = "slurm_array_task_id"
SLURM_ENV_ATTRS = {
    "SLURM_JOB_ID": SLURM_JOB_ATTR,
    "SLURM_ARRAY_JOB_ID": SLURM_ARRAY_JOB_ATTR,
    "SLURM_ARRAY_TASK_ID": SLURM_ARRAY_TASK_ATTR,
}
"""Where a trial runs: the worker's host and process, and under SLURM its job and array task (from the environment)."""

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


def encode_progress(progress: SeedProgress) -> dict[str, Any]:
    """A running seed's progress as the JSON-able dict stored under ``progress``."""
    return {"seed": progress.seed, "epochs_done": progress.epochs_done, "seconds": progress.seconds}


def decode_progress(data: object) -> SeedProgress | None:
    """The inverse of ``encode_progress``; None for a missing or malformed value (it is only advice)."""
    if not isinstance(data, Mapping):
        return None
    try:
        return SeedProgress(int(data["seed"]), int(data["epochs_done"]), float(data["seconds"]))
    except (KeyError, TypeError, ValueError):
        return None


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


def worker_attrs(environ: Mapping[str, str], host: str, pid: int) -> dict[str, Any]:
    """Where a trial runs, as user attributes: host, PID and, under SLURM, its job and array task ids."""
    attrs: dict[str, Any] = {HOST_ATTR: host, PID_ATTR: pid}
    attrs.update({key: environ[name] for name, key in SLURM_ENV_ATTRS.items() if environ.get(name)})
    return attrs


def worker_location(user_attrs: Mapping[str, Any]) -> str:
    """``host pid 123 job 45_1``: where a running trial runs (``status``); empty for a trial that never started."""
    if HOST_ATTR not in user_attrs:
        return ""
    text = f"{user_attrs[HOST_ATTR]} pid {user_attrs.get(PID_ATTR, '?')}"
    job = user_attrs.get(SLURM_ARRAY_JOB_ATTR) or user_attrs.get(SLURM_JOB_ATTR)
    if job:
        task = user_attrs.get(SLURM_ARRAY_TASK_ATTR)
        text += f" job {job}" + (f"_{task}" if task is not None and user_attrs.get(SLURM_ARRAY_JOB_ATTR) else "")
    return text


# --- run folders --------------------------------------------------------------------------------


def trial_dir(output_dir: Path, study_name: str, trial_number: int, config_name: str) -> Path:
    return output_dir / study_name / f"trial-{trial_number:04d}-{config_name}"


def contained_trial_dir(output_dir: Path, study_name: str, trial_number: int, config_name: str) -> Path:
    """``trial_dir``, checked to resolve to a folder strictly inside ``output_dir``.

    Older studies may have names such as ``../x`` or ``/abs``, which would put run folders elsewhere.

    Raises:
        UsageError: the run folder would resolve outside ``output_dir``.
    """
    path = trial_dir(output_dir, study_name, trial_number, config_name)
    root = output_dir.resolve()
    resolved = path.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise UsageError(
            f"study {study_name!r} would write its run folder outside --output-dir {output_dir} ({resolved}); "
            "rename the study (letters, digits and . _ -)."
        )
    return path


def seed_dir(trial_root: Path, seed: int) -> Path:
    return trial_root / f"seed-{seed}"


def seed_log_artifact_name(seed: int) -> str:
    """The file name a seed's ``training.log`` is uploaded under in the artifact store."""
    return f"seed-{seed}-{TRAINING_LOG}"


def remove_model_files(run_dir: Path) -> None:
    """Delete one run's model files, keeping its log."""
    for name in MODEL_FILES:
        (run_dir / name).unlink(missing_ok=True)


def remove_run_models(trial_root: Path) -> None:
    """Delete the model files of every seed of a trial, keeping logs."""
    if trial_root.is_dir():
        for run_dir in trial_root.iterdir():
            remove_model_files(run_dir)
