"""The recipe's fixed settings as one object, the work-saving options, and a package that imports light."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from hpsearch.training import RECIPE, RECIPE_EVAL_BATCH_SIZE, RecipeSettings, TrainingOptions


def test_importing_the_package_imports_neither_flair_nor_torch() -> None:
    """The dashboard and the CLI import hpsearch.training; Flair and torch load only when a run starts."""
    code = (
        "import sys, hpsearch.training\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('flair', 'torch', 'transformers'))\n"
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_recipe_describes_itself_as_the_study_note_always_did() -> None:
    assert RECIPE.describe() == (
        "Flair `ModelTrainer.fine_tune`, transformer fine-tuned, linear warm-up, no weight decay, shuffled batches",
        "tagger: hidden size 256, no RNN, no re-projection (CRF, layers, pooling and context from the grid)",
        "a seed's dev F1 is its best epoch's micro-F1; its test F1 is that of the best-epoch model",
    )


def test_the_description_follows_the_settings() -> None:
    other = replace(RECIPE, hidden_size=128, use_rnn=True, weight_decay=0.01, shuffle=False, fine_tune=False)
    text = "\n".join(other.describe())
    assert "an RNN of hidden size 128" in text
    assert "weight decay 0.01" in text
    assert "unshuffled batches" in text
    assert "transformer frozen" in text
    final = replace(RECIPE, use_final_model_for_eval=True, reproject_embeddings=True)
    assert "re-projected embeddings" in final.describe()[1]
    assert final.describe()[2].endswith("that of the final model")


def test_the_recipe_settings_cannot_be_changed_in_place() -> None:
    with pytest.raises(AttributeError):
        RECIPE.hidden_size = 128  # type: ignore[misc]
    assert RecipeSettings() == RECIPE


def test_the_recipe_options_evaluate_in_the_recipes_batches() -> None:
    recipe = TrainingOptions.recipe()
    assert RECIPE_EVAL_BATCH_SIZE == RECIPE.eval_batch_size == 16
    assert recipe.eval_batch_size_on("cpu") == recipe.eval_batch_size_on("cuda") == RECIPE_EVAL_BATCH_SIZE
    assert not (recipe.sort_eval or recipe.reduce_vocab or recipe.fused_optimizer or recipe.skip_padding)
    assert recipe.save_final_model and recipe.oom_retry


def test_the_default_evaluation_batch_depends_on_the_device() -> None:
    assert TrainingOptions().eval_batch_size_on("cpu") == 8
    assert TrainingOptions().eval_batch_size_on("cuda") == 64
    assert TrainingOptions(eval_batch_size=5).eval_batch_size_on("cuda") == 5


def test_an_evaluation_batch_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"eval_batch_size must be >= 1, but got self\.eval_batch_size=0"):
        TrainingOptions(eval_batch_size=0)
