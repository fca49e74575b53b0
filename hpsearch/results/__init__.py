"""Results for people: the recipe's report, comparison tables, costs, status, plots, old run folders."""

from __future__ import annotations

from hpsearch.results._commands import (
    Best,
    best_of,
    comparison_report,
    import_logs,
    load_many,
    load_results,
    parse_logs,
    plot_studies,
    status_tables,
    study_report,
)
from hpsearch.results._comparison import (
    FORMATS,
    ComparisonRow,
    OutputFormat,
    comparison_rows,
    render_comparison,
)
from hpsearch.results._cost import (
    ConfigCost,
    CostSummary,
    cost_summary,
    render_cost,
)
from hpsearch.results._export import (
    EXPORT_FORMATS,
    ROW_FORMATS,
    all_study_results,
    config_rows,
    export_rows,
    export_study,
    render_rows,
    status_data,
    study_rows_report,
    study_summary,
)
from hpsearch.results._legacy_import import (
    ImportSummary,
    import_scan,
)
from hpsearch.results._legacy_logs import (
    collect_runs,
    parse_run_name,
    read_training_log,
)
from hpsearch.results._plot import (
    figure_size_px,
    plot_study,
)
from hpsearch.results._recipe import (
    best_config,
    ranked,
    recipe_sections,
)
from hpsearch.results._significance import (
    SHORT_VERDICT,
    ModelStatistics,
    config_comparisons,
    expected_best,
    model_statistics,
    significance_section,
    verdicts,
)
from hpsearch.results._status import (
    LiveEta,
    device_hours,
    eta_seconds,
    studies_table,
    trials_table,
)

__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "ROW_FORMATS",
    "SHORT_VERDICT",
    "Best",
    "ComparisonRow",
    "ConfigCost",
    "CostSummary",
    "ImportSummary",
    "LiveEta",
    "ModelStatistics",
    "OutputFormat",
    "all_study_results",
    "best_config",
    "best_of",
    "collect_runs",
    "comparison_report",
    "comparison_rows",
    "config_comparisons",
    "config_rows",
    "cost_summary",
    "device_hours",
    "eta_seconds",
    "expected_best",
    "export_rows",
    "export_study",
    "figure_size_px",
    "import_logs",
    "import_scan",
    "load_many",
    "load_results",
    "model_statistics",
    "parse_logs",
    "parse_run_name",
    "plot_studies",
    "plot_study",
    "ranked",
    "read_training_log",
    "recipe_sections",
    "render_comparison",
    "render_cost",
    "render_rows",
    "significance_section",
    "status_data",
    "status_tables",
    "studies_table",
    "study_report",
    "study_rows_report",
    "study_summary",
    "trials_table",
    "verdicts",
]
