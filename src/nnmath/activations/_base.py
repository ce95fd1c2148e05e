"""The activation protocol: :class:`Activation` (σ with σ'(z) and ``vjp``), the element-wise
base every declaration uses, and the two small records of its PyTorch and ONNX names.

No activation is named here: each is declared once, in :mod:`nnmath.activations._declarations`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["Activation", "Elementwise", "OnnxOps", "TorchModule", "declared"]

#: an ONNX op as (op_type, inputs, attributes); ``"$x"`` is the activation's input ``z``,
#: ``"$prev"`` the output of the op before it, any other input one of the constants
OnnxOp = tuple[str, tuple[str, ...], dict[str, Any]]


@dataclass(frozen=True)
class TorchModule:
    """The ``torch.nn`` module of one activation (named, so torch stays an optional import).

    Attributes
    ----------
    module : str
        The class name in ``torch.nn`` (``"LeakyReLU"``).
    params : mapping of str to str
        nnmath parameter -> the module's argument (and attribute) of the same meaning:
        ``{"alpha": "negative_slope"}`` for leaky ReLU.
    fixed : mapping of str to tuple
        Module arguments nnmath's activation implies: ``to_torch`` passes the first value,
        ``from_torch`` accepts a module whose attribute has any of them
        (``{"dim": (1, -1)}`` for softmax, which normalises each example, a row in PyTorch).
    why : str
        Said when ``from_torch`` meets a module with another value of a ``fixed`` argument.
    """

    module: str
    params: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    why: str = ""


@dataclass(frozen=True)
class OnnxOps:
    """The ONNX operators of one activation, applied to the layer's ``z``.

    Attributes
    ----------
    ops : callable
        ``ops(params) -> list of (op_type, inputs, attributes)``: the nodes in order. An input
        ``"$x"`` is ``z^l``, ``"$prev"`` the previous node's output, any other name one of
        :attr:`constants`. The last node's output is ``a^l``. ``from_onnx`` recognises an
        activation by the op types of these nodes.
    constants : mapping of str to float
        Scalar constants the nodes use (e.g. √2, 1 and ½).
    params : mapping of str to str
        nnmath parameter -> the attribute of the first node that holds it (``alpha``).
    """

    ops: Callable[[Mapping[str, float]], list[OnnxOp]]
    constants: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def one(op: str, **attrs: Any) -> OnnxOps:
        """An activation that is one ONNX operator with fixed attributes (or none)."""
        return OnnxOps(lambda p: [(op, ("$x",), dict(attrs))])

    @staticmethod
    def with_alpha(op: str) -> OnnxOps:
        """One ONNX operator whose attribute ``alpha`` is the activation's α."""

        def ops(p: Mapping[str, float]) -> list[OnnxOp]:
            return [(op, ("$x",), {"alpha": float(p["alpha"])})]

        return OnnxOps(ops, params={"alpha": "alpha"})


class Activation:
    """An activation σ with its derivative σ'(z).

    Subclasses (or :meth:`from_functions`) provide ``__call__`` (σ) and ``prime`` (σ').
    ``vjp`` defaults to the element-wise rule ``g ⊙ σ'(z)``.

    Attributes
    ----------
    name : str
        Registry name, stored in saved models.
    elementwise : bool
        True when the Jacobian ∂a/∂z is diagonal.
    max_prime : float or None
        The largest value σ' takes (1/4 for sigmoid); used by diagnostics.
    torch : TorchModule or None
        Its ``torch.nn`` module, for :func:`nnmath.io.to_torch` and ``from_torch``.
    onnx : OnnxOps or None
        Its ONNX operators, for :func:`nnmath.io.to_onnx` and ``from_onnx``.
    """

    name: str = "activation"
    elementwise: bool = True
    max_prime: float | None = None
    torch: ClassVar[TorchModule | None] = None
    onnx: ClassVar[OnnxOps | None] = None

    def __call__(self, z: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def prime(self, z: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def vjp(self, z: Any, a: Any, g: Any) -> Any:
        """(∂a/∂z)ᵀ g: for an element-wise σ this is ``g ⊙ σ'(z)`` (the lecture's ⊙ σ'(z^l))."""
        return g * self.prime(z)

    @property
    def params(self) -> dict[str, float]:
        """Parameters needed to rebuild the activation (``alpha`` for leaky ReLU and ELU)."""
        return {}

    @property
    def kernel_param(self) -> float:
        """The one number the compiled kernel takes besides ``z`` (``alpha``, else 0)."""
        return float(self.params.get("alpha", 0.0))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Activation)
            and type(other) is type(self)
            and self.name == other.name
            and self.params == other.params
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))

    @staticmethod
    def from_functions(
        fn: Callable[[Any], Any], prime: Callable[[Any], Any], name: str = "custom"
    ) -> Activation:
        """Build an element-wise activation from a function σ and its derivative σ'."""
        return _Custom(fn, prime, name)


class Elementwise(Activation):
    """An element-wise σ declared by two functions: a subclass sets ``name``, ``max_prime``,
    ``fn, fn_prime = staticmethod(σ), staticmethod(σ')``, ``torch`` and ``onnx``.

    A subclass with a class attribute ``alpha`` (its default) takes ``alpha=`` and passes it
    to σ and σ' as their second argument (leaky ReLU's slope, ELU's scale).
    """

    fn: Callable[..., Any]
    fn_prime: Callable[..., Any]
    alpha: float | None = None

    def __init__(self, alpha: float | None = None) -> None:
        if type(self).alpha is None and alpha is not None:
            raise TypeError(f"{type(self).__name__} takes no alpha")
        if type(self).alpha is not None:
            self.alpha = float(type(self).alpha if alpha is None else alpha)

    @property
    def params(self) -> dict[str, float]:
        return {} if self.alpha is None else {"alpha": self.alpha}

    def __call__(self, z: Any) -> Any:
        return type(self).fn(z, *self._args())

    def prime(self, z: Any) -> Any:
        return type(self).fn_prime(z, *self._args())

    def _args(self) -> tuple[float, ...]:
        return () if self.alpha is None else (self.alpha,)


class _Custom(Activation):
    def __init__(self, fn: Callable[[Any], Any], prime: Callable[[Any], Any], name: str) -> None:
        self._fn, self._prime, self.name = fn, prime, name

    def __call__(self, z: Any) -> Any:
        return self._fn(z)

    def prime(self, z: Any) -> Any:
        return self._prime(z)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class _Declared(Mapping[str, Any]):
    """A live view of the registry: each activation's own name -> its attribute ``what``
    (``"torch"`` or ``"onnx"``), leaving out aliases and activations that have none.

    Live, so an entry added to the registry later (a test's ``monkeypatch``) counts at once.
    """

    def __init__(self, registry: Mapping[str, type[Activation]], what: str) -> None:
        self._registry, self._what = registry, what

    def _items(self) -> dict[str, Any]:
        found = ((k, getattr(cls, self._what, None)) for k, cls in self._registry.items())
        return {k: v for k, v in found if v is not None and self._registry[k].name == k}

    def __getitem__(self, name: str) -> Any:
        return self._items()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return f"declared {self._what}: {', '.join(self)}"


def declared(registry: Mapping[str, type[Activation]], what: str) -> Mapping[str, Any]:
    """A live view of ``registry``: each activation's own name -> its ``torch`` or ``onnx``."""
    return _Declared(registry, what)
