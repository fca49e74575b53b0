"""``hpsearch dashboard`` and ``hpsearch demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hpsearch.cli._common import ArtifactsDir, Storage, handle_errors, out, warn
from hpsearch.store import DEFAULT_STORAGE


@handle_errors
def dashboard(
    storage: Storage = DEFAULT_STORAGE,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on. There is no login: keep 127.0.0.1, use ssh -L.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on; 0 picks a free one.")] = 8080,
    artifacts: ArtifactsDir = None,
    study: Annotated[str | None, typer.Option("--study", "-s", help="Also print this study's page.")] = None,
) -> None:
    """Show the studies in optuna-dashboard: trials, per-seed values, notes, training logs, best models.

    Example: hpsearch dashboard --study ajmc-en-t5-base   (then open the printed URL)
    """
    from hpsearch.dashboard import is_loopback, start_dashboard

    board = start_dashboard(storage, host=host, port=port, artifacts_dir=artifacts, study=study)
    out.print(f"dashboard: {board.url}", highlight=False, soft_wrap=True, markup=False)
    if board.study_url:
        out.print(f"study {study}: {board.study_url}", highlight=False, soft_wrap=True, markup=False)
    found = "" if board.artifacts_dir.is_dir() else " (none yet)"
    out.print(
        f"storage: {board.storage}; artifacts: {board.artifacts_dir}{found}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    if not is_loopback(host):
        warn(f"on {host}, whoever reaches the port can read and delete studies.")
    out.print("Ctrl-C stops the dashboard.")
    try:
        board.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        board.close()


@handle_errors
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Working folder for the demo's data, model, database and runs.")
    ] = Path("hpsearch-demo"),
) -> None:
    """Run a complete small search offline: sample data, a tiny model, two seeds, SQLite.

    Example: hpsearch demo --dir /tmp/demo
    """
    from hpsearch.demo import run_demo

    run_demo(directory, out)
