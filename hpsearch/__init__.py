"""hpsearch: hyperparameter search for fine-tuning Flair NER taggers, as an Optuna service."""

from __future__ import annotations

from hpsearch.errors import (
    DataError,
    HpsearchError,
    NotFoundError,
    SpecError,
    StorageError,
    StudyNotFoundError,
    TrainingError,
    UsageError,
)
from hpsearch.search import (
    Config,
    DatasetRef,
    GridSpace,
    Range,
    SampledSpace,
    StudySpec,
    load_config,
    make_pruner,
    resolve_model,
    spec_for_preset,
    wide_space,
)
from hpsearch.store import create_study, load_study, open_storage, study_results
from hpsearch.worker import WorkerOptions, run_worker

__version__ = "0.1.0"

__all__ = [
    "Config",
    "DataError",
    "DatasetRef",
    "GridSpace",
    "HpsearchError",
    "NotFoundError",
    "Range",
    "SampledSpace",
    "SpecError",
    "StorageError",
    "StudyNotFoundError",
    "StudySpec",
    "TrainingError",
    "UsageError",
    "WorkerOptions",
    "create_study",
    "load_config",
    "load_study",
    "make_pruner",
    "open_storage",
    "resolve_model",
    "run_worker",
    "spec_for_preset",
    "study_results",
    "wide_space",
]
