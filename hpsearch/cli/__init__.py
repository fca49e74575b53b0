"""The ``hpsearch`` command line: thin commands over the library."""

from __future__ import annotations

from hpsearch.cli.app import app, main

__all__ = ["app", "main"]
