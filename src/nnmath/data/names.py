"""Data-set names: one spelling of each, whatever the user typed.

The data sets themselves are registered in :data:`nnmath.data.LOADERS` (name -> loader);
those that can be downloaded also in :data:`nnmath.data.download.FILES`.
"""

from __future__ import annotations

__all__ = ["ALIASES", "dataset_key"]

#: other spellings of a data set's name -> its registry name
ALIASES: dict[str, str] = {"fashion": "fashion-mnist"}


def dataset_key(name: str) -> str:
    """The registry spelling of ``name``: lower case, ``-`` for ``_``, aliases resolved.

    ``"Fashion_MNIST"`` and ``"fashion"`` are both ``"fashion-mnist"``. Whether that name is
    registered is for the caller to check (``dataset_key(name) in LOADERS``).
    """
    key = name.lower().replace("_", "-")
    return ALIASES.get(key, key)
