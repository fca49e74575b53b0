"""Training one seed of one configuration with Flair, exactly as the recipe does, only faster.

``train_seed`` runs the recipe's ``fine_tune`` call with the recipe's fixed settings (``RECIPE``)
and the configuration's. ``TrainingOptions`` switches on work savings that leave the results
unchanged (the defaults; ``TrainingOptions.recipe()`` is the recipe as written). Each run starts
from the random state the recipe's script has for its seed (``hpsearch.training._rng``). A CUDA
out-of-memory error is retried with gradient accumulation; ``Config.amp`` trains in mixed
precision on a GPU.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from hpsearch.errors import TrainingError, first_line
from hpsearch.search import Config, SeedResult
from hpsearch.store import remove_model_files
from hpsearch.training._corpus import TrainingData
from hpsearch.training._hooks import RunHooks, RunInterrupted, RunPruned
from hpsearch.training._options import RECIPE, TrainingOptions
from hpsearch.training._packing import skip_padding
from hpsearch.training._pretrained import PretrainedCache
from hpsearch.training._quiet import flair_quiet
from hpsearch.training._rng import _dev_draws, _draw_like_a_dataloader
from hpsearch.training._rng import _draws_between as _draws_between  # tests import it from here

if TYPE_CHECKING:
    import torch

log = logging.getLogger("hpsearch.training")


def _device_type() -> str:
    import flair
    import torch

    return torch.device(flair.device).type


def device_name() -> str:
    import flair
    import torch

    if flair.device.type == "cuda":
        return torch.cuda.get_device_name(flair.device)
    return str(flair.device)


def train_seed(
    data: TrainingData,
    model: str,
    config: Config,
    seed: int,
    out_dir: Path,
    *,
    hooks: RunHooks | None = None,
    options: TrainingOptions | None = None,
    pretrained: PretrainedCache | None = None,
    mini_batch_chunk_size: int | None = None,
) -> SeedResult:
    """Fine-tune a fresh tagger for one seed with the recipe's fixed settings.

    Returns the dev F1 of every epoch and the test F1 of the best-epoch model. If the
    epoch callback prunes the run, the result holds the epochs done and ``complete=False``.

    Args:
        options: Work savings; the fast defaults unless given.
        pretrained: Where pretrained files are kept between seeds (with ``options.reuse_weights``);
            a worker passes the same cache for every seed.
        mini_batch_chunk_size: Flair's gradient-accumulation chunk to start with (None: whole batches).
            After a CUDA out-of-memory error it is halved, and the size that worked is recorded.

    Raises:
        RunInterrupted: ``hooks.stop`` was set.
        TrainingError: the run failed (diverged, out of memory even in chunks of 1, --amp without a GPU, ...).
    """
    import torch

    options = options or TrainingOptions()
    hooks = hooks or RunHooks()
    if not options.reuse_weights:
        pretrained = None
    elif pretrained is None:
        pretrained = PretrainedCache()
    amp = amp_dtype(config)
    started = time.perf_counter()
    chunk, eval_batch_size = mini_batch_chunk_size, options.eval_batch_size_on(_device_type())
    while True:
        try:
            with flair_quiet():
                curve, test_f1, pruned = _fit(
                    data, model, config, seed, out_dir, hooks, options, pretrained, amp, chunk, eval_batch_size
                )
            break
        except torch.cuda.OutOfMemoryError as e:
            smaller = _halved(chunk, config.batch_size) if options.oom_retry else None
            if smaller is None:
                raise TrainingError(
                    f"seed {seed} ran out of GPU memory with mini_batch_chunk_size {chunk or config.batch_size}: "
                    f"{first_line(e)}"
                ) from None
        # Outside the except block, so the error's traceback (and the tensors it holds) is gone.
        _release_memory()
        log.warning(
            "seed %s: CUDA out of memory with mini_batch_chunk_size %s; retrying with %s (same effective batch)",
            seed,
            chunk or config.batch_size,
            smaller,
        )
        chunk, eval_batch_size = smaller, max(1, eval_batch_size // 2)
    return SeedResult(
        seed=seed,
        dev_curve=tuple(curve),
        test_f1=test_f1,
        wall_time_s=time.perf_counter() - started,
        device=device_name(),
        mini_batch_chunk_size=chunk,
        complete=not pruned,
    )


def _fit(
    data: TrainingData,
    model: str,
    config: Config,
    seed: int,
    out_dir: Path,
    hooks: RunHooks,
    options: TrainingOptions,
    pretrained: PretrainedCache | None,
    amp: torch.dtype | None,
    chunk: int | None,
    eval_batch_size: int,
) -> tuple[list[float], float | None, bool]:
    """One attempt at a seed: (dev curve, test F1, pruned). A CUDA out-of-memory error propagates as is."""
    import flair
    import torch
    from flair.embeddings import TransformerWordEmbeddings
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer

    from hpsearch.training._plugins import RecipeRandomStream, RunMonitor

    out_dir.mkdir(parents=True, exist_ok=True)
    curve: list[float] = []
    try:
        corpus = data.corpus_for(options)
        flair.set_seed(seed)  # before anything that draws random numbers, as the recipe does
        for _ in range(data.recipe_seed_draws):
            _draw_like_a_dataloader()  # the recipe's label dictionary, built after seeding
        with pretrained.serving() if pretrained is not None else nullcontext():
            embeddings = TransformerWordEmbeddings(
                model,
                layers=config.layers,
                subtoken_pooling=config.subtoken_pooling,
                fine_tune=RECIPE.fine_tune,
                use_context=config.use_context,
            )
        tagger = SequenceTagger(
            hidden_size=RECIPE.hidden_size,
            embeddings=embeddings,
            tag_dictionary=data.labels,
            tag_type=RECIPE.tag_type,
            use_crf=config.use_crf,
            use_rnn=RECIPE.use_rnn,
            reproject_embeddings=RECIPE.reproject_embeddings,
        )
        trainer = ModelTrainer(tagger, corpus)
        plugins = [RunMonitor(curve, hooks, check_optimizer=options.reduce_vocab)]
        if options.reduce_vocab or corpus is not data.corpus or eval_batch_size != RECIPE.eval_batch_size:
            # First, so that the random state is set right before the other plugins see an epoch's end.
            missing = _dev_draws(data.corpus, RECIPE.eval_batch_size) - _dev_draws(corpus, eval_batch_size)
            plugins.insert(0, RecipeRandomStream(missing))
        with _autocast_dtype(amp), skip_padding(embeddings.model) if options.skip_padding else nullcontext():
            values = trainer.fine_tune(
                out_dir,
                learning_rate=config.learning_rate,
                mini_batch_size=config.batch_size,
                mini_batch_chunk_size=chunk,
                eval_batch_size=eval_batch_size,
                max_epochs=config.epochs,
                warmup_fraction=config.warmup_fraction,
                shuffle=RECIPE.shuffle,
                embeddings_storage_mode=RECIPE.embeddings_storage_mode,
                weight_decay=RECIPE.weight_decay,
                use_final_model_for_eval=RECIPE.use_final_model_for_eval,
                save_final_model=options.save_final_model,
                reduce_transformer_vocab=options.reduce_vocab,
                use_amp=amp is not None,
                plugins=plugins,
                **({"fused": True} if options.fused_optimizer else {}),  # for Flair's AdamW
            )
        return curve, (float(values["test_score"]) if corpus.test else None), False
    except RunPruned:
        if options.reduce_vocab:
            # Flair writes the full vocabulary back only when training ends; a model file from
            # before could encode nothing but the corpus' subwords.
            remove_model_files(out_dir)
        return curve, None, True
    except (RunInterrupted, TrainingError, torch.cuda.OutOfMemoryError):
        raise
    except Exception as e:
        raise TrainingError(f"seed {seed} failed: {type(e).__name__}: {first_line(e)}") from e


def amp_dtype(config: Config) -> torch.dtype | None:
    """The autocast precision of a trial with ``amp``: bf16 where the GPU supports it, else fp16; None without.

    Raises:
        TrainingError: ``amp`` asked for, but this worker trains on the CPU.
    """
    if not config.amp:
        return None
    import flair
    import torch

    if flair.device.type != "cuda":
        raise TrainingError(
            f"configuration {config.name} uses --amp (mixed precision), which needs a CUDA GPU, but this worker "
            f"trains on {flair.device.type}; serve this study from a GPU worker, or create it without --amp."
        )
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


@contextmanager
def _autocast_dtype(dtype: torch.dtype | None) -> Iterator[None]:
    """Make Flair's ``use_amp`` autocast (which names no dtype) use ``dtype`` on CUDA.

    In fp16, Flair's gradient scaler guards against underflow. It is on for bf16 too, where it
    is not needed but harmless: bf16 has fp32's exponent range, so the scaled loss cannot overflow.
    """
    if dtype is None:
        yield
        return
    import torch

    previous = torch.get_autocast_dtype("cuda")
    torch.set_autocast_dtype("cuda", dtype)
    try:
        yield
    finally:
        torch.set_autocast_dtype("cuda", previous)


def _halved(chunk: int | None, batch_size: int) -> int | None:
    """The next gradient-accumulation chunk after running out of memory; None once it was 1."""
    current = min(chunk or batch_size, batch_size)
    return current // 2 if current > 1 else None


def _release_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
