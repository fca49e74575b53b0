"""The Flair trainer plugins a run attaches, driven hook by hook without training, and the random-number counting."""

from __future__ import annotations

import math

import pytest

from hpsearch.errors import TrainingError
from hpsearch.training import RunHooks, RunInterrupted, RunPruned, evaluation_draws


def test_the_monitor_records_each_epoch_and_calls_the_worker() -> None:
    from hpsearch.training._plugins import RunMonitor

    curve: list[float] = []
    seen: list[tuple] = []
    hooks = RunHooks(on_epoch=lambda e, f1: seen.append(("epoch", e, f1)), on_batch=lambda *a: seen.append(a))
    monitor = RunMonitor(curve, hooks)
    monitor.after_training_batch(epoch=1, batch_no=0, total_number_of_batches=3)
    monitor.after_evaluation(epoch=1, validation_scores=(0.5, 1.2))
    monitor.after_evaluation(epoch=2, validation_scores=(0.75, 0.9))
    assert curve == [0.5, 0.75]
    assert seen == [(1, 1, 3), ("epoch", 1, 0.5), ("epoch", 2, 0.75)]


def test_the_monitor_stops_a_diverged_run() -> None:
    from hpsearch.training._plugins import RunMonitor

    curve: list[float] = []
    with pytest.raises(TrainingError, match="training diverged: dev loss is nan after epoch 3"):
        RunMonitor(curve, RunHooks()).after_evaluation(epoch=3, validation_scores=(0.5, math.nan))
    assert curve == []


def test_the_monitor_interrupts_after_a_batch_once_asked_to_stop() -> None:
    from hpsearch.training._plugins import RunMonitor

    hooks = RunHooks()
    monitor = RunMonitor([], hooks)
    monitor.after_training_batch(epoch=1, batch_no=0, total_number_of_batches=3)
    hooks.stop.set()
    with pytest.raises(RunInterrupted):
        monitor.after_training_batch(epoch=1, batch_no=1, total_number_of_batches=3)


def test_a_pruned_epoch_keeps_its_score() -> None:
    from hpsearch.training._plugins import RunMonitor

    def prune(epoch: int, dev_f1: float) -> None:
        raise RunPruned("below the median")

    curve: list[float] = []
    with pytest.raises(RunPruned):
        RunMonitor(curve, RunHooks(on_epoch=prune)).after_evaluation(epoch=1, validation_scores=(0.4, 1.0))
    assert curve == [0.4]


def test_the_random_stream_makes_up_for_the_evaluation_draws_the_recipe_makes() -> None:
    """After an evaluation, the generator is where the recipe's evaluation would have left it."""
    import torch

    from hpsearch.training._plugins import RecipeRandomStream
    from hpsearch.training._rng import _draw_like_a_dataloader, _draws_between

    torch.manual_seed(3)
    stream = RecipeRandomStream(missing_eval_draws=2)
    stream.after_training_epoch()
    epoch_end = torch.get_rng_state()
    for _ in range(5):  # what this run's evaluation draws
        _draw_like_a_dataloader()
    stream.after_evaluation()
    assert _draws_between(epoch_end, torch.get_rng_state()) == 5 + 2


def test_the_random_stream_puts_back_the_state_of_setup_before_the_first_epoch() -> None:
    import torch

    from hpsearch.training._plugins import RecipeRandomStream

    torch.manual_seed(3)
    stream = RecipeRandomStream(missing_eval_draws=0)
    stream.after_setup()
    after_setup = torch.get_rng_state()
    torch.rand(10)  # e.g. reducing the vocabulary reads the corpus through a DataLoader
    stream.before_training_epoch()
    assert torch.equal(torch.get_rng_state(), after_setup)


def test_evaluation_draws_one_per_nonempty_batch_and_one_for_the_loader() -> None:
    assert evaluation_draws([3, 4, 5], batch_size=2) == 1 + 2
    assert evaluation_draws([3, 0, 0], batch_size=1) == 1 + 1
    assert evaluation_draws([], batch_size=16) == 1
