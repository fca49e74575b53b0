"""Training one seed of one configuration with Flair: corpora, options, hooks, the fit loop."""

from __future__ import annotations

from hpsearch.training._data import (
    check_data_dir,
    hipe_file_name,
    label_dictionary,
    load_corpus,
    load_dataset,
)
from hpsearch.training._packing import (
    packable,
    skip_padding,
)
from hpsearch.training._pretrained import (
    PretrainedCache,
)
from hpsearch.training._train import (
    RECIPE_EVAL_BATCH_SIZE,
    RunHooks,
    RunInterrupted,
    RunPruned,
    TrainingData,
    TrainingOptions,
    amp_dtype,
    evaluation_draws,
    train_seed,
)

__all__ = [
    "RECIPE_EVAL_BATCH_SIZE",
    "PretrainedCache",
    "RunHooks",
    "RunInterrupted",
    "RunPruned",
    "TrainingData",
    "TrainingOptions",
    "amp_dtype",
    "check_data_dir",
    "evaluation_draws",
    "hipe_file_name",
    "label_dictionary",
    "load_corpus",
    "load_dataset",
    "packable",
    "skip_padding",
    "train_seed",
]
