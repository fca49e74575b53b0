"""``hpsearch demo``: a complete small search, offline, with a synthetic corpus and tiny models."""

from __future__ import annotations

from hpsearch.demo._demo import (
    run_demo,
)
from hpsearch.demo._sample import (
    AJMC_EN,
    sample_texts,
    write_sample_hipe,
)
from hpsearch.demo._tiny_models import (
    build_tiny_bert,
    build_tiny_t5,
)

__all__ = [
    "AJMC_EN",
    "build_tiny_bert",
    "build_tiny_t5",
    "run_demo",
    "sample_texts",
    "write_sample_hipe",
]
