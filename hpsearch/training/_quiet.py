"""Keeping Flair's console output out of a worker's output while a run trains.

Flair passes ``disable=`` to tqdm itself, which overrides ``TQDM_DISABLE``; its evaluation bars
and the vocabulary reduction's lines (logger ``transformer_smaller_training_vocab``, with a
console handler of its own) would otherwise flood the worker's output. Inside ``flair_quiet``,
tqdm bars honour ``TQDM_DISABLE``, the vocabulary lines become Flair log lines, and whatever is
printed on stdout becomes a Flair log line too: Flair's log handlers decide where they go (the
run's ``training.log``, and the console only with ``--verbose``). Results are unchanged.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

_TQDM_SITES = (
    ("flair.file_utils", "_tqdm"),  # behind flair.file_utils.Tqdm.tqdm: evaluation, dictionaries
    ("flair.nn.model", "tqdm"),
    ("flair.models.sequence_tagger_model", "tqdm"),
)
"""Where Flair holds a reference to ``tqdm.tqdm`` (module, name)."""

VOCAB_LOGGER = "transformer_smaller_training_vocab"


def bars_disabled() -> bool:
    """Whether ``TQDM_DISABLE`` asks for no progress bars (the worker sets it unless ``--verbose``)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false")


@contextlib.contextmanager
def flair_quiet() -> Iterator[None]:
    """While a run trains: no tqdm bars if ``TQDM_DISABLE`` is set; stdout and vocabulary lines to Flair's log."""
    import importlib

    flair_log = logging.getLogger("flair")
    with contextlib.ExitStack() as stack:
        if bars_disabled():
            for module_name, attr in _TQDM_SITES:
                try:
                    module = importlib.import_module(module_name)
                except ImportError:
                    continue
                original = getattr(module, attr, None)
                if original is not None:
                    stack.enter_context(_patched(module, attr, _silent(original)))
        vocab = logging.getLogger(VOCAB_LOGGER)
        stack.enter_context(_patched(vocab, "handlers", [_Forward(flair_log)]))
        stack.enter_context(_patched(vocab, "propagate", False))
        writer = _LogWriter(flair_log)
        stack.callback(writer.flush)
        stack.enter_context(contextlib.redirect_stdout(writer))
        yield


def _silent(tqdm: Callable[..., Any]) -> Callable[..., Any]:
    def make(*args: Any, **kwargs: Any) -> Any:
        kwargs["disable"] = True
        return tqdm(*args, **kwargs)

    return make


@contextlib.contextmanager
def _patched(obj: object, attr: str, value: object) -> Iterator[None]:
    original = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, original)


class _Forward(logging.Handler):
    """Hands each record to another logger's handlers."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        self.target.handle(record)


class _LogWriter(io.TextIOBase):
    """A text stream that logs each complete line it is given at INFO."""

    def __init__(self, target: logging.Logger) -> None:
        self.target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            if line.strip():
                self.target.info(line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self.target.info(self._pending.rstrip())
        self._pending = ""
