"""The layer description language (nnmath.layers.language): every word of the registry, its
arguments read from the constructor, the text written back, and errors that name the term."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import nnmath as nm
from nnmath.layers import LAYERS, Conv2D, Dense, Input, MaxPool2D, describe, parse
from nnmath.layers.language import usage, vocabulary

BOOK = "conv(20,5,relu) pool(2) dense(100,relu) dense(10,softmax)"


def test_the_books_network_reads_as_the_layers_it_names() -> None:
    layers = parse(BOOK)
    assert [repr(layer) for layer in layers] == [
        "Conv2D(20, 5, activation='relu')",
        "MaxPool2D(2)",
        "Dense(100, activation='relu')",
        "Dense(10, activation='softmax')",
    ]
    assert describe(layers) == BOOK


@pytest.mark.parametrize("name", sorted(set(LAYERS) - {"input"}))
def test_every_registered_layer_is_a_word_and_its_examples_read_back(name: str) -> None:
    """The registry is the vocabulary: each class's EXAMPLES (the tests' instances) are
    written as text and read back as the same layer, with the same arguments."""
    cls = LAYERS[name]
    assert vocabulary()[name] is cls and all(vocabulary()[w] is cls for w in cls.words)
    for kwargs, _ in cls.EXAMPLES or (({}, None),):
        layer = cls(**kwargs)
        again = parse(describe([layer]))
        assert len(again) == 1 and type(again[0]) is cls
        assert repr(again[0]) == repr(layer)
        assert describe(again) == describe([layer])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("conv(20,5,stride=2,act=relu)", Conv2D(20, 5, stride=2, activation="relu")),
        ("conv(20, 5, 2, 1, tanh)", Conv2D(20, 5, 2, 1, "tanh")),
        ("conv2d(out_channels=4, kernel_size=3)", Conv2D(4, 3)),
        ("conv(4,relu,3)", Conv2D(4, 3, activation="relu")),  # a name goes to σ
        ("maxpool(3,2)", MaxPool2D(3, stride=2)),
        ("Dense(10, activation='softmax')", Dense(10, "softmax")),
    ],
)
def test_positional_keyword_and_quoted_forms(text: str, expected) -> None:
    (layer,) = parse(text)
    assert repr(layer) == repr(expected)


def test_describe_writes_numbers_up_to_the_last_non_default_and_always_sigma() -> None:
    assert describe([Conv2D(8, 3)]) == "conv(8,3,sigmoid)"
    assert describe([Conv2D(8, 3, padding=1, activation="relu")]) == "conv(8,3,1,1,relu)"
    assert describe([MaxPool2D(2, stride=1)]) == "pool(2,1)"
    assert describe([Input((1, 8, 8)), nm.layers.Flatten(), Dense(3, "softmax")]) == (
        "flatten dense(3,softmax)"
    )


def test_usage_comes_from_the_constructor() -> None:
    assert usage("conv") == "conv takes (out_channels, kernel_size[, stride, padding, activation])"
    assert usage("pool") == "pool takes (size[, stride])"
    assert usage("flatten") == "flatten takes no arguments"
    params = list(inspect.signature(Dense.__init__).parameters)[1:]
    assert usage("dense") == f"dense takes ({params[0]}[, {', '.join(params[1:])}])"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("conv(20)", "conv takes (out_channels, kernel_size[, stride, padding, activation]); "
                     "got conv(20) (no kernel_size)"),
        ("conv(20,5,strid=2)", "conv has no argument 'strid' (did you mean 'stride'?)"),
        ("cnv(3,3)", "unknown layer 'cnv' (did you mean 'conv'?)"),
        ("conv(20,5", "the ( is not closed"),
        ("dense(10,relu,relu)", "'relu' has no place"),
        ("conv(2.5,3)", "conv(2.5,3): Conv2D: out_channels must be an int"),
        ("conv(3,3) % dense(3)", "cannot read '% dense(3)' (character 11)"),
        ("input(3)", "leave input out"),
        ("dropout(2)", "dropout(2): Dropout(p): p is a probability"),
        ("dense(10,bogus)", "dense(10,bogus): unknown activation 'bogus'"),
        ("dense(act=relu,10)", "'10' comes after a keyword"),
        ("dense(10,act=relu,act=tanh)", "act is given twice"),
        ("dense(1-2)", "cannot read '1-2' as a number or a name"),
        ("", "the layer description is empty"),
    ],
)  # fmt: skip
def test_errors_name_the_term_and_what_it_takes(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("conv(20,30,relu) dense(10,softmax)", "conv(20,30,relu) (layer 1) gets shape "
                                               "(1, 28, 28): Conv2D(20, 30, activation='relu'): "
                                               "a window of 30 does not fit an input of 28"),
        ("conv(4,5) pool(2) pool(2) pool(7) dense(10,softmax)", "pool(7) (layer 4)"),
        ("conv(3,3) pool(2)", "ends with pool(2): end with dense(n, σ)"),
        ("dense(5,softmax)", "5 outputs, and the data has 10 classes: end with dense(10, ...)"),
        ("dense(30,relu) conv(2,2) dense(10)", "conv(2,2) (layer 2) gets shape (30,)"),
    ],
)  # fmt: skip
def test_shapes_are_checked_against_the_data_before_any_training(text, message) -> None:
    with pytest.raises(ValueError) as info:
        parse(text, (1, 28, 28), 10)
    assert message in str(info.value)


def test_with_the_input_shape_the_layers_build_the_network() -> None:
    layers = parse("conv(4,3,relu) pool(2) dense(10,softmax)", (1, 8, 8), 10)
    assert repr(layers[0]) == "Input((1, 8, 8))"
    net = nm.Network(layers, cost="log_likelihood", seed=0)
    assert [tuple(W.shape) for W in net.weights] == [(4, 1, 3, 3), (10, 36)]
    assert describe(net.layers) == "conv(4,3,relu) pool(2) flatten dense(10,softmax)"
    assert all(layer.W is None for layer in layers)  # the parsed layers stay unbuilt


def test_a_layer_keeps_its_constructor_arguments_through_copies() -> None:
    import copy

    layer = Conv2D(3, 2, padding=1, activation="tanh")
    assert layer.arguments == {
        "out_channels": 3, "kernel_size": 2, "stride": 1, "padding": 1, "activation": "tanh",
    }  # fmt: skip
    assert copy.copy(layer).arguments == layer.arguments
    assert describe([copy.deepcopy(layer)]) == "conv(3,2,1,1,tanh)"
    with pytest.raises(TypeError):
        Conv2D()  # the constructor's own error, not the recorder's


def test_a_non_text_description_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="a layer description is text"):
        parse(["conv(2,3)"])  # type: ignore[arg-type]
    assert np.isscalar(parse("dropout(0.25)")[0].p)
