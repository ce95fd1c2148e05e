"""Words for the user: counts with the right plural."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``"1 seed"``, ``"2 seeds"`` (``nouns`` where the plural is not ``noun + "s"``)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"
