"""Exceptions by kind, under one root. Only the CLI turns them into exit codes (one line, exit 2).

Which to raise:

- :class:`UsageError`: a bad option or value from the user (a port, a format, an output path);
  :class:`SpecError`, its subclass, when the value is part of a study spec or a config file.
- :class:`DataError`: dataset files are missing or malformed.
- :class:`StorageError`: the storage URL is malformed or the database cannot be reached.
- :class:`NotFoundError`: a named thing does not exist; :class:`StudyNotFoundError` for a study.
- :class:`TrainingError`: one training run failed.
"""

from __future__ import annotations


class HpsearchError(Exception):
    """Root of every error hpsearch raises on purpose; its message is one line for the user."""


class UsageError(HpsearchError, ValueError):
    """An option or value given by the user is invalid."""


class SpecError(UsageError):
    """A study spec or config file is invalid."""


class DataError(HpsearchError):
    """Dataset files are missing or malformed."""


class StorageError(HpsearchError):
    """The storage URL is malformed or the database cannot be reached."""


class NotFoundError(HpsearchError, KeyError):
    """A named thing (a study, a trial, a run folder) does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StudyNotFoundError(NotFoundError):
    """No study of that name exists in the storage."""


class TrainingError(HpsearchError):
    """One training run failed (diverged, out of memory, ...)."""


def first_line(e: BaseException) -> str:
    """The first non-empty line of an exception's message (drivers write whole paragraphs)."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""
