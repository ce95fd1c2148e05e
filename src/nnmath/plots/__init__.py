"""Matplotlib figures. matplotlib is imported only inside the plotting functions (Agg backend
when no display is set), so ``import nnmath`` never pays for it."""

from __future__ import annotations

__all__: list[str] = []
