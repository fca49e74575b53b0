"""Pretrained tokenizers, configs and weights: read from disk once per worker, copied for every seed.

Flair's ``TransformerWordEmbeddings`` reads the tokenizer, the config and the weights with
transformers' ``from_pretrained`` each time one is built, i.e. once per seed. While
``PretrainedCache.serving()`` is active, those calls are answered from memory with a deep copy
of what the first call returned. Everything Flair does after loading runs unchanged: moving
the model to the device, adding its ``[FLERT]`` token and resizing the embedding matrix (which
draws random numbers, so it must happen after ``flair.set_seed``, as it does). A seed therefore
starts from the same weights and the same random state as when reading from disk.

A loader that draws random numbers itself (e.g. to initialise weights missing from the
checkpoint) is never cached: its result depends on the seed.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("hpsearch.training")

# The names under which Flair 0.15's TransformerEmbeddings finds transformers' loaders.
_FLAIR_LOADERS = ("AutoTokenizer", "AutoFeatureExtractor", "AutoConfig", "AutoModel")
_TRANSFORMERS_LOADERS = ("T5EncoderModel",)  # imported inside the constructor


@dataclass
class _Entry:
    template: Any = None
    error: OSError | None = None
    cacheable: bool = True


class PretrainedCache:
    """What ``from_pretrained`` returned for one model, kept on the CPU and copied on each use.

    Holds the files of one model at a time: asking for another model drops the previous one.
    Not thread-safe: ``serving()`` swaps module attributes of Flair and transformers, so only one
    thread may build embeddings while it is active (a worker trains in one thread).
    """

    def __init__(self) -> None:
        self._model: str | None = None
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self.reads = 0
        """Calls answered by reading from disk (or the hub)."""
        self.copies = 0
        """Calls answered from memory."""

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Answer transformers' ``from_pretrained`` calls made by Flair's embeddings from this cache."""
        import flair.embeddings.transformer as flair_transformer
        import transformers

        swapped: list[tuple[Any, str, Any]] = []
        try:
            for module, names in ((flair_transformer, _FLAIR_LOADERS), (transformers, _TRANSFORMERS_LOADERS)):
                for name in names:
                    real = getattr(module, name)
                    swapped.append((module, name, real))
                    setattr(module, name, _CachedLoader(self, name, real))
            yield
        finally:
            for module, name, real in reversed(swapped):
                setattr(module, name, real)

    def load(self, kind: str, real: Callable[..., Any], source: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        source = str(source)
        if source != self._model:
            self._entries.clear()
            self._model = source
        key = (kind, source, _describe(args, kwargs))
        entry = self._entries.get(key)
        if entry is None:
            return self._read(key, real, source, args, kwargs)
        if not entry.cacheable:
            self.reads += 1
            return real(source, *args, **kwargs)
        self.copies += 1
        if entry.error is not None:
            raise type(entry.error)(*entry.error.args)
        return copy.deepcopy(entry.template)

    def _read(self, key: tuple[str, str, str], real: Callable[..., Any], source: str, args: tuple, kwargs: dict) -> Any:
        self.reads += 1
        before = _rng_state()
        try:
            value = real(source, *args, **kwargs)
        except OSError as e:  # e.g. the feature-extractor probe of a text model
            self._entries[key] = _Entry(error=e, cacheable=_rng_state() == before)
            raise
        if _rng_state() != before:
            log.info("%s.from_pretrained(%s) draws random numbers; it is read anew for every seed", key[0], source)
            self._entries[key] = _Entry(cacheable=False)
        else:
            self._entries[key] = _Entry(template=copy.deepcopy(value))
        return value


class _CachedLoader:
    """Stands in for a transformers class: ``from_pretrained`` goes through the cache, the rest to the class."""

    def __init__(self, cache: PretrainedCache, kind: str, real: Any) -> None:
        self._cache = cache
        self._kind = kind
        self._real = real

    def from_pretrained(self, source: str, *args: Any, **kwargs: Any) -> Any:
        return self._cache.load(self._kind, self._real.from_pretrained, source, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _describe(args: tuple, kwargs: dict[str, Any]) -> str:
    """A key for the call's arguments; a config object is described by its JSON."""

    def text(value: Any) -> str:
        if hasattr(value, "to_json_string"):
            return f"{type(value).__name__}({value.to_json_string(use_diff=False)})"
        return repr(value)

    return repr([text(a) for a in args] + [f"{k}={text(v)}" for k, v in sorted(kwargs.items())])


def _rng_state() -> tuple:
    """Every random state that ``flair.set_seed`` seeds, comparable with ``==``."""
    import numpy as np
    import torch

    name, keys, pos, has_gauss, cached = np.random.get_state()
    states: list[Any] = [random.getstate(), (name, bytes(keys), pos, has_gauss, cached)]
    states.append(bytes(torch.get_rng_state().numpy()))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states += [bytes(s.numpy()) for s in torch.cuda.get_rng_state_all()]
    return tuple(states)
