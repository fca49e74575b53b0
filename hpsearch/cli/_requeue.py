"""``hpsearch requeue``."""

from __future__ import annotations

from typing import Annotated

import typer

from hpsearch.cli._common import Storage, handle_errors, out, storage_flag
from hpsearch.store import DEFAULT_STORAGE


@handle_errors
def requeue(
    study: Annotated[str, typer.Option("--study", "-s", help="The study.")],
    failed: Annotated[bool, typer.Option("--failed", help="Re-queue every failed trial.")] = False,
    trial: Annotated[
        list[int] | None, typer.Option("--trial", help="Re-queue this finished trial; repeatable.")
    ] = None,
    storage: Storage = DEFAULT_STORAGE,
) -> None:
    """Put failed (or named finished) trials back in the queue, keeping their finished seeds.

    Example: hpsearch requeue --study ajmc-en-bert --failed
    """
    from hpsearch.store import requeue_trials

    done = requeue_trials(storage, study, failed=failed, numbers=trial or [])
    if not done.pairs:
        out.print(f"nothing to re-queue in study {done.study}: no failed trial without a copy.", markup=False)
        return
    for old, new in done.pairs:
        out.print(f"trial {old} re-queued as trial {new}", markup=False)
    out.print(
        f"{len(done.pairs)} trial(s) queued; next: hpsearch worker --study {done.study}" + storage_flag(storage),
        markup=False,
    )
