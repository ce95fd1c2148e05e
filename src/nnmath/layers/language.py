"""A network of layers in one line of text, for the command line and sweep files.

    conv(20,5,relu) pool(2) dense(100,relu) dense(10,softmax)

Each word is a layer type of :data:`nnmath.layers.LAYERS` (one of its ``words``, or its
``name``) and its arguments are its constructor's, read from the constructor itself: numbers
fill the numeric arguments in order and a name fills the next one that takes a name (σ), so
``conv(20,5,relu)`` is ``Conv2D(20, 5, activation="relu")``; keywords work too
(``conv(20,5,stride=2,act=relu)``); a σ's name alone is that σ as a layer (``relu`` is
``activation(relu)``: ``dense(100,identity) bn relu``). The input is not written: it comes
from the data set
(``parse(text, input_shape=(1, 28, 28))`` puts ``Input`` first and checks every shape).
A new layer type needs no edit here: its class is its entry of the language.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from ..activations import ACTIVATIONS
from ._base import Layer, Shape

__all__ = ["describe", "form", "parse", "usage", "vocabulary"]

#: keyword spellings beside the constructor's own parameter names
ALIASES = {"act": "activation"}
EXAMPLE = "conv(20,5,relu) pool(2) dense(100,relu) dense(10,softmax)"

_TERM = re.compile(r"\s*([A-Za-z_][\w-]*)\s*")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][\w-]*")


def vocabulary() -> dict[str, type[Layer]]:
    """Every word of the language and its layer type (``Input`` is not one: the data set
    gives the input)."""
    from . import LAYERS, Input

    words: dict[str, type[Layer]] = {}
    for name, cls in LAYERS.items():
        if cls is not Input:
            for word in (*cls.words, name):
                words.setdefault(word, cls)
    return words


@cache
def _parameters(cls: type[Layer]) -> tuple[inspect.Parameter, ...]:
    """The constructor's parameters, ``self`` left out."""
    return tuple(inspect.signature(cls.__init__).parameters.values())[1:]


def _takes(param: inspect.Parameter, value: Any) -> bool:
    """Whether ``param``'s annotation admits ``value``: a number, or a name (``str``)."""
    kinds = set(re.findall(r"\w+", str(param.annotation)))
    if isinstance(value, str):
        return "str" in kinds
    return bool(kinds & {"int", "float"})


def form(word: str) -> str:
    """``conv(out_channels, kernel_size[, stride, padding, activation])``: the word and its
    arguments, the optional ones in brackets (``flatten`` alone for none)."""
    params = _parameters(vocabulary()[word])
    if not params:
        return word
    needed = [p.name for p in params if p.default is inspect.Parameter.empty]
    optional = [p.name for p in params if p.default is not inspect.Parameter.empty]
    inner = ", ".join(needed)
    if optional:
        inner += f"[{', ' if needed else ''}{', '.join(optional)}]"
    return f"{word}({inner})"


def usage(word: str) -> str:
    """``conv takes (out_channels, kernel_size[, stride, padding, activation])``."""
    text = form(word)
    return f"{word} takes {text[len(word) :]}" if text != word else f"{word} takes no arguments"


def _value(text: str, term: str) -> Any:
    """One argument: an int, a float or a name (quotes allowed around a name)."""
    text = text.strip().strip("'\"") if text.strip()[:1] in "'\"" else text.strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _NAME.fullmatch(text):
        return text
    raise ValueError(f"{term}: cannot read {text!r} as a number or a name")


def _arguments(inner: str, term: str) -> tuple[list[Any], dict[str, Any]]:
    """The positional values and the keywords of the text between a word's parentheses."""
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    if not inner.strip():
        return positional, keywords
    for item in inner.split(","):
        key, eq, value = item.partition("=")
        if not eq:
            if keywords:
                raise ValueError(f"{term}: {item.strip()!r} comes after a keyword; give it first")
            positional.append(_value(item, term))
        elif not _NAME.fullmatch(key.strip()):
            raise ValueError(f"{term}: {key.strip()!r} is not an argument's name")
        elif key.strip() in keywords:
            raise ValueError(f"{term}: {key.strip()} is given twice")
        else:
            keywords[key.strip()] = _value(value, term)
    return positional, keywords


def _bind(word: str, positional: list[Any], keywords: dict[str, Any], term: str) -> dict:
    """The constructor's keyword arguments: keywords by name (or alias), then each
    positional value to the first open parameter of its kind (number or name)."""
    params = _parameters(vocabulary()[word])
    names = [p.name for p in params]
    bound: dict[str, Any] = {}
    for key, value in keywords.items():
        name = ALIASES.get(key, key) if ALIASES.get(key) in names else key
        if name not in names:
            close = difflib.get_close_matches(name, [*names, *ALIASES], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{word} has no argument {key!r}{hint}: {usage(word)}; got {term}")
        bound[name] = value
    for value in positional:
        target = next((p for p in params if p.name not in bound and _takes(p, value)), None)
        if target is None:
            raise ValueError(f"{usage(word)}; got {term} ({value!r} has no place)")
        bound[target.name] = value
    missing = [p.name for p in params if p.default is p.empty and p.name not in bound]
    if missing:
        raise ValueError(f"{usage(word)}; got {term} (no {', '.join(missing)})")
    return bound


def _terms(text: str) -> list[tuple[str, str]]:
    """``(word, text of the term)`` for each term of ``text``, in order."""
    out: list[tuple[str, str]] = []
    pos = 0
    while text[pos:].strip():
        match = _TERM.match(text, pos)
        if match is None:
            at = len(text) - len(text[pos:].lstrip()) + 1
            raise ValueError(
                f"cannot read {text[pos:].strip()[:20]!r} (character {at}): write each "
                f"layer as word(arguments), separated by spaces, e.g. {EXAMPLE!r}"
            )
        end = match.end()
        if text.startswith("(", end):
            close = _closing(text, end)
            if close < 0:
                raise ValueError(f"{text[match.start(1) :].strip()[:30]!r}: the ( is not closed")
            end = close + 1
        out.append((match.group(1), text[match.start(1) : end]))
        pos = end
    return out


def _closing(text: str, start: int) -> int:
    """The position of the ``)`` that closes the ``(`` at ``start`` (-1 if none): a block's
    terms nest, ``residual(dense(6,relu) dense(6,identity); relu)``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def _block(inner: str, term: str) -> tuple[list[Layer], str]:
    """A block's inner layers (the terms before its top-level ``;``) and what follows."""
    depth = 0
    for i, ch in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == ";" and depth == 0:
            return parse(inner[:i]), inner[i + 1 :]
    return parse(inner) if inner.strip() else [], ""


def _layer(word: str, term: str) -> Layer:
    """The layer one term describes (its arguments checked by its own constructor)."""
    words = vocabulary()
    key = word.lower()
    if key not in words and key in ACTIVATIONS and "(" not in term:  # `relu`: a σ alone
        return words["activation"](key)
    if key not in words:
        close = difflib.get_close_matches(key, words, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(sorted(words))
        if key == "input":
            raise ValueError("leave input out: the data set gives the input's shape")
        raise ValueError(f"unknown layer {word!r}{hint}: the layers are {known}")
    inner = term[term.index("(") + 1 : -1] if "(" in term else ""
    block = _parameters(words[key])[:1] and _parameters(words[key])[0].name == "layers"
    try:
        if block:  # a layer of layers: word(terms; arguments)
            layers, inner = _block(inner, term)
        positional, keywords = _arguments(inner, term)
        if block:
            keywords = {"layers": layers, **keywords}
        return words[key](**_bind(key, positional, keywords, term))
    except (ValueError, TypeError) as err:
        message = str(err)
        raise ValueError(message if term in message else f"{term}: {message}") from None


def parse(
    text: str, input_shape: Shape | int | None = None, n_outputs: int | None = None
) -> list[Layer]:
    """The layers ``text`` describes (``"conv(20,5,relu) pool(2) dense(10,softmax)"``).

    Parameters
    ----------
    text : str
        Layer terms separated by spaces: ``word`` or ``word(arguments)``; the words are those
        of :func:`vocabulary`, the arguments each constructor's (see the module's docstring).
    input_shape : int or (C, H, W), optional
        The data's shape: then ``Input(input_shape)`` comes first and every layer is checked
        to fit the shape it gets (a kernel larger than the image says so here).
    n_outputs : int, optional
        With ``input_shape``: the number of outputs the last layer must have (the classes).

    Returns
    -------
    list of Layer
        Unbuilt layers, for ``nm.Network(...)``: ``Input`` first when ``input_shape`` is given.

    Raises
    ------
    ValueError
        Naming the term and what it takes: ``conv takes (out_channels, kernel_size[, stride,
        padding, activation]); got conv(20) (no kernel_size)``.
    """
    if not isinstance(text, str):
        raise TypeError(f"a layer description is text, e.g. {EXAMPLE!r}; got {text!r:.60}")
    terms = _terms(text)
    if not terms:
        raise ValueError(f"the layer description is empty: give layers, e.g. {EXAMPLE!r}")
    layers = [_layer(word, term) for word, term in terms]
    if input_shape is None:
        return layers
    from .shape import Input

    checked = _check_shapes(layers, [t for _, t in terms], input_shape, n_outputs)
    return [Input(input_shape), *checked]


def _check_shapes(
    layers: list[Layer], terms: list[str], input_shape: Any, n_outputs: int | None
) -> list[Layer]:
    """Each layer built (on a copy) on the shape the one before gives, as the network
    will build them, so that a shape that does not fit is named by its term."""
    from .shape import Flatten, Input

    shape = Input(input_shape).shape
    rng = np.random.default_rng(0)
    for k, (layer, term) in enumerate(zip(layers, terms), start=1):
        if len(shape) != 1 and not isinstance(layer, Flatten) and _wants_vector(layer):
            shape = Flatten().build(shape, "normal", rng, np.float32)  # as build_layers does
        try:
            shape = copy.copy(layer).build(shape, "normal", rng, np.float32)
        except ValueError as err:
            raise ValueError(f"{term} (layer {k}) gets shape {shape}: {err}") from None
    last = terms[-1]
    if len(shape) != 1 or layers[-1].activation is None:
        raise ValueError(f"the description ends with {last}: end with dense(n, σ)")
    if n_outputs is not None and shape[0] != n_outputs:
        raise ValueError(
            f"the description ends with {last}, {shape[0]} outputs, and the data has "
            f"{n_outputs} classes: end with dense({n_outputs}, ...)"
        )
    return layers


def _wants_vector(layer: Layer) -> bool:
    from .dense import Dense

    return isinstance(layer, Dense)


def _term(layer: Layer) -> str:
    """One layer as a term: numbers in order up to the last that is not its default, then
    the names (σ is always written); a block writes its layers' terms first, then ``;``."""
    cls = type(layer)
    word = (*cls.words, cls.name)[0]
    params = _parameters(cls)
    if params and params[0].name == "layers":  # residual(dense(6,relu) dense(6); relu)
        return f"{word}({describe(layer.given)}; {_items(layer, params[1:])})"
    items = _items(layer, params)
    return f"{word}({items})" if items else word


def _items(layer: Layer, params: tuple[inspect.Parameter, ...]) -> str:
    """The arguments ``params`` of ``layer`` as a term writes them, comma-separated."""
    values = {p.name: _plain(layer.arguments.get(p.name, p.default)) for p in params}
    flags = [p for p in params if str(p.annotation) == "bool"]  # batch_norm=1: a keyword
    numbers = [p for p in params if not isinstance(values[p.name], str) and p not in flags]
    shown = [
        p for i, p in enumerate(numbers) if any(values[q.name] != q.default for q in numbers[i:])
    ]
    items = [repr(values[p.name]) for p in shown]
    items += [values[p.name] for p in params if isinstance(values[p.name], str)]
    items += [f"{p.name}=1" for p in flags if values[p.name] != p.default]
    return ",".join(items)


def _plain(value: Any) -> Any:
    """An argument as the language writes it: σ objects by their name, numbers as numbers."""
    if hasattr(value, "name") and not isinstance(value, str):
        return value.name
    if isinstance(value, np.integer):
        return int(value)
    return float(value) if isinstance(value, np.floating) else value


def describe(layers: Sequence[Layer]) -> str:
    """The description of ``layers`` that :func:`parse` reads back (``Input`` left out):
    ``"conv(20,5,relu) maxpool(2) dense(10,softmax)"``."""
    from .shape import Input

    return " ".join(_term(layer) for layer in layers if not isinstance(layer, Input))
