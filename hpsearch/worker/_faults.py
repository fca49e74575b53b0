"""Worker faults versus trial faults: what stops a worker instead of failing its trial.

A worker fault is one that every trial on this machine would hit: the data folder is missing or
unreadable, the model cannot be found, the output folder cannot be written, a study's run folder
would resolve outside ``--output-dir``. Failing the trial would let one misconfigured machine
drain a fleet's queue in seconds, so the worker hands the trial back (WAITING again, its seeds
kept), logs the cause and exits with :data:`WORKER_FAULT_EXIT`; the ``--gpus`` supervisor does
not restart it. A trial fault (NaN loss, out of memory after every fallback) fails that trial.
"""

from __future__ import annotations

from hpsearch.errors import DataError, HpsearchError, first_line

WORKER_FAULT_EXIT = 3
"""The exit code of a worker that stopped on a worker fault (0: queue empty or stopped, 2: bad options)."""


class WorkerFaultError(HpsearchError):
    """This worker cannot run any trial here; its trial goes back to the queue untouched."""


def worker_fault(e: BaseException) -> str | None:
    """Why ``e`` is a worker fault (one line), or None for a fault of the trial itself.

    Follows the chain of causes: the trainer wraps what it meets in ``TrainingError``.
    """
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, (WorkerFaultError, DataError)):
            return str(seen)
        if isinstance(seen, OSError):  # unreadable data, a model not found, an output folder not writable, disk full
            return f"{type(seen).__name__}: {first_line(seen)}"
        seen = seen.__cause__
    return None
