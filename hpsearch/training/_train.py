"""Training one seed of one configuration with Flair, exactly as the recipe does, only faster.

``train_seed`` runs the recipe's ``fine_tune`` call. ``TrainingOptions`` switches on work savings
that leave the results unchanged (the defaults; ``TrainingOptions.recipe()`` is the recipe as
written): Flair's reduced training vocabulary, AdamW's fused kernel, linear layers that skip
the padding, evaluation in order of sentence length, pretrained files read once per worker, and no
``final-model.pt``. Each run starts from the random state the recipe's script has for its seed. A
CUDA out-of-memory error is retried with gradient accumulation; ``Config.amp`` trains in mixed
precision on a GPU.
"""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpsearch.errors import TrainingError, first_line
from hpsearch.search import Config, SeedResult
from hpsearch.store._record import remove_model_files
from hpsearch.training._packing import skip_padding
from hpsearch.training._pretrained import PretrainedCache

if TYPE_CHECKING:
    import torch
    from flair.data import Corpus, Dictionary

log = logging.getLogger("hpsearch.training")

RECIPE_EVAL_BATCH_SIZE = 16
"""The recipe does not set ``eval_batch_size``: Flair's ``fine_tune`` default."""
CPU_EVAL_BATCH_SIZE = 8
GPU_EVAL_BATCH_SIZE = 64


@dataclass(frozen=True)
class TrainingOptions:
    """How a worker trains beyond the recipe's settings. The defaults save work without changing results.

    Each switch was checked against the recipe as written (``TrainingOptions.recipe()``): the same
    seed gives the same dev F1 after every epoch (tests/test_speed_equivalence.py).
    """

    sort_eval: bool = True
    """Evaluate dev and test in order of sentence length, so a batch is padded little. Micro-F1 does
    not depend on the order; on a 2-core CPU it took a third off the evaluation time (benchmarks/README.md)."""
    eval_batch_size: int | None = None
    """Sentences per batch when evaluating; evaluation does not train, so it does not change the
    scores. None: 8 on the CPU (in length order, smaller batches were faster there: MiniLM's dev
    evaluation took 3.8 s in batches of 8, 4.1 s of 16, 4.7 s of 32), 64 on a GPU (fewer, fuller
    kernel launches; not measured here)."""
    save_final_model: bool = False
    """Write ``final-model.pt`` after the last epoch, as the recipe does. Its scores come from the
    best epoch's model (``best-model.pt``), so a worker does not write it."""
    reduce_vocab: bool = True
    """Flair's ``reduce_transformer_vocab``: while training, the embedding matrix and the tokenizer
    hold only the subwords the corpus uses (rows that never get a gradient are never updated with
    ``weight_decay=0``), which makes each optimizer step much cheaper; the full vocabulary is put
    back before the model is saved."""
    fused_optimizer: bool = True
    """AdamW's fused kernel: one pass over each parameter and its two moment buffers per step instead
    of about ten. The update is the same formula, rounded in another order (parameters differ by
    about 1e-7 after a step); dev F1 stays the recipe's to 1e-4 (tests/test_speed_equivalence.py,
    benchmarks/speed.py)."""
    reuse_weights: bool = True
    """Read the pretrained tokenizer, config and weights once per worker and copy them for each seed
    (``hpsearch.training._pretrained``), instead of reading them again for every seed."""
    skip_padding: bool = True
    """Let the transformer's linear layers compute the real (unpadded) rows of a batch only, where the
    architecture allows it (``hpsearch.training._packing``): padded rows change nothing a real token sees."""
    oom_retry: bool = True
    """On a CUDA out-of-memory error, train the seed again with ``mini_batch_chunk_size`` halved
    (gradient accumulation: the same effective batch), down to 1, before the trial fails."""

    def __post_init__(self) -> None:
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1, but got {self.eval_batch_size=}.")

    @classmethod
    def recipe(cls) -> TrainingOptions:
        """The recipe as written: no work saved (a CUDA out-of-memory error is still retried)."""
        return cls(
            sort_eval=False,
            eval_batch_size=RECIPE_EVAL_BATCH_SIZE,
            reduce_vocab=False,
            fused_optimizer=False,
            reuse_weights=False,
            save_final_model=True,
            skip_padding=False,
        )

    def eval_batch_size_on(self, device_type: str) -> int:
        if self.eval_batch_size is not None:
            return self.eval_batch_size
        return GPU_EVAL_BATCH_SIZE if device_type == "cuda" else CPU_EVAL_BATCH_SIZE


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
class TrainingData:
    """The corpus and its label dictionary, built once per worker and shared by every run."""

    corpus: Corpus
    labels: Dictionary
    recipe_seed_draws: int = 0
    """Random numbers the recipe draws between seeding and building the model: it builds its label
    dictionary after ``flair.set_seed``, for every seed, and Flair reads the corpus for it through
    DataLoaders, each of which draws one. A run draws as many right after seeding, so that it
    starts from the recipe's random state (``TrainingData.build`` counts them)."""
    _by_length: Corpus | None = field(default=None, init=False, repr=False)

    @classmethod
    def build(cls, corpus: Corpus) -> TrainingData:
        """The label dictionary of ``corpus``, and how many random numbers building it draws."""
        import torch

        from hpsearch.training._data import label_dictionary

        before = torch.get_rng_state()
        labels = label_dictionary(corpus)
        draws = _draws_between(before, torch.get_rng_state())
        torch.set_rng_state(before)
        if draws is None:
            log.warning(
                "building the label dictionary drew random numbers of an unknown kind; "
                "runs may start from another random state than the recipe's"
            )
        return cls(corpus=corpus, labels=labels, recipe_seed_draws=draws or 0)

    def corpus_for(self, options: TrainingOptions) -> Corpus:
        """The corpus to train on: with ``sort_eval``, its dev and test splits in order of length."""
        if not options.sort_eval:
            return self.corpus
        if self._by_length is None:
            from flair.data import Corpus

            self._by_length = Corpus(
                train=self.corpus.train,
                dev=_by_length(self.corpus.dev),
                test=_by_length(self.corpus.test),
                name=self.corpus.name,
                sample_missing_splits=False,
            )
        return self._by_length


def _by_length(split: Any) -> Any:
    from flair.datasets import FlairDatapointDataset

    if split is None:
        return None
    sentences = [split[i] for i in range(len(split))]  # indexing: no DataLoader, no random draw
    return FlairDatapointDataset(sorted(sentences, key=len, reverse=True))


def _dev_draws(corpus: Corpus, batch_size: int) -> int:
    """Random numbers that the trainer draws evaluating this corpus' dev split in batches of ``batch_size``.

    Flair's ``evaluate`` draws them, and then ``store_embeddings`` one more if the split is a
    ``Dataset`` rather than a list (it reads a Dataset through a DataLoader).
    """
    if not corpus.dev:
        return 0
    from torch.utils.data import Dataset

    stored = 1 if isinstance(corpus.dev, Dataset) else 0
    return evaluation_draws([len(corpus.dev[i]) for i in range(len(corpus.dev))], batch_size) + stored


@dataclass
class RunHooks:
    """How a worker watches and steers a run."""

    stop: threading.Event = field(default_factory=threading.Event)
    on_epoch: EpochCallback | None = None
    on_batch: BatchCallback | None = None


def _monitor_plugin(curve: list[float], hooks: RunHooks, *, check_optimizer: bool = False) -> Any:
    from flair.trainers.plugins import TrainerPlugin

    class RunMonitor(TrainerPlugin):
        """Records each epoch's dev micro-F1 and lets the worker stop or prune the run."""

        @TrainerPlugin.hook
        def before_training_batch(self, batch_count: int, **kw: Any) -> None:
            if check_optimizer and batch_count == 1:
                _check_optimizer_holds_model(self.trainer)

        @TrainerPlugin.hook
        def after_training_batch(self, epoch: int, batch_no: int, total_number_of_batches: int, **kw: Any) -> None:
            if hooks.stop.is_set():
                raise RunInterrupted("worker stopping")
            if hooks.on_batch is not None:
                hooks.on_batch(epoch, batch_no + 1, total_number_of_batches)

        @TrainerPlugin.hook
        def after_evaluation(self, epoch: int, validation_scores: tuple, **kw: Any) -> None:
            score, loss = float(validation_scores[0]), float(validation_scores[1])
            if math.isnan(loss) or math.isnan(score):
                raise TrainingError(f"training diverged: dev loss is {loss} after epoch {epoch}")
            curve.append(score)
            if hooks.on_epoch is not None:
                hooks.on_epoch(epoch, score)

    return RunMonitor()


def _recipe_random_stream_plugin(missing_eval_draws: int) -> Any:
    from flair.trainers.plugins import TrainerPlugin

    class RecipeRandomStream(TrainerPlugin):
        """Keeps the random numbers that training draws equal to the recipe's, whatever the work savings draw.

        Every DataLoader iterator draws one number from torch's generator (its base seed), and Flair
        makes some outside training: reducing the vocabulary reads the corpus through one, and
        evaluation uses one per batch (plus two). The state after the tagger was built is put back
        before the first epoch; after each dev evaluation, the generator is moved to where the
        recipe's evaluation batch size would have left it (``missing_eval_draws`` more draws).
        """

        def __init__(self) -> None:
            super().__init__()
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
            if before is None or missing_eval_draws == 0:
                return
            drawn = _draws_between(before, torch.get_rng_state())
            if drawn is None:
                log.warning("evaluation drew random numbers of an unknown kind; training may differ from the recipe")
                return
            torch.set_rng_state(before)
            for _ in range(drawn + missing_eval_draws):
                _draw_like_a_dataloader()

    return RecipeRandomStream()


def _draw_like_a_dataloader() -> None:
    import torch

    torch.empty((), dtype=torch.int64).random_()  # a DataLoader iterator's base seed


def _draws_between(before: torch.Tensor, after: torch.Tensor, limit: int = 100_000) -> int | None:
    """How many DataLoader-style draws lead from one generator state to the other (None: not within ``limit``)."""
    import torch

    current = torch.get_rng_state()
    try:
        torch.set_rng_state(before)
        for count in range(limit + 1):
            if torch.equal(torch.get_rng_state(), after):
                return count
            _draw_like_a_dataloader()
        return None
    finally:
        torch.set_rng_state(current)


def evaluation_draws(lengths: list[int], batch_size: int) -> int:
    """How many numbers Flair's ``evaluate`` draws from torch's generator, for sentences of these lengths.

    One for its own DataLoader, and one for each batch that ``predict`` gets with a non-empty sentence.
    """
    return 1 + sum(1 for i in range(0, len(lengths), batch_size) if any(lengths[i : i + batch_size]))


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
                fine_tune=True,
                use_context=config.use_context,
            )
        tagger = SequenceTagger(
            hidden_size=256,
            embeddings=embeddings,
            tag_dictionary=data.labels,
            tag_type="ner",
            use_crf=config.use_crf,
            use_rnn=False,
            reproject_embeddings=False,
        )
        trainer = ModelTrainer(tagger, corpus)
        plugins = [_monitor_plugin(curve, hooks, check_optimizer=options.reduce_vocab)]
        if options.reduce_vocab or corpus is not data.corpus or eval_batch_size != RECIPE_EVAL_BATCH_SIZE:
            # First, so that the random state is set right before the other plugins see an epoch's end.
            missing = _dev_draws(data.corpus, RECIPE_EVAL_BATCH_SIZE) - _dev_draws(corpus, eval_batch_size)
            plugins.insert(0, _recipe_random_stream_plugin(missing))
        with _autocast_dtype(amp), skip_padding(embeddings.model) if options.skip_padding else nullcontext():
            values = trainer.fine_tune(
                out_dir,
                learning_rate=config.learning_rate,
                mini_batch_size=config.batch_size,
                mini_batch_chunk_size=chunk,
                eval_batch_size=eval_batch_size,
                max_epochs=config.epochs,
                warmup_fraction=config.warmup_fraction,
                shuffle=True,
                embeddings_storage_mode="none",
                weight_decay=0.0,
                use_final_model_for_eval=False,
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


