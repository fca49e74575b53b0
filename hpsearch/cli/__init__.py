"""The ``hpsearch`` command line: Typer commands only, each parsing its options, calling one library
function and printing the result. Every :class:`~hpsearch.errors.HpsearchError` becomes one line on
stderr and exit code 2 (``_common.handle_errors``)."""

from __future__ import annotations

from hpsearch.cli._app import app, main

__all__ = ["app", "main"]
