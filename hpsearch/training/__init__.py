"""Training one seed of one configuration with Flair: corpora, the recipe's settings and the work savings,
hooks, the random-stream accounting, the fit loop, and the ``Trainer`` a worker calls.

Importing this package imports neither Flair nor torch (the dashboard and the CLI import it);
training does, when a run starts.
"""

from __future__ import annotations

from hpsearch.training._corpus import (
    TrainingData,
)
from hpsearch.training._data import (
    check_data_dir,
    hipe_file_name,
    label_dictionary,
    load_corpus,
    load_dataset,
)
from hpsearch.training._hooks import (
    RunHooks,
    RunInterrupted,
    RunPruned,
)
from hpsearch.training._options import (
    RECIPE,
    RECIPE_EVAL_BATCH_SIZE,
    RecipeSettings,
    TrainingOptions,
)
from hpsearch.training._packing import (
    packable,
    skip_padding,
)
from hpsearch.training._pretrained import (
    PretrainedCache,
)
from hpsearch.training._rng import (
    evaluation_draws,
)
from hpsearch.training._train import (
    amp_dtype,
    train_seed,
)
from hpsearch.training._trainer import (
    FlairTrainer,
    Trainer,
)

__all__ = [
    "RECIPE",
    "RECIPE_EVAL_BATCH_SIZE",
    "FlairTrainer",
    "PretrainedCache",
    "RecipeSettings",
    "RunHooks",
    "RunInterrupted",
    "RunPruned",
    "Trainer",
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
