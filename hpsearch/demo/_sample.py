"""A small synthetic corpus in the HIPE-2022 file format, for the demo and the tests.

It is generated, not copied: the real AjMC data stays outside the project. Sentences mix
commentary words with person names, works and line references, labelled like AjMC.
"""

from __future__ import annotations

import random
from pathlib import Path

from hpsearch.search import HIPE_VERSION, DatasetRef
from hpsearch.training import hipe_file_name

HEADER = (
    "TOKEN\tNE-COARSE-LIT\tNE-COARSE-METO\tNE-FINE-LIT\tNE-FINE-METO\tNE-FINE-COMP\tNE-NESTED\tNEL-LIT\tNEL-METO\tMISC"
)
AJMC_EN = DatasetRef("ajmc", "en")
PERSONS = ["Ajax", "Odysseus", "Teucer", "Athena", "Tecmessa", "Menelaus", "Agamemnon", "Hermann", "Jebb", "Wolf"]
WORKS = [["Iliad"], ["Odyssey"], ["Ajax"], ["Antigone"], ["Philoctetes"], ["Electra"]]
PLACES = ["Troy", "Salamis", "Athens", "Argos"]
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "is",
    "a",
    "in",
    "that",
    "as",
    "with",
    "not",
    "by",
    "this",
    "his",
    "which",
    "for",
    "be",
    "from",
    "but",
    "so",
    "here",
    "word",
    "verb",
    "sense",
    "reading",
    "line",
    "note",
    "compare",
    "meaning",
    "emphatic",
    "pronoun",
    "phrase",
    "used",
    "passage",
    "refers",
    "construction",
    "infr",
    "supr",
    "old",
    "editors",
    "read",
    "dative",
    "genitive",
]


def _token_line(token: str, label: str, misc: str = "_") -> str:
    return f"{token}\t{label}\t_\t{label}\t_\t_\tO\t_\t_\t{misc}"


def _sentence(rng: random.Random) -> list[str]:
    lines: list[str] = []
    for _ in range(rng.randint(4, 9)):
        roll = rng.random()
        if roll < 0.15:
            lines.append(_token_line(rng.choice(PERSONS), "B-pers"))
        elif roll < 0.22:
            work = rng.choice(WORKS)
            lines += [_token_line(t, ("B-" if i == 0 else "I-") + "work") for i, t in enumerate(work)]
            lines.append(_token_line(str(rng.randint(1, 1500)), "B-scope"))
        elif roll < 0.27:
            lines.append(_token_line(rng.choice(PLACES), "B-loc"))
        else:
            lines.append(_token_line(rng.choice(WORDS), "O"))
    lines.append(_token_line(".", "O", "EndOfSentence"))
    return lines


def write_sample_hipe(
    root: Path,
    dataset: DatasetRef = AJMC_EN,
    *,
    sentences: dict[str, int] | None = None,
    seed: int = 0,
) -> Path:
    """Write a HIPE-2022-data layout under ``root`` and return ``root`` (a valid ``--data-dir``)."""
    sizes = sentences or {"train": 60, "dev": 20, "test": 20}
    rng = random.Random(seed)
    folder = root / "data" / HIPE_VERSION / dataset.name / dataset.language
    folder.mkdir(parents=True, exist_ok=True)
    for split in dataset.splits:
        out = [HEADER]
        n = sizes.get(split, 10)
        for doc in range(max(1, n // 10)):
            out += [
                f"# hipe2022:original_source = sample/{split}_{doc:03d}.xmi",
                f"# hipe2022:document_id = sample_{split}_{doc:03d}",
                f"# hipe2022:dataset = {dataset.name}",
            ]
            for _ in range(min(10, n - doc * 10)):
                out += _sentence(rng)
        (folder / hipe_file_name(dataset, split)).write_text("\n".join(out) + "\n", encoding="utf-8")
    return root


def sample_texts(root: Path) -> list[str]:
    """The tokens of every file under a sample layout, one sentence-ish line per 50 tokens."""
    tokens = [
        line.split("\t", 1)[0]
        for path in sorted(root.rglob("*.tsv"))
        for line in path.read_text(encoding="utf-8").splitlines()[1:]
        if line and not line.startswith("#")
    ]
    return [" ".join(tokens[i : i + 50]) for i in range(0, len(tokens), 50)]
