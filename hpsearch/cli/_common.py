"""What every command shares: the consoles, the shared options, the one place errors become exit 2."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from hpsearch.errors import HpsearchError
from hpsearch.store import DEFAULT_STORAGE

# Piped output gets wide tables rather than columns squeezed to 80 characters.
out = Console() if sys.stdout.isatty() else Console(width=200)
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

STORAGE_HELP = "Optuna storage URL: sqlite:///file.db or postgresql+psycopg://user:pass@host/db."


def _storage_file(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    """Without --storage and HPSEARCH_STORAGE: the URL in the file HPSEARCH_STORAGE_FILE names (mode 600)."""
    source = None if ctx.resilient_parsing or param.name is None else ctx.get_parameter_source(param.name)
    if source is None or source.name != "DEFAULT" or not os.environ.get("HPSEARCH_STORAGE_FILE"):
        return value
    from hpsearch.store import read_storage_file

    try:
        return read_storage_file(os.environ["HPSEARCH_STORAGE_FILE"])
    except HpsearchError as e:  # callbacks run before handle_errors
        error(str(e))
        raise typer.Exit(code=2) from None


Storage = Annotated[
    str,
    typer.Option(
        "--storage",
        envvar="HPSEARCH_STORAGE",
        help=STORAGE_HELP + " Or a file of mode 600 holding it: HPSEARCH_STORAGE_FILE.",
        rich_help_panel="Storage",
        callback=_storage_file,
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="HPSEARCH_DATA_DIR",
        help="Local copy of the HIPE-2022-data repository (offline); default: download with Flair.",
        rich_help_panel="Data",
    ),
]
ArtifactsDir = Annotated[
    Path | None,
    typer.Option(
        "--artifacts",
        envvar="HPSEARCH_ARTIFACTS",
        help="Artifact folder (training logs, best model) that workers write and the dashboard shows; "
        "default: artifacts/ next to the SQLite file, ./artifacts with PostgreSQL.",
        rich_help_panel="Storage",
    ),
]


def choices(name: str, registry: Iterable[str]) -> type[StrEnum]:
    """An enum of a registry's names, for Typer to offer and check them as choices."""
    return StrEnum(name, {key: key for key in registry})  # type: ignore[return-value]


def describe(registry: Mapping[str, Any] | Iterable[str]) -> str:
    """``a (its help), b or c``: a registry's names, each with its help line where it has one.

    An entry's help is the value itself (a string), its ``help`` attribute, or the last item of a tuple.
    """
    entries = registry.items() if isinstance(registry, Mapping) else ((key, None) for key in registry)
    parts = []
    for key, entry in entries:
        text = entry if isinstance(entry, str) else getattr(entry, "help", None)
        if text is None and isinstance(entry, tuple) and entry and isinstance(entry[-1], str):
            text = entry[-1]
        parts.append(f"{key} ({text})" if text else key)
    return ", ".join(parts[:-1]) + f" or {parts[-1]}" if len(parts) > 1 else "".join(parts)


def handle_errors(fn: F) -> F:
    """Turn hpsearch's errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HpsearchError as e:
            error(str(e))
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def error(text: str) -> None:
    """``error: TEXT`` on stderr; the text is printed literally (it may hold study names, paths, brackets)."""
    err.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    """``warning: TEXT`` on stderr, the text printed literally."""
    err.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)


def storage_flag(storage: str) -> str:
    """`` --storage URL`` (password masked) for a next-step hint, unless it is the default or from the environment."""
    if storage == DEFAULT_STORAGE or os.environ.get("HPSEARCH_STORAGE") == storage:
        return ""
    from hpsearch.store import mask_url

    return f" --storage '{mask_url(storage)}'"
