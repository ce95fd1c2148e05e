"""Words and text: counts with the right plural, and cells of a table that read as numbers."""

from __future__ import annotations

__all__ = ["is_number", "plural"]


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``"1 seed"``, ``"2 seeds"`` (``nouns`` where the plural is not ``noun + "s"``)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


def is_number(text: str) -> bool:
    """Whether ``text`` (a cell of a CSV file) reads as a number for ``float``."""
    try:
        float(text)
    except ValueError:
        return False
    return True
