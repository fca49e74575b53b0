"""Helpers for tests and benchmarks: a scheduling-only fake trainer."""

from __future__ import annotations

from hpsearch.testing._fake_trainer import (
    FakeTrainer,
    fake_dev_f1,
    read_record,
)

__all__ = [
    "FakeTrainer",
    "fake_dev_f1",
    "read_record",
]
