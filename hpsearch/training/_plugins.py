"""The Flair trainer plugins a run attaches: ``RunMonitor`` (the worker's hooks) and ``RecipeRandomStream``.

This module imports Flair; ``train_seed`` imports it when a run starts. A plugin attaches to one
trainer only: each run makes new ones.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from flair.trainers.plugins import TrainerPlugin

from hpsearch.errors import TrainingError
from hpsearch.training._hooks import RunHooks, RunInterrupted
from hpsearch.training._rng import _draw_like_a_dataloader, _draws_between

if TYPE_CHECKING:
    import torch

log = logging.getLogger("hpsearch.training")


class RunMonitor(TrainerPlugin):
    """Records each epoch's dev micro-F1 in ``curve`` and lets the worker stop or prune the run.

    Args:
        curve: Gets each epoch's dev micro-F1 appended.
        hooks: The worker's callbacks; ``on_epoch`` may raise ``RunPruned``.
        check_optimizer: Check, before the first batch, that the optimizer holds exactly the model's
            parameters (after Flair reduced the vocabulary).
    """

    def __init__(self, curve: list[float], hooks: RunHooks, *, check_optimizer: bool = False) -> None:
        super().__init__()
        self.curve = curve
        self.hooks = hooks
        self.check_optimizer = check_optimizer

    @TrainerPlugin.hook
    def before_training_batch(self, batch_count: int, **kw: Any) -> None:
        if self.check_optimizer and batch_count == 1:
            _check_optimizer_holds_model(self.trainer)

    @TrainerPlugin.hook
    def after_training_batch(self, epoch: int, batch_no: int, total_number_of_batches: int, **kw: Any) -> None:
        if self.hooks.stop.is_set():
            raise RunInterrupted("worker stopping")
        if self.hooks.on_batch is not None:
            self.hooks.on_batch(epoch, batch_no + 1, total_number_of_batches)

    @TrainerPlugin.hook
    def after_evaluation(self, epoch: int, validation_scores: tuple, **kw: Any) -> None:
        score, loss = float(validation_scores[0]), float(validation_scores[1])
        if math.isnan(loss) or math.isnan(score):
            raise TrainingError(f"training diverged: dev loss is {loss} after epoch {epoch}")
        self.curve.append(score)
        if self.hooks.on_epoch is not None:
            self.hooks.on_epoch(epoch, score)


class RecipeRandomStream(TrainerPlugin):
    """Keeps the random numbers that training draws equal to the recipe's, whatever the work savings draw.

    Every DataLoader iterator draws one number from torch's generator (its base seed), and Flair
    makes some outside training: reducing the vocabulary reads the corpus through one, and
    evaluation uses one per batch (plus two). The state after the tagger was built is put back
    before the first epoch; after each dev evaluation, the generator is moved to where the
    recipe's evaluation batch size would have left it (``missing_eval_draws`` more draws).

    Attach it first, so that the random state is set right before the other plugins see an epoch's end.
    """

    def __init__(self, missing_eval_draws: int) -> None:
        super().__init__()
        self.missing_eval_draws = missing_eval_draws
        self.state: torch.Tensor | None = None

    @TrainerPlugin.hook
    def after_setup(self, **kw: Any) -> None:
        import torch

        self.state = torch.get_rng_state()

    @TrainerPlugin.hook
    def before_training_epoch(self, **kw: Any) -> None:
        import torch

        if self.state is not None:
            torch.set_rng_state(self.state)
            self.state = None

    @TrainerPlugin.hook
    def after_training_epoch(self, **kw: Any) -> None:
        import torch

        self.state = torch.get_rng_state()

    @TrainerPlugin.hook
    def after_evaluation(self, **kw: Any) -> None:
        import torch

        before, self.state = self.state, None
        if before is None or self.missing_eval_draws == 0:
            return
        drawn = _draws_between(before, torch.get_rng_state())
        if drawn is None:
            log.warning("evaluation drew random numbers of an unknown kind; training may differ from the recipe")
            return
        torch.set_rng_state(before)
        for _ in range(drawn + self.missing_eval_draws):
            _draw_like_a_dataloader()


def _check_optimizer_holds_model(trainer: Any) -> None:
    """After the vocabulary was reduced, the optimizer must update exactly the model's parameters.

    transformer-smaller-training-vocab swaps the embedding matrix in the optimizer by position;
    this guards the assumption that makes that right (the embedding matrix comes first).
    """
    in_optimizer = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    in_model = {id(p) for p in trainer.model.parameters() if p.requires_grad}
    if in_optimizer != in_model:
        raise TrainingError(
            "the reduced vocabulary left the optimizer with other parameters than the model's; "
            "train with reduce_vocab=False for this model."
        )
