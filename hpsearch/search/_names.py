"""Study names: what a new study may be called.

A study's name becomes a folder (``<output_dir>/<study>/``), a glob that workers match
(``worker --study 'ajmc-*'``) and text in tables, so a new name is kept to characters that are
none of path separators, glob characters or markup. Older studies with other names still load.
"""

from __future__ import annotations

import re

from hpsearch.errors import UsageError

STUDY_NAME_MAX = 100
"""The longest study name ``create`` and ``import-logs`` accept."""

_STUDY_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*")


def check_study_name(name: str) -> str:
    """Return ``name`` if a new study may be called so, else raise.

    A name holds letters, digits and ``. _ -`` (and ``+``, which default names use to join
    datasets: ``ajmc-en+hipe2020-de-bert``), 1 to ``STUDY_NAME_MAX`` characters, and does not
    start with ``.``.

    Raises:
        UsageError: naming the rule the name breaks.

    Example:
        >>> check_study_name("ajmc-en-bert")
        'ajmc-en-bert'
    """
    if not name:
        raise UsageError("the study name is empty; use letters, digits and . _ - (e.g. ajmc-en-bert).")
    if len(name) > STUDY_NAME_MAX:
        raise UsageError(f"a study name has at most {STUDY_NAME_MAX} characters, but this one has {len(name)}.")
    if name.startswith("."):
        raise UsageError(f"a study name must not start with '.', but got {name!r}.")
    if not _STUDY_NAME.fullmatch(name):
        bad = sorted({c for c in name if not re.fullmatch(r"[A-Za-z0-9._+-]", c)})
        shown = " ".join(repr(c) for c in bad)
        raise UsageError(f"a study name holds only letters, digits and . _ - +, but {name!r} holds {shown}.")
    return name
