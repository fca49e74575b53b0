"""The search domain: dimensions, configurations, spaces, study specs, config files, the model zoo,
pruning rules and result types. Pure: no Optuna runtime, no Flair, no storage."""

from __future__ import annotations

from hpsearch.search._pruning import (
    Curve,
    NoPruner,
    PairedPruner,
    SeedPruner,
    TrialCurves,
    WilcoxonPruner,
    make_pruner,
)
from hpsearch.search._results import (
    ConfigResult,
    SeedResult,
    mean,
    population_std,
)
from hpsearch.search._space import (
    DIMENSIONS,
    Config,
    GridSpace,
    Range,
    SampledSpace,
    wide_space,
)
from hpsearch.search._spec import (
    HIPE_VERSION,
    DatasetRef,
    StudySpec,
    is_t5,
    load_config,
    load_space,
    named_space,
    parse_seeds,
    resolve_model,
    spec_for_preset,
    spec_from_options,
)
from hpsearch.search._zoo import (
    PRESETS,
    check_hub_model,
)

__all__ = [
    "DIMENSIONS",
    "HIPE_VERSION",
    "PRESETS",
    "Config",
    "ConfigResult",
    "Curve",
    "DatasetRef",
    "GridSpace",
    "NoPruner",
    "PairedPruner",
    "Range",
    "SampledSpace",
    "SeedPruner",
    "SeedResult",
    "StudySpec",
    "TrialCurves",
    "WilcoxonPruner",
    "check_hub_model",
    "is_t5",
    "load_config",
    "load_space",
    "make_pruner",
    "mean",
    "named_space",
    "parse_seeds",
    "population_std",
    "resolve_model",
    "spec_for_preset",
    "spec_from_options",
    "wide_space",
]
