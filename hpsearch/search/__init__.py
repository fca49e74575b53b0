"""The search domain: dimensions, configurations, spaces, study specs, config files, the model zoo,
pruning rules and result types. Pure: no Optuna runtime, no Flair, no storage.

- ``_dimensions``: the table of search dimensions, from which the rest derives.
- ``_config``: ``Config`` and configuration names; ``_space``: grids and sampled spaces.
- ``_datasets``: the HIPE-2022 catalogue; ``_zoo``: the model presets and ``--model``.
- ``_names``: which names a new study may have.
- ``_spec``: ``StudySpec`` and its stored form; ``_configfiles``: TOML and recipe JSON files;
  ``_options``: specs from command-line options.
- ``_pruning``: the early-stopping rules; ``_results``: what runs and trials measured.
- ``_statistics``: seed statistics (paired and unpaired tests) and expected-best curves.
"""

from __future__ import annotations

from hpsearch.search._config import Config, parse_config_name
from hpsearch.search._configfiles import is_t5, load_config, load_space, named_space
from hpsearch.search._datasets import HIPE_DATASETS, HIPE_VERSION, DatasetRef
from hpsearch.search._diff import spec_diff
from hpsearch.search._dimensions import DIMENSIONS, RECIPE_NAME, REQUIRED, Dimension, Domain, Range
from hpsearch.search._extend import extended_spec
from hpsearch.search._names import STUDY_NAME_MAX, check_study_name
from hpsearch.search._options import (
    DEFAULT_N_TRIALS,
    build_spec,
    parse_seeds,
    spec_for_preset,
    spec_from_options,
)
from hpsearch.search._pruning import (
    DEFAULT_PRUNER,
    PRUNERS,
    Curve,
    NoPruner,
    PairedPruner,
    PrunerEntry,
    RungsPruner,
    SeedPruner,
    TrialCurves,
    WilcoxonPruner,
    make_pruner,
)
from hpsearch.search._results import (
    ConfigResult,
    SeedProgress,
    SeedResult,
    mean,
    population_std,
)
from hpsearch.search._rungs import Action, Rung, Rungs, RungTrial, rule_stops
from hpsearch.search._space import GridSpace, SampledSpace, wide_space
from hpsearch.search._spec import SPEC_VERSION, StudySpec
from hpsearch.search._statistics import (
    ALPHA,
    TIED,
    WORSE,
    PairedComparison,
    UnpairedComparison,
    compare_to_best,
    compare_unpaired,
    expected_best_curve,
    expected_max,
    min_seeds,
    seeds_needed,
    sign_flip_p_value,
    too_few_seeds_note,
)
from hpsearch.search._zoo import (
    PRESETS,
    check_hub_model,
    model_label,
    resolve_model,
)

__all__ = [
    "ALPHA",
    "DEFAULT_N_TRIALS",
    "DEFAULT_PRUNER",
    "DIMENSIONS",
    "HIPE_DATASETS",
    "HIPE_VERSION",
    "PRESETS",
    "PRUNERS",
    "RECIPE_NAME",
    "REQUIRED",
    "SPEC_VERSION",
    "STUDY_NAME_MAX",
    "TIED",
    "WORSE",
    "Action",
    "Config",
    "ConfigResult",
    "Curve",
    "DatasetRef",
    "Dimension",
    "Domain",
    "GridSpace",
    "NoPruner",
    "PairedComparison",
    "PairedPruner",
    "PrunerEntry",
    "Range",
    "Rung",
    "RungTrial",
    "Rungs",
    "RungsPruner",
    "SampledSpace",
    "SeedProgress",
    "SeedPruner",
    "SeedResult",
    "StudySpec",
    "TrialCurves",
    "UnpairedComparison",
    "WilcoxonPruner",
    "build_spec",
    "check_hub_model",
    "check_study_name",
    "compare_to_best",
    "compare_unpaired",
    "expected_best_curve",
    "expected_max",
    "extended_spec",
    "is_t5",
    "load_config",
    "load_space",
    "make_pruner",
    "mean",
    "min_seeds",
    "model_label",
    "named_space",
    "parse_config_name",
    "parse_seeds",
    "population_std",
    "resolve_model",
    "rule_stops",
    "seeds_needed",
    "sign_flip_p_value",
    "spec_diff",
    "spec_for_preset",
    "spec_from_options",
    "too_few_seeds_note",
    "wide_space",
]
