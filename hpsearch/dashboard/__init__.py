"""optuna-dashboard: the study note hpsearch keeps, and the server."""

from __future__ import annotations

from hpsearch.dashboard._note import (
    NoteSchedule,
    leaderboard_markdown,
    publish_trial,
    spec_markdown,
    study_note,
    try_update_study_note,
    update_study_note,
)
from hpsearch.dashboard._server import (
    Dashboard,
    is_loopback,
    start_dashboard,
    study_page_url,
)

__all__ = [
    "Dashboard",
    "NoteSchedule",
    "is_loopback",
    "leaderboard_markdown",
    "publish_trial",
    "spec_markdown",
    "start_dashboard",
    "study_note",
    "study_page_url",
    "try_update_study_note",
    "update_study_note",
]
