"""The recipe's fixed settings (``RECIPE``) and how a worker trains beyond them (``TrainingOptions``).

The settings a search varies (learning rate, batch size, CRF, layers, pooling, context ...) are the
configuration's (``hpsearch.search.Config``); everything else ``train_seed`` passes to Flair is
read from ``RECIPE``, and the dashboard's study note describes the runs with ``RECIPE.describe()``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecipeSettings:
    """The recipe's settings that no configuration changes, as ``train_seed`` passes them to Flair.

    The learning-rate schedule is ``fine_tune``'s own: AdamW with a linear warm-up over the
    configuration's ``warmup_fraction``, then a linear decay.
    """

    fine_tune: bool = True
    """``TransformerWordEmbeddings(fine_tune=...)``: the transformer is trained with the tagger."""
    hidden_size: int = 256
    """``SequenceTagger(hidden_size=...)``: the RNN's size; unused without one, but saved with the model."""
    use_rnn: bool = False
    """``SequenceTagger(use_rnn=...)``: a linear layer (and CRF, if the configuration has one) on the embeddings."""
    reproject_embeddings: bool = False
    """``SequenceTagger(reproject_embeddings=...)``."""
    tag_type: str = "ner"
    """The label type the tagger predicts and is scored on."""
    shuffle: bool = True
    """``fine_tune(shuffle=...)``: the training sentences in a new order every epoch."""
    embeddings_storage_mode: str = "none"
    """``fine_tune(embeddings_storage_mode=...)``: embeddings are recomputed, never kept (fine-tuning changes them)."""
    weight_decay: float = 0.0
    """``fine_tune(weight_decay=...)``."""
    use_final_model_for_eval: bool = False
    """``fine_tune(use_final_model_for_eval=...)``: the test split is scored with the best epoch's model."""
    eval_batch_size: int = 16
    """The recipe does not set ``eval_batch_size``: Flair's ``fine_tune`` default. ``TrainingOptions``
    may evaluate in other batches (it does not change the scores)."""

    def describe(self) -> tuple[str, ...]:
        """The settings in prose, one line each, for the study note."""
        decay = "no weight decay" if self.weight_decay == 0 else f"weight decay {self.weight_decay:g}"
        tuned = "fine-tuned" if self.fine_tune else "frozen"
        order = "shuffled" if self.shuffle else "unshuffled"
        rnn = f"an RNN of hidden size {self.hidden_size}" if self.use_rnn else f"hidden size {self.hidden_size}, no RNN"
        reprojection = "re-projected embeddings" if self.reproject_embeddings else "no re-projection"
        tested = "the final model" if self.use_final_model_for_eval else "the best-epoch model"
        return (
            f"Flair `ModelTrainer.fine_tune`, transformer {tuned}, linear warm-up, {decay}, {order} batches",
            f"tagger: {rnn}, {reprojection} (CRF, layers, pooling and context from the grid)",
            f"a seed's dev F1 is its best epoch's micro-F1; its test F1 is that of {tested}",
        )


RECIPE = RecipeSettings()
"""The recipe's fixed settings: ``train_seed`` reads them to build the embeddings, the tagger and ``fine_tune``."""

RECIPE_EVAL_BATCH_SIZE = RECIPE.eval_batch_size
CPU_EVAL_BATCH_SIZE = 8
GPU_EVAL_BATCH_SIZE = 64


@dataclass(frozen=True)
class TrainingOptions:
    """How a worker trains beyond the recipe's settings. The defaults save work without changing results.

    Each switch was checked against the recipe as written (``TrainingOptions.recipe()``): the same
    seed gives the same dev F1 after every epoch (tests/training/test_speed_equivalence.py).
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
    about 1e-7 after a step); dev F1 stays the recipe's to 1e-4 (tests/training/test_speed_equivalence.py,
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
            eval_batch_size=RECIPE.eval_batch_size,
            reduce_vocab=False,
            fused_optimizer=False,
            reuse_weights=False,
            save_final_model=True,
            skip_padding=False,
        )

    def eval_batch_size_on(self, device_type: str) -> int:
        """Sentences per evaluation batch on a device of this type (``"cuda"``, ``"cpu"`` ...)."""
        if self.eval_batch_size is not None:
            return self.eval_batch_size
        return GPU_EVAL_BATCH_SIZE if device_type == "cuda" else CPU_EVAL_BATCH_SIZE
