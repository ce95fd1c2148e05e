"""A residual block in PyTorch: :class:`ResidualBlock`, ``σ(x + body(x))``, the module
:func:`nnmath.io.to_torch` makes of a :class:`~nnmath.layers.Residual` and
:func:`nnmath.io.from_torch` reads back (torch has no residual module of its own).

The class is made on first use, so that importing nnmath never imports torch:
``nnmath.io.torch.ResidualBlock`` (or :func:`residual_block_class`) makes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["is_residual_block", "residual_block_class", "residual_module"]


@functools.cache
def residual_block_class() -> type:
    """The ``torch.nn.Module`` class ``ResidualBlock(body, activation)``: its forward is
    ``activation(x + body(x))``, the block's ``a^{out} = σ(a^{in} + F(a^{in}))``."""
    import torch.nn as nn

    class ResidualBlock(nn.Module):
        """``σ(x + body(x))``: ``body`` an ``nn.Sequential`` (F), ``activation`` σ's module;
        ``body``'s output must have ``x``'s shape. Parameters are ``body.{k}.weight``, ..."""

        def __init__(self, body: nn.Sequential, activation: nn.Module) -> None:
            super().__init__()
            self.body = body
            self.activation = activation

        def forward(self, x: Any) -> Any:
            return self.activation(x + self.body(x))  # z = x + F(x), a = σ(z)

    ResidualBlock.__module__ = "nnmath.io.torch"  # where users find it (and pickle reads it)
    ResidualBlock.__qualname__ = "ResidualBlock"
    return ResidualBlock


def is_residual_block(module: Any) -> bool:
    """Whether ``module`` is a :class:`ResidualBlock` (without making the class for nothing)."""
    return type(module).__name__ == "ResidualBlock" and isinstance(module, residual_block_class())


def residual_module(layer: Any, sigma: Any, modules_of: Callable[[Any], list[Any]]) -> Any:
    """The :class:`ResidualBlock` of a built :class:`~nnmath.layers.Residual`: ``body`` the
    inner layers' modules (``modules_of(inner)``, copies of their ``W``, ``b``), ``sigma``
    the block's σ module."""
    import torch.nn as nn

    body = [module for inner in layer.layers for module in modules_of(inner)]
    return residual_block_class()(nn.Sequential(*body), sigma)
