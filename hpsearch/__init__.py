"""hpsearch: hyperparameter search for fine-tuning Flair NER taggers, as an Optuna service."""

from __future__ import annotations

from hpsearch.errors import DataError, HpsearchError, SpecError, StorageError, StudyNotFoundError, TrainingError
from hpsearch.pruning import make_pruner
from hpsearch.spaces import Config, GridSpace, Range, SampledSpace, wide_space
from hpsearch.spec import DatasetRef, StudySpec, load_config, resolve_model, spec_for_preset
from hpsearch.storage import open_storage
from hpsearch.study import create_study, load_study, study_results
from hpsearch.worker import WorkerOptions, run_worker

__version__ = "0.1.0"

__all__ = [
    "Config",
    "DataError",
    "DatasetRef",
    "GridSpace",
    "HpsearchError",
    "Range",
    "SampledSpace",
    "SpecError",
    "StorageError",
    "StudyNotFoundError",
    "StudySpec",
    "TrainingError",
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
