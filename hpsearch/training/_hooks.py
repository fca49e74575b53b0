"""How a worker watches and steers a run: callbacks after each batch and epoch, and the signals that end it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class RunInterrupted(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The worker was asked to stop; the run's partial result is discarded."""


class RunPruned(Exception):  # noqa: N818
    """The early-stopping rule stopped this run; its dev curve so far is kept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


EpochCallback = Callable[[int, float], None]
"""Called after each epoch with (epoch, dev F1); may raise ``RunPruned``."""

BatchCallback = Callable[[int, int, int], None]
"""Called after each batch with (epoch, batch number from 1, batches per epoch)."""


@dataclass
class RunHooks:
    """How a worker watches and steers a run.

    Setting ``stop`` ends the run with ``RunInterrupted`` after the current batch.
    """

    stop: threading.Event = field(default_factory=threading.Event)
    on_epoch: EpochCallback | None = None
    on_batch: BatchCallback | None = None
