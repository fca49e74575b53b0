"""The ``hpsearch`` Typer app: its root options and its commands, in the order ``--help`` lists them."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from hpsearch.cli._common import err, out
from hpsearch.cli._create import create
from hpsearch.cli._dashboard import dashboard, demo
from hpsearch.cli._lifecycle import delete, export, extend, list_studies, logs
from hpsearch.cli._requeue import requeue
from hpsearch.cli._results import best, import_logs, parse_logs, plot, report, status
from hpsearch.cli._slurm import slurm
from hpsearch.cli._worker import worker


def _flags_untyped(params: Iterable[Any]) -> None:
    """Show flags as flags: Typer's rich help gives every option a type column, ``--amp <bool>`` too."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


def _literal_help(command: Any) -> None:
    """Escape a command's help texts, so that Rich shows brackets in them (``[space]``) instead of eating them."""
    for holder in (command, *command.params):
        for attr in ("help", "short_help"):
            text = getattr(holder, attr, None)
            if text:
                setattr(holder, attr, escape(text))


class _Command(TyperCommand):
    """A command whose help texts are printed literally."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _literal_help(self)

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        _flags_untyped(self.get_params(ctx))
        super().format_help(ctx, formatter)


class _Group(TyperGroup):
    """The root command: help texts printed literally, and a bad option or value (Click's usage errors)
    reported as one line and exit 2, as hpsearch's own errors are (``_common.handle_errors``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _literal_help(self)

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        _flags_untyped(self.get_params(ctx))
        super().format_help(ctx, formatter)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            err.print("Aborted.", markup=False, highlight=False)
            sys.exit(1)
        except typer.TyperException as e:  # Click's usage errors: bad option, bad value, missing option
            if type(e).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                context = getattr(e, "ctx", None)
                hint = f" (see {context.command_path} --help)" if context is not None else ""
                err.print(f"error: {e.format_message()}{hint}", markup=False, highlight=False, soft_wrap=True)
            sys.exit(getattr(e, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="hpsearch",
    cls=_Group,
    help="Hyperparameter search for fine-tuning Flair NER taggers, on Optuna.\n\n"
    "Example: hpsearch create --model t5-base && hpsearch worker --study ajmc-en-t5-base --gpu 0",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        from hpsearch import __version__

        out.print(f"hpsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Hyperparameter search for fine-tuning Flair NER taggers, on Optuna."""
    import logging

    logging.getLogger("optuna").setLevel(logging.WARNING)  # hpsearch prints its own summary lines


app.command(cls=_Command)(create)
app.command(cls=_Command)(worker)
app.command(cls=_Command)(status)
app.command("list", cls=_Command)(list_studies)
app.command(cls=_Command)(extend)
app.command(cls=_Command)(delete)
app.command(cls=_Command)(requeue)
app.command(cls=_Command)(dashboard)
app.command(cls=_Command)(demo)
app.command(cls=_Command)(report)
app.command(cls=_Command)(best)
app.command(cls=_Command)(export)
app.command(cls=_Command)(logs)
app.command("parse-logs", cls=_Command)(parse_logs)
app.command("import-logs", cls=_Command)(import_logs)
app.command(cls=_Command)(plot)
app.command(cls=_Command)(slurm)


def main() -> None:
    app()
