"""A storage URL kept in a file (``HPSEARCH_STORAGE_FILE``): its password stays off command lines and scripts.

The file holds the URL on its first line and must be readable by its owner only (mode 600), as
``~/.pgpass`` must be: hpsearch refuses a file that its group or others may read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hpsearch.errors import UsageError

STORAGE_FILE_ENV = "HPSEARCH_STORAGE_FILE"
STORAGE_ENV = "HPSEARCH_STORAGE"


def read_storage_file(path: Path | str) -> str:
    """The storage URL on the first line of ``path``.

    Raises:
        UsageError: the file is missing, empty, or readable or writable by its group or others.
    """
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode
        lines = path.read_text().splitlines()
    except OSError as e:
        raise UsageError(f"storage file {path} cannot be read: {e.strerror or e}.") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(f"storage file {path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 {path}.")
    url = lines[0].strip() if lines else ""
    if not url:
        raise UsageError(f"storage file {path} is empty; write the storage URL on its first line.")
    return url


def storage_from_environment() -> str | None:
    """``HPSEARCH_STORAGE``, else the URL in the file that ``HPSEARCH_STORAGE_FILE`` names, else None.

    Raises:
        UsageError: ``HPSEARCH_STORAGE_FILE`` names a file :func:`read_storage_file` refuses.
    """
    if os.environ.get(STORAGE_ENV):
        return os.environ[STORAGE_ENV]
    if os.environ.get(STORAGE_FILE_ENV):
        return read_storage_file(os.environ[STORAGE_FILE_ENV])
    return None
