"""The work savings of ``TrainingOptions`` give the recipe's numbers; --amp and out-of-memory handling.

Each saving is trained against the recipe as written (``TrainingOptions.recipe()``) on a tiny BERT
whose vocabulary holds words the corpus never uses (so the reduced vocabulary is really smaller):
the same seed must give the same dev F1 after every epoch, within 1e-4.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hpsearch.errors import TrainingError
from hpsearch.search import Config, GridSpace
from hpsearch.training import (
    RECIPE_EVAL_BATCH_SIZE,
    PretrainedCache,
    RunHooks,
    TrainingData,
    TrainingOptions,
    evaluation_draws,
    train_seed,
)

TOLERANCE = 1e-4
SEEDS = (1, 2)
UNUSED_WORDS = "zebra quantum xylophone marmalade bicycle umbrella lantern harbour walrus saxophone"
RECIPE = TrainingOptions.recipe()
SAVINGS = {
    "sort_eval": replace(RECIPE, sort_eval=True),
    "eval_batch_size_64": replace(RECIPE, eval_batch_size=64),
    "reduce_vocab": replace(RECIPE, reduce_vocab=True),
    "fused_optimizer": replace(RECIPE, fused_optimizer=True),
    "skip_padding": replace(RECIPE, skip_padding=True),
    "reuse_weights": replace(RECIPE, reuse_weights=True),
    "defaults": TrainingOptions(),
    "defaults_on_gpu": TrainingOptions(eval_batch_size=64),
}


def config(context_size: int = 0, epochs: int = 2, **kw: object) -> Config:
    return Config(learning_rate=1e-2, batch_size=8, epochs=epochs, context_size=context_size, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> str:
    from hpsearch.demo import build_tiny_bert, sample_texts

    texts = [*sample_texts(sample_data), *[UNUSED_WORDS] * 5]
    return str(build_tiny_bert(tmp_path_factory.mktemp("speed") / "bert", texts).resolve())


@pytest.fixture(scope="module")
def data(sample_data: Path) -> TrainingData:
    from hpsearch.demo import AJMC_EN
    from hpsearch.training import load_corpus

    corpus = load_corpus([AJMC_EN], sample_data)
    return TrainingData.build(corpus)


@pytest.fixture(scope="module")
def recipe_runs(data: TrainingData, model: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("recipe")
    return {
        (ctx, seed): train_seed(data, model, config(ctx), seed, out / f"{ctx}-{seed}", options=TrainingOptions.recipe())
        for ctx in (0, 1)
        for seed in SEEDS
    }


def assert_same_curves(fast: object, recipe: object) -> None:
    assert len(fast.dev_curve) == len(recipe.dev_curve) == 2  # type: ignore[attr-defined]
    assert fast.dev_curve == pytest.approx(recipe.dev_curve, abs=TOLERANCE)  # type: ignore[attr-defined]
    assert fast.test_f1 == pytest.approx(recipe.test_f1, abs=TOLERANCE)  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("saving", list(SAVINGS))
def test_each_saving_gives_the_recipes_dev_curve(
    saving: str, data: TrainingData, model: str, recipe_runs: dict, tmp_path: Path
) -> None:
    cache = PretrainedCache()  # the second seed gets copies of what the first one read
    for seed in SEEDS if SAVINGS[saving].reuse_weights else SEEDS[:1]:
        fast = train_seed(data, model, config(), seed, tmp_path / str(seed), options=SAVINGS[saving], pretrained=cache)
        assert_same_curves(fast, recipe_runs[0, seed])
    if SAVINGS[saving].reuse_weights:
        assert cache.copies >= 3 and cache.reads == cache.copies  # tokenizer, config, weights: read once


@pytest.mark.slow
@pytest.mark.parametrize("splits", ["datasets", "lists"])
def test_each_epoch_ends_in_the_recipes_random_state(
    splits: str, data: TrainingData, model: str, tmp_path: Path
) -> None:
    """Whatever the savings draw (evaluation in other batches and order, the reduced vocabulary), the
    next epoch's shuffling and dropout start from the recipe's random state. Splits given as lists
    draw one number fewer per evaluation (Flair's ``store_embeddings`` reads only a Dataset through
    a DataLoader)."""
    import torch
    from flair.data import Corpus

    corpus = data.corpus
    if splits == "lists":
        train, dev, test = ([split[i] for i in range(len(split))] for split in (corpus.train, corpus.dev, corpus.test))
        corpus = Corpus(train=train, dev=dev, test=test, sample_missing_splits=False)
    run_data = TrainingData.build(corpus)

    def epoch_end_states(name: str, options: TrainingOptions) -> list[torch.Tensor]:
        states: list[torch.Tensor] = []
        hooks = RunHooks(on_epoch=lambda epoch, f1: states.append(torch.get_rng_state()))
        train_seed(run_data, model, config(), 1, tmp_path / name, hooks=hooks, options=options)
        return states

    recipe = epoch_end_states("recipe", TrainingOptions.recipe())
    fast = epoch_end_states("fast", TrainingOptions())
    assert len(recipe) == len(fast) == 2
    assert all(torch.equal(a, b) for a, b in zip(recipe, fast, strict=True))


@pytest.mark.slow
def test_the_recipe_script_and_hpsearch_train_a_seed_alike(
    data: TrainingData, model: str, sample_data: Path, tmp_path: Path
) -> None:
    """The published recipe's code (benchmarks/_recipe_plain.py) against a worker's ``train_seed``.

    The recipe builds its corpus and label dictionary after seeding, for every seed; a worker builds
    them once. Both, with and without the work savings, must give the same dev curve and test F1.
    """
    import importlib.util

    from hpsearch.results import read_training_log

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "_recipe_plain.py"
    spec = importlib.util.spec_from_file_location("recipe_plain", path)
    assert spec is not None and spec.loader is not None
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    recipe.stage_ajmc_en(sample_data, tmp_path / "flair")
    cfg = config()
    for seed in SEEDS:
        scores = recipe.run_experiment(
            seed, cfg.batch_size, cfg.epochs, cfg.learning_rate, model, tmp_path / "flair", tmp_path / "recipe"
        )
        (log,) = (tmp_path / "recipe").rglob(f"*-{seed}/training.log")
        script = read_training_log(log).dev_curve
        for name, options in (("recipe", TrainingOptions.recipe()), ("defaults", TrainingOptions())):
            run = train_seed(data, model, cfg, seed, tmp_path / f"{name}-{seed}", options=options)
            assert run.dev_curve == pytest.approx(script, abs=TOLERANCE), (name, seed)
            assert run.test_f1 == pytest.approx(scores["test_score"], abs=TOLERANCE), (name, seed)
            # Like the recipe, TrainingOptions.recipe() writes final-model.pt; a worker does not need it.
            assert (tmp_path / f"{name}-{seed}" / "final-model.pt").exists() == (name == "recipe")


@pytest.mark.slow
def test_defaults_with_flert_context_give_the_recipes_dev_curve(
    data: TrainingData, model: str, recipe_runs: dict, tmp_path: Path
) -> None:
    """With context, the [FLERT] token is added per seed, drawing random numbers for its embedding."""
    cache = PretrainedCache()
    for seed in SEEDS:
        fast = train_seed(data, model, config(context_size=1), seed, tmp_path / str(seed), pretrained=cache)
        assert_same_curves(fast, recipe_runs[1, seed])


@pytest.mark.slow
def test_defaults_on_a_sentencepiece_t5_give_the_recipes_dev_curve(
    data: TrainingData, tiny_t5: Path, tmp_path: Path
) -> None:
    t5 = str(tiny_t5.resolve())
    recipe = train_seed(data, t5, config(), 1, tmp_path / "recipe", options=TrainingOptions.recipe())
    fast = train_seed(data, t5, config(), 1, tmp_path / "fast")
    assert_same_curves(fast, recipe)


@pytest.mark.slow
def test_best_model_keeps_the_full_vocabulary(data: TrainingData, model: str, tmp_path: Path) -> None:
    """After training on a reduced vocabulary, best-model.pt is saved with the full one and still tests the same."""
    from flair.models import SequenceTagger
    from transformers import AutoTokenizer

    result = train_seed(data, model, config(), 1, tmp_path, options=TrainingOptions())
    tagger = SequenceTagger.load(tmp_path / "best-model.pt")
    full = len(AutoTokenizer.from_pretrained(model)) + 1  # + Flair's [FLERT] token
    assert len(tagger.embeddings.tokenizer) == full
    assert tagger.embeddings.model.get_input_embeddings().weight.shape[0] == full
    test = tagger.evaluate(data.corpus.test, gold_label_type="ner", mini_batch_size=RECIPE_EVAL_BATCH_SIZE)
    assert test.main_score == pytest.approx(result.test_f1, abs=TOLERANCE)


@pytest.mark.slow
def test_a_pruned_run_leaves_no_reduced_vocabulary_model(data: TrainingData, model: str, tmp_path: Path) -> None:
    from hpsearch.training import RunHooks, RunPruned

    def prune(epoch: int, dev_f1: float) -> None:
        raise RunPruned("test")

    result = train_seed(data, model, config(), 1, tmp_path, hooks=RunHooks(on_epoch=prune))
    assert not result.complete and len(result.dev_curve) == 1
    assert not (tmp_path / "best-model.pt").exists()


@pytest.mark.parametrize("context_size", [0, 1])
def test_copied_weights_are_bit_identical_to_read_ones(model: str, context_size: int) -> None:
    """Embeddings built from the cache equal those read from disk, and leave the same random state."""
    import flair
    import torch
    from flair.embeddings import TransformerWordEmbeddings

    def build(cache: PretrainedCache | None) -> tuple[dict, torch.Tensor]:
        flair.set_seed(7)
        if cache is None:
            emb = TransformerWordEmbeddings(model, fine_tune=True, use_context=context_size or False)
        else:
            with cache.serving():
                emb = TransformerWordEmbeddings(model, fine_tune=True, use_context=context_size or False)
        return emb.state_dict(), torch.rand(4)

    cache = PretrainedCache()
    build(cache)  # reads
    copied, copied_draw = build(cache)
    read, read_draw = build(None)
    assert cache.copies >= 3
    assert copied.keys() == read.keys()
    assert all(torch.equal(copied[k], read[k]) for k in read)
    assert torch.equal(copied_draw, read_draw)


def test_evaluation_draws_match_flairs_evaluate(data: TrainingData, model: str) -> None:
    import flair
    import torch
    from flair.embeddings import TransformerWordEmbeddings
    from flair.models import SequenceTagger

    from hpsearch.training._train import _draws_between

    flair.set_seed(1)
    embeddings = TransformerWordEmbeddings(model, fine_tune=True)
    tagger = SequenceTagger(
        hidden_size=256, embeddings=embeddings, tag_dictionary=data.labels, tag_type="ner", use_rnn=False
    )
    tagger.eval()  # as the trainer does before evaluating; in training mode, dropout draws too
    lengths = [len(s) for s in data.corpus.dev]
    for batch_size in (RECIPE_EVAL_BATCH_SIZE, 5, 64):
        before = torch.get_rng_state()
        tagger.evaluate(data.corpus.dev, gold_label_type="ner", mini_batch_size=batch_size)
        assert _draws_between(before, torch.get_rng_state()) == evaluation_draws(lengths, batch_size)


# --- out of memory --------------------------------------------------------------------------------


def _oom_above(monkeypatch: pytest.MonkeyPatch, limit: int) -> list[int]:
    """Make training raise CUDA's out-of-memory error for chunks larger than ``limit`` sentences."""
    import torch
    from flair.models import SequenceTagger

    seen: list[int] = []
    forward_loss = SequenceTagger.forward_loss

    def limited(self: SequenceTagger, sentences: list) -> object:
        seen.append(len(sentences))
        if len(sentences) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return forward_loss(self, sentences)

    monkeypatch.setattr(SequenceTagger, "forward_loss", limited)
    return seen


@pytest.mark.slow
def test_out_of_memory_halves_the_chunk_until_it_fits(
    data: TrainingData, model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = train_seed(data, model, config(epochs=1), 1, tmp_path / "direct", mini_batch_chunk_size=4)
    seen = _oom_above(monkeypatch, 4)
    result = train_seed(data, model, config(epochs=1), 1, tmp_path / "retried")
    assert result.mini_batch_chunk_size == 4
    assert seen[:3] == [8, 4, 4]  # the whole batch fails, then two chunks of 4: the same effective batch
    assert result.dev_curve == expected.dev_curve
    assert result.complete


def test_out_of_memory_in_chunks_of_one_fails_the_seed(
    data: TrainingData, model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _oom_above(monkeypatch, 0)
    with pytest.raises(TrainingError, match="ran out of GPU memory with mini_batch_chunk_size 1"):
        train_seed(data, model, config(), 1, tmp_path)
    assert seen == [8, 4, 2, 1]


def test_out_of_memory_without_retry_fails_at_once(
    data: TrainingData, model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _oom_above(monkeypatch, 0)
    with pytest.raises(TrainingError, match="out of GPU memory"):
        train_seed(data, model, config(), 1, tmp_path, options=TrainingOptions(oom_retry=False))
    assert seen == [8]


# --- mixed precision ------------------------------------------------------------------------------


def test_amp_is_refused_on_the_cpu(data: TrainingData, model: str, tmp_path: Path) -> None:
    import flair

    assert flair.device.type == "cpu"
    with pytest.raises(TrainingError, match=r"--amp .* needs a CUDA GPU, but this worker trains on cpu"):
        train_seed(data, model, config(amp=True), 1, tmp_path)
    assert not (tmp_path / "training.log").exists()


def test_amp_picks_bf16_where_the_gpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import flair
    import torch

    from hpsearch.training import amp_dtype

    monkeypatch.setattr(flair, "device", torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert amp_dtype(config(amp=True)) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert amp_dtype(config(amp=True)) == torch.float16
    assert amp_dtype(config()) is None


def test_amp_is_in_the_configuration_name_and_the_spec() -> None:
    from hpsearch.search import StudySpec

    assert config(amp=True).name == "wsFalse-bs8-e2-lr0.01-amp"
    assert config().name == "wsFalse-bs8-e2-lr0.01"
    plain = StudySpec(model="m", label="m", space=GridSpace(learning_rates=(1e-5,), batch_sizes=(8,)))
    assert "amp" not in plain.to_dict()["space"]  # specs stored before --amp stay equal
    amp = StudySpec(model="m", label="m", space=GridSpace(learning_rates=(1e-5,), batch_sizes=(8,), amp=(True,)))
    assert StudySpec.from_dict(amp.to_dict()) == amp
    assert [c.name for c in amp.space.configs()] == ["wsFalse-bs8-e10-lr1e-05-amp"]


def test_create_with_amp_queues_amp_trials(sqlite_url: str, tiny_bert: Path) -> None:
    from hpsearch.create import create_from_spec
    from hpsearch.search import build_spec
    from hpsearch.store import load_study, open_storage, study_results

    spec = build_spec(model=str(tiny_bert), config=None, learning_rates=[1e-3], batch_sizes=[8], amp=True)
    created = create_from_spec(sqlite_url, spec, study="s")
    assert created.n_trials == 1
    results = study_results(*load_study(open_storage(sqlite_url), "s"))
    assert [c.name for c in results.configs] == ["wsFalse-bs8-e10-lr0.001-amp"]
    assert results.configs[0].params["amp"] is True
