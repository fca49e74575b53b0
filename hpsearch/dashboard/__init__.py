"""optuna-dashboard: the study note hpsearch keeps, and the server."""

from __future__ import annotations

from hpsearch.dashboard._dashboard import (
    NoteSchedule,
    is_loopback,
    leaderboard_markdown,
    publish_trial,
    start_dashboard,
    study_note,
    try_update_study_note,
)

__all__ = [
    "NoteSchedule",
    "is_loopback",
    "leaderboard_markdown",
    "publish_trial",
    "start_dashboard",
    "study_note",
    "try_update_study_note",
]
