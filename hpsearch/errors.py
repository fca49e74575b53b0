"""Exceptions. Only the CLI turns them into exit codes."""

from __future__ import annotations


class HpsearchError(Exception):
    """Root of every error hpsearch raises on purpose; its message is one line for the user."""


class SpecError(HpsearchError, ValueError):
    """A study spec, config file or command-line value is invalid."""


class DataError(HpsearchError):
    """Dataset files are missing or malformed."""


class StorageError(HpsearchError):
    """The storage URL is malformed or the database cannot be reached."""


class StudyNotFoundError(HpsearchError, KeyError):
    """No study of that name exists in the storage."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TrainingError(HpsearchError):
    """One training run failed (diverged, out of memory, ...)."""


def first_line(e: BaseException) -> str:
    """The first non-empty line of an exception's message (drivers write whole paragraphs)."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""
