"""Riding out database outages: which storage errors are transient, and retrying with backoff."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("hpsearch.store")
T = TypeVar("T")


def is_transient(e: BaseException) -> bool:
    """Whether a storage error is a lost, refused or busy connection (worth retrying), not bad data or a bug."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(e, StorageInternalError):
        if e.__cause__ is None:
            return True
        e = e.__cause__
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return True
    return isinstance(e, OperationalError | InterfaceError)


def with_retries(fn: Callable[..., T], *args: Any, attempts: int = 40) -> T:
    """Run a storage operation, waiting with backoff (up to ~8 minutes) while the database is unreachable.

    Only connection errors (:func:`is_transient`) are retried; an operation that may have been
    committed before its connection broke runs again, so it must be idempotent.
    """
    delay = 0.5
    for attempt in range(attempts):
        try:
            return fn(*args)
        except Exception as e:
            if attempt == attempts - 1 or not is_transient(e):
                raise
            log.warning("storage unavailable (%s); retrying in %.1fs", type(e.__cause__ or e).__name__, delay)
            time.sleep(delay * (1 + random.random() / 2))
            delay = min(delay * 2, 15.0)
    raise AssertionError("unreachable")
