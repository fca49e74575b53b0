"""The rules of docs/architecture.md that import-linter cannot state (it names external packages only whole)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hpsearch"
PRIVATE_OPTUNA = ("._storage", "._study_id", "._trial_id", "._cached_frozen_trial", "._backend")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_store_imports_optunas_storages() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in _modules()
        if path.parent.name != "store" and any(n.startswith("optuna.storages") for n in _imported(path))
    ]
    assert offenders == []


def test_only_the_queue_touches_optunas_private_api() -> None:
    offenders = []
    for path in _modules():
        if path.relative_to(PACKAGE).as_posix() == "store/_queue.py":
            continue
        text = path.read_text(encoding="utf-8")
        private_module = any(n.startswith("optuna.") and "._" in n for n in _imported(path))
        if private_module or any(f"study{attr}" in text or f"trial{attr}" in text for attr in PRIVATE_OPTUNA):
            offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


@pytest.mark.parametrize("module", ["hpsearch.cli", "hpsearch.store", "hpsearch.results", "hpsearch.dashboard"])
def test_importing_the_light_packages_loads_neither_flair_nor_torch(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(m for m in ('flair', 'torch') if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert json.loads(out.stdout) == []
